// What pgferry changes on the servers, it records first and gives back (provider/engine/footprint/):
// every reversible change made in one database, on both servers, is pending until the release, and
// given back by it; a second release finds nothing and changes nothing.
import assert from 'node:assert/strict';
import { readSourceRelations } from '../../provider/engine/catalog/identityVerdict';
import { restoreContextOf } from '../../provider/engine/cdc/prepare/identityFull';
import { withSession } from '../../provider/engine/connect/session';
import { ControlStore } from '../../provider/engine/control/store';
import { FOOTPRINT, pendingFootprint, releaseDatabase } from '../../provider/engine/footprint/release';
import type { FootprintContext } from '../../provider/engine/footprint/change';
import { appliedPosition } from '../../provider/engine/footprint/appliedPosition';
import { replicaIdentity } from '../../provider/engine/footprint/replicaIdentity';
import { slotAndPublication } from '../../provider/engine/footprint/slotAndPublication';
import { targetFiring } from '../../provider/engine/footprint/targetFiring';
import { targetForeignKeys } from '../../provider/engine/footprint/targetForeignKeys';
import { writerFence } from '../../provider/engine/footprint/writerFence';
import { pairSpec, serverSpec, startPair, type ServerPair } from '../support';

const DB = 'footprint';
const NAME = 'footprint-m';
const SCHEMA = `
CREATE TABLE parent (id int PRIMARY KEY);
CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent);
CREATE TABLE keyless (v int);
CREATE TABLE audit (v text);
CREATE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO audit VALUES (TG_OP); RETURN NEW; END $$;
CREATE TRIGGER audited AFTER INSERT ON child FOR EACH ROW EXECUTE FUNCTION audit();`;

/** What the release gives back, as both servers show it. */
async function servers(pair: ServerPair): Promise<unknown> {
  const source = await pair.source.query<{ r: string }>(
    "SELECT c.relname || ':' || c.relreplident::text AS r FROM pg_class c WHERE c.relname IN ('parent', 'child', 'keyless') ORDER BY 1",
    [],
    DB,
  );
  const setting = await pair.source.query<{ s: string }>(
    "SELECT array_to_string(setconfig, ',') AS s FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = $1 AND s.setrole = 0",
    [DB],
  );
  const keys = await pair.target.query<{ c: string }>(
    "SELECT conname::text AS c FROM pg_constraint WHERE contype = 'f' ORDER BY 1",
    [],
    DB,
  );
  const triggers = await pair.target.query<{ t: string }>(
    "SELECT tgname || ':' || tgenabled::text AS t FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1",
    [],
    DB,
  );
  return {
    identities: source.map((r) => r.r),
    fence: setting.map((r) => r.s),
    keys: keys.map((r) => r.c),
    triggers: triggers.map((r) => r.t),
  };
}

describe('safety: the footprint is given back by one release, and a second release is a no-op', function () {
  this.timeout(120_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
    for (const side of [pair.source, pair.target]) {
      await side.query(`CREATE DATABASE ${DB}`);
      await side.query(SCHEMA, [], DB);
    }
  });
  after(async () => pair?.stop());

  it('records and applies every change, lists it as pending, releases all of it, and releases nothing more the second time', async () => {
    const spec = pairSpec(pair, NAME, [DB], { mode: 'Online', allowReplicaIdentityFull: true, lockTimeoutSeconds: 5 });
    const store = new ControlStore(serverSpec(pair.target));
    const warnings: string[] = [];
    const ctx: FootprintContext = { ...restoreContextOf(spec, store), warn: async (m) => void warnings.push(m), instance: undefined };
    try {
      await store.createMigration({ name: NAME, mode: 'Online', option: 'Migrate', spec: {}, databases: [DB] });
      const before = await servers(pair);
      assert.deepEqual(await pendingFootprint(ctx, DB), []);

      // every change, made as its stage makes it; the writer fence last, its ALTER DATABASE by hand
      // (its apply ends the database's sessions)
      await withSession(spec.target, { database: DB, purpose: 'online', writable: true }, async (target) => {
        await targetFiring.apply(target);
        await targetForeignKeys.apply(ctx, target, DB);
        await target.query('SELECT pg_replication_origin_create($1)', [appliedPosition.record(ctx, DB)]);
      });
      const names = slotAndPublication.record(ctx, DB);
      await pair.source.query(`CREATE PUBLICATION "${names.publication}" FOR TABLE parent, child`, [], DB);
      await pair.source.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [names.slot], DB);
      await withSession(spec.source, { database: DB, purpose: 'online', writable: true }, async (source) => {
        const keyless = (await readSourceRelations(source)).filter((t) => t.name === 'keyless');
        await replicaIdentity.apply(ctx, DB, source, keyless);
      });
      await writerFence.record(store, NAME, DB, null);
      await pair.source.query(`ALTER DATABASE ${DB} SET default_transaction_read_only = on`);

      const pending = await pendingFootprint(ctx, DB);
      assert.deepEqual(
        pending.map((p) => p.change),
        FOOTPRINT.map((c) => c.name),
        JSON.stringify(pending, null, 2),
      );
      assert.notDeepEqual(await servers(pair), before);

      await releaseDatabase(ctx, DB, 'throw');
      assert.deepEqual(await pendingFootprint(ctx, DB), []);
      assert.deepEqual(await servers(pair), before, warnings.join('\n'));

      const events = await store.events(NAME);
      await releaseDatabase(ctx, DB, 'throw');
      assert.deepEqual(await pendingFootprint(ctx, DB), []);
      assert.deepEqual(await servers(pair), before);
      assert.deepEqual(warnings, []);
      assert.deepEqual(await store.events(NAME), events, 'the second release recorded nothing');
    } finally {
      await store.close();
    }
  });
});

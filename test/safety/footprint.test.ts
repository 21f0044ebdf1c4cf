// What pgferry changes on the servers, it records first and gives back (provider/engine/footprint/):
// every reversible change made in one database, on both servers, is pending until the release, and
// given back by it; a second release finds nothing and changes nothing. A migration an older
// pgferry started (its records in writer_fence, target_foreign_key and source_table, catalog
// version 19) and this one resumes is released exactly: the rows move to the ledger on upgrade.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { readSourceRelations } from '../../provider/engine/catalog/identityVerdict';
import { withSession } from '../../provider/engine/connect/session';
import { withPendingFootprint } from '../../provider/engine/api';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { CONTROL_MIGRATIONS } from '../../provider/engine/control/schemaVersions';
import { reverseStreamNamesOf, streamNamesOf } from '../../provider/engine/core/names';
import { FOOTPRINT, pendingFootprint, releaseDatabase } from '../../provider/engine/footprint/release';
import type { FootprintContext } from '../../provider/engine/footprint/change';
import { restoreContextOf } from '../../provider/engine/footprint/change';
import { setIdentityFull } from '../../provider/engine/footprint/replicaIdentity';
import { installEventTrigger } from '../../provider/engine/footprint/sourceEventTrigger';
import { recordFallbackWindow } from '../../provider/engine/control/fallbackWindows';
import { fireAsReplica } from '../../provider/engine/footprint/targetFiring';
import { setAsideForeignKeys } from '../../provider/engine/footprint/targetForeignKeys';
import { fenceDatabase, liftStatements } from '../../provider/engine/footprint/writerFence';
import { pausePooler } from '../../provider/engine/footprint/poolerPause';
import { guardTarget } from '../../provider/engine/footprint/targetGuard';
import { pairSpec, serverSpec, startPair, type ServerPair } from '../support';
import { poolerInputOf, startPgBouncer, type PgBouncer } from '../support/pgbouncer';
import { createMigration, events as catalogEvents } from '../../provider/engine/control/store';
import { get } from '../../provider/engine';

const DB = 'footprint';
const OLD_DB = 'footprint_old';
const OLD_NAME = 'footprint-old';
const NAME = 'footprint-m';
const SCHEMA = `
CREATE TABLE parent (id int PRIMARY KEY);
CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent);
CREATE TABLE keyless (v int);
CREATE TABLE audit (v text);
CREATE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO audit VALUES (TG_OP); RETURN NEW; END $$;
CREATE TRIGGER audited AFTER INSERT ON child FOR EACH ROW EXECUTE FUNCTION audit();
CREATE TABLE secret (v int); ALTER TABLE secret ENABLE ROW LEVEL SECURITY;`;

/** What the release gives back, as both servers show it. */
async function servers(pair: ServerPair, db = DB): Promise<unknown> {
  const source = await pair.source.query<{ r: string }>(
    "SELECT c.relname || ':' || c.relreplident::text AS r FROM pg_class c WHERE c.relname IN ('parent', 'child', 'keyless') ORDER BY 1",
    [],
    db,
  );
  const setting = await pair.source.query<{ s: string }>(
    "SELECT array_to_string(setconfig, ',') AS s FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = $1 AND s.setrole = 0",
    [db],
  );
  const keys = await pair.target.query<{ c: string }>(
    "SELECT conname::text AS c FROM pg_constraint WHERE contype = 'f' ORDER BY 1",
    [],
    db,
  );
  const triggers = await pair.target.query<{ t: string }>(
    "SELECT tgname || ':' || tgenabled::text AS t FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1",
    [],
    db,
  );
  const secured = await pair.target.query<{ r: string }>('SELECT relname::text AS r FROM pg_class WHERE relrowsecurity ORDER BY 1', [], db);
  const sourceTriggers = await pair.source.query<{ t: string }>(
    "SELECT tgrelid::regclass::text || ':' || tgname || ':' || tgenabled::text AS t FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1",
    [],
    db,
  );
  return {
    secured: secured.map((r) => r.r),
    identities: source.map((r) => r.r),
    fence: setting.map((r) => r.s),
    keys: keys.map((r) => r.c),
    triggers: triggers.map((r) => r.t),
    sourceTriggers: sourceTriggers.map((r) => r.t),
  };
}

/**
 * What an older pgferry left: a catalog at version 19 in its own maintenance database (the first
 * test's is version 20), and the changes it made, each recorded first in its table as it recorded it.
 */
async function olderPgferry(pair: ServerPair) {
  await pair.target.query('CREATE DATABASE old_catalog');
  const catalog = (sql: string, params: unknown[] = []) => pair.target.query(sql, params, 'old_catalog');
  await catalog(
    'CREATE SCHEMA pgferry; CREATE TABLE pgferry.schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
  );
  for (const m of CONTROL_MIGRATIONS.filter((m) => m.version <= 19)) {
    await catalog(m.sql);
    await catalog('INSERT INTO pgferry.schema_version (version) VALUES ($1)', [m.version]);
  }
  await catalog(
    "INSERT INTO pgferry.migration (name, mode, option, spec, state, sub_state) VALUES ($1, 'Online', 'Migrate', '{}', 'InProgress', 'WaitingForCutoverTrigger')",
    [OLD_NAME],
  );
  await catalog('INSERT INTO pgferry.migration_database (migration, database, ordinal) VALUES ($1, $2, 0)', [OLD_NAME, OLD_DB]);

  // each change recorded first, then made
  const [keyless] = await pair.source.query<{ oid: string }>("SELECT 'keyless'::regclass::oid::text AS oid", [], OLD_DB);
  await catalog(
    `INSERT INTO pgferry.source_table (migration, database, relid, schema_name, table_name, identity_before) VALUES ($1, $2, $3::bigint, 'public', 'keyless', 'd')`,
    [OLD_NAME, OLD_DB, keyless!.oid],
  );
  await pair.source.query('ALTER TABLE public.keyless REPLICA IDENTITY FULL', [], OLD_DB);
  await catalog(
    `INSERT INTO pgferry.target_foreign_key (migration, database, schema_name, table_name, constraint_name, definition, validated, columns,
                                             referenced_schema, referenced_table, referenced_columns, match_full, comment)
     VALUES ($1, $2, 'public', 'child', 'child_parent_id_fkey', 'FOREIGN KEY (parent_id) REFERENCES public.parent(id)', true, '{parent_id}',
             'public', 'parent', '{id}', false, 'kept with the key')`,
    [OLD_NAME, OLD_DB],
  );
  await pair.target.query('ALTER TABLE public.child DROP CONSTRAINT child_parent_id_fkey', [], OLD_DB);
  await catalog('INSERT INTO pgferry.writer_fence (migration, database, prior_setting, sessions_ended) VALUES ($1, $2, NULL, 3)', [
    OLD_NAME,
    OLD_DB,
  ]);
  await pair.source.query(`ALTER DATABASE ${OLD_DB} SET default_transaction_read_only = on`);
  return { catalog, keyless: keyless!.oid };
}

describe('safety: the footprint is given back by one release, and a second release is a no-op', function () {
  this.timeout(120_000);
  let pair: ServerPair;
  let pooler: PgBouncer;
  before(async () => {
    pair = await startPair(15, 15);
    for (const side of [pair.source, pair.target]) {
      for (const db of [DB, OLD_DB]) {
        await side.query(`CREATE DATABASE ${db}`);
        await side.query(SCHEMA, [], db);
      }
    }
    // the user's PgBouncer in front of the source, whose pause at a cutover is a change too
    pooler = await startPgBouncer({ databases: { [DB]: { host: pair.source.host, port: pair.source.port } }, users: {} });
  });
  after(async () => {
    await pooler?.stop();
    await pair?.stop();
  });

  /** Where the pooler sends the database, whether it is paused, and its configuration file. */
  async function pooled(): Promise<{ port: number; paused: number; file: string }> {
    const rows = await pooler.admin<{ name: string; port: number; paused: number }>('SHOW DATABASES');
    const row = rows.find((r) => r.name === DB)!;
    return { port: Number(row.port), paused: Number(row.paused), file: await fs.readFile(pooler.configFile, 'utf8') };
  }

  it('records and applies every change, lists it as pending, releases all of it, and releases nothing more the second time', async () => {
    const spec = pairSpec(pair, NAME, [DB], {
      mode: 'Online',
      allowReplicaIdentityFull: true,
      lockTimeoutSeconds: 5,
      pooler: poolerInputOf(pooler),
    });
    const poolerBefore = await pooled();
    assert.deepEqual([poolerBefore.port, poolerBefore.paused], [pair.source.port, 0]);
    const store = new CatalogConnection(serverSpec(pair.target));
    const warnings: string[] = [];
    try {
      await createMigration(store, { name: NAME, mode: 'Online', option: 'Migrate', spec: {}, databases: [DB] });
      // the names of the slot, publication and origin derive from the instance recorded at registration
      const { instance } = (await get(store, NAME))!;
      const ctx: FootprintContext = { ...restoreContextOf(spec, store), warn: async (m) => void warnings.push(m), instance };
      const before = await servers(pair);
      assert.deepEqual(await pendingFootprint(ctx, DB), []);

      // every change, made as its stage makes it; the writer fences last (their apply ends the database's sessions)
      await withSession(spec.target, { database: DB, purpose: 'online', writable: true }, async (target) => {
        await fireAsReplica(target, { store, migration: NAME, database: DB });
        await setAsideForeignKeys(ctx, target, DB);
        await target.query('SELECT pg_replication_origin_create($1)', [streamNamesOf(NAME, DB, instance).origin]);
        // row-level security, as the restore leaves it while streaming (out of post-data)
        await target.query('ALTER TABLE public.secret DISABLE ROW LEVEL SECURITY');
      });
      const names = streamNamesOf(NAME, DB, instance);
      await pair.source.query(`CREATE PUBLICATION "${names.publication}" FOR TABLE parent, child`, [], DB);
      await pair.source.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [names.slot], DB);
      await withSession(spec.source, { database: DB, purpose: 'online', writable: true }, async (source) => {
        const keyless = (await readSourceRelations(source)).filter((t) => t.name === 'keyless');
        await setIdentityFull(ctx, DB, source, keyless);
      });
      // the event trigger of schemaChangeCapture eventTrigger (its own session, before the fence)
      await installEventTrigger(ctx, DB);
      // a fallback window's reverse slot and publication on the target and its position on the old
      // source, as a cutover with a window leaves them (recorded first, named from the instance)
      const reverse = reverseStreamNamesOf(NAME, DB, instance);
      await recordFallbackWindow(store, NAME, DB, 3600);
      await pair.target.query(`CREATE PUBLICATION "${reverse.publication}" FOR TABLE parent, child`, [], DB);
      await pair.target.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [reverse.slot], DB);
      await pair.source.query('SELECT pg_replication_origin_create($1)', [reverse.origin]);
      // the target's guard as a held cutover puts it on, before its pin (on the published tables)
      await guardTarget(ctx, DB);
      // the pooler's pause as a cutover through it makes it, before the fence
      await pausePooler(ctx, DB);
      assert.equal((await pooled()).paused, 1, 'the pooler paused');
      // the writer fence as a cutover makes it: the setting, and a trigger on each published table
      await fenceDatabase(ctx, DB);
      // a fall-back's fence on the target, left by one that did not complete (its triggers on the reverse publication's tables)
      await fenceDatabase(ctx, DB, 'target');

      const pending = await pendingFootprint(ctx, DB);
      // all but a fall-back's pause of the pooler, which pauses only what a cutover switched and kept:
      // the cutover's pause here is still pending (test/fallback/poolerFallBack.test.ts releases it);
      // and a fall-back's carry into the old source's tables of its window, which needs a window's
      // table made on both servers (test/fallback/tableInWindow.test.ts takes it back)
      assert.deepEqual(
        pending.map((p) => p.change),
        FOOTPRINT.map((c) => c.name).filter((name) => name !== 'poolerPauseBack' && name !== 'windowCarry'),
        JSON.stringify(pending, null, 2),
      );
      assert.notDeepEqual(await servers(pair), before);
      // `show` lists the same, from the same loop
      const shown = await withPendingFootprint(spec, (await get(store, NAME))!);
      assert.deepEqual(shown.databases[0]?.pendingFootprint, pending);

      await releaseDatabase(ctx, DB, 'throw');
      assert.deepEqual(await pendingFootprint(ctx, DB), []);
      assert.deepEqual(await servers(pair), before, warnings.join('\n'));
      assert.deepEqual(await pooled(), poolerBefore, 'the pooler resumed on the source, its file as it was');

      const events = await catalogEvents(store, NAME);
      await releaseDatabase(ctx, DB, 'throw');
      assert.deepEqual(await pendingFootprint(ctx, DB), []);
      assert.deepEqual(await servers(pair), before);
      assert.deepEqual(warnings, []);
      assert.deepEqual(await catalogEvents(store, NAME), events, 'the second release recorded nothing');
    } finally {
      await store.close();
    }
  });

  it('releases exactly what an older pgferry recorded in its own tables, once this one upgraded the catalog', () =>
    releasesOlderRecords(pair));
});

/** A release by this pgferry of what an older one recorded in its own tables, after the catalog's upgrade. */
async function releasesOlderRecords(pair: ServerPair): Promise<void> {
  const spec = pairSpec(pair, OLD_NAME, [OLD_DB], { mode: 'Online', allowReplicaIdentityFull: true, lockTimeoutSeconds: 5 });
  const before = await servers(pair, OLD_DB);
  const { catalog, keyless } = await olderPgferry(pair);
  assert.notDeepEqual(await servers(pair, OLD_DB), before);

  // this pgferry resumes it: the runner installs (upgrades) the catalog, then releases
  const store = new CatalogConnection({ ...serverSpec(pair.target), maintenanceDatabase: 'old_catalog' });
  const target = { ...spec.target, maintenanceDatabase: 'old_catalog' };
  const warnings: string[] = [];
  const ctx: FootprintContext = {
    ...restoreContextOf({ ...spec, target }, store),
    warn: async (m) => void warnings.push(m),
    instance: undefined,
  };
  try {
    await store.install();
    const moved = await catalog(
      `SELECT to_regclass('pgferry.writer_fence')::text AS fence, to_regclass('pgferry.target_foreign_key')::text AS keys,
              (SELECT count(*)::int FROM information_schema.columns WHERE table_schema = 'pgferry' AND table_name = 'source_table' AND column_name LIKE 'identity%') AS identity_columns`,
    );
    assert.deepEqual(moved, [{ fence: null, keys: null, identity_columns: 0 }]);
    const pending = await pendingFootprint(ctx, OLD_DB);
    assert.deepEqual(
      pending.filter((p) => ['writerFence', 'targetForeignKeys', 'replicaIdentity'].includes(p.change)),
      [
        // the lift names the fence's triggers too: an older pgferry made none, and dropping none is a no-op
        { change: 'writerFence', pending: [liftStatements(OLD_NAME, OLD_DB, null)] },
        {
          change: 'targetForeignKeys',
          pending: [
            'ALTER TABLE "public"."child" ADD CONSTRAINT "child_parent_id_fkey" FOREIGN KEY (parent_id) REFERENCES public.parent(id)',
          ],
        },
        { change: 'replicaIdentity', pending: ['ALTER TABLE ONLY "public"."keyless" REPLICA IDENTITY DEFAULT'] },
      ],
    );
    const status = await get(store, OLD_NAME);
    assert.equal(status?.databases[0]?.writerFence?.sessionsEnded, 3, 'what the older pgferry reported stays');

    await releaseDatabase(ctx, OLD_DB, 'throw');
    assert.deepEqual(await pendingFootprint(ctx, OLD_DB), []);
    assert.deepEqual(await servers(pair, OLD_DB), before, warnings.join('\n'));
    const [comment] = await pair.target.query<{ c: string | null }>(
      "SELECT obj_description(oid, 'pg_constraint') AS c FROM pg_constraint WHERE conname = 'child_parent_id_fkey'",
      [],
      OLD_DB,
    );
    assert.equal(comment?.c, 'kept with the key');
    const ledger = await catalog(
      'SELECT change, object, undone_at IS NOT NULL AS undone FROM pgferry.footprint WHERE migration = $1 ORDER BY change',
      [OLD_NAME],
    );
    assert.deepEqual(ledger, [
      { change: 'replicaIdentity', object: keyless, undone: true },
      { change: 'targetForeignKeys', object: '"public"."child"."child_parent_id_fkey"', undone: true },
      { change: 'writerFence', object: '', undone: true },
    ]);
    assert.deepEqual(warnings, []);
  } finally {
    await store.close();
  }
}

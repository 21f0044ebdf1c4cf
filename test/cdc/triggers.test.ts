// Issue 21: the target's triggers while changes stream fire the same way on both kinds of target
// (docs/safety.md, "Triggers and rules while streaming"): ordinary and disabled triggers stay silent, ALWAYS and
// REPLICA triggers fire, a view's INSTEAD OF trigger is left alone, and a trigger on a partitioned
// table is silenced through its clones on the partitions. After the cutover every trigger is in
// its source state again.
import assert from 'node:assert/strict';
import { runMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { type Cluster, makeManagedTarget, pairSpec, serverSpec, suiteServers, waitForStatus } from '../support';
import { rowsOf, TARGET_KINDS } from './harness';
import { requestCutover } from '../../provider/engine/control/migrationRequests';

const SCHEMA = `
CREATE TABLE fired (trigger text NOT NULL, port int NOT NULL);
CREATE FUNCTION note() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN INSERT INTO public.fired VALUES (TG_NAME, current_setting('port')::int); RETURN NULL; END$$;
CREATE TABLE items (id int PRIMARY KEY, v text);
CREATE TRIGGER t_ordinary AFTER INSERT ON items FOR EACH ROW EXECUTE FUNCTION note();
CREATE TRIGGER t_always AFTER INSERT ON items FOR EACH ROW EXECUTE FUNCTION note();
ALTER TABLE items ENABLE ALWAYS TRIGGER t_always;
CREATE TRIGGER t_replica AFTER INSERT ON items FOR EACH ROW EXECUTE FUNCTION note();
ALTER TABLE items ENABLE REPLICA TRIGGER t_replica;
CREATE TRIGGER t_disabled AFTER INSERT ON items FOR EACH ROW EXECUTE FUNCTION note();
ALTER TABLE items DISABLE TRIGGER t_disabled;
CREATE TABLE parted (id int, region text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE parted_a PARTITION OF parted FOR VALUES IN ('a');
CREATE TABLE parted_b PARTITION OF parted FOR VALUES IN ('b');
CREATE TRIGGER t_parted AFTER INSERT ON parted FOR EACH ROW EXECUTE FUNCTION note();
ALTER TABLE ONLY parted_b DISABLE TRIGGER t_parted;
CREATE VIEW items_view AS SELECT id, v FROM items;
CREATE FUNCTION view_insert() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN INSERT INTO public.items VALUES (NEW.id, NEW.v); RETURN NEW; END$$;
CREATE TRIGGER t_view INSTEAD OF INSERT ON items_view FOR EACH ROW EXECUTE FUNCTION view_insert();`;

const CHANGES = `
INSERT INTO items VALUES (1, 'one'), (2, 'two'), (3, 'three');
INSERT INTO items_view VALUES (10, 'through the view');
INSERT INTO parted VALUES (1, 'a'), (2, 'b');`;

/** Every trigger of the database's tables and views (partition clones included) with its state. */
async function triggerStates(cluster: Cluster, db: string): Promise<string[]> {
  const rows = await cluster.query<{ t: string }>(
    `SELECT c.relname || '.' || t.tgname || '=' || t.tgenabled::text AS t FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
      WHERE (NOT t.tgisinternal OR t.tgconstraint = 0) AND c.relnamespace = 'public'::regnamespace ORDER BY 1`,
    [],
    db,
  );
  return rows.map((r) => r.t);
}

/** Rows of `fired` written by triggers that ran on the given cluster, by trigger. */
async function firedOn(cluster: Cluster, db: string, where: Cluster): Promise<Record<string, number>> {
  const rows = await cluster.query<{ trigger: string; n: number }>(
    'SELECT trigger, count(*)::int AS n FROM fired WHERE port = $1 GROUP BY 1 ORDER BY 1',
    [where.port],
    db,
  );
  return Object.fromEntries(rows.map((r) => [r.trigger, r.n]));
}

for (const kind of TARGET_KINDS) {
  describe(`triggers while streaming, ${kind} target`, function () {
    this.timeout(400_000);
    const servers = suiteServers();

    it('fires ALWAYS and REPLICA triggers only, leaves views alone, silences partition clones, and sets every trigger back at cutover', async () => {
      const { pair } = servers;
      const db = 'trig';
      await pair.source.query(`CREATE DATABASE ${db}`);
      await pair.source.query(SCHEMA, [], db);
      const target = kind === 'managed' ? await makeManagedTarget(pair.target) : serverSpec(pair.target);
      const spec = pairSpec(pair, 'trig-online', [db], {
        target,
        mode: 'Online',
        option: 'Migrate',
        allowReplicaIdentityFull: true,
        migrateRoles: kind === 'superuser',
        // the target's own trigger rows make "fired" differ on purpose: compared below instead
        verify: false,
      });
      const store = new CatalogConnection(target);
      try {
        const running = runMigration(spec);
        const ready = await waitForStatus(store, spec.migrationName, (s) => s.state !== 'InProgress');
        assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
        await pair.source.query(CHANGES, [], db);
        await waitForStatus(store, spec.migrationName, (s) => (s.databases[0]?.inserts ?? 0) >= 6);
        await requestCutover(store, spec.migrationName);
        const done = await running;
        assert.equal(done.state, 'Succeeded', done.message);
        // on the source: ordinary and ALWAYS triggers, the enabled partition clone; on the target
        // while applying: what a replica-role session fires, on either kind of target
        assert.deepEqual(await firedOn(pair.source, db, pair.source), { t_always: 4, t_ordinary: 4, t_parted: 1 });
        assert.deepEqual(await firedOn(pair.target, db, pair.target), { t_always: 4, t_replica: 4 });
        for (const table of ['items', 'parted']) {
          assert.deepEqual(await rowsOf(pair.target, db, table), await rowsOf(pair.source, db, table), table);
        }
        assert.deepEqual(await firedOn(pair.target, db, pair.source), await firedOn(pair.source, db, pair.source));
        assert.deepEqual(await triggerStates(pair.target, db), await triggerStates(pair.source, db));
      } finally {
        await store.close();
      }
    });
  });
}

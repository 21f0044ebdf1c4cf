// The target's rules while changes stream fire as a replica-role session fires them, on both kinds
// of target (docs/safety.md, "Triggers and rules while streaming"): ordinary and disabled rules stay
// silent (a DO ALSO rule would write its row a second time, next to the one the source's rule
// wrote and the stream brings; a DO INSTEAD rule would send a change elsewhere), ALWAYS and REPLICA
// rules fire, a view's rules are left alone. Every rule is in its source state again after the
// cutover, after a cancel, and after a runner killed while streaming resumes and cuts over.
import assert from 'node:assert/strict';
import { cancelMigration, resumeMigration, runMigration, startMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import type { MigrationSpec } from '../../provider/engine/input/migrationSpec';
import { makeManagedTarget, pairSpec, serverSpec, startPair, waitForStatus, type Cluster, type ServerPair } from '../support';
import { cutOverOnceAccepted, rowsOf, TARGET_KINDS } from './harness';
import { requestCutover as catalogRequestCutover } from '../../provider/engine/control/migrationRequests';

/**
 * `fired` notes where a rule ran (the server's port); `item_log` is an application's own log, keyed
 * so that a rule firing on the target collides with the row the source's rule wrote.
 */
const SCHEMA = `
CREATE TABLE fired (rule text NOT NULL, port int NOT NULL, id int NOT NULL);
CREATE TABLE items (id int PRIMARY KEY, v text NOT NULL);
CREATE TABLE item_log (item_id int, v text, PRIMARY KEY (item_id, v));
CREATE RULE r_log AS ON UPDATE TO items DO ALSO INSERT INTO public.item_log VALUES (NEW.id, NEW.v);
CREATE RULE r_also_delete AS ON DELETE TO items DO ALSO INSERT INTO public.fired VALUES ('r_also_delete', current_setting('port')::int, OLD.id);
CREATE RULE r_always AS ON UPDATE TO items DO ALSO INSERT INTO public.fired VALUES ('r_always', current_setting('port')::int, NEW.id);
ALTER TABLE items ENABLE ALWAYS RULE r_always;
CREATE RULE r_replica AS ON UPDATE TO items DO ALSO INSERT INTO public.fired VALUES ('r_replica', current_setting('port')::int, NEW.id);
ALTER TABLE items ENABLE REPLICA RULE r_replica;
CREATE RULE r_disabled AS ON UPDATE TO items DO ALSO INSERT INTO public.fired VALUES ('r_disabled', current_setting('port')::int, NEW.id);
ALTER TABLE items DISABLE RULE r_disabled;
CREATE TABLE docs (id int PRIMARY KEY, v text NOT NULL, deleted boolean NOT NULL DEFAULT false);
CREATE RULE r_soft_delete AS ON DELETE TO docs DO INSTEAD UPDATE public.docs SET deleted = true WHERE id = OLD.id;
CREATE RULE r_frozen AS ON UPDATE TO docs WHERE OLD.v = 'frozen' DO INSTEAD NOTHING;
CREATE TABLE secrets (id int PRIMARY KEY, v text NOT NULL);
ALTER TABLE secrets ENABLE ROW LEVEL SECURITY;
CREATE RULE r_secret AS ON INSERT TO secrets DO ALSO INSERT INTO public.fired VALUES ('r_secret', current_setting('port')::int, NEW.id);
CREATE VIEW items_view AS SELECT id, v FROM items;
CREATE RULE r_view AS ON INSERT TO items_view DO INSTEAD INSERT INTO public.items VALUES (NEW.id, NEW.v);
INSERT INTO items SELECT g, 'copied' FROM generate_series(1, 20) g;
INSERT INTO docs SELECT g, 'copied' FROM generate_series(1, 10) g;`;

/**
 * Each statement its own source transaction. The two purges run as DBAs run bulk fixes, with
 * session_replication_role = replica: the source's ordinary rules stay silent, so the stream
 * carries real DELETEs of docs, which the target's DO INSTEAD rule must not turn into updates.
 */
const CHANGES = [
  "UPDATE items SET v = 'updated' WHERE id <= 5",
  "INSERT INTO items_view VALUES (100, 'through the view')",
  'DELETE FROM items WHERE id BETWEEN 6 AND 8',
  "UPDATE items SET v = 'again' WHERE id = 1",
  'DELETE FROM docs WHERE id <= 3',
  "UPDATE docs SET v = 'frozen' WHERE id = 4",
  "UPDATE docs SET v = 'not applied' WHERE id = 4",
  "INSERT INTO secrets VALUES (1, 'one'), (2, 'two')",
  'SET session_replication_role = replica; DELETE FROM docs WHERE deleted OR id = 9; RESET session_replication_role',
];
/** Row changes the stream carries for CHANGES: items 10, item_log 6, fired 11, docs 8, secrets 2. */
const STREAMED_CHANGES = 37;

const TABLES = ['items', 'item_log', 'docs', 'secrets'];

/** Every rule of the database's tables and views with its state (views' _RETURN rules left out). */
async function ruleStates(cluster: Cluster, db: string): Promise<string[]> {
  const rows = await cluster.query<{ r: string }>(
    `SELECT c.relname || '.' || r.rulename || '=' || r.ev_enabled::text AS r FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
      WHERE c.relnamespace = 'public'::regnamespace AND r.rulename <> '_RETURN' ORDER BY 1`,
    [],
    db,
  );
  return rows.map((r) => r.r);
}

/** Rows of `fired` written by rules that ran on the given cluster, by rule. */
async function firedOn(cluster: Cluster, db: string, where: Cluster): Promise<Record<string, number>> {
  const rows = await cluster.query<{ rule: string; n: number }>(
    'SELECT rule, count(*)::int AS n FROM fired WHERE port = $1 GROUP BY 1 ORDER BY 1',
    [where.port],
    db,
  );
  return Object.fromEntries(rows.map((r) => [r.rule, r.n]));
}

async function applyChanges(source: Cluster, db: string): Promise<void> {
  for (const sql of CHANGES) await source.query(sql, [], db);
}

/** The source's rules, and the target's while streaming without replica role (ordinary off, REPLICA as ALWAYS). */
const SOURCE_RULES = [
  'docs.r_frozen=O',
  'docs.r_soft_delete=O',
  'items.r_also_delete=O',
  'items.r_always=A',
  'items.r_disabled=D',
  'items.r_log=O',
  'items.r_replica=R',
  'items_view.r_view=O',
  'secrets.r_secret=O',
];
const SWITCHED_RULES = [
  'docs.r_frozen=D',
  'docs.r_soft_delete=D',
  'items.r_also_delete=D',
  'items.r_always=A',
  'items.r_disabled=D',
  'items.r_log=D',
  'items.r_replica=A',
  'items_view.r_view=O',
  'secrets.r_secret=D',
];

for (const kind of TARGET_KINDS) {
  // one pair per kind: the control catalog belongs to the user that installed it first
  describe(`rules while streaming, ${kind} target`, function () {
    this.timeout(400_000);
    let pair: ServerPair;
    before(async () => {
      pair = await startPair(15, 15);
    });
    after(async () => pair?.stop());

    async function setup(db: string, name: string): Promise<{ spec: MigrationSpec; store: CatalogConnection }> {
      await pair.source.query(`CREATE DATABASE ${db}`);
      await pair.source.query(SCHEMA, [], db);
      const target = kind === 'managed' ? await makeManagedTarget(pair.target) : serverSpec(pair.target);
      const spec = pairSpec(pair, name, [db], {
        target,
        mode: 'Online',
        option: 'Migrate',
        allowReplicaIdentityFull: true,
        migrateRoles: kind === 'superuser',
        // the rows target rules write into "fired" make it differ on purpose: compared below instead
        verify: false,
      });
      return { spec, store: new CatalogConnection(target) };
    }

    /** The target's rules while streaming: switched by pgferry where replica role is refused. */
    const streamingRules = kind === 'managed' ? SWITCHED_RULES : SOURCE_RULES;

    it('fires only ALWAYS and REPLICA rules of tables, applies every DO ALSO and DO INSTEAD change once, and sets every rule back at cutover', async () => {
      const db = 'rules_cutover';
      const { spec, store } = await setup(db, 'rules-cutover');
      try {
        const running = runMigration(spec);
        const ready = await waitForStatus(store, spec.migrationName, (s) => s.state !== 'InProgress');
        assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
        assert.deepEqual(await ruleStates(pair.target, db), streamingRules);
        await applyChanges(pair.source, db);
        const applied = await waitForStatus(store, spec.migrationName, (s) => {
          const d = s.databases[0]!;
          return s.state !== 'WaitingForUserAction' || d.inserts + d.updates + d.deletes >= STREAMED_CHANGES;
        });
        assert.equal(applied.state, 'WaitingForUserAction', applied.message);
        await catalogRequestCutover(store, spec.migrationName);
        const done = await running;
        assert.equal(done.state, 'Succeeded', done.message);
        // on the source: its ordinary and ALWAYS rules; on the target while applying: what a
        // replica-role session fires, on either kind of target
        assert.deepEqual(await firedOn(pair.source, db, pair.source), { r_also_delete: 3, r_always: 6, r_secret: 2 });
        assert.deepEqual(await firedOn(pair.target, db, pair.target), { r_always: 6, r_replica: 6 });
        assert.deepEqual(await firedOn(pair.target, db, pair.source), await firedOn(pair.source, db, pair.source));
        for (const table of TABLES) assert.deepEqual(await rowsOf(pair.target, db, table), await rowsOf(pair.source, db, table), table);
        assert.deepEqual(await ruleStates(pair.target, db), SOURCE_RULES);
        assert.deepEqual(await ruleStates(pair.source, db), SOURCE_RULES);
      } finally {
        await store.close();
      }
    });

    it('sets every rule back as on the source when the migration is canceled while streaming', async () => {
      const db = 'rules_cancel';
      const { spec, store } = await setup(db, 'rules-cancel');
      try {
        const running = runMigration(spec);
        const ready = await waitForStatus(store, spec.migrationName, (s) => s.state !== 'InProgress');
        assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
        assert.deepEqual(await ruleStates(pair.target, db), streamingRules);
        await cancelMigration(spec.target, spec.migrationName);
        const done = await running;
        assert.equal(done.state, 'Canceled', done.message);
        assert.deepEqual(await ruleStates(pair.target, db), SOURCE_RULES);
      } finally {
        await store.close();
      }
    });

    it('keeps the rules as switched across a runner killed while streaming, then sets them back at cutover', async () => {
      const db = 'rules_resume';
      const { spec, store } = await setup(db, 'rules-resume');
      try {
        await startMigration(spec);
        const streaming = await waitForStatus(store, spec.migrationName, (s) => s.state !== 'InProgress');
        assert.equal(streaming.subState, 'WaitingForCutoverTrigger', `${streaming.state}: ${streaming.message}`);
        await pair.source.query(CHANGES[0]!, [], db);
        await waitForStatus(store, spec.migrationName, (s) => (s.databases[0]?.updates ?? 0) >= 5);
        process.kill(streaming.runner!.pid, 'SIGKILL');
        await waitForStatus(store, spec.migrationName, (s) => s.runner?.alive === false);
        // the switch is the target's own state: nothing to redo, and nothing undone by the kill
        assert.deepEqual(await ruleStates(pair.target, db), streamingRules);
        for (const sql of CHANGES.slice(1)) await pair.source.query(sql, [], db);
        await resumeMigration(spec);
        await waitForStatus(store, spec.migrationName, (s) => {
          const d = s.databases[0]!;
          return s.state === 'Failed' || d.inserts + d.updates + d.deletes >= STREAMED_CHANGES;
        });
        await cutOverOnceAccepted(spec, store);
        for (const table of TABLES) assert.deepEqual(await rowsOf(pair.target, db, table), await rowsOf(pair.source, db, table), table);
        assert.deepEqual(await firedOn(pair.target, db, pair.target), { r_always: 6, r_replica: 6 });
        assert.deepEqual(await ruleStates(pair.target, db), SOURCE_RULES);
      } finally {
        await store.close();
      }
    });
  });
}

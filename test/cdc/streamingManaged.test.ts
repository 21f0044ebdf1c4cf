// Online migrations to an Azure-like target (an admin in azure_pg_admin, no superuser, no
// session_replication_role, no replication origins: the applied position is a progress table) under
// the faults the superuser suites prove: the runner killed with SIGKILL while a writer runs, then
// resumed and cut over, nothing lost or applied twice; the target crashing under it, after which its
// successor or the user's resume goes on, whichever takes the lease first; and tables owned by a role the migration
// restores, with an ordinary trigger and an ENABLE REPLICA trigger, which pgferry switches itself
// while changes stream: each trigger's effect is counted once, and after the cutover the trigger
// states and the owner are the source's.
import assert from 'node:assert/strict';
import { parseMigrationSpec, requestCutover, resumeMigration, startMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import type { MigrationSpec, ServerSpec } from '../../provider/engine/input/migrationSpec';
import { rowsOf } from './harness';
import {
  makeManagedTarget,
  makeReplicationSourceUser,
  processAlive,
  resumeUnlessRunning,
  serverSpec,
  startPair,
  until,
  waitForStatus,
  startSourceWriter,
  type SourceWriter,
  type Cluster,
  type ServerPair,
} from '../support';
import { events as catalogEvents, get } from '../../provider/engine/control/store';

const LEDGER_SQL = `
CREATE TABLE acct (id int PRIMARY KEY, balance bigint NOT NULL);
CREATE TABLE ledger (n bigint PRIMARY KEY, acct int NOT NULL, amount int NOT NULL, note text);
CREATE TABLE journal (n bigint NOT NULL, line text NOT NULL);
INSERT INTO acct SELECT g, 0 FROM generate_series(1, 50) g;
INSERT INTO ledger SELECT g, 1 + g % 50, 1, 'copied' FROM generate_series(1, 2000) g;`;

/**
 * The application: numbered transactions, each appending to the keyed ledger and to the key-less
 * journal (a change applied twice shows there as a second row), moving a balance, and every tenth
 * one rewriting and deleting older ledger rows. stop() resolves to how many committed.
 */
function startWriter(source: Cluster, db: string): SourceWriter {
  return startSourceWriter(source, db, async (client, n) => {
    const next = 10_000 + n;
    await client.query('INSERT INTO ledger VALUES ($1, $2, $3, $4)', [next, 1 + (next % 50), next % 7, 'live']);
    await client.query('INSERT INTO journal VALUES ($1, $2)', [next, `tx ${next}`]);
    await client.query('UPDATE acct SET balance = balance + $2 WHERE id = $1', [1 + (next % 50), next % 7]);
    if (next % 10 === 0) {
      await client.query(`UPDATE ledger SET note = 'rewritten ' || $1::text WHERE n = $1::bigint - 5000`, [next]);
      await client.query('DELETE FROM ledger WHERE n = $1::bigint - 9000', [next]);
    }
  });
}

// One pair for the whole file, started by the describe's hooks and shared by the scenarios below.
let pair: ServerPair;
let target: ServerSpec;

async function online(name: string, db: string, source: ServerSpec): Promise<MigrationSpec> {
  return parseMigrationSpec({
    migrationName: name,
    source,
    target,
    databases: [db],
    mode: 'Online',
    option: 'Migrate',
    allowReplicaIdentityFull: true,
  });
}

/**
 * A migration of the ledger streams while the writer runs; `fault` strikes the runner. A runner
 * killed is gone for good: the user resumes once the migration shows it dead. A runner that lost its
 * lease (`leaseLost`) started its successor as it exited, which may take the lease before the user's
 * resume: either runner going on proves the same, so the resume may find the migration running, and
 * then the successor said it took over. Then the cutover; both sides are compared row by row and the
 * key-less journal holds each transaction once.
 */
async function faultWhileStreaming(db: string, leaseLost: boolean, fault: (runner: number) => Promise<void>): Promise<void> {
  await pair.source.query(`CREATE DATABASE ${db}`);
  await pair.source.query(LEDGER_SQL, [], db);
  const spec = await online(`managed-${db}`, db, await makeReplicationSourceUser(pair.source, db));
  const store = new CatalogConnection(target);
  const writer = startWriter(pair.source, db);
  try {
    await startMigration(spec);
    const streaming = await waitForStatus(store, spec.migrationName, (s) => s.state === 'Failed' || (s.databases[0]?.inserts ?? 0) > 100);
    assert.notEqual(streaming.state, 'Failed', streaming.message);
    const [recorded] = await pair.target.query(`SELECT to_regclass('pgferry.apply_progress')::text AS t`, [], db);
    assert.deepEqual(
      recorded,
      { t: 'pgferry.apply_progress' },
      'the target records the applied position in the progress table, as a managed server must',
    );
    const runner = streaming.runner!.pid;
    await fault(runner);
    await until('the runner to be gone', async () => (processAlive(runner) ? undefined : true));
    // a killed runner leaves no successor: its lease stays free until the user resumes
    if (!leaseLost) await waitForStatus(store, spec.migrationName, (s) => s.runner?.alive === false);
    // the application writes on once the runner is gone (changes the next runner must catch up on)
    const atStop = writer.committed();
    await until('the writer to commit 200 transactions once the runner is gone', async () =>
      writer.committed() - atStop >= 200 ? true : undefined,
    );
    if (leaseLost) {
      // refused while the successor holds the lease: it records why it took over once it holds it
      if ((await resumeUnlessRunning(spec)) === 'running') {
        await until('the successor to say it took over', async () =>
          (await catalogEvents(store, spec.migrationName, 200)).some((e) =>
            /^the runner's lease session was ended on the target .*: a new runner resumed the migration \(runner \d+ on .+ took over from runner \d+\)$/.test(
              e.message,
            ),
          )
            ? true
            : undefined,
        );
      }
    } else {
      await resumeMigration(spec);
    }
    const before = (await get(store, spec.migrationName))!.databases[0]!.inserts;
    const resumed = await waitForStatus(
      store,
      spec.migrationName,
      (s) =>
        s.state === 'Failed' || (s.runner?.alive === true && s.subState === 'WaitingForCutoverTrigger' && s.databases[0]!.inserts > before),
    );
    assert.notEqual(resumed.state, 'Failed', resumed.message);
    assert.notEqual(resumed.runner!.pid, runner);
    const written = await writer.stop();
    await requestCutover(target, spec.migrationName);
    const done = await waitForStatus(store, spec.migrationName, (s) => s.state === 'Succeeded' || s.state === 'Failed');
    assert.equal(done.state, 'Succeeded', done.message);

    // content row by row, and counts by key: each source transaction once
    for (const table of ['acct', 'ledger', 'journal']) {
      assert.deepEqual(await rowsOf(pair.target, db, table), await rowsOf(pair.source, db, table), table);
    }
    const twice = await pair.target.query(`SELECT n, count(*)::int AS copies FROM journal GROUP BY n HAVING count(*) <> 1`, [], db);
    assert.deepEqual(twice, [], 'every journal line once');
    const [journal] = await pair.target.query<{ n: number; first: string; last: string }>(
      `SELECT count(*)::int AS n, min(n)::text AS first, max(n)::text AS last FROM journal`,
      [],
      db,
    );
    assert.deepEqual(journal, { n: written, first: '10001', last: String(10_000 + written) }, 'one journal line per committed transaction');
    const progress = await pair.target.query(`SELECT to_regclass('pgferry.apply_progress') AS t`, [], db);
    assert.deepEqual(progress, [{ t: null }], 'the progress table, the position a managed target records, is dropped at the cutover');
  } finally {
    await writer.stop().catch(() => undefined);
    await store.close();
  }
}

/**
 * A source table owned by an ordinary role, with an ordinary trigger and an ENABLE REPLICA trigger,
 * streamed to the managed target, where pgferry switches the triggers itself while changes stream.
 */
async function ownedTablesWithTriggers(): Promise<void> {
  const db = 'owned';
  await pair.source.query(`CREATE ROLE app_owner NOLOGIN`);
  await pair.source.query(`CREATE DATABASE ${db}`);
  await pair.source.query(
    `CREATE SCHEMA app AUTHORIZATION app_owner;
     SET ROLE app_owner;
     CREATE TABLE app.items (id int PRIMARY KEY, qty int NOT NULL);
     CREATE TABLE app.audit (id bigserial PRIMARY KEY, item int NOT NULL, op text NOT NULL);
     -- what a subscriber-side REPLICA trigger records; never written on the source
     CREATE TABLE app.replica_seen (item int NOT NULL, op text NOT NULL);
     CREATE FUNCTION app.audit_item() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN INSERT INTO app.audit (item, op) VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END, TG_OP); RETURN NULL; END $$;
     CREATE FUNCTION app.replica_item() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN INSERT INTO app.replica_seen VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END, TG_OP); RETURN NULL; END $$;
     CREATE TRIGGER items_audit AFTER INSERT OR UPDATE OR DELETE ON app.items FOR EACH ROW EXECUTE FUNCTION app.audit_item();
     CREATE TRIGGER items_replica AFTER INSERT OR UPDATE OR DELETE ON app.items FOR EACH ROW EXECUTE FUNCTION app.replica_item();
     ALTER TABLE app.items ENABLE REPLICA TRIGGER items_replica;
     INSERT INTO app.items SELECT g, g FROM generate_series(1, 100) g;
     RESET ROLE;`,
    [],
    db,
  );
  const spec = await online('managed-owned', db, serverSpec(pair.source));
  const store = new CatalogConnection(target);
  try {
    await startMigration(spec);
    const streaming = await waitForStatus(
      store,
      spec.migrationName,
      (s) => s.subState === 'WaitingForCutoverTrigger' || s.state !== 'InProgress',
    );
    assert.equal(streaming.subState, 'WaitingForCutoverTrigger', streaming.message);
    const states = `SELECT t.tgname::text AS name, t.tgenabled::text AS state FROM pg_trigger t WHERE t.tgrelid = 'app.items'::regclass AND NOT t.tgisinternal ORDER BY 1`;
    assert.deepEqual(
      await pair.target.query(states, [], db),
      [
        { name: 'items_audit', state: 'D' },
        { name: 'items_replica', state: 'A' },
      ],
      'while streaming: the ordinary trigger silent, the REPLICA trigger firing, as for a replica-role session',
    );
    // the application's changes, each firing the source's ordinary trigger once
    for (let i = 1; i <= 20; i++) {
      await pair.source.query(`INSERT INTO app.items VALUES ($1, 0)`, [1000 + i], db);
      await pair.source.query(`UPDATE app.items SET qty = qty + 1 WHERE id = $1`, [i], db);
    }
    await pair.source.query(`DELETE FROM app.items WHERE id BETWEEN 91 AND 95`, [], db);
    const changes = 20 + 20 + 5;
    await until('the changes on the target', async () => {
      const [row] = await pair.target.query<{ n: number }>(`SELECT count(*)::int AS n FROM app.audit`, [], db);
      return row!.n === 100 + changes ? true : undefined;
    });
    // the REPLICA trigger fired on the target once per applied change, never on the source
    const seen = await pair.target.query<{ op: string; n: number }>(
      `SELECT op, count(*)::int AS n FROM app.replica_seen GROUP BY op ORDER BY op`,
      [],
      db,
    );
    assert.deepEqual(seen, [
      { op: 'DELETE', n: 5 },
      { op: 'INSERT', n: 20 },
      { op: 'UPDATE', n: 20 },
    ]);
    const twice = await pair.target.query(`SELECT item, op FROM app.replica_seen GROUP BY item, op HAVING count(*) > 1`, [], db);
    assert.deepEqual(twice, [], 'no change applied (and seen) twice');
    assert.deepEqual(await pair.source.query(`SELECT count(*)::int AS n FROM app.replica_seen`, [], db), [{ n: 0 }]);
    // what the REPLICA trigger wrote is the target's own: the cutover compares the migrated rows
    await pair.target.query(`DELETE FROM app.replica_seen`, [], db);

    await requestCutover(target, spec.migrationName);
    const done = await waitForStatus(store, spec.migrationName, (s) => s.state === 'Succeeded' || s.state === 'Failed');
    assert.equal(done.state, 'Succeeded', done.message);
    // the ordinary trigger's effect: once per change, streamed from the source, never fired again on the target
    assert.deepEqual(await rowsOf(pair.target, db, 'app.audit'), await rowsOf(pair.source, db, 'app.audit'));
    assert.deepEqual(await rowsOf(pair.target, db, 'app.items'), await rowsOf(pair.source, db, 'app.items'));
    assert.deepEqual(await pair.target.query(states, [], db), await pair.source.query(states, [], db), 'trigger states as on the source');
    const owners = `SELECT c.relname::text AS rel, pg_get_userbyid(c.relowner)::text AS owner FROM pg_class c
                     WHERE c.relnamespace = 'app'::regnamespace AND c.relkind = 'r' ORDER BY 1`;
    assert.deepEqual(await pair.target.query(owners, [], db), await pair.source.query(owners, [], db), 'tables owned by the restored role');
    assert.deepEqual(
      (await pair.target.query<{ owner: string }>(owners, [], db)).map((r) => r.owner),
      ['app_owner', 'app_owner', 'app_owner'],
    );
  } finally {
    await store.close();
  }
}

describe('managed target: a runner killed while streaming, and triggers of tables owned by restored roles', function () {
  this.timeout(400_000);
  before(async () => {
    pair = await startPair(15, 16);
    target = await makeManagedTarget(pair.target);
  });
  after(async () => pair?.stop());

  it('SIGKILL of the runner while a writer runs, resume, cutover: the target equals the source, nothing lost or applied twice', async () => {
    await faultWhileStreaming('killed', false, async (runner) => {
      process.kill(runner, 'SIGKILL');
    });
  });

  it('the target crashes while changes stream (its runner loses the lease and stops), its successor or a resume goes on, cutover: nothing lost or applied twice', async () => {
    await faultWhileStreaming('crashed', true, async () => {
      await pair.target.crash();
      await new Promise((r) => setTimeout(r, 2000));
      await pair.target.start();
    });
  });

  it('tables owned by a restored role: the ordinary trigger fires once (on the source), the REPLICA trigger once per applied change, states and owner as on the source after the cutover', async () =>
    ownedTablesWithTriggers());
});

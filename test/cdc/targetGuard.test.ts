// Issue 64: the target's guard of a held cutover (footprint/targetGuard.ts), on real servers and a
// real PgBouncer. With verify: true a cutover through the pooler, or behind the writer fence,
// verifies every table at a pin before it holds the applications and inside the hold reads only the
// keys the apply changed since. A row deleted on the target by someone other than pgferry right
// after that pin (the runner held there by a hold point), on a key the stream never touches, is in
// no key the hold reads: the guard must stop the cutover, naming the table, with the pooler resumed
// on the old source (or the fence lifted) and every write kept. The row put back, the cutover
// succeeds, the tables read inside the hold by their changed keys alone, and the guard gone from
// the target. A client that names itself as pgferry's apply (`pgferry apply`) is told apart all the
// same, since pgferry's sessions are known by the apply locks they hold, not by a name; a statement
// that changes no row records nothing. Every assertion reads rows and catalogs back from the
// servers and the pooler.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { isFinalState, requestCutover } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import type { MigrationSpec } from '../../provider/engine/input/migrationSpec';
import type { MigrationStatus } from '../../provider/engine/core/model';
import { tableVerifications } from '../../provider/engine/control/tableVerification';
import { events, get } from '../../provider/engine/control/store';
import { heldFile, isHeld, startHeldAt } from '../support/holdPoints';
import { pairSpec, startPair, until, waitForStatus, type ServerPair } from '../support';
import { createPooledDatabase, poolerInputOf, startPgBouncer, type PgBouncer } from '../support/pgbouncer';
import { PooledWriter } from '../support/pooledWriter';

const APP = { user: 'app', password: 'app-guarded' };
/**
 * The database cut over through the pooler, the one cut over behind the writer fence, the one a
 * client named as pgferry writes, and the one whose apply session a DBA ends after the pin.
 */
const [POOLED, FENCED, NAMED, AGAIN] = ['guard_pool', 'guard_fence', 'guard_named', 'guard_again'];
/** A client of the target that calls itself what pgferry's apply sessions are called. */
const IMPOSTOR = { user: 'impostor', password: 'impostor-pw', application: 'pgferry apply' };

// the suite's servers, its pooler, the control catalog and where the runner's hold point writes, made in before()
let [pair, pooler, store, holdDir] = [undefined, undefined, undefined, ''] as unknown as [ServerPair, PgBouncer, CatalogConnection, string];

async function ids(cluster: ServerPair['source'], db: string, table: string): Promise<number[]> {
  const column = table === 'items' ? 'id' : 'n';
  return (await cluster.query<{ k: number }>(`SELECT ${column} AS k FROM ${table} ORDER BY 1`, [], db)).map((r) => r.k);
}

/** Starts the migration with the hold point after its pin armed, and waits until it streams. */
async function streamingHeldAfterPin(s: MigrationSpec, db: string): Promise<void> {
  await startHeldAt(s, `cutover-pinned:${db}`, holdDir);
  const st = await waitForStatus(store, s.migrationName, (x) => x.subState === 'WaitingForCutoverTrigger' || isFinalState(x.state));
  assert.equal(st.subState, 'WaitingForCutoverTrigger', st.message);
}

/**
 * Requests the cutover, and once the runner holds right after its pin (the tables verified, not yet
 * paused or fenced) runs `act` on the target as a DBA or a client would, then lets it go on.
 */
async function actAfterThePin(s: MigrationSpec, db: string, act: () => Promise<unknown>): Promise<MigrationStatus> {
  const point = `cutover-pinned:${db}`;
  await requestCutover(s.target, s.migrationName);
  await until(
    'the runner held after its pin',
    async () => {
      if (await isHeld(point, holdDir)) return true;
      const st = await get(store, s.migrationName);
      if (st && isFinalState(st.state))
        throw new Error(`the migration ended without holding after its pin: ${st.state} ${st.message ?? ''}`);
      return undefined;
    },
    300_000,
  );
  await act();
  await fs.rm(heldFile(point, holdDir));
  return waitForStatus(store, s.migrationName, (x) => !x.cutoverRequested || isFinalState(x.state), 420_000);
}

/** The target's sessions of pgferry's apply in `db`, by pid. */
async function applyPids(db: string): Promise<number[]> {
  const rows = await pair.target.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'pgferry apply' ORDER BY 1",
    [db],
  );
  return rows.map((r) => r.pid);
}

/** Row 9 of items deleted on the target after the pin, as a DBA would. */
function deleteBehindTheApplyAfterThePin(s: MigrationSpec, db: string): Promise<MigrationStatus> {
  return actAfterThePin(s, db, () => pair.target.query('DELETE FROM items WHERE id = 9', [], db));
}

/** Runs `sql` on the target as the impostor: a role of its own, named as pgferry's apply. */
async function asImpostor(db: string, sql: string): Promise<void> {
  const client = new pg.Client({
    host: pair.target.host,
    port: pair.target.port,
    database: db,
    user: IMPOSTOR.user,
    password: IMPOSTOR.password,
    application_name: IMPOSTOR.application,
  });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * After a cutover the guard stopped: the writer through the pooler, going on, saw no error; the
 * pooler serves `db` from the source, not paused; every write it was told committed is there.
 */
async function resumedOnSourceWithEveryWrite(db: string, w: PooledWriter): Promise<void> {
  await w.more(5);
  assert.deepEqual(w.errors, [], 'the application saw no error');
  const served = (await pooler.admin<{ name: string; port: number; paused: number }>('SHOW DATABASES')).find((r) => r.name === db)!;
  assert.deepEqual(
    { port: Number(served.port), paused: Number(served.paused) },
    { port: pair.source.port, paused: 0 },
    'resumed on the source',
  );
  // the writer goes on: what it was told committed so far, taken before the source is read
  const sofar = [...w.committed];
  const onSource = new Set(await ids(pair.source, db, 'writes'));
  assert.deepEqual(
    sofar.filter((n) => !onSource.has(n)),
    [],
    'every write so far is on the source',
  );
}

/**
 * Row 9 put back on the target and the cutover asked again: it succeeds, the writer through the
 * pooler saw no error, and the target holds every write once and the source's items.
 */
async function putBackAndCutOver(s: MigrationSpec, db: string, w: PooledWriter): Promise<void> {
  await pair.target.query(`INSERT INTO items VALUES (9, 'v9')`, [], db);
  await requestCutover(s.target, s.migrationName);
  const done = await waitForStatus(store, s.migrationName, (x) => isFinalState(x.state), 420_000);
  await w.more(5);
  await w.stop();
  assert.equal(done.state, 'Succeeded', done.message);
  assert.deepEqual(w.errors, []);
  assert.deepEqual(await ids(pair.target, db, 'writes'), w.sorted(), 'every write on the target once');
  assert.deepEqual(await ids(pair.target, db, 'items'), await ids(pair.source, db, 'items'));
}

/** No trigger of pgferry's guard is left on the target's tables, nor its table in the control schema. */
async function guardGone(db: string): Promise<void> {
  const left = await pair.target.query<{ n: number }>(
    `SELECT (SELECT count(*) FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid WHERE p.proname LIKE 'pgferry\\_g\\_%')
          + (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'pgferry' AND c.relname LIKE 'pgferry\\_g\\_%') AS n`,
    [],
    db,
  );
  assert.equal(Number(left[0]!.n), 0, `${db}: the guard is gone from the target`);
}

/** How the cutover last checked a table, read from the control catalog. */
async function method(s: MigrationSpec, db: string, table: string): Promise<string | undefined> {
  return (await tableVerifications(store, s.migrationName, db)).find((r) => r.table === table)?.method;
}

/**
 * Whether the table's last verification record matched (undefined: none): the guard's roll-back
 * forgets it, and a background pass after it finds the missing row.
 */
async function matching(s: MigrationSpec, db: string, table: string): Promise<boolean | undefined> {
  return (await tableVerifications(store, s.migrationName, db)).find((r) => r.table === table)?.matches;
}

async function pinEvents(s: MigrationSpec, hold: 'pause' | 'fence'): Promise<number> {
  const said = (await events(store, s.migrationName, 1000)).map((e) => e.message);
  assert.deepEqual(
    said.filter((m) => /could not be (pinned|guarded)/.test(m)),
    [],
  );
  return said.filter((m) => m.includes(`table(s) verified at a pin before the ${hold}`)).length;
}

describe("the target's guard of a held cutover (real servers, real PgBouncer, integration)", function () {
  this.timeout(600_000);
  before(async () => {
    holdDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pgferry-guard-'));
    pair = await startPair();
    await pair.source.query(`CREATE ROLE ${APP.user} LOGIN PASSWORD '${APP.password}'`);
    for (const db of [POOLED, FENCED, NAMED, AGAIN]) await createPooledDatabase(pair.source, db, APP.user);
    pooler = await startPgBouncer({
      databases: Object.fromEntries([POOLED, NAMED].map((db) => [db, { host: pair.source.host, port: pair.source.port }])),
      users: { [APP.user]: APP.password },
      queryWaitTimeoutSeconds: 0,
    });
    store = new CatalogConnection(pairSpec(pair, 'x', ['x']).target);
  });
  after(async () => {
    await store?.close();
    await pooler?.stop();
    await pair?.stop();
    if (holdDir) await fs.rm(holdDir, { recursive: true, force: true });
  });

  it('a row deleted on the target after the pin before the pause stops the cutover naming the table, the pooler resumed on the source with every write; put back, the cutover succeeds reading changed keys alone', async () => {
    const s = pairSpec(pair, 'guard-pool', [POOLED], { mode: 'Online', option: 'Migrate', verify: true, pooler: poolerInputOf(pooler) });
    await streamingHeldAfterPin(s, POOLED);
    await pair.target.query(`ALTER ROLE ${APP.user} PASSWORD '${APP.password}'`);
    const w = new PooledWriter(await pooler.connect(POOLED, APP.user, APP.password), 1);
    await w.more(5);

    const stopped = await deleteBehindTheApplyAfterThePin(s, POOLED);
    assert.equal(stopped.subState, 'WaitingForCutoverTrigger', stopped.message);
    assert.match(
      stopped.message ?? '',
      /^cutover stopped: database guard_pool was written on the target by a session that is not pgferry's after its tables were verified at the pin: public\.items: DELETE by user \S+ \(application "[^"]*", [^)]*\); streaming resumed, the pooler resumed on the old source, request the cutover again/,
    );
    await resumedOnSourceWithEveryWrite(POOLED, w);
    // the table the guard named is no longer counted as verified: read whole at the next pin
    assert.notEqual(await matching(s, POOLED, 'public.items'), true);
    await guardGone(POOLED);

    await putBackAndCutOver(s, POOLED, w);
    assert.equal(await method(s, POOLED, 'public.items'), 'cutover-keys', 'read inside the pause by its changed keys alone');
    assert.equal(await pinEvents(s, 'pause'), 2);
    await guardGone(POOLED);
  });

  it('a row deleted on the target after the pin before the fence stops the cutover naming the table, the fence lifted with every write on the source; put back, the fenced cutover succeeds reading changed keys alone', async () => {
    const s = pairSpec(pair, 'guard-fence', [FENCED], { mode: 'Online', option: 'Migrate', verify: true, fenceWriters: true });
    await streamingHeldAfterPin(s, FENCED);
    await pair.source.query('INSERT INTO writes SELECT g, 0 FROM generate_series(1, 10) g', [], FENCED);

    const stopped = await deleteBehindTheApplyAfterThePin(s, FENCED);
    assert.equal(stopped.subState, 'WaitingForCutoverTrigger', stopped.message);
    assert.match(
      stopped.message ?? '',
      /^cutover stopped: database guard_fence was written on the target by a session that is not pgferry's after its tables were verified at the pin: public\.items: DELETE by user \S+ \(application "[^"]*", [^)]*\); streaming resumed, request the cutover again/,
    );
    // the guard's triggers are pgferry's own: its schema check, run while they were on, lists
    // none of them as made on the target alone
    const kept = (stopped.verification?.schema ?? []).flatMap((c) => (c.kept ?? []).map((k) => k.object));
    assert.deepEqual(
      kept.filter((k) => k.includes('pgferry_g_')),
      [],
    );
    // the fence is lifted: the source takes an application's write again, and it streams on
    await pair.source.query('INSERT INTO writes SELECT g, 0 FROM generate_series(11, 20) g', [], FENCED);
    await until('the writes reach the target', async () => ((await ids(pair.target, FENCED, 'writes')).length === 20 ? true : undefined));
    assert.notEqual(await matching(s, FENCED, 'public.items'), true);
    await guardGone(FENCED);

    await pair.target.query(`INSERT INTO items VALUES (9, 'v9')`, [], FENCED);
    await requestCutover(s.target, s.migrationName);
    const done = await waitForStatus(store, s.migrationName, (x) => isFinalState(x.state), 420_000);
    assert.equal(done.state, 'Succeeded', done.message);
    for (const table of ['items', 'writes']) {
      assert.deepEqual(await ids(pair.target, FENCED, table), await ids(pair.source, FENCED, table), table);
    }
    assert.equal((await ids(pair.target, FENCED, 'writes')).length, 20);
    assert.equal(await method(s, FENCED, 'public.items'), 'cutover-keys', 'read inside the fence by its changed keys alone');
    assert.equal(await pinEvents(s, 'fence'), 2);
    await guardGone(FENCED);
  });
  it('a client naming itself pgferry apply that deletes a row on the target after the pin stops the cutover naming it, while statements changing no row record nothing; the pooler resumed on the source with every write, then the cutover succeeds', async () => {
    const s = pairSpec(pair, 'guard-named', [NAMED], { mode: 'Online', option: 'Migrate', verify: true, pooler: poolerInputOf(pooler) });
    await streamingHeldAfterPin(s, NAMED);
    await pair.target.query(`ALTER ROLE ${APP.user} PASSWORD '${APP.password}'`);
    await pair.target.query(`CREATE ROLE ${IMPOSTOR.user} LOGIN PASSWORD '${IMPOSTOR.password}'`);
    const w = new PooledWriter(await pooler.connect(NAMED, APP.user, APP.password), 1);
    await w.more(5);

    const stopped = await actAfterThePin(s, NAMED, async () => {
      // granted once the stream is held at the pin: the schema watch that follows the source's grants is stopped by then
      await pair.target.query(`GRANT SELECT, UPDATE, DELETE ON items, writes TO ${IMPOSTOR.user}`, [], NAMED);
      // statements that change no row, by a plain session and by the impostor: nothing to record
      await pair.target.query('UPDATE writes SET at_port = at_port WHERE false', [], NAMED);
      await asImpostor(NAMED, 'DELETE FROM writes WHERE false');
      await asImpostor(NAMED, 'DELETE FROM items WHERE id = 9');
    });
    assert.equal(stopped.subState, 'WaitingForCutoverTrigger', stopped.message);
    assert.match(
      stopped.message ?? '',
      /^cutover stopped: database guard_named was written on the target by a session that is not pgferry's after its tables were verified at the pin: public\.items: DELETE by user impostor \(application "pgferry apply", [^)]*\); streaming resumed, the pooler resumed on the old source, request the cutover again/,
    );
    assert.doesNotMatch(stopped.message ?? '', /public\.writes/, 'the statements that changed no row recorded nothing');
    await resumedOnSourceWithEveryWrite(NAMED, w);
    await guardGone(NAMED);

    await putBackAndCutOver(s, NAMED, w);
    await guardGone(NAMED);
  });

  it("the apply's session ended by a DBA after the pin applies under a new pid the guard records nothing of: the fenced cutover succeeds, every source row on the target", async () => {
    const s = pairSpec(pair, 'guard-again', [AGAIN], { mode: 'Online', option: 'Migrate', verify: true, fenceWriters: true });
    await streamingHeldAfterPin(s, AGAIN);
    let [before, after] = [[] as number[], [] as number[]];
    const asked = await actAfterThePin(s, AGAIN, async () => {
      before = await applyPids(AGAIN);
      await pair.target.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = ANY($1::int[])', [before]);
      await pair.source.query('INSERT INTO writes SELECT g, 0 FROM generate_series(1, 10) g', [], AGAIN);
      await until(
        'the apply connected again applied the writes',
        async () => ((await ids(pair.target, AGAIN, 'writes')).length === 10 ? true : undefined),
        120_000,
      );
      after = await applyPids(AGAIN);
    });
    assert.notDeepEqual(before, [], 'the apply had a session on the target');
    assert.deepEqual(
      after.filter((pid) => before.includes(pid)),
      [],
      'the apply wrote from sessions the guard had not seen',
    );
    const done = isFinalState(asked.state) ? asked : await waitForStatus(store, s.migrationName, (x) => isFinalState(x.state), 420_000);
    assert.equal(done.state, 'Succeeded', done.message);
    assert.doesNotMatch((await events(store, s.migrationName, 1000)).map((e) => e.message).join('\n'), /not pgferry's/);
    for (const table of ['items', 'writes']) {
      assert.deepEqual(await ids(pair.target, AGAIN, table), await ids(pair.source, AGAIN, table), table);
    }
    await guardGone(AGAIN);
  });
});

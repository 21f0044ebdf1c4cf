// Issue 64: the fall-back through the user's PgBouncer (spec.pooler with a fallback window), on real
// servers, a real PgBouncer and detached runners. The cutover points the pooler at the new server;
// `--fall-back` pauses it there, drains the reverse stream to its marker, moves sequences back,
// verifies, lifts the old source's fence, points the pooler's lines back at the old source (its
// file, RELOAD) and resumes: an application writing through the pooler from before the cutover to
// after the fall-back keeps its one connection, never sees an error, and every write it was told
// committed is on the old source exactly once. A difference found in the pause resumes the pooler
// on the new server, nothing lost; a runner killed at each step of the fall-back and resumed leaves
// the pooler resumed on the old source with every write, a cancel while it is paused refused with
// nothing changed; `show` gives the fall-back's pause, its length and the server it resumed on.
// Each scenario reads the rows back from the servers and the pooler's databases from its admin
// console.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  cancelMigration,
  isFinalState,
  requestCutover,
  requestFallBack,
  resumeMigration,
  showMigration,
  startMigration,
} from '../../provider/engine';
import { events, get } from '../../provider/engine/control/store';
import { fallbackWindows } from '../../provider/engine/control/fallbackWindows';
import type { MigrationSpec } from '../../provider/engine/input/migrationSpec';
import type { MigrationStatus } from '../../provider/engine/core/model';
import { fallBackSettles, pairSpec, until, waitForStatus, writeBehindFence } from '../support';
import { heldFile, isHeld, withHoldArmed } from '../support/holdPoints';
import { poolerInputOf } from '../support/pgbouncer';
import { PooledWriter } from '../support/pooledWriter';
import {
  killedAtEachStep,
  lineTo,
  pooledAt,
  startPoolerServers,
  stopPoolerServers,
  withFailpoints,
  writesOn,
  type KillStep,
  type PoolerServers,
} from '../support/poolerLab';

const APP = { user: 'app_back', password: 'app-falls-back' };
const DATABASES = ['back_ok', 'back_abort', 'back_kill'];

type Lab = PoolerServers;

function specOf(lab: Lab, name: string, db: string): MigrationSpec {
  return pairSpec(lab.pair, name, [db], {
    mode: 'Online',
    option: 'Migrate',
    verify: 'full',
    fenceWriters: true,
    fallbackWindow: '1h',
    pooler: poolerInputOf(lab.pooler),
  });
}

/**
 * The migration started (by `start`, which may arm its runner's failpoints), an application writing
 * through the pooler, the cutover through it, the window open and the application writing on the new server.
 */
async function cutOverWithWriter(lab: Lab, s: MigrationSpec, db: string, start = () => startMigration(s)): Promise<PooledWriter> {
  await start();
  const st = await waitForStatus(lab.store, s.migrationName, (x) => x.subState === 'WaitingForCutoverTrigger' || isFinalState(x.state));
  assert.equal(st.subState, 'WaitingForCutoverTrigger', st.message);
  // roles travel without their passwords: the pooler logs in to the new server with the application's
  await lab.pair.target.query(`ALTER ROLE ${APP.user} PASSWORD '${APP.password}'`);
  const w = new PooledWriter(await lab.pooler.connect(db, APP.user, APP.password), 1);
  await w.more(5);
  await requestCutover(s.target, s.migrationName);
  const done = await waitForStatus(lab.store, s.migrationName, (x) => isFinalState(x.state), 420_000);
  assert.equal(done.state, 'Succeeded', done.message);
  await until('the window open', async () => ((await fallbackWindows(lab.store, s.migrationName))[0]?.state === 'Open' ? true : undefined));
  await w.more(10);
  assert.deepEqual(await pooledAt(lab.pooler, db), { port: lab.pair.target.port, paused: 0 }, 'the cutover switched the pooler');
  return w;
}

async function settled(lab: Lab, name: string): Promise<MigrationStatus> {
  return fallBackSettles(lab.store, name, 420_000);
}

/**
 * Fell back: the application, writing on, saw no error; the pooler resumed on the old source, its
 * file pointing there; every write it was told committed is on the old source once, the window's
 * writes among them (carried back by the reverse stream), and a new session through the pooler
 * reads them all.
 */
async function fellBackThroughPooler(lab: Lab, db: string, w: PooledWriter, st: MigrationStatus): Promise<void> {
  const window = st.databases[0]!.fallback!;
  assert.equal(window.state, 'FellBack', window.message);
  await w.more(10);
  await w.stop();
  assert.deepEqual(w.errors, [], 'the application saw no error');
  assert.deepEqual(await pooledAt(lab.pooler, db), { port: lab.pair.source.port, paused: 0 });
  assert.match(await fs.readFile(lab.pooler.configFile, 'utf8'), lineTo(db, lab.pair.source.port));
  assert.deepEqual(await writesOn(lab.pair.source, db), w.sorted(), 'every committed write on the old source, once');
  const ports = await lab.pair.source.query<{ at_port: number }>('SELECT DISTINCT at_port FROM writes ORDER BY 1', [], db);
  assert.deepEqual(
    ports.map((p) => p.at_port),
    [lab.pair.source.port, lab.pair.target.port].sort((a, b) => a - b),
    'written on both servers in turn',
  );
  const client = await lab.pooler.connect(db, APP.user, APP.password);
  try {
    const rows = (await client.query<{ n: number; port: number }>('SELECT n, inet_server_port() AS port FROM writes ORDER BY n')).rows;
    assert.deepEqual(
      rows.map((r) => r.n),
      w.sorted(),
      'read back through the pooler',
    );
    assert.equal(rows[0]?.port, lab.pair.source.port, 'a new session goes to the old source');
  } finally {
    await client.end();
  }
}

/** a writer through the pooler from before the cutover to after the fall-back gets no error, every committed write on the old source once. */
async function noErrorNoLoss(lab: Lab): Promise<void> {
  const db = 'back_ok';
  const s = specOf(lab, 'back-ok', db);
  const w = await cutOverWithWriter(lab, s, db);
  await requestFallBack(s.target, s.migrationName);
  await fellBackThroughPooler(lab, db, w, await settled(lab, s.migrationName));
  // the pause is in the completion's steps, and the new server holds fewer writes than the old source
  const said = (await events(lab.store, s.migrationName, 500)).map((e) => e.message);
  assert.ok(
    said.some((m) => /^fall-back of back_ok completed in .*\(pause [\d.]+ s, fence/.test(m)),
    said.join('\n'),
  );
  assert.ok((await writesOn(lab.pair.target, db)).length < w.committed.length, 'the writes after the fall-back are not on the new server');
  // `show` gives the fall-back's pause as it gives the cutover's: its start, its length, the server it resumed on
  const shown = (await showMigration(s.target, s.migrationName))!.databases[0]!;
  const back = shown.poolerPauseBack;
  assert.deepEqual(
    { state: back?.state, resumedOn: back?.resumedOn, poolerDatabases: back?.poolerDatabases },
    { state: 'resumed', resumedOn: 'source', poolerDatabases: [db] },
  );
  const waited = (Date.parse(back!.resumedAt!) - Date.parse(back!.pausedAt)) / 1000;
  assert.ok(back!.pauseSeconds! > 0 && Math.abs(back!.pauseSeconds! - waited) < 0.01, JSON.stringify(back));
  assert.deepEqual({ state: shown.poolerPause?.state, resumedOn: shown.poolerPause?.resumedOn }, { state: 'resumed', resumedOn: 'target' });
  assert.ok(
    Date.parse(shown.poolerPause!.resumedAt!) < Date.parse(back!.pausedAt),
    "the cutover's pause ended before the fall-back's began",
  );
}

/** The fall-back's events that say it stopped, the oldest first. */
async function stops(lab: Lab, name: string): Promise<string[]> {
  return (await events(lab.store, name, 500)).map((e) => e.message).filter((m) => m.startsWith('fall-back stopped: '));
}

/**
 * Runs `body` while a session on the old source holds items locked (ACCESS EXCLUSIVE, its
 * transaction open), given that session's pid, which the fall-back's stop must name; the lock is
 * let go after, whatever `body` did.
 */
async function withItemsLocked(lab: Lab, db: string, body: (holder: number) => Promise<void>): Promise<void> {
  const lock = await lab.pair.source.connect(db);
  try {
    await lock.query('BEGIN READ WRITE');
    await lock.query('LOCK TABLE items IN ACCESS EXCLUSIVE MODE');
    const holder = (await lock.query<{ pid: number }>('SELECT pg_catalog.pg_backend_pid() AS pid')).rows[0]!.pid;
    await body(holder);
  } finally {
    await lock.query('ROLLBACK').catch(() => undefined);
    await lock.end();
  }
}

/**
 * The reverse stream held up (the old source's table locked) with the new server's writes behind it:
 * the lag gate stops the fall-back before the pause, the pooler never paused, the application
 * writing on on the new server; the lock released, the backlog reaches the old source.
 *
 * The fall-back is asked once the reverse stream waits on the lock: every write committed before
 * the held rows is applied by then, so the gate sees nothing applied. Asked earlier, a stream still
 * catching up on the application's writes shows a rate the gate may trust, and the stop comes
 * inside the pause instead.
 */
async function overBudgetNotPaused(lab: Lab, s: MigrationSpec, db: string, w: PooledWriter): Promise<void> {
  await withItemsLocked(lab, db, async (holder) => {
    await lab.pair.target.query(`INSERT INTO items SELECT g, 'held' FROM generate_series(100001, 120000) g`, [], db);
    await until('the reverse stream waiting on the lock', async () => {
      const [row] = await lab.pair.source.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_catalog.pg_stat_activity WHERE $1::int = ANY (pg_catalog.pg_blocking_pids(pid))',
        [holder],
        db,
      );
      return row!.n > 0 ? true : undefined;
    });
    await requestFallBack(s.target, s.migrationName);
    const stopped = await settled(lab, s.migrationName);
    assert.notEqual(stopped.databases[0]!.fallback!.state, 'FellBack');
    assert.match(
      (await stops(lab, s.migrationName)).join('\n'),
      /^fall-back stopped: the reverse stream of back_abort would take .* over the lag budget of 30 s \(cutoverLagBudgetSeconds, the default with a pooler\), before the pause \(the pooler was not paused\): ask again .*; the reverse stream goes on, ask again once the cause is fixed$/,
    );
    await w.more(5);
    assert.deepEqual(await pooledAt(lab.pooler, db), { port: lab.pair.target.port, paused: 0 }, 'never paused, on the new server');
  });
  await until('the backlog on the old source, the window open', async () => {
    const [row] = await lab.pair.source.query<{ n: number }>(`SELECT count(*)::int AS n FROM items WHERE note = 'held'`, [], db);
    const open = (await fallbackWindows(lab.store, s.migrationName))[0]?.state === 'Open';
    return row?.n === 20000 && open ? true : undefined;
  });
}

/**
 * Past both gates, inside the pause (the runner held at `fallback-held`), the old source's table
 * locked and a write behind the new server's fence waiting there for the reverse stream: the drain
 * is bounded by the lag budget, the fall-back stops naming the lock's session, the pooler resumed
 * on the new server and the application writing on there; the lock released, that write reaches
 * the old source.
 */
async function lateDrainResumesOnNewServer(lab: Lab, s: MigrationSpec, db: string, w: PooledWriter, holdDir: string): Promise<void> {
  const point = `fallback-held:${db}`;
  await requestFallBack(s.target, s.migrationName);
  await until('the fall-back held past its gates', async () => ((await isHeld(point, holdDir)) ? true : undefined), 120_000);
  await withItemsLocked(lab, db, async (holder) => {
    await writeBehindFence(lab.pair.target, db, `UPDATE items SET note = 'late' WHERE id = 6`);
    await fs.rm(heldFile(point, holdDir));
    const stopped = await settled(lab, s.migrationName);
    assert.notEqual(stopped.databases[0]!.fallback!.state, 'FellBack');
    const said = await stops(lab, s.migrationName);
    assert.equal(said.length, 2, said.join('\n'));
    assert.match(
      said[1]!,
      new RegExp(
        `^fall-back stopped: the reverse stream of back_abort did not reach the fall-back point within the lag budget of 30 s \\(cutoverLagBudgetSeconds, the default with a pooler\\): session pid ${holder} \\(user [^,]+, application "[^"]*", idle in transaction, transaction open for \\d+ s\\) in back_abort holds a lock its apply waits for on the old source \\(end that transaction: COMMIT or ROLLBACK in it, or SELECT pg_terminate_backend\\(${holder}\\) on the old source\\); the reverse stream goes on, the pooler resumed on the new server, ask again once the cause is fixed$`,
      ),
    );
    await w.more(5);
    assert.deepEqual(w.errors, [], 'the application saw no error');
    assert.deepEqual(await pooledAt(lab.pooler, db), { port: lab.pair.target.port, paused: 0 }, 'resumed on the new server');
  });
  await until('the late write on the old source, the window open', async () => {
    const [row] = await lab.pair.source.query<{ note: string }>('SELECT note FROM items WHERE id = 6', [], db);
    const open = (await fallbackWindows(lab.store, s.migrationName))[0]?.state === 'Open';
    return row?.note === 'late' && open ? true : undefined;
  });
}

/**
 * The lag budget exceeded before the pause, the drain late inside it, then a difference found in
 * the pause: each stops the fall-back, the pooler on the new server with nothing lost; put right,
 * it falls back.
 */
async function differenceResumesOnNewServer(lab: Lab): Promise<void> {
  const db = 'back_abort';
  const s = specOf(lab, 'back-abort', db);
  const holdDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pgferry-fallback-held-'));
  try {
    await differenceResumesHeld(lab, s, db, holdDir);
  } finally {
    await fs.rm(holdDir, { recursive: true, force: true });
  }
}

async function differenceResumesHeld(lab: Lab, s: MigrationSpec, db: string, holdDir: string): Promise<void> {
  const w = await cutOverWithWriter(lab, s, db, () => withHoldArmed(`fallback-held:${db}`, holdDir, () => startMigration(s)));
  const fileBefore = await fs.readFile(lab.pooler.configFile, 'utf8');
  await overBudgetNotPaused(lab, s, db, w);
  await lateDrainResumesOnNewServer(lab, s, db, w, holdDir);
  // behind the old source's fence, as an administrator can (a superuser turning the fence's trigger off for one transaction): a row the new server never wrote
  const tamper = (note: string) => writeBehindFence(lab.pair.source, db, `UPDATE items SET note = '${note}' WHERE id = 5`);
  await tamper('tampered');
  await requestFallBack(s.target, s.migrationName);
  const stopped = await settled(lab, s.migrationName);
  assert.notEqual(stopped.databases[0]!.fallback!.state, 'FellBack');
  const said = await stops(lab, s.migrationName);
  assert.equal(said.length, 3, said.join('\n'));
  assert.match(
    said[2]!,
    /^fall-back stopped: verification failed: .*items.*; the reverse stream goes on, the pooler resumed on the new server/,
  );
  await w.more(5);
  assert.deepEqual(w.errors, [], 'the application saw no error');
  assert.deepEqual(await pooledAt(lab.pooler, db), { port: lab.pair.target.port, paused: 0 }, 'resumed on the new server');
  assert.equal(await fs.readFile(lab.pooler.configFile, 'utf8'), fileBefore, "the pooler's file as the cutover left it");
  const sofar = w.sorted();
  const onTarget = new Set(await writesOn(lab.pair.target, db));
  assert.deepEqual(
    sofar.filter((n) => !onTarget.has(n)),
    [],
    'every write so far on the new server',
  );

  await tamper('v5');
  await until('the reverse stream applies again', async () =>
    (await fallbackWindows(lab.store, s.migrationName))[0]?.state === 'Open' ? true : undefined,
  );
  await requestFallBack(s.target, s.migrationName);
  await fellBackThroughPooler(lab, db, w, await settled(lab, s.migrationName));
}

/**
 * Each step of a fall-back through the pooler a runner can die at, in order, and what the pooler
 * must show right then: paused, the server SHOW DATABASES sends it to, where its file's line points.
 */
const KILL_STEPS = (
  [
    // step, paused, serving, file
    ['fallback-pooler-paused', 1, 'target', 'target'],
    ['fallback-verified', 1, 'target', 'target'],
    ['fallback-pooler-edited', 1, 'target', 'source'],
    ['fallback-pooler-reloaded', 1, 'source', 'source'],
    ['fallback-pooler-resumed', 0, 'source', 'source'],
  ] as const
).map(([step, paused, serving, file]): KillStep => ({ step, paused, serving, file }));

/**
 * A cancel while the fall-back holds the pooler paused (its runner stopped there): refused in one
 * line that says the fall-back goes on and where the pause ends, and nothing changed: the pooler
 * still paused on the new server, the window still falling back.
 */
async function cancelWhilePaused(lab: Lab, s: MigrationSpec, db: string): Promise<void> {
  await assert.rejects(cancelMigration(s.target, s.migrationName, { spec: s }), (error: Error) => {
    assert.match(
      error.message,
      /^migration "back-kill" is Succeeded and the fall-back of back_kill is under way, which a cancel does not stop: nothing was changed; a pooler it paused resumes on the old source once it fell back, or on the new server if it stops, with every write$/,
    );
    return true;
  });
  assert.deepEqual(await pooledAt(lab.pooler, db), { port: lab.pair.target.port, paused: 1 }, 'still paused on the new server');
  assert.equal((await fallbackWindows(lab.store, s.migrationName))[0]?.state, 'FallingBack');
  assert.equal((await get(lab.store, s.migrationName))?.cancelRequested ?? false, false, 'no cancel recorded');
}

/**
 * One migration whose runner is killed at every step of the fall-back in turn, each time resumed
 * with the next failpoint armed; at each kill the pooler is read, and the last resume finishes it:
 * resumed on the old source, every write there once.
 */
async function killedAtEveryStepAndResumed(lab: Lab): Promise<void> {
  const db = 'back_kill';
  const s = specOf(lab, 'back-kill', db);
  const w = await cutOverWithWriter(lab, s, db, () => withFailpoints(`${KILL_STEPS[0]!.step}:${db}`, () => startMigration(s)));
  await requestFallBack(s.target, s.migrationName);
  await killedAtEachStep(
    lab,
    s,
    db,
    KILL_STEPS,
    w,
    (x) => x.databases[0]?.fallback?.state === 'FellBack',
    (at) => (at.step === 'fallback-pooler-paused' ? cancelWhilePaused(lab, s, db) : Promise.resolve()),
  );
  await resumeMigration(s);
  await fellBackThroughPooler(lab, db, w, await settled(lab, s.migrationName));
}

describe('fall-back through the pooler (real PgBouncer, integration)', function () {
  this.timeout(900_000);
  let lab: Lab;
  before(async () => {
    lab = await startPoolerServers(DATABASES, APP, 1000);
  });
  after(() => stopPoolerServers(lab));

  const scenarios: readonly (readonly [string, (lab: Lab) => Promise<void>])[] = [
    [
      "a writer through the pooler from before the cutover to after the fall-back gets no error, every committed write is on the old source exactly once, and show gives the fall-back's pause resumed on the old source with its length",
      noErrorNoLoss,
    ],
    [
      'the lag budget exceeded stops the fall-back before the pause; a drain past the budget inside the pause (a lock on the old source, its session named) and a difference found there each stop it with the pooler resumed on the new server, every write kept; put right, it falls back through the pooler',
      differenceResumesOnNewServer,
    ],
    [
      'a runner killed after the PAUSE (a cancel then refused, the pooler still paused), the verification, the file edit, the RELOAD and the RESUME, resumed each time, ends with the pooler resumed on the old source and every write there once',
      killedAtEveryStepAndResumed,
    ],
  ];
  for (const [title, scenario] of scenarios) it(title, () => scenario(lab));
});

// Issue 64: the cutover through the user's PgBouncer (spec.pooler), on real servers, a real
// PgBouncer and detached runners. The pooler's databases are paused (transactions in flight end,
// new queries wait), the stream drained to the marker, the target verified, the pooler's lines
// pointed at the target (its file, RELOAD) and resumed: an application writing through the pooler
// keeps its connection and never sees an error, and every write it was told committed is on the
// target exactly once. A PAUSE held past pauseTimeoutSeconds and a verification difference resume
// the pooler on the old source, nothing lost; a runner killed at each step leaves the pooler, after
// `resume`, on one server with every write. Each scenario reads the rows back from both servers and
// the pooler's databases from its admin console.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { cancelMigration, isFinalState, requestCutover, resumeMigration, startMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import type { MigrationSpec } from '../../provider/engine/input/migrationSpec';
import type { MigrationStatus } from '../../provider/engine/core/model';
import { pairSpec, until, waitForStatus, type ServerPair } from '../support';
import { poolerInputOf, type PgBouncer } from '../support/pgbouncer';
import {
  killedAtEachStep,
  lineTo,
  pooledAt,
  startPoolerServers,
  stopPoolerServers,
  stoppedAfter,
  withFailpoints,
  writesOn,
  type KillStep,
} from '../support/poolerLab';
import { PooledWriter } from '../support/pooledWriter';
import { PGFERRY_JSON, propertiesFile, runCli } from '../cli/helpers';
import { tableVerifications, type TableVerificationRecord } from '../../provider/engine/control/tableVerification';
import { events } from '../../provider/engine/control/store';

const APP = { user: 'app', password: 'app-through-the-pooler' };
const DATABASES = ['pool_ok', 'pool_hidden', 'pool_abort', 'pool_cancel', 'pool_kill', 'pool_stop_pointed', 'pool_stop_paused'];

/** The suite's servers and pooler, and what every scenario does with them. */
class PoolerLab {
  constructor(
    readonly pair: ServerPair,
    readonly pooler: PgBouncer,
    readonly store: CatalogConnection,
  ) {}

  static async start(): Promise<PoolerLab> {
    const { pair, pooler, store } = await startPoolerServers(DATABASES, APP, 2000);
    return new PoolerLab(pair, pooler, store);
  }

  async stop(): Promise<void> {
    await stopPoolerServers(this);
  }

  spec(name: string, db: string, pauseTimeoutSeconds = 10, verify: MigrationSpec['verify'] = 'full'): MigrationSpec {
    const { pooler } = this;
    return pairSpec(this.pair, name, [db], {
      mode: 'Online',
      option: 'Migrate',
      verify,
      pooler: { ...poolerInputOf(pooler), pauseTimeoutSeconds },
    });
  }

  /** Starts the migration and waits until it streams; the application's role may then log in on the target too. */
  async streaming(s: MigrationSpec): Promise<void> {
    await startMigration(s);
    const st = await waitForStatus(this.store, s.migrationName, (x) => x.subState === 'WaitingForCutoverTrigger' || isFinalState(x.state));
    assert.equal(st.subState, 'WaitingForCutoverTrigger', st.message);
    // roles travel without their passwords: the pooler logs in to the target with the application's
    await this.pair.target.query(`ALTER ROLE ${APP.user} PASSWORD '${APP.password}'`);
  }

  async writer(db: string): Promise<PooledWriter> {
    const w = new PooledWriter(await this.pooler.connect(db, APP.user, APP.password), 1);
    await w.more(5);
    return w;
  }

  /** Where the pooler sends a database now, and whether it is paused (its admin console). */
  pooledAt(db: string): Promise<{ port: number; paused: number }> {
    return pooledAt(this.pooler, db);
  }

  writesOn(cluster: ServerPair['source'], db: string): Promise<number[]> {
    return writesOn(cluster, db);
  }

  /** Every write the application was told committed is on the target once, and nothing else is. */
  async allOnTarget(db: string, w: PooledWriter): Promise<void> {
    assert.deepEqual(
      await this.writesOn(this.pair.target, db),
      [...w.committed].sort((a, b) => a - b),
      `${db}: the target's writes`,
    );
  }

  /** A new session through the pooler reads back every write the application was told committed. */
  async readThroughPooler(db: string, w: PooledWriter): Promise<void> {
    const client = await this.pooler.connect(db, APP.user, APP.password);
    try {
      const rows = (await client.query<{ n: number }>('SELECT n FROM writes ORDER BY n')).rows.map((r) => r.n);
      assert.deepEqual(
        rows,
        [...w.committed].sort((a, b) => a - b),
        `${db}: read back through the pooler`,
      );
    } finally {
      await client.end();
    }
  }

  /**
   * After a roll-back: the application saw no error, the pooler is resumed on the source with its
   * file as it was, and every write the application was told committed so far is on the source.
   */
  async resumedOnSource(db: string, w: PooledWriter, fileBefore: string): Promise<number[]> {
    assert.deepEqual(w.errors, [], 'the application saw no error');
    assert.deepEqual(await this.pooledAt(db), { port: this.pair.source.port, paused: 0 });
    assert.equal(await fs.readFile(this.pooler.configFile, 'utf8'), fileBefore, "the pooler's file is as it was");
    const sofar = [...w.committed];
    const onSource = new Set(await this.writesOn(this.pair.source, db));
    assert.deepEqual(
      sofar.filter((n) => !onSource.has(n)),
      [],
      'every write so far is on the source',
    );
    return sofar;
  }

  /** The cutover requested again succeeds: the writer, going on, saw no error, and every write is on the target, where the pooler sends it. */
  async succeededOnTarget(s: MigrationSpec, db: string, w: PooledWriter): Promise<void> {
    const done = await this.final(s);
    await w.more(5);
    await w.stop();
    assert.equal(done.state, 'Succeeded', done.message);
    assert.deepEqual(w.errors, []);
    await this.allOnTarget(db, w);
    assert.deepEqual(await this.pooledAt(db), { port: this.pair.target.port, paused: 0 });
  }

  async final(s: MigrationSpec): Promise<MigrationStatus> {
    return waitForStatus(this.store, s.migrationName, (x) => isFinalState(x.state), 420_000);
  }

  /** Waits until the cutover request is answered (cleared by a roll-back, or the migration ended). */
  async answered(s: MigrationSpec): Promise<MigrationStatus> {
    return waitForStatus(this.store, s.migrationName, (x) => !x.cutoverRequested || isFinalState(x.state), 420_000);
  }
}

/** a writer through the pooler during the cutover gets no error, and every committed write is on the target exactly once. */
async function noErrorNoLoss(lab: PoolerLab): Promise<void> {
  const db = 'pool_ok';
  const s = lab.spec('pool-ok', db);
  await lab.streaming(s);
  const w = await lab.writer(db);
  await requestCutover(s.target, s.migrationName);
  const done = await lab.final(s);
  await w.more(20); // writes after the cutover, through the same connection
  await w.stop();
  assert.equal(done.state, 'Succeeded', done.message);
  assert.deepEqual(w.errors, [], 'the application saw no error');
  await lab.allOnTarget(db, w);
  // the writes before the pause reached the target through the stream, those after it directly
  const ports = await lab.pair.target.query<{ at_port: number }>('SELECT DISTINCT at_port FROM writes', [], db);
  assert.deepEqual(new Set(ports.map((p) => p.at_port)), new Set([lab.pair.source.port, lab.pair.target.port]));
  const onSource = await lab.writesOn(lab.pair.source, db);
  assert.ok(onSource.length < w.committed.length, 'the writes after the switch are not on the source');
  assert.deepEqual(await lab.pooledAt(db), { port: lab.pair.target.port, paused: 0 });
  assert.match(
    await fs.readFile(lab.pooler.configFile, 'utf8'),
    new RegExp(`^${db} = host=127\\.0\\.0\\.1 port=${lab.pair.target.port} dbname=${db}$`, 'm'),
  );
}

/** How the cutover (or the background verifier) last checked a table, read from the control catalog. */
async function checkedAs(lab: PoolerLab, name: string, db: string, table: string): Promise<TableVerificationRecord | undefined> {
  return (await tableVerifications(lab.store, name, db)).find((r) => r.table === table);
}

/**
 * a row deleted on the target behind the apply's back after its table was verified stops the cutover inside
 * the pause, the pooler resumed on the old source with nothing lost; fixed, the pause reads only the changed keys.
 */
async function hiddenLossCaught(lab: PoolerLab): Promise<void> {
  const db = 'pool_hidden';
  const s = lab.spec('pool-hidden', db, 10, true);
  await lab.streaming(s);
  const fileBefore = await fs.readFile(lab.pooler.configFile, 'utf8');
  const w = await lab.writer(db);
  await until('items verified while streaming', async () =>
    (await checkedAs(lab, s.migrationName, db, 'public.items'))?.method === 'background' ? true : undefined,
  );
  // the lost change: a row the application never writes, gone from the target alone; no key of the
  // apply's names it, so only a count at or after the pin can see it
  await lab.pair.target.query('DELETE FROM items WHERE id = 9', [], db);
  await requestCutover(s.target, s.migrationName);
  const stopped = await lab.answered(s);
  assert.equal(stopped.subState, 'WaitingForCutoverTrigger', stopped.message);
  assert.match(
    stopped.message ?? '',
    /^cutover stopped: verification failed: database pool_hidden table public\.items: row count differs: source 2000, target 1999; streaming resumed, the pooler resumed on the old source/,
  );
  await w.more(5);
  await lab.resumedOnSource(db, w, fileBefore);

  await lab.pair.target.query(`INSERT INTO items VALUES (9, 'v9')`, [], db);
  await requestCutover(s.target, s.migrationName);
  await lab.succeededOnTarget(s, db, w);
  // both cutovers pinned every table before their pause (none fell back to counting inside it)
  const said = (await events(lab.store, s.migrationName, 1000)).map((e) => e.message);
  assert.deepEqual(
    said.filter((m) => /could not be pinned before the pause/.test(m)),
    [],
  );
  assert.equal(said.filter((m) => /table\(s\) verified at a pin before the pause/.test(m)).length, 2, said.join('\n'));
  // counted at the pin before the pause, both tables were read inside it by their changed keys alone
  for (const table of ['public.items', 'public.writes']) {
    const record = await checkedAs(lab, s.migrationName, db, table);
    assert.equal(record?.method, 'cutover-keys', `${table}: ${JSON.stringify(record)}`);
    assert.equal(record.matches, true);
  }
  assert.equal((await checkedAs(lab, s.migrationName, db, 'public.items'))?.sourceRows, 2000);
}

/** a PAUSE held past pauseTimeoutSeconds, then a verification difference, each resume the pooler on the old source with nothing lost; fixed, the cutover succeeds. */
async function abortsResumeOnSource(lab: PoolerLab): Promise<void> {
  const db = 'pool_abort';
  const s = lab.spec('pool-abort', db, 2);
  await lab.streaming(s);
  const fileBefore = await fs.readFile(lab.pooler.configFile, 'utf8');
  const w = await lab.writer(db);
  // a transaction in flight through the pooler that outlasts the pause's patience
  const long = await lab.pooler.connect(db, APP.user, APP.password);
  let held: MigrationStatus;
  try {
    await long.query('BEGIN');
    await long.query('INSERT INTO writes (n, at_port) VALUES (900000, inet_server_port())');
    await requestCutover(s.target, s.migrationName);
    held = await lab.answered(s);
    await long.query('COMMIT');
  } finally {
    await long.end(); // an open transaction would hold every later slot's creation on the source
  }
  assert.equal(held.subState, 'WaitingForCutoverTrigger', held.message);
  assert.match(
    held.message ?? '',
    /^cutover rolled back: the pooler's PAUSE of "pool_abort" waited more than 2 s for the transactions in flight to end; the database was resumed \(fix: end the long transactions on the source .*\); the pooler is resumed on the old source and changes stream on$/,
  );
  w.committed.push(900000);
  await w.more(5);
  assert.deepEqual(await lab.pooledAt(db), { port: lab.pair.source.port, paused: 0 });

  // a difference on the target the verification finds after the pause and the drain
  await lab.pair.target.query(`UPDATE items SET note = 'changed on the target' WHERE id = 7`, [], db);
  await requestCutover(s.target, s.migrationName);
  const stopped = await lab.answered(s);
  assert.equal(stopped.subState, 'WaitingForCutoverTrigger', stopped.message);
  assert.match(
    stopped.message ?? '',
    /^cutover stopped: verification failed: .*items.*; streaming resumed, the pooler resumed on the old source, request the cutover again/,
  );
  await w.more(5);
  // nothing lost through both roll-backs: every write is on the source, and streams to the target
  const sofar = await lab.resumedOnSource(db, w, fileBefore);
  await until('the writes so far are on the target', async () => {
    const on = new Set(await lab.writesOn(lab.pair.target, db));
    return sofar.every((n) => on.has(n)) ? true : undefined;
  });

  await lab.pair.target.query(`UPDATE items SET note = 'v7' WHERE id = 7`, [], db);
  await requestCutover(s.target, s.migrationName);
  await lab.succeededOnTarget(s, db, w);
}

/** a cancel while the pooler is paused (the verification waiting on a lock) resumes it on the old source, every write there. */
async function cancelResumesOnSource(lab: PoolerLab): Promise<void> {
  const db = 'pool_cancel';
  const s = lab.spec('pool-cancel', db);
  await lab.streaming(s);
  const fileBefore = await fs.readFile(lab.pooler.configFile, 'utf8');
  const w = await lab.writer(db);
  // the verification reads items whole; locked on the target, it waits there, paused
  const lock = await lab.pair.target.connect(db);
  try {
    await lock.query('BEGIN');
    await lock.query('LOCK TABLE items IN ACCESS EXCLUSIVE MODE');
    await requestCutover(s.target, s.migrationName);
    await waitForStatus(lab.store, s.migrationName, (x) => x.databases[0]?.cutoverStep === 'drained' || isFinalState(x.state));
    assert.equal((await lab.pooledAt(db)).paused, 1, 'paused while the cutover verifies');
    await cancelMigration(s.target, s.migrationName);
    // the lock holds the verification until the runner has taken the cancel: released sooner, the
    // verification could finish first and the cutover complete, a race of the test's own making
    await waitForStatus(lab.store, s.migrationName, (x) => x.state === 'CleaningUp' || isFinalState(x.state));
  } finally {
    await lock.query('ROLLBACK').catch(() => undefined);
    await lock.end();
  }
  const done = await lab.final(s);
  assert.equal(done.state, 'Canceled', done.message);
  await w.more(5);
  await w.stop();
  assert.deepEqual(w.errors, [], 'the application saw no error');
  assert.deepEqual(await lab.pooledAt(db), { port: lab.pair.source.port, paused: 0 });
  assert.equal(await fs.readFile(lab.pooler.configFile, 'utf8'), fileBefore, "the pooler's file is as it was");
  assert.deepEqual(
    await lab.writesOn(lab.pair.source, db),
    [...w.committed].sort((a, b) => a - b),
    'every write is on the source',
  );
}

/**
 * Each step of a cutover through the pooler a runner can die at, in order, and what the pooler
 * must show right then: paused (1 or 0), the port SHOW DATABASES gives ('source' or 'target'),
 * and where the configuration file's line points.
 */
const KILL_STEPS: readonly KillStep[] = [
  { step: 'cutover-pooler-paused', paused: 1, serving: 'source', file: 'source' },
  { step: 'cutover-drained', paused: 1, serving: 'source', file: 'source' },
  { step: 'cutover-pooler-edited', paused: 1, serving: 'source', file: 'target' },
  { step: 'cutover-pooler-reloaded', paused: 1, serving: 'target', file: 'target' },
  { step: 'cutover-pooler-resumed', paused: 0, serving: 'target', file: 'target' },
];

/**
 * One migration whose runner is killed at every step of the cutover in turn, each time resumed
 * with the next failpoint armed: at each kill the pooler is read (paused, where it sends the
 * database, where its file points), then the last resume finishes it: resumed on the target, every
 * write there once, read back through a new session of the pooler too.
 */
async function killedAtEveryStepAndResumed(lab: PoolerLab): Promise<void> {
  const db = 'pool_kill';
  const s = lab.spec('pool-kill', db);
  await withFailpoints(`${KILL_STEPS[0]!.step}:${db}`, () => lab.streaming(s));
  const w = await lab.writer(db);
  await requestCutover(s.target, s.migrationName);
  await killedAtEachStep(lab, s, db, KILL_STEPS, w);
  await resumeMigration(s);
  const done = await lab.final(s);
  await w.more(10);
  await w.stop();
  assert.equal(done.state, 'Succeeded', done.message);
  assert.deepEqual(w.errors, [], 'the application saw no error');
  await lab.allOnTarget(db, w);
  assert.deepEqual(await lab.pooledAt(db), { port: lab.pair.target.port, paused: 0 });
  await lab.readThroughPooler(db, w);
}

/**
 * `pgferry update --cancel` of a migration of two databases whose runner was killed after the
 * first's file was pointed at the target (its step released) and the second was paused, verified:
 * the body names no pooler, the cancel takes it from what the footprint ledger recorded at the
 * pause, its password from PGFERRY_POOLER_PASSWORD. Without the password it is refused in one line naming the variable,
 * nothing changed; with it, the first is resumed on the target (which holds every write), the
 * second on the source, each application going on there, nothing lost or twice.
 */
async function stoppedRunnerCanceled(lab: PoolerLab): Promise<void> {
  const [pointed, paused] = ['pool_stop_pointed', 'pool_stop_paused'];
  const s = pairSpec(lab.pair, 'pool-stop', [pointed, paused], {
    mode: 'Online',
    option: 'Migrate',
    verify: 'full',
    pooler: poolerInputOf(lab.pooler),
  });
  await withFailpoints(`cutover-pooler-edited:${pointed}`, () => lab.streaming(s));
  const writers = { [pointed]: await lab.writer(pointed), [paused]: await lab.writer(paused) };
  await requestCutover(s.target, s.migrationName);
  await stoppedAfter(lab.store, s, undefined);
  assert.equal((await lab.pooledAt(pointed)).paused, 1);
  assert.equal((await lab.pooledAt(paused)).paused, 1);

  const body = propertiesFile({
    properties: {
      SourceDBServerResourceId: `${lab.pair.source.host}:${lab.pair.source.port}@${lab.pair.source.user}`,
      SecretParameters: {
        AdminCredentials: { SourceServerPassword: lab.pair.source.password, TargetServerPassword: lab.pair.target.password },
        targetServerUserName: lab.pair.target.user,
      },
      targetDbServerFullyQualifiedDomainName: lab.pair.target.host,
      targetDbServerPort: lab.pair.target.port,
      DBsToMigrate: [pointed, paused],
    },
  });
  const cancel = ['update', '--name', s.migrationName, '--cancel', '--properties', body, ...PGFERRY_JSON];
  const env = { PGPASSWORD: lab.pair.target.password };
  const refused = await runCli(cancel, env, 120_000);
  assert.notEqual(refused.code, 0, refused.stdout);
  assert.equal(refused.errLines.length, 1, refused.stderr);
  assert.match(refused.stderr, /the pooler paused for pool_stop_pointed, pool_stop_paused cannot be resumed .*PGFERRY_POOLER_PASSWORD/);
  assert.ok(!refused.stderr.includes(lab.pooler.adminPassword));
  assert.equal((await lab.pooledAt(pointed)).paused, 1, 'refused: nothing changed');
  assert.equal((await lab.pooledAt(paused)).paused, 1, 'refused: nothing changed');

  const canceled = await runCli(cancel, { ...env, PGFERRY_POOLER_PASSWORD: lab.pooler.adminPassword }, 180_000);
  assert.equal(canceled.code, 0, canceled.stderr);
  assert.equal(JSON.parse(canceled.stdout).state, 'Canceled');
  for (const [db, where] of [
    [pointed, lab.pair.target],
    [paused, lab.pair.source],
  ] as const) {
    const w = writers[db]!;
    await w.more(5);
    await w.stop();
    assert.deepEqual(w.errors, [], `${db}: the application saw no error`);
    assert.deepEqual(await lab.pooledAt(db), { port: where.port, paused: 0 }, `${db}: resumed on one server`);
    assert.match(await fs.readFile(lab.pooler.configFile, 'utf8'), lineTo(db, where.port), `${db}: the file`);
    assert.deepEqual(
      await lab.writesOn(where, db),
      [...w.committed].sort((a, b) => a - b),
      `${db}: every write, once`,
    );
    await lab.readThroughPooler(db, w);
  }
}

describe('cutover through the pooler (real PgBouncer, integration)', function () {
  this.timeout(600_000);
  let lab: PoolerLab;
  before(async () => {
    lab = await PoolerLab.start();
  });
  after(async () => lab?.stop());

  it('a writer through the pooler during the cutover gets no error, and every committed write is on the target exactly once', () =>
    noErrorNoLoss(lab));
  it('a row deleted on the target behind the apply after its table was verified stops the cutover, the pooler resumed on the old source with every write; fixed, the pause reads only the changed keys', () =>
    hiddenLossCaught(lab));
  it('a PAUSE held past pauseTimeoutSeconds, then a verification difference, each resume the pooler on the old source with nothing lost; fixed, the cutover succeeds', () =>
    abortsResumeOnSource(lab));
  it('a cancel while the pooler is paused resumes it on the old source, every write there, the application seeing no error', () =>
    cancelResumesOnSource(lab));
  it('a runner killed after the PAUSE, the drain, the file edit, the RELOAD and the RESUME, resumed each time, ends with the pooler resumed on the target and every write there once', () =>
    killedAtEveryStepAndResumed(lab));
  it('update --cancel of a stopped runner resumes each database of the pooler on the one server holding its writes, the pooler taken from the footprint ledger and its password from PGFERRY_POOLER_PASSWORD', () =>
    stoppedRunnerCanceled(lab));
});

// `pgferry resume`: the runner of an offline copy is killed mid-copy; resume --wait restarts it
// and the migration ends Succeeded with every row on the target.
import assert from 'node:assert/strict';
import { parseMigrationSpec } from '../../provider/engine';
import { publicSpec } from '../../provider/engine/input/publicSpec';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { CopyHold, startPair, until, type ServerPair } from '../support';
import { propertiesFile, runCli, PGFERRY_JSON } from './helpers';
import { createMigration } from '../../provider/engine/control/store';
import { leaseKey } from '../../provider/engine/core/names';

const ROWS = 50_000;

describe('pgferry resume after the runner died', function () {
  this.timeout(300_000);
  let pair: ServerPair;
  let hold: CopyHold;
  let file: string;
  let flags: string[];
  let env: Record<string, string>;

  before(async () => {
    pair = await startPair();
    await pair.source.query('CREATE DATABASE bulk');
    await pair.source.query(
      `CREATE TABLE public.wide (id int PRIMARY KEY, pad text NOT NULL);
       INSERT INTO public.wide SELECT g, repeat(md5(g::text), 6) FROM generate_series(1, ${ROWS}) g;`,
      [],
      'bulk',
    );
    // The runner reaches the target through a proxy that holds the copy of wide mid-stream: the
    // runner is killed while that COPY is open on the target with some of its rows in.
    hold = await CopyHold.start(pair.target, /"wide"/);
    file = propertiesFile({
      source: { host: pair.source.host, port: pair.source.port, user: 'postgres', password: pair.source.password },
      target: { host: pair.target.host, port: hold.port, user: 'postgres', password: pair.target.password },
      databases: ['bulk'],
      tableJobs: 2,
      splitTablesLargerThan: 0,
    });
    flags = ['--target-host', pair.target.host, '--target-port', String(pair.target.port), '--target-user', pair.target.user];
    env = { PGPASSWORD: pair.target.password };
  });
  after(async () => {
    await hold?.close();
    await pair?.stop();
  });

  it('resume --wait finishes a migration whose runner was killed', async () => {
    const created = await runCli(['create', '--name', 'bulk-1', '--properties', file, ...PGFERRY_JSON]);
    assert.equal(created.code, 0, created.stderr);
    const show = async () => {
      const result = await runCli(['show', '--name', 'bulk-1', ...PGFERRY_JSON, ...flags], env);
      assert.equal(result.code, 0, result.stderr);
      return JSON.parse(result.stdout);
    };
    // Once the table is loading (its copy held), kill the runner (a process this test started).
    await hold.whenHeld();
    const pid = await until('the held table to show as loading', async () => {
      const status = await show();
      assert.equal(status.state, 'InProgress', 'the copy must still be running');
      return status.databases[0].tables.loading > 0 ? (status.runner.pid as number) : undefined;
    });
    process.kill(pid, 'SIGKILL');
    await until('the killed runner to be reported dead', async () => ((await show()).runner.alive === false ? true : undefined));

    const resumed = await runCli(['resume', '--name', 'bulk-1', '--properties', file, '--wait', ...PGFERRY_JSON], {}, 240_000);
    assert.equal(resumed.code, 0, `stderr: ${resumed.stderr}\nstdout: ${resumed.stdout}`);
    const status = JSON.parse(resumed.stdout);
    assert.equal(status.state, 'Succeeded');
    assert.notEqual(status.runner.pid, pid);
    const rows = await pair.target.query<{ n: number }>(`SELECT count(*)::int AS n FROM public.wide`, [], 'bulk');
    assert.deepEqual(rows, [{ n: ROWS }]);
  });

  it('resume of an online migration created with --mode online, given the same file, streams again', async () => {
    await pair.source.query('CREATE DATABASE shop');
    await pair.source.query(`CREATE TABLE public.orders (id int PRIMARY KEY, item text NOT NULL)`, [], 'shop');
    const shop = propertiesFile({
      source: { host: pair.source.host, port: pair.source.port, user: 'postgres', password: pair.source.password },
      target: { host: pair.target.host, port: pair.target.port, user: 'postgres', password: pair.target.password },
      databases: ['shop'],
      // online-only fields: resume must read them with the recorded mode, not refuse them as offline
      fenceWriters: true,
      cutoverLagBudgetSeconds: 120,
    });
    const show = async () => JSON.parse((await runCli(['show', '--name', 'shop-1', ...PGFERRY_JSON, ...flags], env)).stdout);
    const created = await runCli(['create', '--name', 'shop-1', '--properties', shop, '--mode', 'online', '--wait'], {}, 240_000);
    assert.equal(created.code, 0, created.stderr);
    const pid = (await show()).runner.pid as number;
    process.kill(pid, 'SIGKILL');
    await until('the killed runner to be shown dead', async () => ((await show()).runner.alive ? undefined : true), 30_000, 250);

    // The file has no mode: the migration's record says Online, and resume keeps it (and accepts the
    // file's fenceWriters and lag budget: the fault campaign's resumes were refused with them).
    const resumed = await runCli(['resume', '--name', 'shop-1', '--properties', shop, '--wait', ...PGFERRY_JSON], {}, 120_000);
    assert.equal(resumed.code, 0, `stderr: ${resumed.stderr}`);
    assert.equal(JSON.parse(resumed.stdout).subState, 'WaitingForCutoverTrigger');
    await pair.source.query(`INSERT INTO public.orders VALUES (1, 'after the resume')`, [], 'shop');
    const rows = await until(
      'the row written after the resume on the target',
      async () => {
        const r = await pair.target.query<{ item: string }>(`SELECT item FROM public.orders`, [], 'shop');
        return r.length ? r : undefined;
      },
      60_000,
    );
    assert.deepEqual(rows, [{ item: 'after the resume' }]);
    const canceled = await runCli(['update', '--name', 'shop-1', '--cancel', '--wait', ...flags], env, 120_000);
    assert.equal(canceled.code, 0, canceled.stderr);
  });

  it('resume with other databases than the stored ones is refused with exit 2', async () => {
    const servers = await registerNeverRun(pair, 'bulk-2');
    const other = propertiesFile({ ...servers, databases: ['bulk', 'other'] });
    const result = await runCli(['resume', '--name', 'bulk-2', '--properties', other]);
    assert.equal(result.code, 2, result.stderr);
    assert.equal(result.errLines.length, 1);
    assert.match(result.errLines[0]!, /bulk-2/);
    const show = JSON.parse((await runCli(['show', '--name', 'bulk-2', ...PGFERRY_JSON, ...flags], env)).stdout);
    assert.equal(show.runner, undefined, 'no runner was started');
  });

  it('resume while another session takes the lease as it starts its runner is refused with exit 2 as a live runner, not as a runner that failed', () =>
    leaseTakenAsResumeStarts(pair, flags, env));
});

/**
 * The lease taken where no runner is recorded yet, as a successor that took it between the resume's
 * look at the runner and its runner's start: `pgferry resume` says a live runner has it.
 */
async function leaseTakenAsResumeStarts(pair: ServerPair, flags: string[], env: Record<string, string>): Promise<void> {
  const body = { ...(await registerNeverRun(pair, 'bulk-3')), databases: ['bulk'] };
  const holder = await pair.target.connect();
  try {
    await holder.query('SELECT pg_advisory_lock($1::bigint)', [leaseKey('bulk-3')]);
    const result = await runCli(['resume', '--name', 'bulk-3', '--properties', propertiesFile(body)]);
    assert.equal(result.code, 2, result.stderr);
    assert.equal(result.errLines.length, 1, result.stderr);
    assert.match(result.errLines[0]!, /migration "bulk-3" already has a live runner.*\[RUNNER_ALREADY_RUNNING\]$/);
    const show = JSON.parse((await runCli(['show', '--name', 'bulk-3', ...PGFERRY_JSON, ...flags], env)).stdout);
    assert.equal(show.runner, undefined, 'the runner that found the lease taken recorded nothing');
  } finally {
    await holder.end();
  }
}

/**
 * Registers migration `name` of database bulk between the pair's servers, never run: as if its
 * runner died before taking the lease. Returns the servers as a properties file gives them.
 */
async function registerNeverRun(pair: ServerPair, name: string) {
  const serverOf = (c: ServerPair['source']) => ({ host: c.host, port: c.port, user: 'postgres', password: c.password });
  const servers = { source: serverOf(pair.source), target: serverOf(pair.target) };
  const stored = parseMigrationSpec({ migrationName: name, ...servers, databases: ['bulk'] });
  const store = new CatalogConnection(stored.target);
  try {
    await createMigration(store, { name, mode: stored.mode, option: stored.option, spec: publicSpec(stored), databases: stored.databases });
  } finally {
    await store.close();
  }
  return servers;
}

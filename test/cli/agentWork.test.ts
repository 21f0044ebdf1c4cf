// Agents run migrations of runtime agents: `pgferry agent` processes on this machine, real servers.
// An agent that holds the source's credentials claims the migration (its start job on the queue),
// starts its runner and runs it to the end; one without them leaves it alone; an agent killed
// mid-chunk is taken over by another, which redoes only that chunk.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { CopyHold, processAlive, startPair, until, type ServerPair } from '../support';
import { propertiesFile, runCli, stderrMatch, PGFERRY_JSON } from './helpers';

const ROWS = 40_000;
const PARTS = 4;

interface Agent {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  /** Everything the agent printed on stderr so far. */
  stderr(): string;
}

interface ItemRow {
  item: string;
  state: string;
  epoch: number;
  rows: number;
}

let pair: ServerPair;
const agents: Agent[] = [];
const holds: CopyHold[] = [];

const sourceUrl = (db: string) => `postgres://postgres:${pair.source.password}@${pair.source.host}:${pair.source.port}/${db}`;
const targetEnv = () => ({ PGPASSWORD: pair.target.password });

/** Starts `pgferry agent` against `targetPort` (the target, or a proxy in front of it); resolves once it joined. */
async function startAgent(name: string, sourceUrls: string, targetPort = pair.target.port): Promise<Agent> {
  let child: ChildProcess | undefined;
  let stderr = '';
  const exited = runCli(
    ['agent', '--name', name, '--target-host', pair.target.host, '--target-port', String(targetPort)],
    { ...targetEnv(), PGFERRY_SOURCE_URLS: sourceUrls },
    280_000,
    (c) => {
      child = c;
      c.stderr!.on('data', (d) => (stderr += d));
    },
  ).then((r) => r.code);
  await stderrMatch(child!, new RegExp(`^agent ${name} joined`), `agent ${name} joining`);
  const agent = { child: child!, exited, stderr: () => stderr };
  agents.push(agent);
  return agent;
}

async function stopAgent(agent: Agent): Promise<void> {
  agent.child.kill('SIGTERM');
  assert.equal(await agent.exited, 0, agent.stderr());
}

/** Registers a migration of runtime agents (no runner starts on this machine). */
async function create(name: string, database: string, extra: Record<string, unknown> = {}): Promise<void> {
  const file = propertiesFile({
    source: { host: pair.source.host, port: pair.source.port, user: 'postgres', password: pair.source.password },
    target: { host: pair.target.host, port: pair.target.port, user: 'postgres', password: pair.target.password },
    databases: [database],
    runtime: 'agents',
    ...extra,
  });
  const created = await runCli(['create', '--name', name, '--properties', file, ...PGFERRY_JSON]);
  assert.equal(created.code, 0, created.stderr);
}

const state = async (name: string) =>
  (
    await pair.target.query<{ state: string; message: string | null }>(`SELECT state, message FROM pgferry.migration WHERE name = $1`, [
      name,
    ])
  )[0];

async function waitSucceeded(name: string, agent: Agent): Promise<void> {
  const end = await until(
    `migration ${name} to finish`,
    async () => {
      const now = await state(name);
      return now && ['Succeeded', 'Failed', 'Canceled', 'ValidationFailed'].includes(now.state) ? now : undefined;
    },
    240_000,
    250,
  );
  assert.equal(end.state, 'Succeeded', `${end.message ?? ''}\nagent: ${agent.stderr()}`);
}

/** Count, distinct keys and a digest of every row of a table, read on one side. */
const tableDigest = async (database: string, table: string, on: 'source' | 'target') =>
  (on === 'source' ? pair.source : pair.target).query<{ n: number; ids: number; digest: string }>(
    `SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids, md5(string_agg(id::text || ':' || pad, ',' ORDER BY id)) AS digest
       FROM public.${table}`,
    [],
    database,
  );

async function sourceDatabase(database: string, rows: number): Promise<void> {
  await pair.source.query(`CREATE DATABASE ${database}`);
  await pair.source.query(
    `CREATE TABLE public.wide (id int PRIMARY KEY, pad text NOT NULL);
     INSERT INTO public.wide SELECT g, repeat(md5(g::text), 6) FROM generate_series(1, ${rows}) g;
     CREATE TABLE public.small (id int PRIMARY KEY, pad text NOT NULL);
     INSERT INTO public.small SELECT g, 'row ' || g FROM generate_series(1, 500) g;`,
    [],
    database,
  );
}

describe('agents claim and run migrations of runtime agents', function () {
  this.timeout(300_000);

  before(async () => {
    pair = await startPair();
  });
  after(async () => {
    for (const agent of agents) agent.child.kill('SIGKILL');
    for (const hold of holds) await hold.close();
    await pair?.stop();
  });

  it('one agent with the credentials runs a migration of runtime agents to the end; the target equals the source', async () => {
    await sourceDatabase('one', 10_000);
    const agent = await startAgent('solo', sourceUrl('one'));
    const created = Date.now();
    await create('by-one-agent', 'one');
    await until(
      'the agent to start a runner',
      async () => (/migration by-one-agent: runner \d+ started/.test(agent.stderr()) ? true : undefined),
      30_000,
      50,
    );
    const claimedMs = Date.now() - created;
    await waitSucceeded('by-one-agent', agent);
    assert.match(agent.stderr(), /migration by-one-agent: runner \d+ started \(create\)/);
    for (const table of ['wide', 'small']) {
      const [source] = await tableDigest('one', table, 'source');
      const [target] = await tableDigest('one', table, 'target');
      assert.deepEqual(target, source, table);
    }
    // the copy items were claimed under the agent's name
    const claims = await pair.target.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pgferry.copy_item WHERE migration = 'by-one-agent' AND state = 'done'`,
    );
    assert.ok(claims[0]!.n >= 2);
    console.log(`      (create to runner started by the agent: ${claimedMs} ms)`);
    await stopAgent(agent);
  });

  it("an agent without the source's credentials leaves the work alone; one with them then runs it", async () => {
    await sourceDatabase('two', 2_000);
    const stranger = await startAgent('stranger', sourceUrl('elsewhere'));
    await create('not-for-stranger', 'two');
    // several looks of the agent (one a second)
    await new Promise((r) => setTimeout(r, 4_000));
    const waiting = JSON.parse(
      (
        await runCli(
          [
            'show',
            '--name',
            'not-for-stranger',
            '--target-host',
            pair.target.host,
            '--target-port',
            String(pair.target.port),
            ...PGFERRY_JSON,
          ],
          targetEnv(),
        )
      ).stdout,
    );
    assert.equal(waiting.state, 'InProgress');
    assert.equal(waiting.runner, undefined, 'no runner was started');
    assert.match(waiting.waiting, /^waiting for an agent with the source's credentials/);
    const jobs = await pair.target.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'pgferry_jobs' AND EXISTS (SELECT 1 FROM pgferry_jobs.job WHERE name = 'run-not-for-stranger')`,
    );
    assert.deepEqual(jobs, [{ n: 0 }], 'no start job was offered');
    const onTarget = await pair.target.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_database WHERE datname = 'two'`);
    assert.deepEqual(onTarget, [{ n: 0 }], 'nothing was copied');
    assert.doesNotMatch(stranger.stderr(), /not-for-stranger/);

    const able = await startAgent('able', sourceUrl('two'));
    await waitSucceeded('not-for-stranger', able);
    const [source] = await tableDigest('two', 'wide', 'source');
    const [target] = await tableDigest('two', 'wide', 'target');
    assert.deepEqual(target, source);
    assert.doesNotMatch(stranger.stderr(), /not-for-stranger/, 'the stranger never touched it');
    await stopAgent(stranger);
    await stopAgent(able);
  });

  it('an agent SIGKILLed mid-chunk is taken over by another, which redoes only that chunk and loads no row twice', async () => {
    await sourceDatabase('bulk', ROWS);
    // the first agent reaches the target through a proxy that holds one part's COPY mid-stream
    const hold = await CopyHold.start(pair.target, /"wide"/);
    holds.push(hold);
    const doomed = await startAgent('doomed', sourceUrl('bulk'), hold.port);
    await create('taken-over', 'bulk', { tableJobs: 2, splitTablesLargerThan: 1024 * 1024, splitMaxParts: PARTS });
    await hold.whenHeld();
    const items = () =>
      pair.target.query<ItemRow>(
        `SELECT item, state, epoch::int, coalesce(rows, 0)::int AS rows FROM pgferry.copy_item
          WHERE migration = 'taken-over' AND table_name LIKE '%wide%' ORDER BY item`,
      );
    const before = await until('every part but the held one to be done', async () => {
      const rows = await items();
      return rows.length === PARTS && rows.filter((r) => r.state === 'done').length === PARTS - 1 ? rows : undefined;
    });
    const held = await pair.target.query<{ holder: string }>(
      `SELECT holder FROM pgferry.copy_item WHERE migration = 'taken-over' AND state = 'pending' AND table_name LIKE '%wide%'`,
    );
    assert.deepEqual(held, [{ holder: 'doomed' }], 'the unfinished part is held under the agent name');
    const runnerPid = Number(/migration taken-over: runner (\d+) started/.exec(doomed.stderr())![1]);
    // a second agent with the credentials, alive before the kill: the lease keeps it off the migration
    const rescuer = await startAgent('rescuer', sourceUrl('bulk'));
    await new Promise((r) => setTimeout(r, 2_000));
    assert.doesNotMatch(rescuer.stderr(), /taken-over/, 'a held migration is not started twice');

    doomed.child.kill('SIGKILL');
    const killedAt = Date.now();
    await doomed.exited;
    // its runner dies with it (the lifeline), so no process of the dead agent writes any more
    await until('the dead agent runner to exit', async () => (processAlive(runnerPid) ? undefined : true), 10_000, 50);
    await until(
      'the rescuer to resume it',
      async () => (/migration taken-over: runner \d+ started \(resume\)/.test(rescuer.stderr()) ? true : undefined),
      60_000,
      50,
    );
    const takeoverMs = Date.now() - killedAt;
    await waitSucceeded('taken-over', rescuer);

    const [source] = await tableDigest('bulk', 'wide', 'source');
    const [target] = await tableDigest('bulk', 'wide', 'target');
    assert.deepEqual(target, source);
    assert.equal(target!.n - target!.ids, 0, 'rows loaded twice');
    const after = await items();
    assert.ok(after.every((r) => r.state === 'done'));
    const doneBefore = before.filter((r) => r.state === 'done');
    for (const part of doneBefore)
      assert.deepEqual(
        after.find((r) => r.item === part.item),
        part,
        `part ${part.item} not copied again`,
      );
    const redone = after.filter((r) => !doneBefore.some((d) => d.item === r.item));
    assert.equal(redone.length, 1, 'only the held part was copied again');
    assert.equal(redone[0]!.epoch, 2, 'under a newer claim');
    const rowsRedone = redone[0]!.rows;
    assert.equal(
      after.reduce((sum, r) => sum + r.rows, 0),
      ROWS,
    );
    console.log(`      (SIGKILL to the rescuer's runner started: ${takeoverMs} ms; rows copied again: ${rowsRedone} of ${ROWS})`);
    await stopAgent(rescuer);
  });
});

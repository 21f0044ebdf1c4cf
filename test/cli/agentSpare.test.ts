// An agent keeps one runner started ahead (runner/spareRunner.ts): Node and the runner's modules
// loaded, waiting for its input. The job it claims next is handed to that process, which runs the
// migration (the rows written on the source are read back on the target); a runner killed
// mid-stream is resumed by the next spare, exactly once; and an agent killed with SIGKILL leaves
// neither its runner nor its spare alive. /proc tells a waiting spare (its mark on its command line,
// no connection to any server) from the runner it becomes once handed a job, as the fault
// campaign's judge reads them (faults/processes.ts).
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { isSpare, runners, type TrialProcess } from '../../faults/processes';
import { cancelMigration } from '../../provider/engine/apiRequests';
import { processAlive, serverSpec, startPair, until } from '../support';
import { AgentLab, type Agent } from './agentLab';

let lab: AgentLab;

const DB = 'sparedb';
const NAME = 'by-a-spare';

/** The pid of the spare runner the agent said it started last, once it started one after it last handed a job. */
async function waitingSpare(agent: Agent): Promise<number> {
  return until(
    'the agent to start a spare runner',
    async () => {
      const text = agent.stderr();
      const spares = [...text.matchAll(/spare runner (\d+) started, waiting for a job/g)];
      const handed = [...text.matchAll(/migration \S+: runner \d+ started/g)].at(-1)?.index ?? -1;
      const last = spares.at(-1);
      return last && last.index > handed ? Number(last[1]) : undefined;
    },
    60_000,
    50,
  );
}

/** Sessions of pgferry's on a server (its application names begin with "pgferry "). */
async function pgferrySessions(on: 'source' | 'target'): Promise<number> {
  const rows = await (on === 'source' ? lab.pair.source : lab.pair.target).query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_catalog.pg_stat_activity WHERE application_name LIKE 'pgferry %'`,
  );
  return rows[0]!.n;
}

/** The pid of the runner the agent handed the migration to after `after` of its stderr, and why. */
async function runnerAfter(agent: Agent, after: number): Promise<{ pid: number; reason: string }> {
  return until(
    `the agent to hand ${NAME} to a runner`,
    async () => {
      const said = new RegExp(`migration ${NAME}: runner (\\d+) started \\((create|resume)\\)`).exec(agent.stderr().slice(after));
      return said ? { pid: Number(said[1]), reason: said[2]! } : undefined;
    },
    120_000,
    50,
  );
}

/** A process as the fault campaign's harness reads it from /proc (faults/processes.ts). */
function procOf(pid: number): TrialProcess {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  return { pid, ppid: Number(ppid), state: state!, command };
}

/** The TCP connections a process holds: its sockets found in the machine's TCP tables. */
function tcpConnectionsOf(pid: number): string[] {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const inode = line.trim().split(/\s+/)[9];
      if (inode && inode !== '0') inodes.add(inode);
    }
  }
  const held: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    const link = (() => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        return ''; // closed while we looked
      }
    })();
    const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
    if (inode && inodes.has(inode)) held.push(`fd ${fd}: ${link}`);
  }
  return held;
}

/** Rows of public.feed on one side: count, distinct ids and a digest. */
async function feed(on: 'source' | 'target'): Promise<{ n: number; ids: number; digest: string | null }> {
  const rows = await (on === 'source' ? lab.pair.source : lab.pair.target).query<{ n: number; ids: number; digest: string | null }>(
    `SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids, md5(string_agg(id::text || ':' || note, ',' ORDER BY id)) AS digest
       FROM public.feed`,
    [],
    DB,
  );
  return rows[0]!;
}

/** Inserts rows `from`..`to` on the source, one transaction each of ten rows. */
async function write(from: number, to: number): Promise<void> {
  for (let start = from; start <= to; start += 10) {
    await lab.pair.source.query(
      `INSERT INTO public.feed SELECT g, 'row ' || g FROM generate_series($1::int, $2::int) g`,
      [start, Math.min(start + 9, to)],
      DB,
    );
  }
}

/** The target has every row the source has, and no row twice. */
async function targetEqualsSource(what: string): Promise<void> {
  const source = await feed('source');
  const target = await until(
    what,
    async () => {
      const now = await feed('target').catch(() => undefined);
      return now && now.n === source.n ? now : undefined;
    },
    120_000,
    200,
  );
  assert.deepEqual(target, source, what);
  assert.equal(target.ids, target.n, 'no row applied twice');
}

describe('agents: a spare runner started ahead takes the next job', function () {
  this.timeout(300_000);

  before(async () => {
    lab = new AgentLab(await startPair());
    await lab.pair.source.query(`CREATE DATABASE ${DB}`);
    await lab.pair.source.query(
      `CREATE TABLE public.feed (id int PRIMARY KEY, note text NOT NULL);
       INSERT INTO public.feed SELECT g, 'row ' || g FROM generate_series(1, 1000) g;`,
      [],
      DB,
    );
  });
  after(async () => lab?.close());

  it('the spare runner, started before the migration existed, runs it; rows written while streaming are read back on the target', async () => {
    const agent = await lab.startAgent('spare-keeper', lab.sourceUrl(DB));
    const spare = await waitingSpare(agent);
    assert.ok(processAlive(spare), 'the spare runner waits');
    const mark = agent.stderr().length;
    await lab.create(NAME, DB, { mode: 'Online' });
    const runner = await runnerAfter(agent, mark);
    assert.deepEqual(runner, { pid: spare, reason: 'create' }, 'the job was handed to the spare started ahead');
    await until(
      `${NAME} streaming`,
      async () => {
        const rows = await lab.pair.target.query<{ sub_state: string | null; state: string; message: string | null }>(
          `SELECT sub_state, state, message FROM pgferry.migration WHERE name = $1`,
          [NAME],
        );
        const row = rows[0];
        if (row && ['Failed', 'Canceled', 'ValidationFailed'].includes(row.state)) throw new Error(`${row.state}: ${row.message ?? ''}`);
        return row?.sub_state === 'WaitingForCutoverTrigger' ? true : undefined;
      },
      240_000,
      250,
    );
    await write(1001, 1500);
    await targetEqualsSource('the rows written while streaming on the target');
  });

  it('/proc marks the waiting spare a spare holding no TCP connection, and the runner it became a runner with a job', async () => {
    const agent = lab.agents[0]!;
    const spare = await waitingSpare(agent);
    const running = Number(new RegExp(`migration ${NAME}: runner (\\d+) started`).exec(agent.stderr())![1]);
    // the spare has waited since the runner took its lease: whatever it loads, it has connected to nothing
    await new Promise((r) => setTimeout(r, 1000));
    const waiting = procOf(spare);
    assert.equal(isSpare(waiting), true, `the spare's command line: ${waiting.command}`);
    assert.deepEqual(tcpConnectionsOf(spare), [], 'the waiting spare holds no TCP connection');
    // the runner that was the spare before its job: unmarked, counted as the one runner with a job
    const runner = procOf(running);
    assert.equal(isSpare(runner), false, `the runner's command line: ${runner.command}`);
    assert.deepEqual(
      runners([procOf(agent.child.pid!), runner, waiting]).map((p) => p.pid),
      [running],
    );
    assert.ok(tcpConnectionsOf(running).length > 0, 'the runner with a job is connected');
  });

  it('a runner killed mid-stream is resumed by the next spare; every row written across the kill is applied once', async () => {
    const agent = lab.agents[0]!;
    const next = await waitingSpare(agent);
    const mark = agent.stderr().length;
    const killed = Number(new RegExp(`migration ${NAME}: runner (\\d+) started`).exec(agent.stderr())![1]);
    const writing = write(1501, 3000);
    await new Promise((r) => setTimeout(r, 300));
    process.kill(killed, 'SIGKILL');
    await writing;
    const resumed = await runnerAfter(agent, mark);
    assert.deepEqual(resumed, { pid: next, reason: 'resume' }, 'the resume was handed to the spare waiting');
    await targetEqualsSource('the rows written across the kill on the target');
  });

  it('an agent killed with SIGKILL leaves no runner process alive, neither the one running the migration nor the spare', async () => {
    const agent = lab.agents[0]!;
    const spare = await waitingSpare(agent);
    const runner = Number([...agent.stderr().matchAll(new RegExp(`migration ${NAME}: runner (\\d+) started`, 'g'))].at(-1)![1]);
    assert.ok(processAlive(runner) && processAlive(spare), 'both alive before the kill');
    agent.child.kill('SIGKILL');
    await agent.exited;
    await until(
      'the runner and the spare to exit',
      async () => (!processAlive(runner) && !processAlive(spare) ? true : undefined),
      30_000,
      50,
    );
    // their sessions ended with them: the lease and the slot are free for the next agent
    await until(
      'the sessions of the dead agent and its runners to end on both servers',
      async () => ((await pgferrySessions('source')) + (await pgferrySessions('target')) === 0 ? true : undefined),
      30_000,
      100,
    );
    const [slot] = await lab.pair.source.query<{ active: boolean }>(`SELECT active FROM pg_catalog.pg_replication_slots`);
    assert.equal(slot?.active, false, "the migration's slot is kept, and no walsender streams it");

    // another agent resumes it (its spare, again), and the cancel releases what the migration made
    const closer = await lab.startAgent('closer', lab.sourceUrl(DB));
    const closerSpare = await waitingSpare(closer);
    assert.deepEqual(await runnerAfter(closer, 0), { pid: closerSpare, reason: 'resume' });
    await write(3001, 3100);
    await targetEqualsSource('the rows written after the dead agent, resumed elsewhere, on the target');
    await cancelMigration(serverSpec(lab.pair.target), NAME);
    const ended = await until(
      'the cancel to end the migration',
      async () => {
        const now = await lab.state(NAME);
        return now && ['Succeeded', 'Failed', 'Canceled', 'ValidationFailed'].includes(now.state) ? now : undefined;
      },
      120_000,
      250,
    );
    assert.equal(ended.state, 'Canceled', ended.message ?? '');
    await lab.stopAgent(closer);
  });
});

// A developer's lab for issue 32's bench line (not part of `npm run bench`): the same offline copy
// of the bench database run by `pgferry agent` processes, with one agent and with two (the second
// helps with the first one's copy round: control/copyRounds.ts), and the rows copied again when
// the agent running a copy is SIGKILLed mid-table and a new one resumes it (before resuming
// inside, pgferry copied the whole database again). Both clusters run with durability on. With
// --source-latency-ms, the tests' fault proxy stands between the source and every process that
// reads it (the runner and the agents), every chunk delayed that much each way, as a source far
// from the agents near the target would be.
//   node dist/bench/agentsLab.js [--scale N] [--wide-rows N] [--split-mb N] [--jobs N] [--rounds N]
//     [--agents 1,2] [--source-latency-ms N] [--skip-kill]
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { InvalidArgumentError, Option } from 'commander';
import { parseMigrationSpec, startMigration, waitForMigration, isFinalState, type ServerSpec } from '../provider/engine';
import { startCluster, stopAllClusters, type Cluster } from '../provider/localpg/cluster';
import { FaultProxy } from '../test/support/faultProxy';
import { argsOrExit, parseOptions, positiveInt } from './commandLine';
import { BENCH_DB, PG_BIN, loadDataset } from './dataset';
import { machineInfo } from './machine';
import { benchSettings } from './settings';
import { agentArgs } from './agentCommand';

interface AgentsLabArgs {
  readonly help?: string;
  readonly scale: number;
  readonly wideRows: number;
  readonly splitMb: number;
  readonly jobs: number;
  readonly rounds: number;
  /** The agent counts compared, the first the baseline. */
  readonly agents: readonly number[];
  /** Milliseconds added each way between the source and its readers. */
  readonly sourceLatencyMs: number;
  readonly skipKill: boolean;
}

function agentCounts(value: string): number[] {
  const list = value.split(',').map((v) => positiveInt(v.trim()));
  if (list.length !== 2 || list[0] === list[1]) throw new InvalidArgumentError(`two different counts, got ${value}`);
  return list;
}

function milliseconds(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 1000) throw new InvalidArgumentError(`a whole number from 0 to 1000, got ${value}`);
  return n;
}

function parseArgs(argv: readonly string[]): AgentsLabArgs {
  const parsed = parseOptions(
    'agentsLab',
    'one offline copy by two counts of agents (1 and 2 unless told), and the rows copied again after an agent is killed mid-table',
    [
      new Option('--scale <n>', 'pgbench scale').argParser(positiveInt).default(20),
      new Option('--wide-rows <n>', 'rows of the wide table').argParser(positiveInt).default(200_000),
      new Option('--split-mb <n>', 'split tables larger than this many MB').argParser(positiveInt).default(32),
      new Option('--jobs <n>', "the migration's table and index jobs (and each agent's concurrency)").argParser(positiveInt).default(2),
      new Option('--rounds <n>', 'rounds of one count of agents against the other (the order alternates)')
        .argParser(positiveInt)
        .default(2),
      new Option('--agents <a,b>', 'the two counts of agents compared').argParser(agentCounts).default([1, 2]),
      new Option('--source-latency-ms <n>', 'milliseconds added each way between the source and its readers')
        .argParser(milliseconds)
        .default(0),
      new Option('--skip-kill', 'leave out the agent killed mid-table'),
    ],
    argv,
  );
  const none = { scale: 0, wideRows: 0, splitMb: 0, jobs: 0, rounds: 0, agents: [], sourceLatencyMs: 0, skipKill: false };
  if (parsed.help !== undefined) return { help: parsed.help, ...none };
  const v = parsed.values as {
    scale: number;
    wideRows: number;
    splitMb: number;
    jobs: number;
    rounds: number;
    agents: number[];
    sourceLatencyMs: number;
    skipKill?: boolean;
  };
  return { ...v, skipKill: v.skipKill === true };
}

function log(line: string): void {
  process.stderr.write(`[agents ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

/** Where a process reaches a cluster: the cluster itself, or the proxy in front of it. */
interface Reached {
  readonly cluster: Cluster;
  readonly host: string;
  readonly port: number;
}

const direct = (c: Cluster): Reached => ({ cluster: c, host: c.host, port: c.port });

const server = (r: Reached | Cluster): ServerSpec => {
  const at = 'cluster' in r ? r : direct(r);
  return {
    host: at.host,
    port: at.port,
    user: at.cluster.user,
    password: at.cluster.password,
    sslMode: 'disable',
    maintenanceDatabase: 'postgres',
  };
};

/** A `pgferry agent` process with the source's credentials in its environment. */
function startAgent(name: string, source: Reached, target: Cluster, jobs: number): ChildProcess {
  const child = spawn(process.execPath, [...agentArgs(name, target), '--concurrency', String(jobs)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      ...process.env,
      PGPASSWORD: target.password,
      PGFERRY_SOURCE_URLS: `postgres://${source.cluster.user}:${source.cluster.password}@${source.host}:${source.port}/${BENCH_DB}`,
    },
  });
  // an agent that stops on its own (a refused option, a login it cannot find) is said, not waited for in silence
  let said = '';
  child.stderr!.on('data', (d: Buffer) => (said = (said + d.toString()).slice(-2000)));
  child.once('exit', (code, signal) => {
    if (code !== 0 && signal === null) log(`agent ${name} exited with code ${code}: ${said.trim()}`);
  });
  return child;
}

async function stopAgent(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  await exited;
}

interface LabContext {
  /** The source as the runner and the agents reach it (through the proxy when one is asked for). */
  readonly source: Reached;
  readonly target: Cluster;
  readonly args: AgentsLabArgs;
}

/** Registers an offline migration of runtime agents into a fresh target database. */
async function register(ctx: LabContext, name: string): Promise<void> {
  await ctx.target.query(`DROP DATABASE IF EXISTS ${BENCH_DB} WITH (FORCE)`);
  const spec = parseMigrationSpec({
    migrationName: name,
    source: server(ctx.source),
    target: server(ctx.target),
    databases: [BENCH_DB],
    mode: 'Offline',
    runtime: 'agents',
    verify: false,
    tableJobs: ctx.args.jobs,
    indexJobs: ctx.args.jobs,
    splitTablesLargerThan: ctx.args.splitMb * 2 ** 20,
    pgBinDir: PG_BIN,
  });
  await startMigration(spec);
}

async function waitEnd(ctx: LabContext, name: string): Promise<void> {
  const status = await waitForMigration(server(ctx.target), name, (s) => isFinalState(s.state), {
    intervalMs: 200,
  });
  if (status.state !== 'Succeeded') throw new Error(`${name}: ${status.state} ${status.message ?? ''}`);
}

/** One offline copy by `agents` agents: seconds from registration to Succeeded, and the items each copied. */
async function copyBy(ctx: LabContext, agents: number, round: number): Promise<{ seconds: number; byHolder: Record<string, number> }> {
  const name = `agents-${agents}-${round}-${Date.now()}`;
  const children = Array.from({ length: agents }, (_, i) =>
    startAgent(`lab-${agents}-${round}-${i + 1}`, ctx.source, ctx.target, ctx.args.jobs),
  );
  try {
    await new Promise((r) => setTimeout(r, 1500)); // every agent has joined before the work appears
    const started = Date.now();
    await register(ctx, name);
    await waitEnd(ctx, name);
    const seconds = (Date.now() - started) / 1000;
    const rows = await ctx.target.query<{ holder: string; n: number }>(
      `SELECT holder, count(*)::int AS n FROM pgferry.copy_item WHERE migration = $1 GROUP BY holder ORDER BY holder`,
      [name],
    );
    return { seconds, byHolder: Object.fromEntries(rows.map((r) => [r.holder, r.n])) };
  } finally {
    for (const child of children) await stopAgent(child);
  }
}

interface KillResult {
  readonly totalRows: number;
  readonly doneAtKill: number;
  readonly rowsDoneAtKill: number;
  readonly inFlightAtKill: number;
  readonly rowsCopiedAgain: number;
  readonly items: number;
}

/** SIGKILL of the only agent once a third of the items are done; a new agent resumes inside. */
async function killMidTable(ctx: LabContext): Promise<KillResult> {
  const name = `agents-kill-${Date.now()}`;
  const first = startAgent('lab-kill-1', ctx.source, ctx.target, ctx.args.jobs);
  await new Promise((r) => setTimeout(r, 1500));
  await register(ctx, name);
  const items = () =>
    ctx.target.query<{ item: string; state: string; holder: string | null; rows: number }>(
      `SELECT item, state, holder, coalesce(rows, 0)::int AS rows FROM pgferry.copy_item WHERE migration = $1`,
      [name],
    );
  let atKill = await items();
  while (atKill.length === 0 || atKill.filter((i) => i.state === 'done').length < atKill.length / 3) {
    await new Promise((r) => setTimeout(r, 100));
    atKill = await items();
  }
  await stopAgent(first, 'SIGKILL');
  atKill = await items();
  const second = startAgent('lab-kill-2', ctx.source, ctx.target, ctx.args.jobs);
  try {
    await waitEnd(ctx, name);
  } finally {
    await stopAgent(second);
  }
  const after = await items();
  const pendingAtKill = new Set(atKill.filter((i) => i.state === 'pending' && i.holder !== null).map((i) => i.item));
  const doneAtKill = atKill.filter((i) => i.state === 'done');
  return {
    totalRows: after.reduce((s, i) => s + i.rows, 0),
    doneAtKill: doneAtKill.length,
    rowsDoneAtKill: doneAtKill.reduce((s, i) => s + i.rows, 0),
    inFlightAtKill: pendingAtKill.size,
    rowsCopiedAgain: after.filter((i) => pendingAtKill.has(i.item)).reduce((s, i) => s + i.rows, 0),
    items: after.length,
  };
}

function report(
  machine: Awaited<ReturnType<typeof machineInfo>>,
  args: AgentsLabArgs,
  bytes: number,
  runs: { agents: number; seconds: number; byHolder: Record<string, number> }[],
  kill: KillResult | undefined,
): string {
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const [a, b] = args.agents as [number, number];
  const one = mean(runs.filter((r) => r.agents === a).map((r) => r.seconds));
  const two = mean(runs.filter((r) => r.agents === b).map((r) => r.seconds));
  const link =
    args.sourceLatencyMs > 0
      ? ` The source is behind the tests' fault proxy, +${args.sourceLatencyMs} ms each way for the runner and every agent.`
      : '';
  return [
    `# Agents lab, ${new Date().toISOString().slice(0, 10)}`,
    '',
    `Machine: ${machine.nproc} CPUs (${machine.cpuModel}), ${machine.memoryGiB} GiB, load ${machine.loadAverage.join(' ')}; source and target are two PostgreSQL 15 clusters on it, durability on (fsync, synchronous_commit, full_page_writes).${link}`,
    `Data: pgbench scale ${args.scale} + ${args.wideRows} wide rows, ${(bytes / 1e9).toFixed(2)} GB; offline, verify off, tables over ${args.splitMb} MB split, ${args.jobs} table and index jobs, each agent --concurrency ${args.jobs}.`,
    '',
    '| round | agents | seconds (registration to Succeeded) | items copied per agent |',
    '| --- | --- | --- | --- |',
    ...runs.map(
      (r, i) =>
        `| ${i + 1} | ${r.agents} | ${r.seconds.toFixed(1)} | ${Object.entries(r.byHolder)
          .map(([h, n]) => `${h}: ${n}`)
          .join(', ')} |`,
    ),
    '',
    `Mean of ${args.rounds} rounds: ${a} agent(s) ${one.toFixed(1)} s, ${b} agents ${two.toFixed(1)} s, ratio ${(two / one).toFixed(2)} (${b} agents / ${a}).`,
    `With one agent the runner copies with its ${args.jobs} table jobs; each further agent adds its own ${args.jobs} COPY streams to the same round, so up to ${b * args.jobs} run at once against the same ${machine.nproc} CPUs: whatever the ratio shows here is the effect of more streams on one machine (what more table jobs would also give), not the gain of more machines near a bigger target.`,
    '',
    ...(kill ? killLines(kill) : []),
  ].join('\n');
}

function killLines(kill: KillResult): string[] {
  return [
    `Kill mid-table: the only agent SIGKILLed with ${kill.doneAtKill} of ${kill.items} items done (${kill.rowsDoneAtKill} rows) and ${kill.inFlightAtKill} in flight; a new agent resumed inside: rows copied again ${kill.rowsCopiedAgain} of ${kill.totalRows} (${((100 * kill.rowsCopiedAgain) / kill.totalRows).toFixed(1)} %). Before resuming inside, pgferry copied the whole database again: ${kill.totalRows} rows.`,
    '',
  ];
}

async function main(args: AgentsLabArgs): Promise<void> {
  const settings = benchSettings({ fsyncOff: false, tuned: true });
  const [source, target] = await Promise.all([
    startCluster({ major: 15, label: 'agents-src', settings, password: randomBytes(12).toString('hex') }),
    startCluster({ major: 15, label: 'agents-dst', settings, password: randomBytes(12).toString('hex') }),
  ]);
  let proxy: FaultProxy | undefined;
  try {
    const machine = await machineInfo(source);
    log('generating the dataset ...');
    const dataset = await loadDataset(source, { scale: args.scale, wideRows: args.wideRows });
    if (args.sourceLatencyMs > 0) {
      proxy = new FaultProxy(`source+${args.sourceLatencyMs}ms`, source.port);
      await proxy.start();
      // for the whole lab: the proxy is closed at its end
      proxy.latency(args.sourceLatencyMs, 24 * 3600 * 1000);
    }
    const ctx = { source: proxy ? { cluster: source, host: '127.0.0.1', port: proxy.port } : direct(source), target, args };
    const runs: { agents: number; seconds: number; byHolder: Record<string, number> }[] = [];
    for (let round = 0; round < args.rounds; round++) {
      for (const agents of round % 2 === 0 ? args.agents : [...args.agents].reverse()) {
        const run = await copyBy(ctx, agents, round);
        log(`${agents} agent(s): ${run.seconds.toFixed(1)} s ${JSON.stringify(run.byHolder)}`);
        runs.push({ agents, ...run });
      }
    }
    const kill = args.skipKill ? undefined : await killMidTable(ctx);
    if (kill) log(`kill mid-table: ${JSON.stringify(kill)}`);
    const text = report(machine, args, dataset.databaseBytes, runs, kill);
    const dir = path.join(__dirname, '..', '..', 'bench', 'results');
    const file = path.join(
      dir,
      `${new Date().toISOString().slice(0, 10)}-agents-${new Date().toISOString().slice(11, 16).replace(':', '')}.md`,
    );
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(file, text);
    process.stdout.write(`${text}\n(written to ${path.relative(process.cwd(), file)}; ${os.hostname()})\n`);
  } finally {
    await proxy?.close();
    await stopAllClusters();
  }
}

const args = argsOrExit('agentsLab', () => parseArgs(process.argv.slice(2)), 'node dist/bench/agentsLab.js --help lists the options');
if (args.help === undefined) {
  main(args).catch((error: unknown) => {
    process.stderr.write(`agentsLab failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}

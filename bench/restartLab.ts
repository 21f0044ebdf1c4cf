// A developer's loop for restart cost (not part of `npm run bench`): one online migration of a
// small pgbench database streams; then, several times, its runner is killed, a backlog written,
// and a runner resumed alone (as `pgferry resume` starts it), timed until its replication origin
// on the target first moves (the first applied change). The bench's figure (f) measures the same
// beside a native subscription. Each round prints the resumed runner's PGFERRY_TRACE marks
// (provider/engine/util/trace.ts) in milliseconds since the lab started it, beside what the lab saw:
// where the time from the kill's end to the first applied change goes.
//   node dist/bench/restartLab.js [rounds] [backlog transactions]
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCluster, stopAllClusters } from '../provider/localpg/cluster';
import { waitUntil as until } from './consumers';
import { catchUpProbe, DB, prepareSource, startPgferry, untilStreaming } from './onlineScenarios';
import { runPgbench } from './pgbench';
import { benchSettings } from './settings';

/**
 * The marks of process `pid` in a PGFERRY_TRACE file, in ms since `startedAt` (the lab's own clock,
 * when it started the process): its first line gives the wall-clock time its marks count from.
 */
async function timeline(file: string, pid: number, startedAt: number): Promise<string[]> {
  const lines = (await fs.readFile(file, 'utf8').catch(() => '')).split('\n').filter((l) => l.startsWith(`${pid} `));
  const origin = /process start at (\d+)/.exec(lines[0] ?? '');
  if (!origin) return [];
  const offset = Number(origin[1]) - startedAt;
  return lines.map((l) => {
    const [, ms, ...label] = l.split(' ');
    return `${String(Math.round(offset + Number(ms))).padStart(6)} ms  ${label.join(' ')}`;
  });
}

const log = (line: string) => process.stderr.write(`[restartLab ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 4);
  const transactions = Number(process.argv[3] ?? 400);
  const settings = benchSettings({ fsyncOff: false, tuned: true });
  const traceFile = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'pgferry-restart-lab-')), 'trace');
  // the runners the lab starts inherit it
  process.env.PGFERRY_TRACE = traceFile;
  const [source, target] = await Promise.all([
    startCluster({ major: 15, label: 'rlab-src', settings, password: 'restart-lab-src' }),
    startCluster({ major: 15, label: 'rlab-dst', settings, password: 'restart-lab-dst' }),
  ]);
  try {
    await prepareSource(source, 1);
    const events: string[] = [];
    const options = { source, target, jobs: 2, quick: true, log };
    const { ferry, status } = startPgferry(options, events);
    await untilStreaming(status);
    const caughtUp = catchUpProbe(source, target);
    await caughtUp('pgferry streaming');
    const origin = async () =>
      (await target.query<{ p: string | null }>(`SELECT string_agg(remote_lsn::text, ',') AS p FROM pg_replication_origin_status`))[0]?.p ??
      null;
    const firsts: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      const before = ferry.current();
      await ferry.pause();
      await before.done;
      await runPgbench(source, DB, { clients: 4, transactionsPerClient: Math.ceil(transactions / 4) });
      const initial = await origin();
      const started = Date.now();
      await ferry.resume();
      await until('the first applied change', 120_000, async () => ((await origin()) !== initial ? true : undefined), 20);
      const first = (Date.now() - started) / 1000;
      firsts.push(first);
      log(`round ${round}: resume → first applied change ${first.toFixed(2)} s`);
      await caughtUp('pgferry to catch up');
      const marks = await timeline(traceFile, ferry.current().pid, started);
      process.stderr.write(`${[...marks, `${String(Math.round(first * 1000)).padStart(6)} ms  (lab) the origin moved`].join('\n')}\n`);
    }
    const before = ferry.current();
    process.kill(before.pid, 'SIGTERM');
    await before.done;
    const sorted = [...firsts].sort((a, b) => a - b);
    log(
      `resume → first applied change: ${firsts.map((f) => f.toFixed(2)).join(', ')} s; median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(2)} s`,
    );
  } finally {
    await stopAllClusters();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

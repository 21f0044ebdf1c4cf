// A developer's loop for restart cost (not part of `npm run bench`): one online migration of a
// small pgbench database streams; then, several times, its runner is killed, a backlog written,
// and a runner resumed alone (as `pgferry resume` starts it), timed until its replication origin
// on the target first moves (the first applied change). The bench's figure (f) measures the same
// beside a native subscription.
//   node dist/bench/restartLab.js [rounds] [backlog transactions]
import { startCluster, stopAllClusters } from '../provider/localpg/cluster';
import { waitUntil as until } from './consumers';
import { catchUpProbe, DB, prepareSource, startPgferry, untilStreaming } from './onlineScenarios';
import { runPgbench } from './pgbench';
import { benchSettings } from './settings';

const log = (line: string) => process.stderr.write(`[restartLab ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 4);
  const transactions = Number(process.argv[3] ?? 400);
  const settings = benchSettings({ fsyncOff: false, tuned: true });
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
      const ended = await before.done;
      if (round > 1)
        process.stderr.write(
          ended.stderr
            .split('\n')
            .filter((l) => l.startsWith('[trace'))
            .join('\n') + '\n',
        );
      await runPgbench(source, DB, { clients: 4, transactionsPerClient: Math.ceil(transactions / 4) });
      const initial = await origin();
      const started = Date.now();
      await ferry.resume();
      await until('the first applied change', 120_000, async () => ((await origin()) !== initial ? true : undefined), 20);
      const first = (Date.now() - started) / 1000;
      firsts.push(first);
      log(`round ${round}: resume → first applied change ${first.toFixed(2)} s`);
      await caughtUp('pgferry to catch up');
    }
    const before = ferry.current();
    process.kill(before.pid, 'SIGTERM');
    const ended = await before.done;
    process.stderr.write(
      ended.stderr
        .split('\n')
        .filter((l) => l.startsWith('[trace'))
        .join('\n') + '\n',
    );
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

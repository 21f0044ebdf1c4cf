// A developer's loop for steady-state lag (not part of `npm run bench`): pgbench paced at a fixed
// rate while pgferry's Applier (in this process) follows it; every second it prints where the
// source's WAL is, what the walsender has sent and the slot has confirmed, and what the applier
// has received and applied; probe rows give the end-to-end lag apart from all of that.
//   node dist/bench/lagLab.js [--rate 400] [--seconds 30] [--scale 2]
import { execFile } from 'node:child_process';
import { Option } from 'commander';
import { promisify } from 'node:util';
import { Applier } from '../provider/engine/cdc/apply/applier';
import { parseLsn } from '../provider/decoder';
import { startCluster, stopAllClusters, type Cluster } from '../provider/localpg/cluster';
import { argsOrExit, parseOptions, positiveInt } from './commandLine';
import { PG_BIN, pgEnv } from './dataset';
import { runPgbench } from './pgbench';
import { probeLag } from './probeLag';
import { benchSettings, labServer } from './settings';

const execFileAsync = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function prepare(source: Cluster, target: Cluster, scale: number): Promise<bigint> {
  for (const c of [source, target]) {
    await c.query('CREATE DATABASE lab');
    await execFileAsync(`${PG_BIN}/pgbench`, ['-i', '-q', '-s', String(scale), 'lab'], { env: pgEnv(c) });
    await c.query('ALTER TABLE pgbench_history ADD COLUMN hid bigserial PRIMARY KEY', [], 'lab');
    await c.query('CREATE TABLE bench_marker (id int PRIMARY KEY)', [], 'lab');
  }
  await source.query('CREATE PUBLICATION labpub FOR ALL TABLES', [], 'lab');
  const rows = await source.query<{ lsn: string }>(
    `SELECT lsn::text FROM pg_create_logical_replication_slot('lag', 'pgoutput')`,
    [],
    'lab',
  );
  return parseLsn(rows[0]!.lsn);
}

const mb = (a: bigint, b: bigint) => (Number(a - b) / 1048576).toFixed(2).padStart(7);

function sampleEverySecond(source: Cluster, applier: Applier): { stop(): Promise<void> } {
  let running = true;
  const done = (async () => {
    const client = await source.connect('lab');
    try {
      const started = Date.now();
      while (running) {
        const { rows } = await client.query<{ now: string; sent: string | null; flush: string | null; confirmed: string }>(
          `SELECT pg_current_wal_lsn()::text AS now,
                  (SELECT sent_lsn::text FROM pg_stat_replication LIMIT 1) AS sent,
                  (SELECT flush_lsn::text FROM pg_stat_replication LIMIT 1) AS flush,
                  (SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'lag') AS confirmed`,
        );
        const r = rows[0]!;
        const now = parseLsn(r.now);
        const s = applier.stats();
        process.stdout.write(
          `${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s  behind (MiB): sent ${r.sent ? mb(now, parseLsn(r.sent)) : '      -'}` +
            `  received ${mb(now, s.receivedLsn)}  applied ${mb(now, s.appliedLsn)}  confirmed ${mb(now, parseLsn(r.confirmed))}` +
            `  latency ${s.latencySeconds.toFixed(2)} s  peak queue ${(s.peakQueuedBytes / 1048576).toFixed(1)} MiB\n`,
        );
        await sleep(1000);
      }
    } finally {
      await client.end();
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
    },
  };
}

const quantile = (values: number[], q: number) => [...values].sort((a, b) => a - b)[Math.floor(q * (values.length - 1))] ?? NaN;

const OPTIONS = (): Option[] => [
  new Option('--rate <TPS>', 'pgbench --rate: transactions per second').argParser(positiveInt).default(400),
  new Option('--seconds <S>', 'how long pgbench writes').argParser(positiveInt).default(30),
  new Option('--scale <S>', 'pgbench scale of the lab database').argParser(positiveInt).default(2),
];

function labArgs(): { help?: string; rate: number; seconds: number; scale: number } {
  const what = "steady-state lag of pgferry's Applier (in this process) behind pgbench paced at a fixed rate";
  const { help, values } = parseOptions('node dist/bench/lagLab.js', what, OPTIONS(), process.argv.slice(2));
  return {
    ...(help !== undefined ? { help } : {}),
    rate: values.rate as number,
    seconds: values.seconds as number,
    scale: values.scale as number,
  };
}

async function main(): Promise<void> {
  const { rate, seconds, scale } = argsOrExit('lagLab', labArgs, 'node dist/bench/lagLab.js --help lists the options');
  const settings = { ...benchSettings({ fsyncOff: false, tuned: true }), autovacuum: 'on' };
  const [source, target] = await Promise.all([
    startCluster({ major: 15, label: 'lag-src', settings }),
    startCluster({ major: 15, label: 'lag-dst', settings }),
  ]);
  try {
    const initialLsn = await prepare(source, target, scale);
    const applier = new Applier({
      source: labServer(source),
      target: labServer(target),
      database: 'lab',
      slot: 'lag',
      publication: 'labpub',
      origin: 'pgferry_lag',
      migration: 'lag',
      cutoverPrefix: 'pgferry-lag',
      initialLsn,
      log: (level, message) => process.stdout.write(`${level}: ${message}\n`),
    });
    const commits = async () =>
      Number((await target.query<{ n: string }>(`SELECT xact_commit::text AS n FROM pg_stat_database WHERE datname = 'lab'`))[0]!.n);
    const commitsBefore = await commits();
    const running = applier.run();
    const sampler = sampleEverySecond(source, applier);
    const probes = probeLag(source, target, 'lab');
    const paced = await runPgbench(source, 'lab', { clients: 4, seconds, rate });
    const lags = await probes.stop();
    await sampler.stop();
    // statistics reach pg_stat_database when a backend reports them: give it a moment
    await sleep(1500);
    process.stdout.write(
      `target transactions committed: ${(await commits()) - commitsBefore} for ${paced.transactions} pgbench transactions\n`,
    );
    process.stdout.write(
      `pgbench ${paced.tps.toFixed(0)} TPS for ${seconds} s; end-to-end lag p50 ${quantile(lags, 0.5).toFixed(2)} s, p99 ${quantile(lags, 0.99).toFixed(2)} s, max ${Math.max(...lags).toFixed(2)} s (${lags.length} probes)\n`,
    );
    applier.stop();
    await running;
  } finally {
    await stopAllClusters();
  }
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack}\n`);
  process.exitCode = 1;
});

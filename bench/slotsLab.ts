// A developer's lab for issue 31's "past one walsender" question (not part of `npm run bench`):
// how long one pgoutput slot takes to decode a pgbench backlog, against two slots that split the
// tables between two publications and decode side by side. Each walsender reads and decodes all
// of the WAL; only the output (per published change) is split, so two slots pay off only where
// output is a large share and a free core is there for the second walsender.
//   node dist/bench/slotsLab.js [--scale N] [--seconds N] [--clients N] [--rounds N]
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Option } from 'commander';
import { ident, literal } from '../provider/engine';
import { startCluster, stopAllClusters, type Cluster } from '../provider/localpg/cluster';
import { argsOrExit, parseOptions, positiveInt } from './commandLine';
import { PG_BIN, pgEnv } from './dataset';
import { runPgbench } from './pgbench';
import { treeCpuSeconds } from './procTree';
import { benchSettings } from './settings';

const execFileAsync = promisify(execFile);
const DB = 'slots';

interface SlotsLabArgs {
  readonly help?: string;
  readonly scale: number;
  readonly seconds: number;
  readonly clients: number;
  readonly rounds: number;
}

function parseArgs(argv: readonly string[]): SlotsLabArgs {
  const parsed = parseOptions(
    'slotsLab',
    'decode-only time of a pgbench backlog: one slot vs two slots side by side',
    [
      new Option('--scale <n>', 'pgbench scale').argParser(positiveInt).default(20),
      new Option('--seconds <n>', 'seconds of pgbench writes per round').argParser(positiveInt).default(25),
      new Option('--clients <n>', 'pgbench clients').argParser(positiveInt).default(4),
      new Option('--rounds <n>', 'rounds (the order alternates)').argParser(positiveInt).default(2),
    ],
    argv,
  );
  if (parsed.help !== undefined) return { help: parsed.help, scale: 0, seconds: 0, clients: 0, rounds: 0 };
  const v = parsed.values as { scale: number; seconds: number; clients: number; rounds: number };
  return { scale: v.scale, seconds: v.seconds, clients: v.clients, rounds: v.rounds };
}

/** Each publication's tables: a half of pgbench's four changes per transaction. */
const PUBLICATIONS: Record<string, readonly string[]> = {
  pub_all: ['pgbench_accounts', 'pgbench_history', 'pgbench_tellers', 'pgbench_branches'],
  pub_a: ['pgbench_accounts', 'pgbench_history'],
  pub_b: ['pgbench_tellers', 'pgbench_branches'],
};

async function postmasterPid(cluster: Cluster): Promise<number> {
  return Number((await readFile(path.join(cluster.dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
}

/** Drains `slot` to `endLsn` with pg_recvlogical, output to /dev/null. */
async function drain(source: Cluster, slot: string, publication: string, endLsn: string): Promise<void> {
  await execFileAsync(
    `${PG_BIN}/pg_recvlogical`,
    [
      '-d',
      DB,
      '--slot',
      slot,
      '--start',
      '--no-loop',
      '--endpos',
      endLsn,
      '-o',
      'proto_version=1',
      '-o',
      `publication_names=${publication}`,
      '-f',
      '/dev/null',
    ],
    { env: pgEnv(source) },
  );
}

/** Wall seconds and the source's CPU seconds (walsenders, mostly) while the slots drain side by side. */
async function timedDrain(source: Cluster, slots: readonly [string, string][], endLsn: string): Promise<{ seconds: number; cpu: number }> {
  const pid = await postmasterPid(source);
  const cpuBefore = await treeCpuSeconds(pid);
  const started = process.hrtime.bigint();
  await Promise.all(slots.map(([slot, publication]) => drain(source, slot, publication, endLsn)));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { seconds, cpu: (await treeCpuSeconds(pid)) - cpuBefore };
}

async function main(): Promise<void> {
  const args = argsOrExit('slotsLab', () => parseArgs(process.argv.slice(2)), 'see --help');
  const source = await startCluster({
    label: 'slots-source',
    settings: {
      ...benchSettings({ fsyncOff: false, tuned: true }),
      wal_level: 'logical',
      max_replication_slots: '10',
      max_wal_senders: '10',
    },
  });
  try {
    await source.query(`CREATE DATABASE ${ident(DB)}`);
    await execFileAsync(`${PG_BIN}/pgbench`, ['-i', '-q', '-s', String(args.scale), DB], { env: pgEnv(source) });
    await source.query('ALTER TABLE pgbench_history ADD COLUMN hid bigserial PRIMARY KEY', [], DB);
    for (const [publication, tables] of Object.entries(PUBLICATIONS)) {
      await source.query(`CREATE PUBLICATION ${ident(publication)} FOR TABLE ${tables.map((t) => ident(t)).join(', ')}`, [], DB);
    }
    console.log(
      `machine: ${os.cpus().length} CPUs, load ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}; pgbench scale ${args.scale}, ${args.seconds} s x ${args.clients} clients per round`,
    );
    for (let round = 1; round <= args.rounds; round++) {
      for (const slot of ['s_all', 's_a', 's_b']) {
        await source.query(`SELECT pg_create_logical_replication_slot(${literal(slot)}, 'pgoutput')`, [], DB);
      }
      const written = await runPgbench(source, DB, { clients: args.clients, seconds: args.seconds });
      const [end] = await source.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
      const one = (): Promise<{ seconds: number; cpu: number }> => timedDrain(source, [['s_all', 'pub_all']], end!.lsn);
      const two = (): Promise<{ seconds: number; cpu: number }> =>
        timedDrain(
          source,
          [
            ['s_a', 'pub_a'],
            ['s_b', 'pub_b'],
          ],
          end!.lsn,
        );
      const [first, second] = round % 2 === 1 ? [await one(), await two()] : [await two(), await one()];
      const [oneSlot, twoSlots] = round % 2 === 1 ? [first, second] : [second, first];
      console.log(
        `round ${round}: ${written.transactions} transactions; 1 slot ${oneSlot.seconds.toFixed(2)} s (source CPU ${oneSlot.cpu.toFixed(1)} s), ` +
          `2 slots ${twoSlots.seconds.toFixed(2)} s (source CPU ${twoSlots.cpu.toFixed(1)} s), ratio ${(twoSlots.seconds / oneSlot.seconds).toFixed(2)}; load ${os.loadavg()[0]!.toFixed(1)}`,
      );
      for (const slot of ['s_all', 's_a', 's_b']) await source.query(`SELECT pg_drop_replication_slot(${literal(slot)})`, [], DB);
    }
  } finally {
    await stopAllClusters();
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

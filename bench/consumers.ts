// The two consumers the online drain compares, stopped and started the same way (issue 19): the
// consumer's process ends, and with it its connection to the source (its slot goes inactive), and
// a resume starts a new one that reconnects, its start-up inside the timed drain.
//  - native: ALTER SUBSCRIPTION DISABLE ends the apply worker; ENABLE has the launcher start one.
//  - pgferry: its process is killed (it has no pause, and SIGTERM stops it as a kill does), and a
//    runner resumes the migration from its recorded position, as `pgferry resume` does.
// SIGSTOP is not used: a stopped pgferry kept its walsender decoding into socket buffers before
// the clock started, while native's walsender was gone.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseMigrationSpec } from '../provider/engine';
import { runnerInput } from '../provider/engine/internal';
import type { Cluster } from '../provider/localpg/cluster';
import { PG_BIN, pgEnv } from './dataset';
import type { OnlineOptions } from './onlineTypes';
import { treeCpuSeconds, treeOf, type TreeMemory } from './procTree';
import { startTimed, type StartedProcess } from './timedProcess';

const execFileAsync = promisify(execFile);

/** The runner's entry (dist/provider/engine/runner/main.js), started as spawnRunner does. */
const RUNNER_MAIN = path.join(__dirname, '..', 'provider', 'engine', 'runner', 'main.js');

export const NATIVE_DB = 'benchnat';

/** A consumer of the source's changes that the drain can stop and start again. */
export interface Consumer {
  readonly name: 'native' | 'pgferry';
  /** The target database its changes land in (where markers become visible). */
  readonly database: string;
  /** Ends the consumer's process and connection; returns once its slot is inactive. */
  pause(): Promise<void>;
  /** Starts a consumer again (it reconnects on its own). */
  resume(): Promise<void>;
  /** CPU seconds of the consumer's own process since it was last resumed (pgferry only: native's is a target backend). */
  processCpuSeconds?(): Promise<number>;
}

export async function waitUntil<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, intervalMs = 50): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Resolves once no walsender serves `slot`: the consumer's connection is gone. */
async function slotInactive(source: Cluster, slot: string): Promise<void> {
  await waitUntil(
    `slot ${slot} to go inactive`,
    60_000,
    async () => {
      const rows = await source.query<{ active: boolean }>(`SELECT active FROM pg_replication_slots WHERE slot_name = $1`, [slot]);
      return rows[0] && !rows[0].active ? true : undefined;
    },
    100,
  );
}

/**
 * Native logical replication at its fastest where both servers' major allows it: binary transfer
 * (14+) skips the text output and input functions, and streaming sends a large transaction before
 * it commits (on from 14, applied in parallel from 16) instead of spilling it to disk first.
 */
export function nativeSubscriptionOptions(sourceMajor: number, targetMajor: number): string[] {
  const major = Math.min(sourceMajor, targetMajor);
  if (major >= 16) return ['binary = true', 'streaming = parallel'];
  if (major >= 14) return ['binary = true', 'streaming = on'];
  return [];
}

/**
 * A native subscription to the source's `database`, synced and following, created WITH `with`
 * (none unless given); stop() drops it.
 */
export async function startNative(
  options: OnlineOptions,
  database: string,
  withOptions: readonly string[] = [],
): Promise<Consumer & { stop(): Promise<void> }> {
  const { source, target, log } = options;
  await target.query(`DROP DATABASE IF EXISTS ${NATIVE_DB} WITH (FORCE)`);
  await target.query(`CREATE DATABASE ${NATIVE_DB}`);
  // Through psql: pg_dump's plain output may hold psql meta-commands (\restrict in 15.14+).
  const schemaFile = path.join(os.tmpdir(), `pgferry-bench-schema-${process.pid}.sql`);
  await execFileAsync(`${PG_BIN}/pg_dump`, ['-s', '-f', schemaFile, database], { env: pgEnv(source) });
  try {
    await execFileAsync(`${PG_BIN}/psql`, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', schemaFile, NATIVE_DB], { env: pgEnv(target) });
  } finally {
    await fs.rm(schemaFile, { force: true });
  }
  await source.query('CREATE PUBLICATION bench_native FOR ALL TABLES', [], database);
  const conninfo = `host=${source.host} port=${source.port} user=${source.user} password=${source.password} dbname=${database}`;
  // The connection string holds the password: it is sent to the server only, never logged.
  const withClause = withOptions.length > 0 ? ` WITH (${withOptions.join(', ')})` : '';
  await target.query(`CREATE SUBSCRIPTION bench_native CONNECTION '${conninfo}' PUBLICATION bench_native${withClause}`, [], NATIVE_DB);
  const stop = async () => {
    await target.query('DROP SUBSCRIPTION IF EXISTS bench_native', [], NATIVE_DB).catch(() => undefined);
    await source.query('DROP PUBLICATION IF EXISTS bench_native', [], database).catch(() => undefined);
    await target.query(`DROP DATABASE IF EXISTS ${NATIVE_DB} WITH (FORCE)`).catch(() => undefined);
  };
  try {
    log('native: initial sync ...');
    await waitUntil(
      "the subscription's initial sync",
      30 * 60_000,
      async () => {
        const rows = await target.query<{ n: string }>(
          `SELECT count(*) FILTER (WHERE srsubstate <> 'r') AS n FROM pg_subscription_rel`,
          [],
          NATIVE_DB,
        );
        return Number(rows[0]!.n) === 0 ? true : undefined;
      },
      500,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    name: 'native',
    database: NATIVE_DB,
    async pause() {
      await target.query('ALTER SUBSCRIPTION bench_native DISABLE', [], NATIVE_DB);
      await slotInactive(source, 'bench_native');
    },
    async resume() {
      await target.query('ALTER SUBSCRIPTION bench_native ENABLE', [], NATIVE_DB);
    },
    stop,
  };
}

/** Sends `signal` to every process of a tree (the migration process and any child it has). */
async function signalTree(root: number, signal: NodeJS.Signals): Promise<void> {
  for (const p of await treeOf(root)) {
    try {
      process.kill(p.pid, signal);
    } catch {
      // exited meanwhile
    }
  }
}

export interface PgferryConsumer extends Consumer {
  /** The process now running the migration (the first one, or the latest runner). */
  current(): StartedProcess;
  /** Peak memory of each pgferry process so far, the running one excluded. */
  readonly endedMemory: TreeMemory[];
  /**
   * Starts the next resume's runner now, its input held back, and returns once `loaded` says it
   * has loaded its modules: the next resume only hands it its input, as a process already running
   * (an agent's) would take the migration up.
   */
  startAhead(loaded: (pid: number) => Promise<void>): Promise<void>;
  /** The runner entry the next runners start from (another build's, to time two builds in one lab); this build's by default. */
  useRunner(main: string): void;
}

/**
 * pgferry as a consumer: `first` is the process that created the migration; each resume starts a
 * runner for it with `spec` (passwords on stdin only). `onLine` gets the runners' output lines.
 */
export function pgferryConsumer(args: {
  source: Cluster;
  database: string;
  spec: Record<string, unknown>;
  slot: () => Promise<string>;
  first: StartedProcess;
  onLine: (line: string) => void;
}): PgferryConsumer {
  let process_ = args.first;
  let ahead: StartedProcess | undefined;
  let runnerMain = RUNNER_MAIN;
  const endedMemory: TreeMemory[] = [];
  return {
    name: 'pgferry',
    database: args.database,
    current: () => process_,
    endedMemory,
    async pause() {
      const slot = await args.slot();
      await signalTree(process_.pid, 'SIGKILL');
      endedMemory.push((await process_.done).memory);
      await slotInactive(args.source, slot);
    },
    async startAhead(loaded) {
      ahead = startTimed(process.execPath, [runnerMain], { holdStdin: true, cpu: false, onLine: args.onLine });
      await loaded(ahead.pid);
    },
    async resume() {
      const input = runnerInput(parseMigrationSpec(args.spec), 'resume');
      if (ahead) {
        [process_, ahead] = [ahead, undefined];
        process_.feed(input);
        return;
      }
      process_ = startTimed(process.execPath, [runnerMain], { stdin: input, cpu: false, onLine: args.onLine });
    },
    useRunner(main) {
      runnerMain = main;
    },
    processCpuSeconds: () => treeCpuSeconds(process_.pid),
  };
}

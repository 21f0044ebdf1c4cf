// Server pairs for integration suites, plus ServerSpec helpers for pointing the engine at them.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ident, literal } from '../../provider/engine/connect/quote';
import { parseMigrationSpec } from '../../provider/engine/input/parse';
import type { MigrationSpec, ServerSpec } from '../../provider/engine/input/migrationSpec';
import { runningClusters, startCluster, type Cluster, type PgMajor } from '../../provider/localpg/cluster';
import { cancelMigration, closeFallbackWindow } from '../../provider/engine/apiRequests';
import { leftBehind, leftNow } from './leaks';
import { RUNNER_LOCKED_SQL } from '../../provider/engine/control/store';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { FINAL_STATES } from '../../provider/engine/core/model';

/** A ServerSpec for a cluster's superuser (sslMode prefer: TLS when the cluster has it, test/support/tls.ts). */
export function serverSpec(cluster: Cluster, overrides: Partial<ServerSpec> = {}): ServerSpec {
  return {
    host: cluster.host,
    port: cluster.port,
    user: cluster.user,
    password: cluster.password,
    sslMode: 'prefer',
    maintenanceDatabase: 'postgres',
    ...overrides,
  };
}

export interface ServerPair {
  readonly source: Cluster;
  readonly target: Cluster;
  /**
   * Stops both servers; fails naming what a suite left behind (support/leaks.ts). A migration still
   * running is canceled first and a fallback window left open is closed (endUnfinished), so that
   * what is judged is what its release leaves, not what it holds while it runs. What a failed test
   * left is not judged again: releaseAfterFailure told it under that test.
   */
  stop(): Promise<void>;
}

/** Starts a source and a target cluster in parallel; `sourceSettings`: postgresql.conf settings of the source's. */
export async function startPair(
  sourceMajor: PgMajor = 15,
  targetMajor: PgMajor = 15,
  sourceSettings?: Readonly<Record<string, string>>,
): Promise<ServerPair> {
  const [source, target] = await Promise.all([
    startCluster({ major: sourceMajor, label: 'src', ...(sourceSettings ? { settings: sourceSettings } : {}) }),
    startCluster({ major: targetMajor, label: 'dst' }),
  ]);
  const live: LivePair = { source, target, excused: new Set() };
  livePairs.add(live);
  return {
    source,
    target,
    async stop() {
      livePairs.delete(live);
      await endUnfinished(target);
      const leaks = await leftBehind({ source, target }, live.excused);
      await Promise.all([source.stop(), target.stop()]);
      if (leaks.length > 0) throw new Error(`the suite left behind: ${leaks.join('; ')}`);
    },
  };
}

/** A suite's server pair and the control catalog on its target, started before its tests and stopped after them. */
export interface SuiteServers {
  readonly pair: ServerPair;
  readonly store: CatalogConnection;
}

/** How a suite's pair is started: the majors and source settings startPair takes, and what the suite makes on it first. */
export interface SuiteServersOptions {
  readonly sourceMajor?: PgMajor;
  readonly targetMajor?: PgMajor;
  readonly sourceSettings?: Readonly<Record<string, string>>;
  /** Databases made on the source once the pair is up, each from its script, before `setUp`. */
  readonly databases?: Readonly<Record<string, string>>;
  /** Run once the pair is up, in the same `before` (what the suite makes beyond its databases). */
  readonly setUp?: (pair: ServerPair) => Promise<void>;
}

/**
 * Starts a pair (PostgreSQL 15 both unless told) and opens its target's control catalog (a
 * connection made on first use) in the suite's `before`; closes and stops both in its `after`.
 * Called in a describe's body: its hooks run before the ones the suite registers after the call.
 */
export function suiteServers(options: SuiteServersOptions = {}): SuiteServers {
  let started: SuiteServers | undefined;
  let pair: ServerPair | undefined;
  before(async () => {
    pair = await startPair(options.sourceMajor, options.targetMajor, options.sourceSettings);
    started = { pair, store: new CatalogConnection(serverSpec(pair.target)) };
    for (const [db, script] of Object.entries(options.databases ?? {})) await makeDatabase(pair.source, db, script);
    await options.setUp?.(pair);
  });
  after(async () => {
    await started?.store.close();
    await pair?.stop();
  });
  const ready = (): SuiteServers => {
    if (!started) throw new Error("the suite's servers are started by its before hook: read them inside a test");
    return started;
  };
  return {
    get pair() {
      return ready().pair;
    },
    get store() {
      return ready().store;
    },
  };
}

/** Makes `db` on one server (a test's own name, quoted) and runs `script` in it. */
export async function makeDatabase(cluster: Cluster, db: string, script: string): Promise<void> {
  await cluster.query(`CREATE DATABASE ${ident(db)}`);
  await cluster.query(script, [], db);
}

/** How long a canceled migration may take to release what it made and end. */
const CANCEL_SETTLE_MS = 90_000;

/**
 * Cancels the migrations still running in a target's control catalog, closes the fallback windows
 * still open, and waits until they end. Only a migration whose runner holds its lease can end: one
 * registered and never run, or whose runner was killed, stays as it is, and waiting for it would
 * only delay the leak check that names what it left.
 */
export async function endUnfinished(target: Cluster): Promise<void> {
  // plain reads: the catalog's own connection retries a server that is down for a minute
  const unfinished = async (): Promise<{ name: string; active: boolean }[]> =>
    target
      .query<{ name: string; active: boolean }>(
        `SELECT name, active FROM (
           SELECT m.name, m.state <> ALL ($1::text[]) AS active,
                  EXISTS (SELECT 1 FROM pgferry.fallback_window w
                           WHERE w.migration = m.name AND w.state IN ('Opening', 'Open', 'Stopped')) AS window_open,
                  ${RUNNER_LOCKED_SQL} AS locked
             FROM pgferry.migration m) u
          WHERE (active OR window_open) AND locked`,
        [[...FINAL_STATES]],
      )
      .catch(() => []);
  const first = await unfinished();
  if (first.length === 0) return;
  for (const m of first) {
    const end = m.active ? cancelMigration : closeFallbackWindow;
    await end(serverSpec(target), m.name).catch(() => undefined);
  }
  const names = first.map((m) => m.name);
  const deadline = Date.now() + CANCEL_SETTLE_MS;
  while (Date.now() < deadline && (await unfinished()).some((m) => names.includes(m.name))) {
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** A pair this process started and has not stopped, with the leftovers told under a failed test. */
interface LivePair {
  readonly source: Cluster;
  readonly target: Cluster;
  readonly excused: Set<string>;
}

const livePairs = new Set<LivePair>();

/** How long releaseAfterFailure may take: the cancel of what the failed test left running, and the reads around it. */
export const RELEASE_AFTER_FAILURE_MS = CANCEL_SETTLE_MS + 30_000;

/**
 * Called by the root hooks after a failed test: one failure reports one failure. The migrations
 * the test left running on this process's pairs are canceled (their release gives back what they
 * made), and whatever is still left is returned, to be told under that test, and excused from the
 * pair's after-all check, which would otherwise report it as a second failure. What a later test
 * leaves, failing or passing, is judged as ever.
 */
export async function releaseAfterFailure(): Promise<string[]> {
  const running = runningClusters();
  const pairs = [...livePairs].filter((p) => running.includes(p.source) && running.includes(p.target));
  const told = await Promise.all(
    pairs.map(async (pair) => {
      await endUnfinished(pair.target);
      // no settling: what ends a moment later is excused in vain, and nothing more
      const leaks = await leftNow({ source: pair.source, target: pair.target }, pair.excused);
      for (const leak of leaks) pair.excused.add(leak);
      return leaks;
    }),
  );
  return [...new Set(told.flat())];
}

let uniqueCounter = 0;
/** A name unique within this test run, for databases and migrations. */
export function uniqueName(prefix: string): string {
  uniqueCounter += 1;
  return `${prefix}-${process.pid}-${uniqueCounter}`;
}

/** A parsed migration spec from a pair's superusers; `extra` adds or overrides spec inputs. */
export function pairSpec(pair: ServerPair, name: string, databases: readonly string[], extra: Record<string, unknown> = {}): MigrationSpec {
  return parseMigrationSpec({
    migrationName: name,
    source: serverSpec(pair.source),
    target: serverSpec(pair.target),
    databases: [...databases],
    ...extra,
  });
}

/** Makes a tablespace on `cluster` in a directory its server's OS user owns, beside its data directory. */
export async function createTablespace(cluster: Cluster, name: string): Promise<void> {
  const dir = path.join(path.dirname(cluster.dataDir), name);
  await fs.mkdir(dir, { recursive: true });
  const owner = await fs.stat(cluster.dataDir);
  await fs.chown(dir, owner.uid, owner.gid);
  await cluster.query(`CREATE TABLESPACE ${ident(name)} LOCATION ${literal(dir)}`);
}

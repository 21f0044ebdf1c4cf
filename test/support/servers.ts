// Server pairs for integration suites, plus ServerSpec helpers for pointing the engine at them.
import { parseMigrationSpec } from '../../provider/engine/input/parse';
import type { MigrationSpec, ServerSpec } from '../../provider/engine/input/migrationSpec';
import { startCluster, type Cluster, type PgMajor } from '../../provider/localpg/cluster';
import { cancelMigration, closeFallbackWindow } from '../../provider/engine/apiRequests';
import { leftBehind } from './leaks';
import { RUNNER_LOCKED_SQL } from '../../provider/engine/control/store';
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
   * running (a failed test's, whose failure is already reported) is canceled first and a fallback
   * window left open is closed (endUnfinished), so that what is judged is what its release leaves,
   * not what it holds while it runs.
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
  return {
    source,
    target,
    async stop() {
      await endUnfinished(target);
      const leaks = await leftBehind({ source, target });
      await Promise.all([source.stop(), target.stop()]);
      if (leaks.length > 0) throw new Error(`the suite left behind: ${leaks.join('; ')}`);
    },
  };
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

// The leak check run when a suite stops its servers: a migration that ended (succeeded, failed,
// canceled) must leave no replication slot, publication or replication origin on either server,
// and no runner process behind it. A suite that leaves one fails its `after all` hook, naming it.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Cluster } from '../../provider/localpg/cluster';

/** What pgferry leaves on a cluster if it leaks: slots, origins, publications (in every database). */
async function leftOnCluster(cluster: Cluster, label: string): Promise<string[]> {
  const found: string[] = [];
  const slots = await cluster.query<{ slot_name: string }>('SELECT slot_name FROM pg_replication_slots');
  found.push(...slots.map((s) => `${label}: replication slot ${s.slot_name}`));
  const origins = await cluster.query<{ roname: string }>('SELECT roname FROM pg_replication_origin');
  found.push(...origins.map((o) => `${label}: replication origin ${o.roname}`));
  const databases = await cluster.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate');
  for (const { datname } of databases) {
    const publications = await cluster.query<{ pubname: string }>('SELECT pubname FROM pg_publication', [], datname);
    found.push(...publications.map((p) => `${label}: publication ${p.pubname} in database ${datname}`));
  }
  return found;
}

/** This checkout's runner script: runners of other checkouts on the machine are not this run's. */
const RUNNER_SCRIPT = join(__dirname, '..', '..', 'provider', 'engine', 'runner', 'main.js');

/**
 * The environment variable that marks the runners a test process starts: runners inherit the
 * environment of whoever spawns them (this process, or a pgferry command or provider it runs), so
 * in parallel mode each mocha worker counts only its own suite's runners, not those of the suite
 * running beside it. Not a PG* name: test/cli/helpers.ts keeps PG* variables from the commands.
 */
const OWNER_VARIABLE = 'TEST_RUNNER_OWNER';

/** Marks this process as the owner of the runners it (or its children) start from now on. */
export function ownRunnersStartedHere(): void {
  process.env[OWNER_VARIABLE] = String(process.pid);
}

function readProc(pid: string, file: 'cmdline' | 'environ'): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8').split('\0');
  } catch {
    return undefined; // the process ended while we looked
  }
}

/** Runner processes of this checkout that this test process started, still alive. */
function liveRunners(): string[] {
  const owner = `${OWNER_VARIABLE}=${process.env[OWNER_VARIABLE] ?? String(process.pid)}`;
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = readProc(entry, 'cmdline')?.join(' ').trim();
    if (!cmdline?.includes(RUNNER_SCRIPT) || !readProc(entry, 'environ')?.includes(owner)) continue;
    found.push(`runner process ${entry}: ${cmdline.slice(0, 120)}`);
  }
  return found;
}

/** What is left on these clusters, and runner processes, now, but the leftovers `excused`. */
export async function leftNow(clusters: Readonly<Record<string, Cluster>>, excused: ReadonlySet<string>): Promise<string[]> {
  const found: string[] = [];
  for (const [label, cluster] of Object.entries(clusters)) {
    found.push(...(await leftOnCluster(cluster, label).catch((e: unknown) => [`${label}: leak check failed: ${String(e)}`])));
  }
  return [...found, ...liveRunners()].filter((leak) => !excused.has(leak));
}

/** How long a runner that was told to end (cancel, cutover done) may take to release and exit. */
const SETTLE_MS = 15_000;

/**
 * Everything left behind on these clusters, and runner processes, once settled; empty when clean.
 * `excused`: leftovers already told under a failed test (support/servers.ts), neither waited for
 * nor returned.
 */
export async function leftBehind(clusters: Readonly<Record<string, Cluster>>, excused: ReadonlySet<string> = new Set()): Promise<string[]> {
  const deadline = Date.now() + SETTLE_MS;
  for (;;) {
    const found = await leftNow(clusters, excused);
    if (found.length === 0 || Date.now() > deadline) return found;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

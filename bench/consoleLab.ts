// A developer's lab for issue 51's bench line (not part of `npm run bench`): the console's pages
// with 1,000 migrations in the target's catalog, half finished and half in progress, two
// databases each. Times the grid (All) and a migration's page (the median and the worst of 50
// GETs), and the console watch's readings of the catalog (what the target pays): of the migrations
// in progress, and of all.
//   node dist/bench/consoleLab.js
import { performance } from 'node:perf_hooks';
import { startConsole } from '../provider/console/command';
import { parseMigrationSpec, type ServerSpec, list } from '../provider/engine';
import { CatalogConnection, register, setState } from '../provider/engine/internal';
import { startCluster, stopAllClusters } from '../provider/localpg/cluster';
import os from 'node:os';

const MIGRATIONS = 1_000;
const REQUESTS = 50;

function log(line: string): void {
  process.stderr.write(`[console ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

/** The median and the worst of `n` timed calls, in ms. */
async function timed(n: number, call: () => Promise<unknown>): Promise<{ median: number; worst: number }> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await call();
    ms.push(performance.now() - start);
  }
  ms.sort((a, b) => a - b);
  return { median: ms[Math.floor(n / 2)]!, worst: ms[n - 1]! };
}

async function fill(target: ServerSpec): Promise<void> {
  const store = new CatalogConnection(target);
  try {
    for (let i = 0; i < MIGRATIONS; i++) {
      const name = `lab-${String(i).padStart(4, '0')}`;
      await register(
        store,
        parseMigrationSpec({
          migrationName: name,
          source: { host: 'source.invalid', user: 'postgres', password: 'unused' },
          target,
          databases: ['alpha', 'beta'],
          mode: i % 2 === 0 ? 'Online' : 'Offline',
        }),
      );
      if (i % 2 === 1) await setState(store, name, 'Succeeded', 'Completed');
    }
  } finally {
    await store.close();
  }
}

async function main(): Promise<void> {
  const cluster = await startCluster({ major: 16, label: 'console-lab' });
  const target: ServerSpec = {
    host: cluster.host,
    port: cluster.port,
    user: cluster.user,
    password: cluster.password,
    sslMode: 'disable',
    maintenanceDatabase: 'postgres',
  };
  try {
    log(`registering ${MIGRATIONS} migrations ...`);
    await fill(target);
    const store = new CatalogConnection(target);
    const active = await timed(5, () => list(store, 'active'));
    const reading = await timed(5, () => list(store, 'all'));
    await store.close();
    const running = await startConsole({ target, port: 0 });
    const base = new URL(running.url).origin;
    const get = (path: string) => async () => {
      const response = await fetch(`${base}${path}`);
      if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
      await response.arrayBuffer();
    };
    const grid = await timed(REQUESTS, get('/api/migrations?filter=all'));
    const page = await timed(REQUESTS, get('/api/migrations/lab-0500'));
    await running.close();
    console.log(
      `console, ${MIGRATIONS} migrations (${os.cpus().length} CPUs): grid ${grid.median.toFixed(1)} ms median, ${grid.worst.toFixed(1)} ms worst; ` +
        `a migration's page ${page.median.toFixed(1)} ms median, ${page.worst.toFixed(1)} ms worst; ` +
        `one reading of the catalog: the ${MIGRATIONS / 2} in progress (every 2 s or 5x its time) ${active.median.toFixed(0)} ms median, ${active.worst.toFixed(0)} ms worst, ` +
        `all (every 15th reading) ${reading.median.toFixed(0)} ms median, ${reading.worst.toFixed(0)} ms worst`,
    );
  } finally {
    await stopAllClusters();
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

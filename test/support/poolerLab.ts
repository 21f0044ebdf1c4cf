// The servers of a suite that switches through the pooler (the cutover and the fall-back through
// PgBouncer, docs/pooler.md): a pair of servers, an application's role, databases each with a table
// of rows and the table the application writes (`writes`: n, at_port), and a real PgBouncer in
// front of the source; and what such a suite reads of them: where the pooler sends a database, where
// its file's line points, the writes on a server, and a runner killed at each step in turn.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { isFinalState, resumeMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import type { MigrationSpec } from '../../provider/engine/input/migrationSpec';
import type { MigrationStatus } from '../../provider/engine/core/model';
import { pairSpec, startPair, type ServerPair } from './servers';
import { waitForStatus } from './wait';
import { createPooledDatabase, startPgBouncer, type PgBouncer } from './pgbouncer';
import type { PooledWriter } from './pooledWriter';

/** The application that writes through the pooler. */
export interface PoolerApp {
  readonly user: string;
  readonly password: string;
}

export interface PoolerServers {
  readonly pair: ServerPair;
  readonly pooler: PgBouncer;
  readonly store: CatalogConnection;
}

/**
 * Starts the servers: each database with `items` (`rows` rows, id and note) and `writes`, which the
 * application may insert into; the pooler serving each database from the source. Its held queries
 * wait as long as a pause lasts (runners killed and resumed while paused outlast PgBouncer's default
 * query_wait_timeout, whose error would be the pooler's own, not pgferry's).
 */
export async function startPoolerServers(databases: readonly string[], app: PoolerApp, rows: number): Promise<PoolerServers> {
  const pair = await startPair();
  await pair.source.query(`CREATE ROLE ${app.user} LOGIN PASSWORD '${app.password}'`);
  for (const db of databases) await createPooledDatabase(pair.source, db, app.user, rows);
  const source = { host: pair.source.host, port: pair.source.port };
  const pooler = await startPgBouncer({
    databases: Object.fromEntries(databases.map((db) => [db, source])),
    users: { [app.user]: app.password },
    queryWaitTimeoutSeconds: 0,
  });
  return { pair, pooler, store: new CatalogConnection(pairSpec(pair, 'x', ['x']).target) };
}

export async function stopPoolerServers(servers: PoolerServers | undefined): Promise<void> {
  await servers?.store.close();
  await servers?.pooler.stop();
  await servers?.pair.stop();
}

/** Where the pooler sends a database now, and whether it is paused (its admin console). */
export async function pooledAt(pooler: PgBouncer, db: string): Promise<{ port: number; paused: number }> {
  const row = (await pooler.admin<{ name: string; port: number; paused: number }>('SHOW DATABASES')).find((r) => r.name === db)!;
  return { port: Number(row.port), paused: Number(row.paused) };
}

/** The configuration file's line of `db`, pointing at `port`. */
export function lineTo(db: string, port: number): RegExp {
  return new RegExp(`^${db} = host=127\\.0\\.0\\.1 port=${port} dbname=${db}$`, 'm');
}

/** The application's writes on one server, ascending. */
export async function writesOn(cluster: ServerPair['source'], db: string): Promise<number[]> {
  return (await cluster.query<{ n: number }>('SELECT n FROM writes ORDER BY n', [], db)).map((r) => r.n);
}

/** Runs fn with PGFERRY_FAILPOINTS set (the runner it starts inherits it). */
export async function withFailpoints<T>(failpoints: string | undefined, fn: () => Promise<T>): Promise<T> {
  if (failpoints) process.env.PGFERRY_FAILPOINTS = failpoints;
  try {
    return await fn();
  } finally {
    delete process.env.PGFERRY_FAILPOINTS;
  }
}

/** Whether what a runner was killed in is over (a cutover: the migration ended; a fall-back: its window fell back). */
export type Ended = (status: MigrationStatus) => boolean;

const migrationEnded: Ended = (x) => isFinalState(x.state);

/** Waits until the runner after `pid` (a new one, or the first) is seen stopped, before `ended`; its pid. */
export async function stoppedAfter(
  store: CatalogConnection,
  s: MigrationSpec,
  pid: number | undefined,
  ended: Ended = migrationEnded,
): Promise<number> {
  const st = await waitForStatus(store, s.migrationName, (x) => (x.runner?.alive === false && x.runner.pid !== pid) || ended(x), 420_000);
  assert.ok(!ended(st), `the runner was to stop at a failpoint, but it got to the end: ${st.state} ${st.message ?? ''}`);
  return st.runner!.pid;
}

/** A step a runner is killed at, and what the pooler must show right then: paused, the server it sends the database to, where its file's line points. */
export interface KillStep {
  readonly step: string;
  readonly paused: 0 | 1;
  readonly serving: 'source' | 'target';
  readonly file: 'source' | 'target';
}

/**
 * A runner killed at each step in turn (the first armed by the caller), each time resumed with the
 * next failpoint armed: at each kill the pooler is read against the step (then `atKill` acts while
 * the runner is down), and the writer is held
 * while paused, or goes on where the pooler was resumed. The caller's last resume finishes it.
 */
export async function killedAtEachStep(
  servers: PoolerServers,
  s: MigrationSpec,
  db: string,
  steps: readonly KillStep[],
  w: PooledWriter,
  ended: Ended = migrationEnded,
  atKill?: (at: KillStep) => Promise<void>,
): Promise<void> {
  let pid: number | undefined;
  for (const [i, at] of steps.entries()) {
    // the runner may reach its failpoint before the resume has seen it start: that death is the step's own
    if (i > 0)
      await withFailpoints(`${at.step}:${db}`, () =>
        resumeMigration(s).then(
          () => undefined,
          (error: unknown) => {
            if (!(error as Error).message.startsWith(`the runner for "${s.migrationName}" exited with code null`)) throw error;
          },
        ),
      );
    pid = await stoppedAfter(servers.store, s, pid, ended);
    const port = (where: 'source' | 'target') => servers.pair[where].port;
    assert.deepEqual(await pooledAt(servers.pooler, db), { port: port(at.serving), paused: at.paused }, `killed at ${at.step}`);
    assert.match(await fs.readFile(servers.pooler.configFile, 'utf8'), lineTo(db, port(at.file)), `killed at ${at.step}: the file`);
    await atKill?.(at);
    if (at.paused === 1) {
      const heldAt = w.committed.length;
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(w.committed.length, heldAt, `killed at ${at.step}: the writer waits while paused`);
    } else await w.more(5); // resumed: the writer goes on, there
  }
}

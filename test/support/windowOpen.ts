// The setup every fallback-window test starts from: an online migration, made on the source from a
// script, cut over with a fallback window, returned once the window is Open (the reverse stream
// applies the new server's writes to the old source); and the steps the window tests repeat: a
// write in a writable transaction (the old source is fenced read-only), a wait for the reverse
// stream, and the ends of a fall-back (asked and settled, stopped before its point of no return, or
// fell back with a table alike on both servers). The suite's servers are servers.ts's suiteServers.
import assert from 'node:assert/strict';
import { isFinalState, requestCutover, requestFallBack, startMigration } from '../../provider/engine';
import type { CatalogConnection } from '../../provider/engine/control/connection';
import { fallbackWindows } from '../../provider/engine/control/fallbackWindows';
import type { MigrationStatus } from '../../provider/engine/core/model';
import type { MigrationSpec } from '../../provider/engine/input/migrationSpec';
import type { Cluster } from '../../provider/localpg/cluster';
import { makeDatabase, pairSpec, serverSpec, type ServerPair, type SuiteServers } from './servers';
import { fallBackSettles, until, waitForStatus } from './wait';

/** The source's table most window tests migrate: `notes`, 50 rows. */
export const NOTES_SETUP = `
CREATE TABLE notes (id int PRIMARY KEY, v text);
INSERT INTO notes SELECT g, 'before' FROM generate_series(1, 50) g;`;

export interface WindowOpenOptions {
  /** The spec's inputs beside the online ones with a one-hour window (e.g. allowReplicaIdentityFull). */
  readonly spec?: Record<string, unknown>;
  /** Done while the migration streams, before its cutover is asked (a table made there, a DBA's on the target). */
  readonly whileStreaming?: (spec: MigrationSpec) => Promise<void>;
  /** PGFERRY_FAILPOINTS for the runner started here (set only while it starts): a step of its fall-back armed. */
  readonly failpoints?: string;
  /** Done right after the migration is started, before it is waited for (an agent that runs it started). */
  readonly afterStart?: () => Promise<void>;
  /** How long each wait on the migration's state may take (default waitForStatus's). */
  readonly waitMs?: number;
}

/**
 * Makes `db` on the source with `setup`, migrates it online with a fallback window of an hour, cuts
 * over (Succeeded, asserted) and waits for the window to be Open. Returns the migration's spec.
 */
export async function cutOverWithWindow(
  pair: ServerPair,
  store: CatalogConnection,
  name: string,
  db: string,
  setup: string,
  options: WindowOpenOptions = {},
): Promise<MigrationSpec> {
  return cutOverWithWindows(pair, store, name, [db], setup, options);
}

/** cutOverWithWindow for a migration of several databases, each made from `setup`: returns once every window is Open. */
export async function cutOverWithWindows(
  pair: ServerPair,
  store: CatalogConnection,
  name: string,
  dbs: readonly string[],
  setup: string,
  options: WindowOpenOptions = {},
): Promise<MigrationSpec> {
  for (const db of dbs) {
    await makeDatabase(pair.source, db, setup);
  }
  const spec = pairSpec(pair, name, dbs, { mode: 'Online', option: 'Migrate', fenceWriters: true, fallbackWindow: '1h', ...options.spec });
  await startArmed(spec, options.failpoints);
  await options.afterStart?.();
  await waitForStatus(store, name, (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state), options.waitMs);
  await options.whileStreaming?.(spec);
  await requestCutover(spec.target, name);
  const cutOver = await waitForStatus(store, name, (s) => isFinalState(s.state), options.waitMs);
  assert.equal(cutOver.state, 'Succeeded', cutOver.message);
  await until(dbs.length === 1 ? 'the window open' : 'every window open', async () =>
    (await fallbackWindows(store, name)).filter((w) => w.state === 'Open').length === dbs.length ? true : undefined,
  );
  return spec;
}

/** Starts the migration's runner, with `failpoints` in its environment when given (this process's taken back at once). */
async function startArmed(spec: MigrationSpec, failpoints: string | undefined): Promise<void> {
  if (failpoints === undefined) return void (await startMigration(spec));
  process.env.PGFERRY_FAILPOINTS = failpoints;
  try {
    await startMigration(spec);
  } finally {
    delete process.env.PGFERRY_FAILPOINTS;
  }
}

/** A probe for `until`: true once the window of the one database of `name` is in `state`. */
export function windowIs(store: CatalogConnection, name: string, state: 'Open' | 'Stopped'): () => Promise<true | undefined> {
  return async () => ((await fallbackWindows(store, name))[0]?.state === state ? true : undefined);
}

/**
 * Waits for the window of the one database of `name` to be Stopped (its reverse stream stopped) and
 * returns its message, asserted to be one line.
 */
export async function stoppedWindowMessage(store: CatalogConnection, name: string, timeoutMs = 180_000): Promise<string> {
  const window = await until(
    'the reverse stream stopped',
    async () => {
      const [w] = await fallbackWindows(store, name);
      return w?.state === 'Stopped' ? w : undefined;
    },
    timeoutMs,
  );
  const message = window.message ?? '';
  assert.ok(!message.includes('\n'), `one line: ${message}`);
  return message;
}

/** Runs `sql` on one server in a writable transaction of its own (the old source is fenced read-only; a DDL passes the fence). */
export async function writeReadWrite(cluster: Cluster, db: string, sql: string): Promise<void> {
  const client = await cluster.connect(db);
  try {
    await client.query(`BEGIN READ WRITE; ${sql}; COMMIT`);
  } finally {
    await client.end();
  }
}

/** Waits until the reverse stream has brought a write of the window to the old source: `sql` there returns `rows` rows. */
export async function onOldSource(pair: ServerPair, db: string, what: string, sql: string, rows = 1): Promise<void> {
  await until(what, async () => ((await pair.source.query(sql, [], db)).length === rows ? true : undefined), 180_000);
}

/** Each row of `table` on one server as text, sorted as text; undefined when the server has no such table. */
export async function windowRows(cluster: Cluster, db: string, table: string): Promise<string[] | undefined> {
  const [exists] = await cluster.query<{ e: boolean }>('SELECT to_regclass($1) IS NOT NULL AS e', [`public.${table}`], db);
  if (!exists!.e) return undefined;
  const rows = await cluster.query<{ r: string }>(`SELECT t::text AS r FROM public.${table} AS t ORDER BY 1`, [], db);
  return rows.map((r) => r.r);
}

/**
 * Asks a fall-back of the one database of `name` and waits for it to settle: it must stop before its
 * point of no return, the window Open again with a one-line message `fall-back stopped: ...`, which
 * is returned. `seen`: what the failure message adds (the old source as the test reads it).
 */
export async function fallBackStopped(servers: SuiteServers, name: string, seen: () => Promise<string> = async () => ''): Promise<string> {
  const settled = await askFallBack(servers, name);
  const [window] = await fallbackWindows(servers.store, name);
  const message = window!.message ?? '';
  if (window!.state !== 'Open') {
    assert.fail(
      `the fall-back did not pass its point of no return (${settled.databases[0]!.fallback!.state}: ${message}); ${await seen()}`,
    );
  }
  assert.ok(!message.includes('\n'), `one line: ${message}`);
  assert.match(message, /^fall-back stopped: /);
  return message;
}

/** Falls back the one database of `name`: the window FellBack, and `table` read back alike on both servers; returns its rows on the old source. */
export async function fellBackAlike(servers: SuiteServers, name: string, db: string, table: string): Promise<string[]> {
  const { pair } = servers;
  const fellBack = await askFallBack(servers, name);
  assert.equal(fellBack.databases[0]!.fallback!.state, 'FellBack', fellBack.databases[0]!.fallback!.message);
  const carried = await windowRows(pair.source, db, table);
  assert.deepEqual(carried, await windowRows(pair.target, db, table), `every row of ${table} on the old source, each once`);
  return carried!;
}

/** Asks a fall-back of `name` and waits until it settles (fell back, or stopped with the stream going on): the catalog's status then. */
export async function askFallBack(servers: SuiteServers, name: string): Promise<MigrationStatus> {
  await requestFallBack(serverSpec(servers.pair.target), name);
  return fallBackSettles(servers.store, name);
}

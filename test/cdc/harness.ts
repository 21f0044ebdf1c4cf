// Shared fixture for CDC integration tests: a database with the same DDL on a source and a target
// cluster, slot + publication, an applier, and row-by-row comparison of the two sides; and the
// release of all of it when a suite ends (stopCdcPair), so the pair's leak check holds.
import assert from 'node:assert/strict';
import type pg from 'pg';
import { isPgferryError } from '../../provider/engine/core/errors';
import { Applier, type ApplierOptions } from '../../provider/engine/cdc/apply/applier';
import { ensurePublication } from '../../provider/engine/cdc/prepare/publication';
import { createSlotWithSnapshot, dropSlotAndPublication, type ExportedSlot } from '../../provider/engine/footprint/slotAndPublication';
import { ident, literal } from '../../provider/engine/connect/quote';
import { cutoverMessagePrefix, originName, publicationName, slotName } from '../../provider/engine/core/names';
import type { MigrationSpec, ServerSpec } from '../../provider/engine/input/migrationSpec';
import { requestCutover, runMigration, startMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import type { MigrationStatus } from '../../provider/engine/core/model';
import { openClient } from '../../provider/engine/connect/client';
import {
  endIfRunning,
  makeDatabase,
  makeManagedTarget,
  pairSpec,
  serverSpec,
  startSourceWriter,
  uniqueName,
  until,
  waitForStatus,
  waitingForCutover,
  writerPause,
  type Cluster,
  type ServerPair,
  type SourceWriter,
} from '../support';

export interface CdcDb {
  readonly source: Cluster;
  readonly target: Cluster;
  readonly db: string;
  readonly migration: string;
  readonly sourceSpec: ServerSpec;
  readonly targetSpec: ServerSpec;
  src(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  dst(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
}

/** The kinds of target every online scenario runs against. */
export const TARGET_KINDS = ['superuser', 'managed'] as const;

/**
 * - superuser: the target cluster's superuser applies (session_replication_role = replica).
 * - managed: an Azure-like admin (test/support/managed.ts) owns the target database and creates
 *   its tables, and applies without replica role (triggers silenced by pgferry, foreign keys checked).
 */
export type TargetKind = (typeof TARGET_KINDS)[number];

export interface DbOptions {
  /** Who owns and applies to the target database (default superuser). */
  readonly target?: TargetKind;
  /** Both databases in this server encoding (C locale) instead of the cluster's default. */
  readonly encoding?: 'LATIN1' | 'SQL_ASCII' | 'UTF8';
}

/** Databases setupDb made and appliers startApplier started, until stopCdcPair releases them. */
const created: CdcDb[] = [];
const started = new Map<Running, CdcDb>();

/** Runs SQL on a database as the given server's user (a managed admin, where the fixture needs one). */
async function runAs(spec: ServerSpec, db: string, sql: string): Promise<void> {
  const client = await openClient(spec, { database: db });
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A database with the same DDL on source and target; the target's DDL runs as its applying user. */
export async function setupDb(source: Cluster, target: Cluster, ddl: string, options: DbOptions = {}): Promise<CdcDb> {
  const db = uniqueName('cdc').replace(/-/g, '_');
  const { encoding } = options;
  const create = encoding ? ` TEMPLATE template0 ENCODING ${literal(encoding)} LC_COLLATE 'C' LC_CTYPE 'C'` : '';
  const targetSpec = options.target === 'managed' ? await makeManagedTarget(target) : serverSpec(target, { sslMode: 'disable' });
  await source.query(`CREATE DATABASE ${ident(db)}${create}`);
  await target.query(`CREATE DATABASE ${ident(db)}${create} OWNER ${ident(targetSpec.user)}`);
  if (ddl) {
    await source.query(ddl, [], db);
    await runAs(targetSpec, db, ddl);
  }
  const f: CdcDb = {
    source,
    target,
    db,
    migration: uniqueName('m'),
    sourceSpec: serverSpec(source, { sslMode: 'disable' }),
    targetSpec,
    src: (sql, params) => source.query(sql, params, db),
    dst: (sql, params) => target.query(sql, params, db),
  };
  created.push(f);
  return f;
}

export async function createSlot(f: CdcDb): Promise<ExportedSlot> {
  const client = await f.source.connect(f.db);
  try {
    await ensurePublication(client, publicationName(f.migration, f.db));
  } finally {
    await client.end();
  }
  return createSlotWithSnapshot(f.sourceSpec, f.db, slotName(f.migration, f.db));
}

export function applierOptions(f: CdcDb, extra: Partial<ApplierOptions> = {}): ApplierOptions {
  return {
    source: f.sourceSpec,
    target: f.targetSpec,
    database: f.db,
    slot: slotName(f.migration, f.db),
    publication: publicationName(f.migration, f.db),
    origin: originName(f.migration, f.db),
    migration: f.migration,
    cutoverPrefix: cutoverMessagePrefix(f.migration),
    commitMs: 100,
    ...extra,
  };
}

export interface Running {
  readonly applier: Applier;
  readonly done: Promise<string>;
}

export function startApplier(f: CdcDb, extra: Partial<ApplierOptions> = {}): Running {
  const applier = new Applier(applierOptions(f, extra));
  const done = applier.run();
  done.catch(() => undefined);
  const running = { applier, done };
  started.set(running, f);
  return running;
}

let markers = 0;
/** Emits a cutover marker on the source and waits until the applier has applied it and stopped. */
export async function drain(f: CdcDb, running: Running, timeoutMs = 60_000): Promise<void> {
  const token = `drain-${process.pid}-${++markers}`;
  running.applier.stopAtMarker(token);
  await f.src('SELECT pg_logical_emit_message(true, $1, $2)', [cutoverMessagePrefix(f.migration), token]);
  const result = await Promise.race([
    running.done,
    new Promise<string>((_, rej) => setTimeout(() => rej(new Error('drain timed out')), timeoutMs)),
  ]);
  assert.equal(result, 'cutover');
}

/** Every row of a table as text, sorted: equal arrays mean equal tables. */
export async function rowsOf(cluster: Cluster, db: string, table: string): Promise<string[]> {
  const rows = await cluster.query<{ r: string }>(`SELECT whole_row_::text AS r FROM ${table} AS whole_row_`, [], db);
  return rows.map((r) => r.r).sort();
}

export async function assertSame(f: CdcDb, tables: readonly string[]): Promise<void> {
  for (const table of tables) {
    const [a, b] = await Promise.all([rowsOf(f.source, f.db, table), rowsOf(f.target, f.db, table)]);
    assert.equal(b.length, a.length, `${table}: ${b.length} rows on the target, ${a.length} on the source`);
    assert.deepEqual(b, a, `${table} differs`);
  }
}

/**
 * The ids of `table` on both servers compared as sets: which are missing on the target and which
 * it has extra, named first (a lost or repeated change says itself before the whole-table compare).
 */
export async function assertSameIds(f: CdcDb, table: string, context: string): Promise<void> {
  const ids = async (side: (sql: string) => Promise<Record<string, unknown>[]>): Promise<Set<number>> =>
    new Set((await side(`SELECT id::int AS id FROM ${table}`)).map((r) => r.id as number));
  const [want, got] = await Promise.all([ids((sql) => f.src(sql)), ids((sql) => f.dst(sql))]);
  const missing = [...want].filter((id) => !got.has(id));
  const extra = [...got].filter((id) => !want.has(id));
  assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, `${table} ids differ\n${context}`);
}

/** Copies tables' rows as of the exported snapshot (stands in for the copy phase). */
export async function copyAtSnapshot(f: CdcDb, snapshot: string, tables: readonly string[]): Promise<void> {
  const src = await f.source.connect(f.db);
  const dst = await f.target.connect(f.db);
  try {
    await src.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await src.query(`SET TRANSACTION SNAPSHOT '${snapshot.replace(/'/g, "''")}'`);
    for (const table of tables) {
      const { rows } = await src.query<{ j: string }>(`SELECT json_agg(whole_row_)::text AS j FROM ${table} AS whole_row_`);
      if (rows[0]!.j) await dst.query(`INSERT INTO ${table} SELECT * FROM json_populate_recordset(NULL::${table}, $1::json)`, [rows[0]!.j]);
    }
    await src.query('COMMIT');
  } finally {
    await src.end();
    await dst.end();
  }
}

/** The table startWriter() writes to: add it to a scenario's DDL and compared tables. */
export const WRITER_DDL = 'CREATE TABLE writer_rows (id int PRIMARY KEY, n int NOT NULL);';
export const WRITER_TABLE = 'writer_rows';

/** An application writing on the source while a scenario runs: inserts, updates and deletes in small transactions. */
export function startWriter(f: CdcDb): SourceWriter {
  return startSourceWriter(f.source, f.db, async (client, n) => {
    await client.query('INSERT INTO writer_rows VALUES ($1, $1)', [n]);
    if (n > 3) await client.query('UPDATE writer_rows SET n = n + 1 WHERE id = $1', [n - 3]);
    if (n % 10 === 0) await client.query('DELETE FROM writer_rows WHERE id = $1', [n - 7]);
  });
}

/** How long a stopped applier may take to end its sessions before the release fails naming it. */
const APPLIER_STOP_MS = 30_000;

async function stopApplier(running: Running, f: CdcDb): Promise<void> {
  running.applier.stop();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`the applier on ${f.db} did not end within ${APPLIER_STOP_MS} ms of stop()`)),
      APPLIER_STOP_MS,
    );
  });
  try {
    await Promise.race([running.done.catch(() => undefined), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Gives back what the harness made outside any migration: the slot and publication on the source
 * (a slot still streaming is ended first), the replication origin on the target (as its superuser:
 * a managed target's admin may not drop origins).
 */
async function releaseDb(f: CdcDb): Promise<void> {
  await dropSlotAndPublication(f.sourceSpec, f.db, slotName(f.migration, f.db), publicationName(f.migration, f.db));
  await f.target.query('SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE roname = $1', [
    originName(f.migration, f.db),
  ]);
}

/** Stops this pair's appliers and releases its databases' slots, publications and origins. */
async function releasePair(pair: ServerPair): Promise<void> {
  for (const [running, f] of started) {
    if (f.source !== pair.source) continue;
    started.delete(running);
    await stopApplier(running, f);
  }
  for (const f of created.filter((c) => c.source === pair.source)) {
    created.splice(created.indexOf(f), 1);
    await releaseDb(f);
  }
}

/**
 * The `after` hook of a suite built on this harness: releases what it made, then stops the servers,
 * whose leak check then fails on anything else left behind (a migration's, pgferry's own).
 */
export async function stopCdcPair(pair: ServerPair | undefined): Promise<void> {
  if (!pair) return;
  try {
    await releasePair(pair);
  } finally {
    await pair.stop();
  }
}

/**
 * Starts an online migration, waits until it has streamed some inserts, and SIGKILLs its runner:
 * the kill lands while the stream applies. Returns the killed runner's pid once it is seen dead.
 */
export async function killRunnerWhileStreaming(
  spec: MigrationSpec,
  store: CatalogConnection,
  signal: NodeJS.Signals = 'SIGKILL',
): Promise<number> {
  await startMigration(spec);
  const streaming = await waitForStatus(store, spec.migrationName, (s) => s.state === 'Failed' || (s.databases[0]?.inserts ?? 0) > 50);
  assert.notEqual(streaming.state, 'Failed', streaming.message);
  const pid = streaming.runner!.pid;
  process.kill(pid, signal);
  await waitForStatus(store, spec.migrationName, (s) => s.runner?.alive === false);
  return pid;
}

/**
 * Asks for the cutover until the runner accepts it: it refuses while the migration is not streaming
 * yet (a resumed runner redoing its checks, a stream tried again after a stop), and any other refusal
 * fails the test. Returns the status the accepted request read back.
 */
export async function askCutoverUntilAccepted(spec: Pick<MigrationSpec, 'target' | 'migrationName'>): Promise<MigrationStatus> {
  return until('the runner to accept the cutover', () =>
    requestCutover(spec.target, spec.migrationName).catch((error: Error & { code?: string }) =>
      error.code === 'CUTOVER_NOT_READY' ? undefined : Promise.reject(error),
    ),
  );
}

/**
 * Asks for the cutover until the runner accepts it, then waits for the migration to end, asserts
 * it Succeeded (naming the verification's first mismatch if there is one) and returns its last status.
 */
export async function cutOverOnceAccepted(
  spec: Pick<MigrationSpec, 'target' | 'migrationName'>,
  store: CatalogConnection,
): Promise<MigrationStatus> {
  await askCutoverUntilAccepted(spec);
  const done = await waitForStatus(store, spec.migrationName, (s) => s.state === 'Succeeded' || s.state === 'Failed');
  assert.equal(done.state, 'Succeeded', `${done.message} ${done.verification?.firstMismatch ?? ''}`);
  return done;
}

/** An online migration's spec over `database`, made on the source from `schema`, and a catalog connection for it; nothing started. */
export async function onlineOver(
  pair: ServerPair,
  name: string,
  database: string,
  schema: string,
): Promise<{ spec: MigrationSpec; store: CatalogConnection }> {
  await makeDatabase(pair.source, database, schema);
  const spec = pairSpec(pair, name, [database], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true });
  return { spec, store: new CatalogConnection(spec.target) };
}

/** A writer that runs `write` with ids counting up from past the copied rows, paced, until stopped. */
export interface IdWriter {
  /** The last id written. */
  last(): number;
  /** Waits for `count` more writes from now (`what` names them in a timeout). */
  more(count: number, what: string): Promise<void>;
  /** Stops the loop and waits for its last write. */
  stop(): Promise<void>;
}

export function writeIds(client: pg.Client, write: (client: pg.Client, id: number) => Promise<unknown>): IdWriter {
  let stopped = false;
  let id = 100_000;
  const writing = (async () => {
    while (!stopped) {
      id += 1;
      await write(client, id);
      await writerPause();
    }
  })();
  return {
    last: () => id,
    more: async (count, what) => {
      const from = id;
      await until(`the writer to commit ${count} ${what}`, async () => (id - from >= count ? true : undefined), 60_000, 20);
    },
    stop: async () => {
      stopped = true;
      await writing;
    },
  };
}

/** An online migration following drops and renames, started on a database made from `schema`, and streaming. */
export interface FollowingMigration {
  readonly spec: MigrationSpec;
  readonly store: CatalogConnection;
  readonly running: Promise<MigrationStatus>;
}

/**
 * Makes `database` on the source from `schema`, starts an online migration of it that follows the
 * source's drops and renames, and returns once it waits for its cutover trigger. The caller ends
 * the run and closes the store.
 */
export async function followingMigration(pair: ServerPair, name: string, database: string, schema: string): Promise<FollowingMigration> {
  await makeDatabase(pair.source, database, schema);
  const spec = pairSpec(pair, name, [database], {
    mode: 'Online',
    option: 'Migrate',
    overwriteDbsInTarget: true,
    tableDropsAndRenames: 'follow',
  });
  const store = new CatalogConnection(spec.target);
  const running = runMigration(spec);
  try {
    await waitingForCutover(store, name);
  } catch (error) {
    await endIfRunning(spec, running);
    await store.close();
    throw error;
  }
  return { spec, store, running };
}

/** Waits for an applier to stop with an error, and returns it. */
export async function stoppedWith(running: Running): Promise<unknown> {
  return Promise.race([
    running.done.then(
      (end) => new Error(`the applier ended with ${end} instead of stopping`),
      (error: unknown) => error,
    ),
    new Promise<Error>((resolve) => setTimeout(() => resolve(new Error('the applier did not stop within 60 s')), 60_000)),
  ]);
}

/** A stop's error: pgferry's, with `code`, its message holding `names` (the table as it prints it). */
export function assertStoppedOn(error: unknown, code: string, names: string): void {
  assert.ok(isPgferryError(error), String(error));
  assert.equal(error.code, code, error.message);
  assert.ok(error.message.includes(names), `${error.message} names ${names}`);
}

// Entry points over the orchestrator and the control catalog. The requests of a migration in
// progress (cancel, cutover and the like) are apiRequests.ts.
import type { QueryResultRow } from 'pg';
import { resourceOwnerOf, setResourceOwner } from './control/resourceOwner';
import { fallbackWindows, windowsNeedRunner } from './control/fallbackWindows';
import { serverMajor, withSession } from './connect/session';
import { CatalogConnection } from './control/connection';
import { PgferryError } from './core/errors';
import { isFinalState, type AzureContext, type MigrationStatus, type MigrationSubState, type VerificationReport } from './core/model';
import { runnerStopped } from './core/statusChecks';
import { dropDatabase, targetDatabaseOid } from './schema/database';
import type { MigrationSpec, PoolerSpec, ServerSpec } from './input/migrationSpec';
import { sameMigration } from './input/publicSpec';
import type { RunOptions } from './run/migrationRun';
import { sideBySide } from './util/sideBySide';
import {
  events as catalogEvents,
  list as catalogStatuses,
  register,
  remove,
  setAzureContext as recordAzureContext,
  tables as catalogTables,
} from './control/store';
import { streamSamples as catalogSamples, type StreamDirection } from './control/streamSamples';
import { shownStatus, withFootprintShown } from './footprint/shown';
import { notifyAgents, requestApplyRetry } from './control/migrationRequests';
import { liveAgentsHolding, poolerKey, serverKey } from './control/agents';
import { leaseHeld } from './runner/lease';

/**
 * Runs a migration in this process. Offline: to a final state. Online: copy, then streaming until
 * a cutover completes or the migration is canceled. Returns the final status from the catalog.
 */
export async function runMigration(spec: MigrationSpec, options: RunOptions = {}): Promise<MigrationStatus> {
  await withStore(spec.target, (store) => register(store, spec));
  const { orchestrate } = await import('./flow/orchestrator');
  return orchestrate(spec, options);
}

/**
 * Registers the migration and starts a detached runner process that performs it, so the work
 * outlives the caller; returns once the runner holds its lease. With runtime agents it only
 * registers: the agents that hold the source's credentials run it.
 */
export async function startMigration(spec: MigrationSpec, options: { resourceOwner?: string } = {}): Promise<void> {
  await withStore(spec.target, (store) => register(store, spec, options));
  // runtime agents: registered is all; `pgferry agent` processes near the target run it
  if (spec.runtime === 'agents') return;
  const { spawnRunner } = await import('./runner/spawn');
  await spawnRunner(spec, 'create');
}

/**
 * Restarts a migration whose runner is gone (killed, machine restarted) from its recorded
 * position, with the caller's credentials; a stream stopped on an error (WaitingForApplyFix) is
 * tried again now, by its live runner or a new one. Refused while a live runner holds the lease
 * otherwise, for a finished migration, and when the spec names other servers or databases than the
 * stored one.
 */
export async function resumeMigration(spec: MigrationSpec): Promise<void> {
  const name = spec.migrationName;
  const status = await showMigration(spec.target, name);
  if (!status) throw notFound(name);
  // a migration cut over with a fallback window still open resumes its reverse stream (or its fall-back),
  // and one whose runner died once a fall-back with --resume-forward completed streams forward again
  const windows = status.state === 'Succeeded' ? await withStore(spec.target, (store) => fallbackWindows(store, name)) : [];
  const windowOpen = windowsNeedRunner(windows);
  if (isFinalState(status.state) && !windowOpen) {
    throw new PgferryError('MIGRATION_FINISHED', `migration "${name}" is already ${status.state}; there is nothing to resume`, {
      category: 'input',
      field: 'name',
    });
  }
  if (!sameMigration(status, spec)) {
    throw new PgferryError('SPEC_MISMATCH', `migration "${name}" was created with other servers, databases or mode than given`, {
      category: 'input',
      field: 'properties',
      fix: 'resume with the properties the migration was created with',
    });
  }
  const stopped = status.subState === 'WaitingForApplyFix' || windows.some((w) => w.state === 'Stopped');
  // a stopped stream, forward or a window's reverse one, is tried again now, by the live runner or by the one started here
  if (stopped) await withStore(spec.target, (store) => requestApplyRetry(store, name));
  // (a migration run in the caller's process has no runner record: its supervisor reads the request too)
  if (stopped && (status.runner === undefined || status.runner.alive)) return;
  // runtime agents: no runner of its own to start; any agent with the credentials takes it up, woken now
  if (status.runtime === 'agents') return withStore(spec.target, (store) => notifyAgents(store, name));
  if (status.runner?.alive) throw leaseHeld(name, status.runner);
  const { spawnRunner } = await import('./runner/spawn');
  await spawnRunner(spec, 'resume');
}

/** Runs `fn` with a control store on `target`, closed afterwards whatever `fn` does. */
export async function withStore<T>(target: ServerSpec, fn: (store: CatalogConnection) => Promise<T>): Promise<T> {
  const store = new CatalogConnection(target);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/**
 * One target's control catalog held open by a caller that reads it again and again (the console's
 * watch, the CLI's progress lines): what the reads below take, closed when done. Its connection and
 * statements stay the engine's (control/connection.ts; pgferry's own tools reach that handle
 * through internal.ts).
 */
export interface ControlCatalog {
  close(): Promise<void>;
}

/** Opens `target`'s control catalog; its connection is made at the first read. */
export function openControlCatalog(target: ServerSpec): ControlCatalog {
  return new CatalogConnection(target);
}

/** The engine's handle behind a caller's: one that openControlCatalog made (or a tool's own). */
function handleOf(catalog: ControlCatalog): CatalogConnection {
  if (catalog instanceof CatalogConnection) return catalog;
  throw new TypeError('a control catalog is opened with openControlCatalog');
}

/**
 * A migration's status as `show` gives it: the control catalog's, with the writer fence and the
 * pooler's pause of each database that has one (the footprint's, footprint/shown.ts).
 */
export function get(catalog: ControlCatalog, name: string): Promise<MigrationStatus | undefined> {
  return shownStatus(handleOf(catalog), name);
}

/** The migrations of a catalog (the active ones, or all), each as `get` gives it. */
export async function list(catalog: ControlCatalog, filter: 'active' | 'all' = 'active'): Promise<MigrationStatus[]> {
  const store = handleOf(catalog);
  return Promise.all((await catalogStatuses(store, filter)).map((status) => withFootprintShown(store, status)));
}

/** A migration's latest events, newest first. */
export function events(catalog: ControlCatalog, name: string, limit?: number): ReturnType<typeof catalogEvents> {
  return catalogEvents(handleOf(catalog), name, limit);
}

/** A migration's tables and their copy progress (`includeQueued`: the tables not begun too). */
export function tables(catalog: ControlCatalog, name: string, options?: { includeQueued?: boolean }): ReturnType<typeof catalogTables> {
  return catalogTables(handleOf(catalog), name, options);
}

/** A migration's stream samples of the last hour in one direction, by database (the console's charts). */
export function streamSamples(catalog: ControlCatalog, name: string, direction?: StreamDirection): ReturnType<typeof catalogSamples> {
  return catalogSamples(handleOf(catalog), name, direction);
}

/** Records the Azure resource a migration is shown as (the CLI's create, the resource's). */
export function setAzureContext(catalog: ControlCatalog, name: string, context: AzureContext): Promise<void> {
  return recordAzureContext(handleOf(catalog), name, context);
}

export async function showMigration(target: ServerSpec, name: string): Promise<MigrationStatus | undefined> {
  return withStore(target, (store) => get(store, name));
}

/**
 * The live agents registered on the target that hold the credentials of every one of these source
 * databases, by name; none when the target has no control catalog yet. One read-only session, tried
 * once: a caller that only wants to choose (a preview) is not held by a target that is down.
 */
export async function agentsAbleToRun(
  target: ServerSpec,
  source: Pick<ServerSpec, 'host' | 'port'>,
  databases: readonly string[],
  connectTimeoutMs?: number,
  pooler?: Pick<PoolerSpec, 'host' | 'port'>,
): Promise<string[]> {
  if (databases.length === 0) return [];
  // a migration through a pooler needs an agent holding the pooler's admin credentials too
  const needs = [...databases.map((d) => serverKey(source.host, source.port, d)), ...(pooler ? [poolerKey(pooler.host, pooler.port)] : [])];
  return withSession(target, { purpose: 'agents', readOnly: true, connectTimeoutMs }, (client) =>
    liveAgentsHolding(
      async <R extends QueryResultRow>(sql: string, params?: unknown[]) => (await client.query<R>(sql, params)).rows,
      needs,
    ),
  );
}

/** The id of the declarative resource that owns the migration (control/resourceOwner.ts); undefined when none does. */
export async function migrationResourceOwner(target: ServerSpec, name: string): Promise<string | undefined> {
  return withStore(target, (store) => resourceOwnerOf(store, name));
}

/** An explicit adoption: `owner` owns the migration from now on, and its earlier owner's delete leaves it. */
export async function adoptMigration(target: ServerSpec, name: string, owner: string): Promise<void> {
  await withStore(target, (store) => setResourceOwner(store, name, owner));
}

/**
 * Online: what each database still has of the footprint to give back, read by the release's own
 * loop (footprint/release.ts) from the ledger and the servers (`show`); a change it cannot read
 * says why, and a source that does not answer within 5 s fails it whole (show prints the status
 * as recorded).
 */
export async function withPendingFootprint(spec: MigrationSpec, status: MigrationStatus): Promise<MigrationStatus> {
  if (status.mode !== 'Online') return status;
  // a source that does not answer is found in seconds, not at each change's own connect timeout
  await withSession(spec.source, { purpose: 'show', readOnly: true, connectTimeoutMs: 5_000 }, (client) => client.query('SELECT 1'));
  const { pendingFootprint } = await import('./footprint/release');
  const { restoreContextOf } = await import('./footprint/change');
  return withStore(spec.target, async (store) => {
    const ctx = { ...restoreContextOf(spec, store), instance: status.instance };
    const databases = [];
    for (const d of status.databases) {
      const pending = await pendingFootprint(ctx, d.database, { tolerant: true });
      databases.push(pending.length > 0 ? { ...d, pendingFootprint: pending } : d);
    }
    return { ...status, databases };
  });
}

export async function listMigrations(target: ServerSpec, filter: 'active' | 'all' = 'active'): Promise<MigrationStatus[]> {
  return withStore(target, (store) => list(store, filter));
}

/** The input error for a migration the target's catalog does not hold. */
export function notFound(name: string): PgferryError {
  return new PgferryError('MIGRATION_NOT_FOUND', `migration "${name}" not found on the target`, {
    category: 'input',
    field: 'name',
    fix: 'check the name with `pgferry list --filter all`',
  });
}

/**
 * After a request that ends a wait (startDataMigration: True): the status once the runner has left
 * `subState`, or has stopped (a resume acts on the request), or after `timeoutMs` as it is then.
 */
export async function leftWait(
  target: ServerSpec,
  name: string,
  subState: MigrationSubState,
  timeoutMs = 30_000,
): Promise<MigrationStatus> {
  const deadline = Date.now() + timeoutMs;
  return waitForMigration(target, name, (s) => s.subState !== subState || runnerStopped(s) || Date.now() > deadline, { intervalMs: 250 });
}

/**
 * Removes what an online migration created: its replication slot and publication in every source
 * database and its replication origin (or progress row) in every target database. Idempotent; a
 * slot still held by a dead runner's walsender is released first. The names come from the
 * migration's record on the target (its instance), so nothing of another migration is touched.
 */
export async function cleanupSource(spec: MigrationSpec): Promise<void> {
  const status = await showMigration(spec.target, spec.migrationName);
  const { releaseStreams } = await import('./footprint/release');
  await releaseStreams(spec, status?.instance);
}

export interface DroppedDatabases {
  readonly dropped: readonly string[];
  /** Databases left in place, each with why. */
  readonly kept: readonly { readonly database: string; readonly reason: string }[];
}

/**
 * Drops the target databases this migration created (Pulumi's dropTargetDatabasesOnDelete): only
 * those whose OID is the one recorded when the migration created them, never a database that was
 * there before (unless the migration replaced it under overwrite) or was created by someone else
 * since. A migration that has cut over (Succeeded) keeps its databases unless `afterCutover`.
 */
export async function dropTargetDatabases(spec: MigrationSpec, options: { afterCutover?: boolean } = {}): Promise<DroppedDatabases> {
  const status = await showMigration(spec.target, spec.migrationName);
  const dropped: string[] = [];
  const kept: { database: string; reason: string }[] = [];
  if (!status)
    return { dropped, kept: spec.databases.map((database) => ({ database, reason: 'the migration is not recorded on the target' })) };
  if (status.state === 'Succeeded' && !options.afterCutover) {
    return {
      dropped,
      kept: spec.databases.map((database) => ({
        database,
        reason: `migration "${spec.migrationName}" has cut over: its databases are in use`,
      })),
    };
  }
  await withSession(spec.target, { purpose: 'cleanup', writable: true }, async (client) => {
    const major = await serverMajor(client);
    for (const db of status.databases) {
      const oid = await targetDatabaseOid(client, db.database);
      if (oid === undefined) continue;
      if (db.targetDatabase?.oid !== oid) {
        kept.push({ database: db.database, reason: 'it was not created by this migration' });
        continue;
      }
      await dropDatabase(client, db.database, major);
      dropped.push(db.database);
    }
  });
  return { dropped, kept };
}

/** Removes a finished migration's record from the control catalog, freeing its name. */
export async function removeMigration(target: ServerSpec, name: string): Promise<void> {
  await withStore(target, async (store) => {
    const status = await get(store, name);
    if (!status) return;
    if (!isFinalState(status.state)) {
      throw new PgferryError('MIGRATION_IN_PROGRESS', `migration "${name}" is ${status.state}; cancel it before removing it`, {
        category: 'input',
        field: 'name',
        fix: '`pgferry update --cancel`, then remove it',
      });
    }
    await remove(store, name);
  });
}

/** Row counts and content checksums of every table, and each database's schema object by object, source vs target, now. */
export async function verifyMigration(spec: MigrationSpec, options: RunOptions = {}): Promise<VerificationReport> {
  const { verifyDatabases } = await import('./verify/verifyTables');
  const { checkSchema, schemaDifferenceMessage } = await import('./verify/schema/checkSchema');
  const { wholeSchemaCheck } = await import('./flow/wholeSchemaCheck');
  // the check a cutover's second look makes: the foreign keys it could not add back left out (they
  // were reported then), and what the target alone has told from the migration's own by the known
  // objects, kept and named; a target without this migration's record is compared with neither
  const schemaChecks = async () => {
    const checks = await withStore(spec.target, (store) =>
      Promise.all(spec.databases.map(async (database) => (await wholeSchemaCheck({ spec, store }, database)).check)),
    ).catch(() => spec.databases.map((database) => () => checkSchema(spec, database, { whileSetAside: false })));
    const done = [];
    for (const check of checks) done.push(await check());
    return done;
  };
  // rows and schema read different things on their own sessions: compared side by side, each to its end
  const [report, schema] = await sideBySide([
    verifyDatabases(spec, { signal: options.signal, onProgress: options.onProgress }),
    schemaChecks(),
  ]);
  const differing = schema.find((s) => s.differences.length > 0);
  return {
    ...report,
    ok: report.ok && differing === undefined,
    firstMismatch: report.firstMismatch ?? (differing && schemaDifferenceMessage(differing)),
    schema,
  };
}

/** Polls the catalog until `done(status)` holds; calls `onStatus` with each status read. */
export async function waitForMigration(
  target: ServerSpec,
  name: string,
  done: (status: MigrationStatus) => boolean,
  options: { intervalMs?: number; signal?: AbortSignal; onStatus?: (status: MigrationStatus) => void; timeoutMs?: number } = {},
): Promise<MigrationStatus> {
  const started = Date.now();
  return withStore(target, async (store) => {
    for (;;) {
      const status = await get(store, name);
      if (!status) throw notFound(name);
      options.onStatus?.(status);
      if (done(status)) return status;
      if (options.signal?.aborted) throw options.signal.reason ?? new Error('aborted');
      if (options.timeoutMs !== undefined && Date.now() - started > options.timeoutMs) {
        throw new PgferryError(
          'WAIT_TIMEOUT',
          `migration "${name}" is still ${status.state}/${status.subState} after ${Math.round(options.timeoutMs / 1000)} s`,
          {
            category: 'internal',
            fix: 'the migration keeps running; check it with `pgferry show`',
          },
        );
      }
      await new Promise((r) => setTimeout(r, options.intervalMs ?? 1000));
    }
  });
}

// The control catalog on the target: migrations are sub-resources of the target server, as in
// Azure. Installed idempotently; holds state, progress, validation and events, never a secret.
// Plain functions over the catalog handle (connection.ts: its one connection and the catalog's
// install), one per statement; the requests made of a migration (cancel, cutover and the like) are
// migrationRequests.ts.
import type pg from 'pg';
import { displayName, ident } from '../connect/quote';
import { PgferryError } from '../core/errors';
import { FINAL_STATES, isFinalState } from '../core/model';
import type { CutoverPlan } from '../core/model';
import { checkStatePair } from '../core/statePairs';
import { checkWindowUsable, databasesWaitMessage, registeredSubState } from '../core/transitions';
import type {
  AzureContext,
  CutoverStep,
  TargetDatabaseAction,
  MigrationState,
  MigrationStatus,
  MigrationSubState,
  TableProgress,
  ValidationResult,
  VerificationReport,
  FallbackStatus,
} from '../core/model';
import { CONTROL_SCHEMA, leaseHolderOf, leaseKey, newInstanceId, type QualifiedName } from '../core/names';
import type { MigrationSpec, Runtime } from '../input/migrationSpec';
import { publicSpec } from '../input/publicSpec';
import { runSpecOf } from '../input/runSpec';
import { agentsFor, poolerKeyOf, sourceKeysOf, waitingReason } from './agents';
import { databasePatchQuery, tablePatchQuery, type DatabasePatch, type TablePatch } from './patches';
import { SELECT_DATABASES, shapeStatus, type DatabaseRow, type MigrationRow } from './status';
import type { CatalogConnection } from './connection';
import {
  fallbackStatuses,
  hasWindows,
  SELECT_WINDOWS,
  statusesOf,
  windowsOf,
  type FallbackWindow,
  type WindowRow,
} from './fallbackWindows';
import { notifyAgents } from './migrationRequests';
import { inTransaction } from '../connect/transaction';

const S = ident(CONTROL_SCHEMA);

export type { DatabasePatch, TablePatch } from './patches';

/**
 * Registers a migration: the one place one is created, by whoever starts it (the library's
 * runMigration, or startMigration before it spawns the runner); the process that then runs it
 * never registers. A name already used on this target is an input error.
 */
export async function register(catalog: CatalogConnection, spec: MigrationSpec, options: { resourceOwner?: string } = {}): Promise<void> {
  const window = { start: spec.migrationWindowStartTimeInUtc, end: spec.migrationWindowEndTimeInUtc };
  checkWindowUsable(window, Date.now());
  await createMigration(catalog, {
    name: spec.migrationName,
    mode: spec.mode,
    option: spec.option,
    spec: publicSpec(spec),
    databases: spec.databases,
    subState: registeredSubState(window, Date.now(), spec.databases.length),
    ...(spec.databases.length === 0 ? { message: databasesWaitMessage(spec.migrationName) } : {}),
    runtime: spec.runtime,
    // what an agent runs it from, with its own credentials (never the caller's passwords)
    ...(spec.runtime === 'agents' ? { runSpec: runSpecOf(spec) } : {}),
    ...(options.resourceOwner === undefined ? {} : { resourceOwner: options.resourceOwner }),
  });
  if (spec.runtime === 'agents') await notifyAgents(catalog, spec.migrationName);
}

/** Registers a new migration row as given (register() does it for a spec); a name already used on this target is an input error. */
export async function createMigration(
  catalog: CatalogConnection,
  args: {
    name: string;
    mode: 'Offline' | 'Online';
    option: 'Validate' | 'Migrate' | 'ValidateAndMigrate';
    spec: Record<string, unknown>;
    databases: readonly string[];
    subState?: MigrationSubState;
    /** What the migration says in that substate (a wait's way out). */
    message?: string;
    runtime?: Runtime;
    runSpec?: Record<string, unknown>;
    /** The id of the declarative resource that creates it (control/resourceOwner.ts). */
    resourceOwner?: string;
  },
): Promise<void> {
  await catalog.install();
  await catalog.exclusive((client) => insertMigration(client, args));
}

async function insertMigration(
  client: pg.Client,
  args: {
    name: string;
    mode: string;
    option: string;
    spec: Record<string, unknown>;
    databases: readonly string[];
    subState?: string;
    message?: string;
    runtime?: Runtime;
    runSpec?: Record<string, unknown>;
    resourceOwner?: string;
  },
): Promise<void> {
  await inTransaction(client, async () => {
    const inserted = await client.query(
      `INSERT INTO ${S}.migration (name, mode, option, spec, state, sub_state, instance, runtime, run_spec, resource_owner, message)
       VALUES ($1, $2, $3, $4::jsonb, 'InProgress', $6, $5, $7, $8::jsonb, $9, $10)
       ON CONFLICT (name) DO NOTHING`,
      [
        args.name,
        args.mode,
        args.option,
        JSON.stringify(args.spec),
        newInstanceId(),
        args.subState ?? 'PerformingPreRequisiteSteps',
        args.runtime ?? 'local',
        args.runSpec === undefined ? null : JSON.stringify(args.runSpec),
        args.resourceOwner ?? null,
        args.message ?? null,
      ],
    );
    if (inserted.rowCount === 0) {
      throw new PgferryError('MIGRATION_NAME_TAKEN', `migration name "${args.name}" is already used on this target`, {
        category: 'input',
        field: 'migrationName',
        fix: 'choose another name, or `pgferry show` / `pgferry list` to see the existing one',
      });
    }
    for (const [i, database] of args.databases.entries()) {
      await client.query(`INSERT INTO ${S}.migration_database (migration, database, ordinal) VALUES ($1, $2, $3)`, [
        args.name,
        database,
        i,
      ]);
    }
  });
}

/** Clears the migration's message (setState keeps a message it is not given). */
export async function clearMessage(catalog: CatalogConnection, name: string): Promise<void> {
  await catalog.query(`UPDATE ${S}.migration SET message = NULL WHERE name = $1`, [name]);
}

/** Records the state and substate; a pair Azure does not have (core/statePairs.ts) is refused before anything is written. */
export async function setState(
  catalog: CatalogConnection,
  name: string,
  state: MigrationState,
  subState: MigrationSubState,
  message?: string | null,
): Promise<void> {
  checkStatePair(state, subState);
  const final = isFinalState(state);
  await catalog.query(
    `UPDATE ${S}.migration SET state = $2, sub_state = $3, message = COALESCE($4, message), updated_at = now(),
            started_at = CASE WHEN $3 = 'MigratingData' THEN COALESCE(started_at, now()) ELSE started_at END,
            ended_at = CASE WHEN $5 THEN now() ELSE ended_at END
      WHERE name = $1`,
    [name, state, subState, message ?? null, final],
  );
}

export async function setVersions(catalog: CatalogConnection, name: string, sourceVersion: string, targetVersion: string): Promise<void> {
  await catalog.query(`UPDATE ${S}.migration SET source_version = $2, target_version = $3 WHERE name = $1`, [
    name,
    sourceVersion,
    targetVersion,
  ]);
}

export async function setValidation(catalog: CatalogConnection, name: string, results: readonly ValidationResult[]): Promise<void> {
  await catalog.query(`UPDATE ${S}.migration SET validation = $2::jsonb, updated_at = now() WHERE name = $1`, [
    name,
    JSON.stringify(results),
  ]);
}

export async function setVerification(catalog: CatalogConnection, name: string, report: VerificationReport): Promise<void> {
  await catalog.query(`UPDATE ${S}.migration SET verification = $2::jsonb, updated_at = now() WHERE name = $1`, [
    name,
    JSON.stringify(report),
  ]);
}

/**
 * Records the downtime of a cutover of `databases`: each one's own, and the migration's as the
 * longest of any database (cutovers of other databases at other times do not add up: each
 * database's applications waited only for their own).
 */
/** The migration's downtime: the longest of its databases' (each written with its Succeeded). */
export async function setMigrationDowntime(catalog: CatalogConnection, name: string): Promise<void> {
  await catalog.query(
    `UPDATE ${S}.migration SET downtime_seconds = (SELECT max(downtime_seconds) FROM ${S}.migration_database WHERE migration = $1) WHERE name = $1`,
    [name],
  );
}

export async function updateDatabase(catalog: CatalogConnection, name: string, database: string, patch: DatabasePatch): Promise<void> {
  const { text, params } = databasePatchQuery(name, database, patch);
  await catalog.query(text, params);
}

/**
 * Records what this migration did to a target database: 'creating'/'overwriting' before the
 * statement, then 'created'/'overwritten' with its OID. Only a database whose OID matches is ever
 * dropped by this migration (a resume, dropTargetDatabases).
 */
export async function setTargetDatabase(
  catalog: CatalogConnection,
  name: string,
  database: string,
  action: TargetDatabaseAction | null,
  oid: number | null,
): Promise<void> {
  await catalog.query(
    `UPDATE ${S}.migration_database SET target_database_action = $3, target_database_oid = $4 WHERE migration = $1 AND database = $2`,
    [name, database, action, oid],
  );
}

/** Records how far the cutover got in a database (before the next irreversible step). */
export async function setCutoverStep(catalog: CatalogConnection, name: string, database: string, step: CutoverStep): Promise<void> {
  await catalog.query(`UPDATE ${S}.migration_database SET cutover_step = $3 WHERE migration = $1 AND database = $2`, [
    name,
    database,
    step,
  ]);
}

/** Ends every database that has not succeeded (a failed or canceled migration). */
export async function markOpenDatabases(
  catalog: CatalogConnection,
  name: string,
  state: 'Canceled' | 'Failed',
  message: string,
): Promise<void> {
  await catalog.query(
    `UPDATE ${S}.migration_database SET state = $2, ended_at = now(), message = CASE WHEN state = 'Queued' THEN NULL ELSE $3 END
      WHERE migration = $1 AND state <> 'Succeeded'`,
    [name, state, message],
  );
}

/** Registers the tables of a database as Queued (replacing an earlier list), with their sizes when known. */
export async function setTables(
  catalog: CatalogConnection,
  name: string,
  database: string,
  tables: readonly { table: QualifiedName; parts: number; sizeBytes?: number }[],
): Promise<void> {
  await catalog.install(); // a runner resumed on a catalog an older pgferry made: schema_name comes with version 33
  await catalog.query(`DELETE FROM ${S}.migration_table WHERE migration = $1 AND database = $2`, [name, database]);
  if (tables.length === 0) return;
  await catalog.query(
    `INSERT INTO ${S}.migration_table (migration, database, schema_name, table_name, parts, size_bytes)
     SELECT $1, $2, s, t, p, b FROM unnest($3::text[], $4::text[], $5::int[], $6::int8[]) AS u(s, t, p, b)`,
    [
      name,
      database,
      tables.map((t) => t.table.schema),
      tables.map((t) => t.table.name),
      tables.map((t) => t.parts),
      tables.map((t) => t.sizeBytes ?? null),
    ],
  );
}

/** Records what an az-style command line said about the migration (ARM scope, source type). */
export async function setAzureContext(catalog: CatalogConnection, name: string, context: AzureContext): Promise<void> {
  await catalog.query(`UPDATE ${S}.migration SET azure_context = $2::jsonb WHERE name = $1`, [name, JSON.stringify(context)]);
}

export async function updateTable(
  catalog: CatalogConnection,
  name: string,
  database: string,
  table: QualifiedName,
  patch: TablePatch,
): Promise<void> {
  await catalog.install(); // schema_name comes with version 33
  const { text, params } = tablePatchQuery(name, database, table, patch);
  await catalog.query(text, params);
}

/**
 * Tables that started loading or finished, in database order then start time; with
 * `includeQueued`, the queued ones too (last), so their sizes add up to each database's total.
 */
export async function tables(
  catalog: CatalogConnection,
  name: string,
  options: { includeQueued?: boolean } = {},
): Promise<TableProgress[]> {
  await catalog.install(); // schema_name comes with version 33
  const rows = await catalog.query<{
    database: string;
    schema_name: string;
    table_name: string;
    state: TableProgress['state'];
    rows: string;
    bytes: string;
    parts: number;
    parts_done: number;
    size_bytes: string | null;
    message: string | null;
  }>(
    // size_bytes read through to_jsonb: a catalog older than version 5 has no such column.
    `SELECT t.database, t.schema_name, t.table_name, t.state, t.rows, t.bytes, t.parts, t.parts_done, t.message,
            to_jsonb(t) ->> 'size_bytes' AS size_bytes
       FROM ${S}.migration_table t
       JOIN ${S}.migration_database d ON d.migration = t.migration AND d.database = t.database
      WHERE t.migration = $1 AND ($2::boolean OR t.state <> 'Queued')
      ORDER BY d.ordinal, t.started_at NULLS LAST, t.schema_name, t.table_name`,
    [name, options.includeQueued === true],
  );
  return rows.map((r) => ({
    database: r.database,
    table: displayName(r.schema_name, r.table_name),
    state: r.state,
    rows: Number(r.rows),
    bytes: Number(r.bytes),
    parts: r.parts,
    partsDone: r.parts_done,
    ...(r.size_bytes === null ? {} : { sizeBytes: Number(r.size_bytes) }),
    message: r.message ?? undefined,
  }));
}

export async function recordEvent(
  catalog: CatalogConnection,
  name: string,
  level: 'info' | 'warning' | 'error',
  message: string,
  database?: string,
): Promise<void> {
  await catalog.query(`INSERT INTO ${S}.event (migration, level, database, message) VALUES ($1, $2, $3, $4)`, [
    name,
    level,
    database ?? null,
    message,
  ]);
}

export async function events(
  catalog: CatalogConnection,
  name: string,
  limit = 50,
): Promise<{ at: string; level: string; database?: string; message: string }[]> {
  const rows = await catalog.query<{ at: Date; level: string; database: string | null; message: string }>(
    `SELECT at, level, database, message FROM ${S}.event WHERE migration = $1 ORDER BY id DESC LIMIT $2`,
    [name, limit],
  );
  return rows.reverse().map((r) => ({ at: r.at.toISOString(), level: r.level, database: r.database ?? undefined, message: r.message }));
}

/** Deletes a migration and everything recorded about it (databases, tables, events). */
export async function remove(catalog: CatalogConnection, name: string): Promise<void> {
  await catalog.query(`DELETE FROM ${S}.migration WHERE name = $1`, [name]);
}

/** The runner holding the migration now, with what its spec makes of a cutover (shown by the console's confirmation). */
export async function setRunner(
  catalog: CatalogConnection,
  name: string,
  runner: { host: string; pid: number; agent?: string; cutoverPlan?: CutoverPlan } | null,
): Promise<void> {
  await catalog.query(
    `UPDATE ${S}.migration SET runner = CASE WHEN $2::jsonb IS NULL THEN NULL
            ELSE $2::jsonb || jsonb_build_object('heartbeatAt', now()) END WHERE name = $1`,
    [name, runner ? JSON.stringify({ ...runner, leaseKey: leaseKey(name) }) : null],
  );
}

/**
 * The runner `runner` says it is alive, only while the migration still names it: a runner stopped
 * and woken after losing its lease runs its overdue beat before it learns of the loss, and must not
 * keep its successor's record looking alive.
 */
export async function heartbeat(catalog: CatalogConnection, name: string, runner: { host: string; pid: number }): Promise<void> {
  await catalog.query(
    `UPDATE ${S}.migration SET runner = runner || jsonb_build_object('heartbeatAt', now())
      WHERE name = $1 AND runner->>'host' = $2 AND runner->>'pid' = $3::text`,
    [name, runner.host, runner.pid],
  );
}

export async function exists(catalog: CatalogConnection, name: string): Promise<boolean> {
  return catalog.ifCatalog(async () => (await catalog.query(`SELECT 1 FROM ${S}.migration WHERE name = $1`, [name])).length > 0, false);
}

/** A migration's status as the catalog holds it (footprint/shown.ts's shownStatus adds the writer fences and pooler pauses, the footprint's). */
export async function get(catalog: CatalogConnection, name: string): Promise<MigrationStatus | undefined> {
  return catalog.ifCatalog(() => getNow(catalog, name), undefined);
}

async function getNow(catalog: CatalogConnection, name: string): Promise<MigrationStatus | undefined> {
  // the row and its lease's holder in one statement, sent with its databases' and its windows'
  // reads in one round trip: a resuming runner reads its migration several times before its stream
  // starts, each read a round trip on its way (the windows are read whatever the mode, and used
  // only for an online migration, as toStatus does)
  const key = leaseKey(name);
  const windowsKept = await hasWindows(catalog);
  const [rows, databases, windows] = await catalog.queries([
    {
      sql: `SELECT m.*, ${RUNNER_LOCKED_SQL} AS runner_locked, ${LEASE_HOLDER_SQL} AS lease_holder FROM ${S}.migration m WHERE m.name = $1`,
      params: [name, key],
    },
    { sql: SELECT_DATABASES, params: [name] },
    ...(windowsKept ? [{ sql: SELECT_WINDOWS, params: [name] }] : []),
  ]);
  const row = rows![0] as (MigrationRow & { lease_holder: string | null }) | undefined;
  if (!row) return undefined;
  const holder = leaseHolderOf(row.lease_holder);
  const read = { databases: databases as DatabaseRow[], windows: windowsOf((windows ?? []) as WindowRow[]) };
  return toStatus(catalog, row, new Map(holder ? [[key, holder]] : []), read);
}

export async function list(catalog: CatalogConnection, filter: 'active' | 'all' = 'active'): Promise<MigrationStatus[]> {
  return catalog.ifCatalog(() => listNow(catalog, filter), []);
}

async function listNow(catalog: CatalogConnection, filter: 'active' | 'all'): Promise<MigrationStatus[]> {
  const where = filter === 'active' ? `WHERE m.state <> ALL ($1::text[])` : '';
  const rows = await catalog.query<MigrationRow>(
    `${selectMigrations(where)} ORDER BY m.created_at`,
    filter === 'active' ? [[...FINAL_STATES]] : [],
  );
  const holders = await leaseHolders(catalog);
  return Promise.all(rows.map((r) => toStatus(catalog, r, holders)));
}

/**
 * Whether some session holds the runner's advisory lock (its lease) right now, for the row `m` of
 * pgferry.migration. pg_locks shows a bigint key as classid (high 32 bits) and objid (low 32 bits).
 */
export const RUNNER_LOCKED_SQL = `EXISTS (
            SELECT 1 FROM pg_locks l
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND l.classid::text::bigint = (((m.runner->>'leaseKey')::bigint >> 32) & 4294967295)
               AND l.objid::text::bigint = ((m.runner->>'leaseKey')::bigint & 4294967295)
          )`;

/** The application name of the session holding the lease whose key is the statement's $2 (leaseHolders, for one key). */
const LEASE_HOLDER_SQL = `(SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND ((l.classid::text::bigint << 32) | l.objid::text::bigint) = $2::bigint LIMIT 1)`;

function selectMigrations(where: string): string {
  return `SELECT m.*, ${RUNNER_LOCKED_SQL} AS runner_locked FROM ${S}.migration m ${where}`;
}

/**
 * The runners holding a lease in this catalog's database right now, by lease key: each named by
 * its lease session's application name (core/names.ts leasePurpose), read only from the session
 * that holds the lock. A runner that just took over holds its lease before it has recorded itself.
 */
async function leaseHolders(catalog: CatalogConnection): Promise<Map<string, { pid: number; host: string }>> {
  const rows = await catalog.query<{ key: string; application_name: string | null }>(
    `SELECT ((l.classid::text::bigint << 32) | l.objid::text::bigint)::text AS key, a.application_name
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
  );
  const holders = new Map<string, { pid: number; host: string }>();
  for (const row of rows) {
    const holder = leaseHolderOf(row.application_name);
    if (holder) holders.set(row.key, holder);
  }
  return holders;
}

async function toStatus(
  catalog: CatalogConnection,
  row: MigrationRow,
  holders: ReadonlyMap<string, { pid: number; host: string }>,
  read?: { readonly databases: DatabaseRow[]; readonly windows: readonly FallbackWindow[] },
): Promise<MigrationStatus> {
  const databases = read?.databases ?? (await catalog.query<DatabaseRow>(SELECT_DATABASES, [row.name]));
  const shaped = shapeStatus(row, databases, Date.now(), holders.get(leaseKey(row.name)));
  // a window exists only once a cutover opened one, and is read in every state after: a migration
  // streaming forward again after a fall-back passes through the copy's sub-states before it waits
  // for its cutover, and its window (FellBack) is what a waiter on the fall-back reads meanwhile
  // (docs/fallback.md)
  const online = row.mode === 'Online';
  const windows = !online ? new Map<string, FallbackStatus>() : read ? statusesOf(read.windows) : await fallbackStatuses(catalog, row.name);
  const status =
    windows.size === 0
      ? shaped
      : { ...shaped, databases: shaped.databases.map((d) => (windows.has(d.database) ? { ...d, fallback: windows.get(d.database)! } : d)) };
  if (row.runtime !== 'agents') return status;
  // runtime agents: who could run it, and, while nothing can, why (a catalog of version 9 or later)
  const poolerNeed = poolerKeyOf(row.run_spec ?? {});
  const needs = { sources: sourceKeysOf(row.spec), ...(poolerNeed ? { pooler: poolerNeed } : {}) };
  await catalog.install(); // the items' schema_name comes with version 33
  const agents = await agentsFor((sql, params) => catalog.query(sql, params), row.name, needs);
  const waiting = isFinalState(status.state) ? undefined : waitingReason(agents, needs);
  return { ...status, agents, ...(waiting ? { waiting } : {}) };
}

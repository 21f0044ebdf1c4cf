// Fencing the writers of a database being cut over (fenceWriters): on the source, new transactions
// of the database become read-only (ALTER DATABASE ... SET default_transaction_read_only = on),
// every session connected to it before is ended, and a trigger on every table the stream carries
// refuses the write of any session but pgferry's (footprint/fenceTriggers.ts); only then is the
// cutover point marked, so no write can land on the source after it. The database's own earlier
// value (and whether the fence made the control schema for its triggers) is recorded in the
// footprint ledger before the ALTER DATABASE (below), so the fence is lifted to
// exactly that value at a roll-back, cancel or failure, after a crash too (lifting a fence that was
// never applied sets the value that is already there and drops nothing). A database that is cut
// over keeps its fence.
//
// A fall-back (docs/fallback.md) fences the target the same way (side 'target', recorded as the
// footprint's targetFence), so nothing writes on the new server once its last writes are drained.
//
// The setting alone is a default, not a lock: a session may `BEGIN READ WRITE`, `SET
// default_transaction_read_only = off` or `SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE`,
// a role may have its own setting (ALTER ROLE ... SET), and a session ended may connect again. The
// trigger refuses each of them. What it cannot refuse is said where it is met: a transaction
// prepared before the fence that wrote a fenced table (COMMIT PREPARED needs no writable
// transaction) stops the cutover, named by its gid; a superuser who disables the trigger, or a
// session that takes pgferry's apply lock itself (the trigger tells pgferry's appliers by that
// lock, not by their name), is caught by the second line (switchover/lateWrites.ts).
//
// The footprint's change (below, writerFence): lifted first by every release, since the applications
// cannot write meanwhile; the one change a successful cutover keeps, so an application still
// pointed at the old source fails loudly instead of losing writes.
import type pg from 'pg';
import { APPLICATION_NAME_PREFIX, sessionsOpenedHere, withSession } from '../connect/session';
import { displayIdent, displayName, ident, literal, qualified } from '../connect/quote';
import { INVALID_CATALOG_NAME, LOCK_NOT_AVAILABLE, sqlState } from '../connect/sqlstate';
import { errorMessage, PgferryError } from '../core/errors';
import type { ServerSpec } from '../input/migrationSpec';
import { SHORT_LOCK_WAIT } from '../cdc/prepare/sourceDdl';
import { inTransaction } from '../connect/transaction';
import { CONTROL_SCHEMA, fenceNamesOf, publicationName, reverseStreamNamesOf, type FenceNames } from '../core/names';
import {
  controlSchemaExists,
  dropFenceTriggers,
  installFenceTriggers,
  refuseTakenFenceName,
  preparedWriters,
  fencedTableOids,
  liftTriggersStatement,
  tablesWithoutTriggerRight,
  type PreparedWriter,
} from './fenceTriggers';
import type { MigrationRun } from '../run/migrationRun';
import { recordEvent } from '../control/store';
import type { CatalogConnection } from '../control/connection';
import type { WriterFence } from '../core/model';
import type { RestoreContext, ReversibleChange } from './change';
import { changesOf, markKept, markPendingAgain, markUndone, noteDetail, pendingChanges, recordChange, type LedgerEntry } from './ledger';

// The fences as the footprint ledger records them (change writerFence, or targetFence at a
// fall-back; object '' for the database itself): per database, the value of the database's own
// default_transaction_read_only before pgferry set it on, recorded before the ALTER DATABASE, so a
// fence is always lifted to exactly what was there, after a crash too. Lifting marks it undone; a
// cut-over database keeps it (kept) so `show` says the fence stays and how to lift it.

/**
 * Which fence: the source's at a cutover (writerFence), or the target's at a fall-back
 * (targetFence, docs/fallback.md), the same mechanism on the other server.
 */
export type FenceChange = 'writerFence' | 'targetFence';
const CHANGE: FenceChange = 'writerFence';
/** The fence changes the database itself. */
const DATABASE = '';

interface FenceUndo {
  readonly priorSetting: string | null;
  /** The fence created the control schema in the database for its triggers (dropped with them when empty). */
  readonly schemaCreated?: boolean;
}

/** The fence of one database as recorded; `priorSetting` null: the database had no value of its own. */
export interface FenceRecord {
  readonly database: string;
  readonly priorSetting: string | null;
  readonly schemaCreated: boolean;
  readonly kept: boolean;
}

/**
 * Records a fence about to be applied, with the database's value before it. A record still in force
 * keeps its value: it was read before an earlier attempt's fence, which may still be on (a runner
 * killed after the ALTER DATABASE reads pgferry's own `on` now). Returns the record in force.
 */
async function recordFence(
  store: CatalogConnection,
  migration: string,
  database: string,
  prior: string | null,
  change: FenceChange = CHANGE,
  schemaCreated = false,
): Promise<FenceRecord> {
  return toRecord(await recordChange<FenceUndo>(store, migration, database, change, DATABASE, { priorSetting: prior, schemaCreated }));
}

async function recordSessionsEnded(
  store: CatalogConnection,
  migration: string,
  database: string,
  ended: number,
  change: FenceChange = CHANGE,
): Promise<void> {
  const fence = (await changesOf<FenceUndo>(store, migration, change)).find((f) => f.database === database);
  const before = typeof fence?.detail.sessionsEnded === 'number' ? fence.detail.sessionsEnded : 0;
  await noteDetail(store, migration, database, change, DATABASE, { sessionsEnded: before + ended });
}

/** The fence in force for a database (on, or kept after its cutover), if any. */
export async function fenceOf(
  store: CatalogConnection,
  migration: string,
  database: string,
  change: FenceChange = CHANGE,
): Promise<FenceRecord | undefined> {
  const fence = (await changesOf<FenceUndo>(store, migration, change)).find((f) => f.database === database && !f.undone);
  return fence && toRecord(fence);
}

/** The fences still to lift in a database (none, or the one). */
export async function pendingFences(
  store: CatalogConnection,
  migration: string,
  database: string,
  change: FenceChange = CHANGE,
): Promise<FenceRecord[]> {
  return (await pendingChanges<FenceUndo>(store, migration, database, change)).map(toRecord);
}

/** The fence is lifted: nothing is left to undo. */
async function clearFence(store: CatalogConnection, migration: string, database: string, change: FenceChange = CHANGE): Promise<void> {
  await markUndone(store, migration, database, change, DATABASE);
}

/** The database was cut over (or fell back): its fence stays on purpose, and no cancel or failure lifts it. */
export async function keepFence(
  store: CatalogConnection,
  migration: string,
  database: string,
  change: FenceChange = CHANGE,
): Promise<void> {
  await markKept(store, migration, database, change);
}

/** A fall-back makes the old source the primary again: its kept fence is to be lifted (liftWriterFence) after all. */
export async function reclaimFence(store: CatalogConnection, migration: string, database: string): Promise<void> {
  await markPendingAgain(store, migration, database, CHANGE);
}

/**
 * The writer fence of each database that has one in force (on, or kept after its switchover), from a
 * migration's ledger rows, as `show` gives it: what the fence is and the statements that lift it
 * (footprint/shown.ts reads the rows, with the other changes `show` gives). `change`: the source's
 * fence of a cutover, or the target's of a fall-back.
 */
export function writerFencesOf(
  migration: string,
  entries: readonly LedgerEntry<unknown>[],
  change: FenceChange = CHANGE,
): Map<string, WriterFence> {
  const fences = (entries as readonly LedgerEntry<FenceUndo>[]).filter((f) => f.change === change && !f.undone);
  return new Map(
    fences.map((f) => [
      f.database,
      {
        fencedAt: f.madeAt.toISOString(),
        priorSetting: f.undo.priorSetting ?? undefined,
        sessionsEnded: typeof f.detail.sessionsEnded === 'number' ? f.detail.sessionsEnded : undefined,
        kept: f.kept,
        lift: liftStatement(f.database, f.undo.priorSetting),
        liftInDatabase: liftTriggersStatement(migration, f.database, f.undo.schemaCreated === true),
      },
    ]),
  );
}

/** The statement that sets a database's default_transaction_read_only back to what it was before the fence. */
function liftStatement(database: string, prior: string | null): string {
  return prior === null
    ? `ALTER DATABASE ${ident(database)} RESET default_transaction_read_only`
    : `ALTER DATABASE ${ident(database)} SET default_transaction_read_only = ${literal(prior)}`;
}

/** Both statements of a lift, as told to the user: the database's setting, then its triggers in it. */
export function liftStatements(migration: string, database: string, prior: string | null): string {
  return `${liftStatement(database, prior)}; in ${displayIdent(database)}: ${liftTriggersStatement(migration, database)}`;
}

function toRecord(f: LedgerEntry<FenceUndo>): FenceRecord {
  return { database: f.database, priorSetting: f.undo.priorSetting, schemaCreated: f.undo.schemaCreated === true, kept: f.kept };
}

/** What the source user needs to fence a database: ALTER DATABASE (owner) and ending other roles' sessions. */
const FENCE_RIGHTS_SQL = `
SELECT r.rolsuper AS superuser,
       pg_has_role(current_user, d.datdba, 'USAGE') AS owner,
       o.rolname AS owner_name,
       pg_has_role(current_user, 'pg_signal_backend', 'USAGE') AS can_signal
  FROM pg_database d
  JOIN pg_roles o ON o.oid = d.datdba
  JOIN pg_roles r ON r.rolname = current_user
 WHERE d.datname = $1`;

/** The database's own value (all roles) of default_transaction_read_only; NULL when it has none. */
export const PRIOR_SETTING_SQL = `
SELECT (SELECT substr(c, length('default_transaction_read_only=') + 1)
          FROM unnest(s.setconfig) AS c WHERE c LIKE 'default_transaction_read_only=%' LIMIT 1) AS prior
  FROM pg_database d
  LEFT JOIN pg_db_role_setting s ON s.setdatabase = d.oid AND s.setrole = 0
 WHERE d.datname = $1`;

/**
 * The sessions that could still write to the database: every session connected to it but pgferry's
 * own ($2: the sessions this process opened on the server, told by their backend pids, never by
 * their application name, which any client may take) and the walsenders of replication slots
 * (pgferry's stream among them). All of them, not only those with a write transaction open
 * (backend_xid): a session that started before the fence keeps default_transaction_read_only off
 * and may begin one later. Without pg_read_all_stats, pg_stat_activity hides the backend_type of
 * other roles' sessions (but not their pid, role, application_name or backend_xid): such a session
 * counts as a client backend, so a user with pg_signal_backend alone still ends every one. A client
 * that calls itself pgferry's is ended as any other; whether a session may write a fenced table is
 * the trigger's decision, by identity too (fenceTriggers.ts).
 */
const WRITERS_SQL = `
SELECT a.pid, a.usename::text AS usename, coalesce(a.application_name, '') AS app,
       a.backend_xid IS NOT NULL AS writing, coalesce(r.rolsuper, false) AS superuser
  FROM pg_stat_activity a
  LEFT JOIN pg_roles r ON r.oid = a.usesysid
 WHERE a.datname = $1 AND a.pid <> pg_backend_pid() AND a.usesysid IS NOT NULL
   AND coalesce(a.backend_type, 'client backend') = 'client backend'
   AND a.pid NOT IN (SELECT s.active_pid FROM pg_replication_slots s WHERE s.active_pid IS NOT NULL)
 ORDER BY a.pid`;

const STILL_THERE_SQL = `SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ANY($1::int[])`;

/** How long ended sessions may take to roll back and exit before the fence gives up. */
const GONE_WITHIN_MS = 15_000;
/** Passes over pg_stat_activity: a session that was starting while the first pass read it is ended by the next. */
const PASSES = 3;

interface Writer {
  pid: number;
  usename: string | null;
  app: string;
  writing: boolean;
  superuser: boolean;
}

/** Refusals are one line naming what to grant; the cutover stops before changing anything. */
function refused(message: string, fix: string): PgferryError {
  return new PgferryError('WRITER_FENCE_REFUSED', message, { category: 'source', field: 'fenceWriters', fix });
}

/** Why the source user cannot fence a database, and what to grant on the source. */
export interface FenceRefusal {
  readonly message: string;
  readonly fix: string;
}

/**
 * Why the source user cannot fence `database`; undefined when it can. Read-only: validation runs
 * it, and the cutover runs it for every database before fencing any.
 */
export async function fenceRightsRefusal(client: pg.Client, database: string, user: string): Promise<FenceRefusal | undefined> {
  const { rows } = await client.query<{ superuser: boolean; owner: boolean; owner_name: string; can_signal: boolean }>(FENCE_RIGHTS_SQL, [
    database,
  ]);
  const r = rows[0];
  if (!r) return { message: `database ${displayIdent(database)} is not on the source`, fix: "check the migration's databases" };
  const lacks: string[] = [];
  const grants: string[] = [];
  if (!r.superuser && !r.owner) {
    lacks.push(`may not ALTER DATABASE ${displayIdent(database)} (its owner is ${displayIdent(r.owner_name)})`);
    grants.push(`ALTER DATABASE ${ident(database)} OWNER TO ${ident(user)} (or GRANT ${ident(r.owner_name)} TO ${ident(user)})`);
  }
  if (!r.superuser && !r.can_signal) {
    lacks.push("may not end other roles' sessions");
    grants.push(`GRANT pg_signal_backend TO ${ident(user)}`);
  }
  if (lacks.length === 0) return undefined;
  return {
    message: `fenceWriters: source user ${displayIdent(user)} cannot fence the writers of ${displayIdent(database)}: it ${lacks.join(' and ')}`,
    fix: `on the source: ${grants.join('; ')} (or fence as a superuser)`,
  };
}

/**
 * Checks every database before any is fenced, so a refusal leaves both servers as they were: the
 * database's rights (fenceRightsRefusal) and a trigger on each streamed table.
 */
export async function checkFenceRights(run: Pick<MigrationRun, 'spec' | 'instance'>, databases: readonly string[]): Promise<void> {
  const { spec } = run;
  await withSession(spec.source, { purpose: 'fence', readOnly: true }, async (client) => {
    for (const database of databases) {
      const refusal = await fenceRightsRefusal(client, database, spec.source.user);
      if (refusal) throw refused(refusal.message, `${refusal.fix}, then request the cutover again`);
    }
  });
  for (const database of databases) {
    const names = fenceNamesOf(spec.migrationName, database);
    const publication = fencedPublication(run, database, 'source');
    const lacking = await withSession(spec.source, { database, purpose: 'fence', readOnly: true }, (client) =>
      tablesWithoutTriggerRight(client, publication, names),
    );
    if (lacking.length === 0) continue;
    const more = lacking.length > 5 ? ` and ${lacking.length - 5} more` : '';
    const shown = `${lacking
      .slice(0, 5)
      .map((t) => displayName(t.schema, t.name))
      .join(', ')}${more}`;
    const grantOn = lacking
      .slice(0, 5)
      .map((t) => qualified(t.schema, t.name))
      .join(', ');
    throw refused(
      `fenceWriters: source user ${displayIdent(spec.source.user)} cannot fence the writers of ${displayIdent(database)}: it may not create a trigger on ${shown} (neither their owner nor granted TRIGGER)`,
      `on the source: GRANT TRIGGER ON ${grantOn} TO ${ident(spec.source.user)} (or make it a member of their owner), then request the cutover again`,
    );
  }
}

/** Which server a fence is on: the source at a cutover, the target at a fall-back; and its footprint change. */
export type FenceSide = 'source' | 'target';
const CHANGE_OF: Readonly<Record<FenceSide, FenceChange>> = { source: 'writerFence', target: 'targetFence' };

/** The publication whose tables a fence covers: the forward stream's on the source, the reverse stream's on the target. */
function fencedPublication(run: Pick<MigrationRun, 'spec' | 'instance'>, database: string, side: FenceSide): string {
  const migration = run.spec.migrationName;
  return side === 'source'
    ? publicationName(migration, database, run.instance)
    : reverseStreamNamesOf(migration, database, run.instance).publication;
}

/** Attempts at the fence's triggers, each after the writers were ended once more. */
const TRIGGER_ATTEMPTS = 3;

/**
 * Tables a fence covers beyond its publication's, read in the fenced database: at a fall-back, the
 * tables the applications made on the new server in the window (targetFence.ts).
 */
export type WindowTablesOf = (inDatabase: pg.Client) => Promise<readonly string[]>;

/** One database's fence as its triggers are put on: its sessions (on the server, in the database) and the tables it covers. */
interface FenceAt {
  readonly client: pg.Client;
  readonly inDatabase: pg.Client;
  readonly server: ServerSpec;
  readonly database: string;
  readonly publication: string;
  readonly names: FenceNames;
  readonly windowTables: readonly string[];
}

/**
 * Fences one database: its value before (and whether its control schema is there) recorded in the
 * catalog first, then ALTER DATABASE, then every session that could still write ended and gone
 * (its open transaction rolled back, or committed before the cutover point), then the triggers on
 * its tables (triggersOn), those of `windowTablesOf` too. Idempotent: a resumed
 * cutover fences again, keeping the value first recorded. Returns how many sessions it ended.
 */
export async function fenceDatabase(
  run: Pick<MigrationRun, 'spec' | 'store' | 'warn' | 'instance'>,
  database: string,
  side: FenceSide = 'source',
  windowTablesOf?: WindowTablesOf,
): Promise<number> {
  const { spec, store } = run;
  const change = CHANGE_OF[side];
  const names = fenceNamesOf(spec.migrationName, database);
  return withSession(spec[side], { purpose: 'fence', writable: true }, (client) =>
    withSession(spec[side], { database, purpose: 'fence', writable: true }, async (inDatabase) => {
      const { rows } = await client.query<{ prior: string | null }>(PRIOR_SETTING_SQL, [database]);
      if (!rows[0]) throw refused(`database ${displayIdent(database)} is not on the ${side}`, "check the migration's databases");
      const publication = fencedPublication(run, database, side);
      const windowTables = (await windowTablesOf?.(inDatabase)) ?? [];
      // a trigger of someone else's under the fence's name stops it before anything is recorded or set
      await refuseTakenFenceName(inDatabase, publication, names, windowTables);
      const schemaCreated = !(await controlSchemaExists(inDatabase));
      await recordFence(store, spec.migrationName, database, rows[0].prior, change, schemaCreated);
      await alterDatabase(client, `ALTER DATABASE ${ident(database)} SET default_transaction_read_only = on`);
      const ended = await endWriters(client, spec[side], database);
      const on = await triggersOn({ client, inDatabase, server: spec[side], database, publication, names, windowTables });
      ended.push(...on.ended);
      await recordSessionsEnded(store, spec.migrationName, database, ended.length, change);
      const writing = ended.filter((w) => w.writing).length;
      const who = ended.length === 0 ? '' : `: ${describe(ended)}`;
      await recordEvent(
        run.store,
        spec.migrationName,
        'info',
        `writers fenced: new transactions on the ${side} are read-only (default_transaction_read_only = on), ${on.tables.length} table(s) refuse any session's write but pgferry's, ${ended.length} session(s) ended (${writing} in a write transaction)${who}`,
        database,
      );
      return ended.length;
    }),
  );
}

/**
 * A fence in force (fenceDatabase) put on the tables `windowTablesOf` reads now, those made since it
 * was put on among them: the same trigger calling the same function, under the fence's one record,
 * so its one undo (or its lift, once kept) takes them away with the others. The writers ended only
 * where one holds a table the trigger waits for. Returns the tables read and those of them fenced
 * (a table the user may not put a trigger on is not).
 */
export async function fenceMoreTables(
  run: Pick<MigrationRun, 'spec' | 'store' | 'instance'>,
  database: string,
  side: FenceSide,
  windowTablesOf: WindowTablesOf,
): Promise<{ readonly windowTables: readonly string[]; readonly fenced: readonly string[] }> {
  const { spec, store } = run;
  const change = CHANGE_OF[side];
  if (!(await fenceOf(store, spec.migrationName, database, change)))
    throw new Error(`the ${side} database ${displayIdent(database)} has no writer fence in force to put on more tables`);
  const names = fenceNamesOf(spec.migrationName, database);
  return withSession(spec[side], { purpose: 'fence', writable: true }, (client) =>
    withSession(spec[side], { database, purpose: 'fence', writable: true }, async (inDatabase) => {
      const publication = fencedPublication(run, database, side);
      const windowTables = await windowTablesOf(inDatabase);
      await refuseTakenFenceName(inDatabase, publication, names, windowTables);
      const on = await triggersOn({ client, inDatabase, server: spec[side], database, publication, names, windowTables });
      if (on.ended.length > 0) await recordSessionsEnded(store, spec.migrationName, database, on.ended.length, change);
      return { windowTables, fenced: on.tables.filter((t) => windowTables.includes(t)) };
    }),
  );
}

/**
 * The fence's triggers on its tables (a writer that connected again and holds a table makes CREATE
 * TRIGGER time out: it is ended and the triggers tried again). A transaction prepared on those
 * tables stops it, named, before the triggers, between their tries and after them. Returns the
 * fenced tables' OIDs and the sessions it ended.
 */
async function triggersOn(at: FenceAt): Promise<{ tables: string[]; ended: Writer[] }> {
  const ended: Writer[] = [];
  // a prepared transaction that wrote a table holds its lock until it is committed or rolled
  // back, which no session's end does: CREATE TRIGGER would wait on it to no end; said first
  const refuseIfPrepared = async (): Promise<void> => {
    const prepared = await preparedWriters(at.inDatabase, await fencedTableOids(at.inDatabase, at.publication, at.names, at.windowTables));
    if (prepared.length > 0) throw preparedRefusal(at.database, prepared);
  };
  await refuseIfPrepared();
  const tables = await fenceTables(at, async () => {
    await refuseIfPrepared();
    ended.push(...(await endWriters(at.client, at.server, at.database)));
  }).catch(async (error: unknown) => {
    if (sqlState(error) === LOCK_NOT_AVAILABLE) await refuseIfPrepared();
    throw error;
  });
  await refuseIfPrepared();
  return { tables, ended };
}

/**
 * The fence's triggers on its tables, in one transaction that waits for no table longer than a
 * short lock_timeout: a writer that connected again and holds a table makes it time out, and
 * `endAgain` ends the writers before the next attempt. Returns the fenced tables' OIDs.
 */
async function fenceTables(at: FenceAt, endAgain: () => Promise<void>): Promise<string[]> {
  const { inDatabase } = at;
  for (let attempt = 1; ; attempt++) {
    try {
      return await inTransaction(
        inDatabase,
        () => installFenceTriggers(inDatabase, at.publication, at.names, at.windowTables),
        SHORT_LOCK_WAIT,
      );
    } catch (error) {
      if (attempt >= TRIGGER_ATTEMPTS || sqlState(error) !== LOCK_NOT_AVAILABLE) throw error;
      await endAgain();
    }
  }
}

/** A transaction prepared before the fence that wrote a fenced table would commit past the cutover point: the cutover does not go on. */
function preparedRefusal(database: string, prepared: readonly PreparedWriter[]): PgferryError {
  const shown = prepared.map((p) => `${literal(p.gid)} (owner ${p.owner}, prepared ${p.prepared})`).join(', ');
  return refused(
    `fenceWriters: prepared transaction(s) ${shown} wrote to streamed tables of ${displayIdent(database)} and could commit after the cutover point`,
    `commit or roll them back on the source (COMMIT PREPARED / ROLLBACK PREPARED ${literal(prepared[0]!.gid)}), then request the cutover again`,
  );
}

/**
 * A fence session of pgferry left idle inside its fence transaction this long belongs to a runner
 * that no longer runs (stopped, or a stale one whose lease another runner took): a fence's
 * transaction is one ALTER DATABASE between BEGIN and COMMIT, sent back to back.
 */
const STALE_FENCE_IDLE_MS = 2000;

/**
 * Ends pgferry fence sessions idle in a transaction for longer than STALE_FENCE_IDLE_MS: a runner
 * stopped (SIGSTOP, a frozen VM) right after its ALTER DATABASE holds the row of
 * pg_db_role_setting until it wakes, and the runner that took its lease could neither fence nor
 * lift (lock timeout: the cutover rolled back). Ending it rolls its fence back; the runner in
 * charge sets its own. Returns how many it ended.
 */
async function endStaleFenceSessions(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity
      WHERE pid <> pg_backend_pid() AND application_name = $1 AND state = 'idle in transaction'
        AND state_change < clock_timestamp() - make_interval(secs => $2::float8 / 1000)`,
    [`${APPLICATION_NAME_PREFIX}fence`, STALE_FENCE_IDLE_MS],
  );
  if (rows.length > 0) await client.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [rows.map((r) => r.pid)]);
  return rows.length;
}

/**
 * ALTER DATABASE in a transaction that waits at most a short lock_timeout (it needs the database's
 * object lock, and the row of pg_db_role_setting). Timed out behind a stale fence session (a runner
 * stopped in its own fence transaction), it ends that session and tries once more.
 */
async function alterDatabase(client: pg.Client, statement: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await inTransaction(client, () => client.query(statement), SHORT_LOCK_WAIT);
      return;
    } catch (error) {
      if (attempt > 0 || sqlState(error) !== LOCK_NOT_AVAILABLE || (await endStaleFenceSessions(client)) === 0) throw error;
    }
  }
}

/**
 * Ends the database's writers on `server`, pass by pass until none is left, and waits until they
 * are gone; pgferry's own sessions there are read at each pass, so one opened meanwhile is spared.
 */
async function endWriters(client: pg.Client, server: ServerSpec, database: string): Promise<Writer[]> {
  const superuser = (await client.query<{ s: boolean }>('SELECT rolsuper AS s FROM pg_roles WHERE rolname = current_user')).rows[0]?.s;
  const ended: Writer[] = [];
  for (let pass = 0; pass < PASSES; pass++) {
    const { rows: listed } = await client.query<Writer>(WRITERS_SQL, [database]);
    // read after the list: a session of this process's still opening when the server listed it is
    // counted once it has opened, so the fence never ends the sessions of the switchover it makes
    const ours = new Set(await sessionsOpenedHere(server));
    const rows = listed.filter((w) => !ours.has(w.pid));
    if (rows.length === 0) break;
    const untouchable = superuser ? [] : rows.filter((w) => w.superuser);
    if (untouchable.length > 0) {
      throw refused(
        `fenceWriters: ${describe(untouchable)} of a superuser is connected to ${displayIdent(database)}, and only a superuser may end it`,
        'end that session yourself (SELECT pg_terminate_backend(pid)), or fence with a superuser, then request the cutover again',
      );
    }
    const pids = rows.map((w) => w.pid);
    await client.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [pids]);
    const deadline = Date.now() + GONE_WITHIN_MS;
    for (;;) {
      const left = (await client.query<{ n: number }>(STILL_THERE_SQL, [pids])).rows[0]!.n;
      if (left === 0) break;
      if (Date.now() > deadline) {
        throw refused(
          `fenceWriters: ${left} session(s) of ${displayIdent(database)} were ended but still run after ${GONE_WITHIN_MS / 1000} s (${describe(rows)})`,
          'see what those sessions wait for (pg_stat_activity), then request the cutover again',
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    ended.push(...rows);
  }
  return ended;
}

function describe(writers: readonly Writer[]): string {
  const shown = writers.slice(0, 5).map((w) => `pid ${w.pid} (user ${w.usename ?? '?'}, application "${w.app}")`);
  return `${shown.join(', ')}${writers.length > 5 ? ` and ${writers.length - 5} more` : ''}`;
}

/**
 * Sets the database's default_transaction_read_only back to what it was and takes the fence's
 * triggers away (the control schema too when the fence made it and it is empty); a database gone
 * has nothing to lift.
 */
async function liftOnServer(server: ServerSpec, migration: string, database: string, fence: FenceRecord): Promise<void> {
  try {
    await withSession(server, { purpose: 'fence', writable: true }, (client) =>
      alterDatabase(client, liftStatement(database, fence.priorSetting)),
    );
    await withSession(server, { database, purpose: 'fence', writable: true }, (client) =>
      inTransaction(client, () => dropFenceTriggers(client, migration, database, fence.schemaCreated), SHORT_LOCK_WAIT),
    );
  } catch (error) {
    if (sqlState(error) !== INVALID_CATALOG_NAME) throw error;
  }
}

/**
 * Lifts the recorded fence of a database (a roll-back, a cancel, a failure): its value before is
 * set back on the source, then the record goes. No record, or a kept one (cut over): nothing.
 * True when a fence was lifted.
 */
export async function liftWriterFence(ctx: RestoreContext, database: string, side: FenceSide = 'source'): Promise<boolean> {
  const name = ctx.spec.migrationName;
  const change = CHANGE_OF[side];
  const fence = await fenceOf(ctx.store, name, database, change);
  if (!fence || fence.kept) return false;
  try {
    await liftOnServer(ctx.spec[side], name, database, fence);
  } catch (error) {
    throw new PgferryError(
      'WRITER_FENCE_LIFT',
      `could not lift the writer fence of ${displayIdent(database)} on the ${side}: ${errorMessage(error)}; the database is still fenced`,
      { category: side, fix: `on the ${side}: ${liftStatements(name, database, fence.priorSetting)}`, cause: error },
    );
  }
  await clearFence(ctx.store, name, database, change);
  await recordEvent(
    ctx.store,
    name,
    'info',
    `writer fence lifted${side === 'target' ? ' on the target' : ''}: ${liftStatements(name, database, fence.priorSetting)}`,
    database,
  );
  return true;
}

/**
 * Lifts a fence kept after its switchover (`pgferry fence lift`), once the user says nothing writes
 * there by mistake: the very statements `show` gives (writerFencesOf), run in one transaction in the
 * fenced database, so the database is either still fenced or has its earlier value back and nothing
 * of the fence left; the control schema goes only when the fence's record says pgferry made it (or
 * its mark is on it) and it is empty. Then the record is given back. A database gone has nothing to
 * lift. Returns the statements run, or undefined when no kept fence is recorded (lifted already).
 * Whether it may be lifted now (nothing streaming, no window open) is the caller's to judge.
 */
export async function liftKeptFence(ctx: RestoreContext, database: string, side: FenceSide): Promise<string[] | undefined> {
  const name = ctx.spec.migrationName;
  const change = CHANGE_OF[side];
  const fence = (await changesOf<FenceUndo>(ctx.store, name, change)).find((f) => f.database === database && f.kept && !f.undone);
  if (!fence) return undefined;
  const statements = [
    liftStatement(database, fence.undo.priorSetting),
    liftTriggersStatement(name, database, fence.undo.schemaCreated === true),
  ];
  try {
    await withSession(ctx.spec[side], { database, purpose: 'fence', writable: true }, (client) =>
      inTransaction(
        client,
        async () => {
          for (const statement of statements) await client.query(statement);
        },
        SHORT_LOCK_WAIT,
      ),
    );
  } catch (error) {
    if (sqlState(error) !== INVALID_CATALOG_NAME) {
      throw new PgferryError(
        'WRITER_FENCE_LIFT',
        `could not lift the writer fence of ${displayIdent(database)} on the ${side}: ${errorMessage(error)}; the database is still fenced`,
        {
          category: side,
          fix: `try again once nothing holds its tables, or on the ${side}: ${liftStatements(name, database, fence.undo.priorSetting)}`,
          cause: error,
        },
      );
    }
  }
  await markUndone(ctx.store, name, database, change, DATABASE, { liftedBy: 'pgferry fence lift' }, true);
  await recordEvent(
    ctx.store,
    name,
    'info',
    `kept writer fence lifted on the ${side} by pgferry fence lift: ${statements.join('; ')}`,
    database,
  );
  return statements;
}

export const writerFence = {
  name: 'writerFence',
  server: 'source',
  describe:
    "writer fence: the source database read-only for new transactions (default_transaction_read_only) and a trigger on each streamed table refusing any session's write but pgferry's, lifted to the recorded value and the triggers dropped",
  ledger: `${CONTROL_SCHEMA}.footprint (change writerFence: undo.priorSetting, kept_at)`,
  rights: {
    server: 'source',
    needs:
      "the database's owner (or a member of it) for ALTER DATABASE, pg_signal_backend to end other roles' sessions, and the owner of each streamed table (or its TRIGGER privilege) for the fence's trigger",
    refusal: (s) => fenceRightsRefusal(s.source, s.database, s.spec.source.user),
  },
  madeFor: (spec) => spec.mode === 'Online' && spec.fenceWriters === true,
  staysAfterCutover: true,
  pending: async (ctx, database) =>
    (await pendingFences(ctx.store, ctx.spec.migrationName, database)).map((fence) =>
      liftStatements(ctx.spec.migrationName, database, fence.priorSetting),
    ),
  undo: liftWriterFence,
  failure: () => ({
    what: 'could not lift the writer fence on the source',
    left: `the database is still read-only for new transactions; its earlier value is in ${CONTROL_SCHEMA}.footprint on the target, and a resume or a cancel lifts it`,
  }),
} satisfies ReversibleChange;

// The target's guard at a cutover (docs/pooler.md, docs/verification.md#at-cutover): a held cutover
// (a pooler's pause or a writer fence) verifies every table at a pin just before it holds the
// applications, and inside the hold reads only the keys the apply changed since that pin. A write
// on the target by anyone but pgferry after that pin (a DBA, an application pointed at the target
// too early), on a key the stream never touches afterwards, is in no key the hold reads: the guard
// is what sees it. Put on before the pin, it records every statement that writes a streamed table
// of the target in a session that is not pgferry's, and the cutover reads those records inside the
// hold, before anything irreversible: one record stops the cutover, naming the table and who wrote,
// and the tables it names are read whole at the next cutover's pin.
//
// One AFTER row trigger per table (INSERT, UPDATE, DELETE: a statement that changes no row, an
// UPDATE ... WHERE false, fires none and records nothing) on the streamed tables and the partitions
// under them, where every row lands, and one AFTER statement trigger (TRUNCATE, which has no rows)
// on those tables with their partition parents; both call one function in the control schema's
// name. ENABLE ALWAYS where the target user owns the table, so a session with
// session_replication_role = replica is recorded too.
//
// pgferry's own sessions are told by identity, never by a name a client can give itself (any
// client may call itself `pgferry apply`): the guard reads, as it is put on, the sessions that hold
// the database's apply lock (exclusive, held by the one applier for its connection's life, so no
// other session can hold it meanwhile) and those of the same login holding its parallel apply
// sessions' lock, and writes their backend pids into each trigger's WHEN condition: those rows pass
// without even a call, the apply's cost stays a comparison, and every other session's rows are
// recorded. A pid is the server's to give, never a client's to pick, and the kernel gives a number
// again only once it has gone round its whole pid space; the applier's session ends at the marker,
// inside the hold, so the read does not ask for it then. A recording session takes a shared
// advisory lock until its transaction ends, and the reader takes it exclusively first, so a write
// still in flight when the cutover reads is waited for (or, past a short lock_timeout, named)
// rather than missed.
//
// The footprint's change (below, targetGuard): recorded in the ledger before anything is made,
// given back by every release and by every roll-back of the cutover, dropped by identity: the
// triggers that call the guard's function (whatever their name), then the function and its table.
import type pg from 'pg';
import { withSession } from '../connect/session';
import { endHoldersWords, holderWords, lockHolders } from '../connect/lockHolders';
import { displayIdent, displayName, ident, literal, qualified } from '../connect/quote';
import { INVALID_CATALOG_NAME, LOCK_NOT_AVAILABLE, sqlState } from '../connect/sqlstate';
import { errorMessage, PgferryError } from '../core/errors';
import { applyLockKey, CONTROL_SCHEMA, MAKE_CONTROL_SCHEMA_SQL, guardNamesOf, publicationName, type GuardNames } from '../core/names';
import { forgetTableVerifications } from '../control/tableVerification';
import type { MigrationRun } from '../run/migrationRun';
import type { FootprintContext, RestoreContext, ReversibleChange } from './change';
import { markUndone, noteDetail, pendingChanges, recordChange } from './ledger';
import { inTransaction } from '../connect/transaction';
import { SHORT_LOCK_WAIT } from '../cdc/prepare/sourceDdl';
import { failpoint } from '../util/failpoints';
import { dropControlSchemaIfMade } from './controlSchema';
import { sleepUnlessAborted } from '../util/sleep';

const CHANGE = 'targetGuard';
/** The guard is one change per database: the ledger's object is the database itself. */
const DATABASE = '';

interface GuardUndo {
  /** The guard made the control schema of the target database (dropped with it when left empty). */
  readonly schemaCreated: boolean;
}

/** One write the guard recorded (or a transaction still writing when it was read). */
export interface GuardedWrite {
  readonly table: string;
  readonly operation: string;
  readonly user: string;
  readonly application: string;
  readonly address: string;
  readonly pid: number;
}

/** The second key of the guard's advisory lock: the two-key form never meets pgferry's one-key locks. */
const LOCK_CLASS = 6464;

function lockArgs(names: GuardNames): string {
  return `pg_catalog.hashtext(${literal(names.function)}), ${LOCK_CLASS}`;
}

/** The source's published tables of a stream: what the apply writes on the target. */
const PUBLISHED_SQL = `SELECT schemaname AS schema, tablename AS name FROM pg_catalog.pg_publication_tables WHERE pubname = $1`;

/**
 * The target's tables of those names, with their partition parents and every partition under
 * those, plain and partitioned only, and the functions the triggers of the guard's names on each
 * call (the guard's, or someone else's holding a name).
 */
const GUARDED_TABLES_SQL = `
WITH RECURSIVE named AS (
  SELECT c.oid FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[])) AS t(schema, name)
    JOIN pg_catalog.pg_namespace n ON n.nspname = t.schema
    JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = t.name
), parents AS (
  SELECT oid FROM named UNION SELECT i.inhparent FROM pg_catalog.pg_inherits i JOIN parents p ON i.inhrelid = p.oid
), tree AS (
  SELECT oid FROM parents UNION SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN tree t ON i.inhparent = t.oid
)
SELECT n.nspname AS schema, c.relname AS name, c.relkind = 'r' AS has_rows,
       pg_catalog.pg_has_role(current_user, c.relowner, 'USAGE') AS owned,
       (SELECT pg_catalog.string_agg(DISTINCT g.tgfoid::pg_catalog.regprocedure::text, ', ') FROM pg_catalog.pg_trigger g
         WHERE g.tgrelid = c.oid AND g.tgname IN ($3, $4)) AS named_trigger
  FROM tree JOIN pg_catalog.pg_class c ON c.oid = tree.oid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p')
 ORDER BY 1, 2`;

interface GuardedTable {
  readonly schema: string;
  readonly name: string;
  /** A plain table, where rows land: it gets the row trigger (a partitioned table has none of its own). */
  readonly has_rows: boolean;
  readonly owned: boolean;
  /** The functions triggers of the guard's names on the table call, if one has a name. */
  readonly named_trigger: string | null;
}

/** A session of pgferry's apply in the guarded database, as read when the guard was put on (noted in the ledger's detail: who passed). */
interface ApplySession {
  readonly pid: number;
  readonly started: string;
}

/**
 * The advisory locks of the connected database that make a session one of pgferry's apply
 * sessions, `key` being the SQL of the stream's apply lock key: the apply lock itself (the
 * applier's, exclusively) and the lane lock (parallel apply's sessions, shared, in the two-key
 * space: applyTarget.ts), with the pid holding each and which of the two it is.
 */
function heldApplyLocksSql(key: string): string {
  return `SELECT DISTINCT l.pid, l.objsubid FROM pg_catalog.pg_locks l
   WHERE l.locktype = 'advisory' AND l.granted
     AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
     AND ((l.objsubid = 1 AND l.mode = 'ExclusiveLock' AND l.classid = (${key} >> 32)::oid AND l.objid = (${key} & 4294967295)::oid)
       OR (l.objsubid = 2 AND l.classid = ((${key} >> 32)::int)::oid AND l.objid = ((${key} & 2147483647)::int)::oid))`;
}

/**
 * Of the sessions holding those locks, the applier's and those of the applier's login: a lane lock
 * alone is a shared lock any session of the database could take.
 */
function applySessionsSql(key: string): string {
  return `WITH held AS (${heldApplyLocksSql(key)}
), applier AS (
  SELECT a.usesysid FROM held h JOIN pg_catalog.pg_stat_activity a ON a.pid = h.pid WHERE h.objsubid = 1
)
SELECT DISTINCT a.pid, a.backend_start::text AS started
  FROM held h JOIN pg_catalog.pg_stat_activity a ON a.pid = h.pid
 WHERE h.objsubid = 1 OR a.usesysid IN (SELECT usesysid FROM applier)`;
}

/** The apply's sessions as the guard is put on: their pids go into the triggers' condition. */
const APPLY_SESSIONS_SQL = `${applySessionsSql('$1::bigint')} ORDER BY 1`;

/**
 * The function: every statement or row its trigger hands it is recorded once per session, table
 * and operation, its transaction holding the shared lock. A session of the apply that connected
 * after the guard was put on (the applier's connection lost and made again: a restarted source, a
 * DBA's pg_terminate_backend, a successor runner) is not in the triggers' condition; it is told
 * apart here by the locks it holds, as the condition's sessions were, so pgferry's own writes never
 * stop the cutover as someone else's.
 */
function functionSql(names: GuardNames, applyKey: string): string {
  const table = qualified(CONTROL_SCHEMA, names.table);
  const key = `${literal(applyKey)}::bigint`;
  return `CREATE OR REPLACE FUNCTION ${qualified(CONTROL_SCHEMA, names.function)}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $pgferry$
BEGIN
  PERFORM pg_catalog.pg_advisory_xact_lock_shared(${lockArgs(names)});
  IF NOT EXISTS (SELECT 1 FROM ${table} w WHERE w.pid = pg_catalog.pg_backend_pid() AND w.relid = TG_RELID AND w.operation = TG_OP)
     AND NOT EXISTS (SELECT 1 FROM (${applySessionsSql(key)}) s WHERE s.pid = pg_catalog.pg_backend_pid()) THEN
    INSERT INTO ${table} (relid, table_name, operation, user_name, application, address, pid)
    VALUES (TG_RELID, pg_catalog.format('%I.%I', TG_TABLE_SCHEMA, TG_TABLE_NAME), TG_OP, session_user::text,
            pg_catalog.current_setting('application_name'),
            coalesce(pg_catalog.host(pg_catalog.inet_client_addr()), 'local socket'), pg_catalog.pg_backend_pid());
  END IF;
  RETURN NULL;
END
$pgferry$`;
}

function tableSql(names: GuardNames): string {
  return `CREATE TABLE IF NOT EXISTS ${qualified(CONTROL_SCHEMA, names.table)} (
  relid oid NOT NULL, table_name text NOT NULL, operation text NOT NULL, user_name text NOT NULL,
  application text NOT NULL, address text NOT NULL, pid int NOT NULL, at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp())`;
}

async function schemaExists(client: pg.Client): Promise<boolean> {
  return (await client.query('SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1', [CONTROL_SCHEMA])).rows.length > 0;
}

/** The triggers' condition: a row (or a TRUNCATE) of any session but the apply's calls the function. */
function strangersOnly(sessions: readonly ApplySession[]): string {
  const pids = `{${sessions.map((s) => Math.trunc(s.pid)).join(',')}}`;
  return `WHEN (pg_catalog.pg_backend_pid() <> ALL (${literal(pids)}::pg_catalog.int4[]))`;
}

/** Makes the guard's triggers on `t` (again, when it has them: the apply's sessions may be others now), one transaction. */
async function guardTable(client: pg.Client, names: GuardNames, t: GuardedTable, when: string): Promise<void> {
  const table = qualified(t.schema, t.name);
  const fn = `${qualified(CONTROL_SCHEMA, names.function)}()`;
  await inTransaction(
    client,
    async () => {
      for (const trigger of [names.trigger, names.rowTrigger]) await client.query(`DROP TRIGGER IF EXISTS ${ident(trigger)} ON ${table}`);
      await client.query(
        `CREATE TRIGGER ${ident(names.trigger)} AFTER TRUNCATE ON ${table} FOR EACH STATEMENT ${when} EXECUTE FUNCTION ${fn}`,
      );
      if (t.has_rows) {
        await client.query(
          `CREATE TRIGGER ${ident(names.rowTrigger)} AFTER INSERT OR UPDATE OR DELETE ON ${table} FOR EACH ROW ${when} EXECUTE FUNCTION ${fn}`,
        );
      }
      // ENABLE ALWAYS needs the owner; left ENABLE, it misses only a superuser's replica-role session
      if (!t.owned) return;
      await client.query(`ALTER TABLE ${table} ENABLE ALWAYS TRIGGER ${ident(names.trigger)}`);
      if (t.has_rows) await client.query(`ALTER TABLE ${table} ENABLE ALWAYS TRIGGER ${ident(names.rowTrigger)}`);
    },
    SHORT_LOCK_WAIT,
  );
}

/**
 * Guards the streamed tables of `database` on the target, recorded in the ledger first, the apply's
 * sessions read then noted beside the record. Idempotent (a table guarded already gets its triggers
 * again). Refused, nothing guarded, when a trigger of someone else's holds one of the guard's names
 * on one of them. Returns how many tables it guards.
 */
export async function guardTarget(run: Pick<MigrationRun, 'spec' | 'store' | 'instance'>, database: string): Promise<number> {
  const { spec, store } = run;
  const names = guardNamesOf(spec.migrationName, database);
  const publication = publicationName(spec.migrationName, database, run.instance);
  const published = await withSession(
    spec.source,
    { database, purpose: 'cutover' },
    async (source) => (await source.query<{ schema: string; name: string }>(PUBLISHED_SQL, [publication])).rows,
  );
  return withSession(spec.target, { database, purpose: 'cutover', writable: true }, async (client) => {
    const schemaCreated = !(await schemaExists(client));
    await recordChange<GuardUndo>(store, spec.migrationName, database, CHANGE, DATABASE, { schemaCreated });
    const fn = await inTransaction(
      client,
      async () => {
        await client.query(MAKE_CONTROL_SCHEMA_SQL);
        await client.query(tableSql(names));
        await client.query(functionSql(names, applyLockKey(spec.migrationName, database)));
        return (await client.query<{ fn: string }>('SELECT pg_catalog.to_regprocedure($1)::text AS fn', [guardFunction(names)])).rows[0]!
          .fn;
      },
      SHORT_LOCK_WAIT,
    );
    // what a guard left on at a roll-back recorded since (dropTargetGuard): those tables are read
    // whole at the pin, and the guard records afresh from here
    const left = (await client.query<{ schema: string; name: string }>(WRITTEN_TABLES_SQL(names))).rows;
    if (left.length > 0) {
      await forgetTableVerifications(store, spec.migrationName, database, left);
      await client.query(`DELETE FROM ${qualified(CONTROL_SCHEMA, names.table)}`);
    }
    const { rows } = await client.query<GuardedTable>(GUARDED_TABLES_SQL, [
      published.map((t) => t.schema),
      published.map((t) => t.name),
      names.trigger,
      names.rowTrigger,
    ]);
    const taken = rows.find((t) => t.named_trigger !== null && t.named_trigger !== fn);
    if (taken) {
      throw new PgferryError(
        'TARGET_GUARD_REFUSED',
        `the target's guard: a trigger of the guard's name (${displayIdent(names.trigger)} or ${displayIdent(names.rowTrigger)}) on ${displayName(taken.schema, taken.name)} of ${displayIdent(database)} calls ${taken.named_trigger}, not pgferry's guard alone: it is someone else's, kept, and nothing was guarded`,
        { category: 'target', fix: 'rename that trigger on the target, then request the cutover again' },
      );
    }
    const sessions = (await client.query<ApplySession>(APPLY_SESSIONS_SQL, [applyLockKey(spec.migrationName, database)])).rows;
    await noteDetail(store, spec.migrationName, database, CHANGE, DATABASE, { applySessions: sessions });
    // one table a transaction: the apply goes on meanwhile, and locks taken one by one never wait on each other
    for (const t of rows) await guardTable(client, names, t, strangersOnly(sessions));
    return rows.length;
  });
}

function guardFunction(names: GuardNames): string {
  return `${qualified(CONTROL_SCHEMA, names.function)}()`;
}

/** Whether the guard's table is in the connected database (undefined: not made, or made by none of this database's cutovers). */
async function guardTableExists(client: pg.Client, names: GuardNames): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>('SELECT pg_catalog.to_regclass($1) IS NOT NULL AS ok', [
    qualified(CONTROL_SCHEMA, names.table),
  ]);
  return rows[0]?.ok === true;
}

const RECORDED_SQL = (names: GuardNames) =>
  `SELECT table_name AS table, operation, user_name AS user, application, address, pid
     FROM ${qualified(CONTROL_SCHEMA, names.table)} ORDER BY at`;

/** The sessions holding the guard's shared lock: transactions that wrote a guarded table and have not ended. */
const IN_FLIGHT_SQL = (names: GuardNames) =>
  `SELECT '(a transaction still open)' AS table, 'write' AS operation, coalesce(a.usename::text, '?') AS user,
          coalesce(a.application_name, '') AS application, coalesce(pg_catalog.host(a.client_addr), 'local socket') AS address, l.pid
     FROM pg_catalog.pg_locks l LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
      AND l.classid::bigint = (pg_catalog.hashtext(${literal(names.function)})::bigint & 4294967295) AND l.objid = ${LOCK_CLASS} AND l.objsubid = 2
      AND l.pid <> pg_catalog.pg_backend_pid()`;

/**
 * What the guard recorded in `database` since it was put on, read inside the cutover's hold: the
 * writes still in flight are waited for first (a short lock_timeout), and past it named as such.
 * Empty when nothing wrote, or when no guard is pending there.
 */
export async function guardedWrites(ctx: RestoreContext, database: string): Promise<GuardedWrite[]> {
  const pending = await pendingChanges<GuardUndo>(ctx.store, ctx.spec.migrationName, database, CHANGE);
  if (pending.length === 0) return [];
  const names = guardNamesOf(ctx.spec.migrationName, database);
  return withSession(ctx.spec.target, { database, purpose: 'cutover', writable: true }, async (client) => {
    if (!(await guardTableExists(client, names))) return [];
    try {
      return await inTransaction(
        client,
        async () => {
          await client.query(`SELECT pg_catalog.pg_advisory_xact_lock(${lockArgs(names)})`);
          return (await client.query<GuardedWrite>(RECORDED_SQL(names))).rows;
        },
        SHORT_LOCK_WAIT,
      );
    } catch (error) {
      if (sqlState(error) !== LOCK_NOT_AVAILABLE) throw error;
      return (await client.query<GuardedWrite>(IN_FLIGHT_SQL(names))).rows;
    }
  });
}

/** The guard's records, one line: each table with its first writer. */
export function guardedWritesMessage(database: string, writes: readonly GuardedWrite[]): string {
  const byTable = new Map<string, GuardedWrite>();
  for (const w of writes) if (!byTable.has(w.table)) byTable.set(w.table, w);
  const shown = [...byTable.values()]
    .slice(0, 5)
    .map((w) => `${w.table}: ${w.operation} by user ${w.user} (application "${w.application}", ${w.address}, pid ${w.pid})`);
  const more = byTable.size > 5 ? ` and ${byTable.size - 5} more table(s)` : '';
  return `database ${displayIdent(database)} was written on the target by a session that is not pgferry's after its tables were verified at the pin: ${shown.join('; ')}${more}`;
}

/**
 * The tables (schema.name, as the verification names them) a record names, with their partition
 * parents and partitions: whichever of them a verification reads, it reads whole at the next pin.
 */
const WRITTEN_TABLES_SQL = (names: GuardNames) => `
WITH RECURSIVE written AS (
  SELECT DISTINCT relid AS oid FROM ${qualified(CONTROL_SCHEMA, names.table)}
), up AS (
  SELECT oid FROM written UNION SELECT i.inhparent FROM pg_catalog.pg_inherits i JOIN up ON i.inhrelid = up.oid
), down AS (
  SELECT oid FROM written UNION SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN down ON i.inhparent = down.oid
)
SELECT DISTINCT n.nspname AS schema, c.relname AS name
  FROM (SELECT oid FROM up UNION SELECT oid FROM down) x
  JOIN pg_catalog.pg_class c ON c.oid = x.oid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace`;

/** The guard's triggers, found by the function they call, never by their name. */
const GUARD_TRIGGERS_SQL = `
SELECT n.nspname AS schema, c.relname AS name, g.tgname AS trigger
  FROM pg_catalog.pg_trigger g JOIN pg_catalog.pg_class c ON c.oid = g.tgrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE g.tgfoid = pg_catalog.to_regprocedure($1)`;

/**
 * How the guard is dropped: inside the hold, in one transaction (`held`); table by table, a lock
 * someone holds failing the drop at once, for a roll-back that leaves the guard on for the next
 * cutover (`once`); or table by table waiting such a lock out, for the release, which must not
 * leave the guard recording the applications' writes (`waiting`).
 */
type GuardDrop = 'held' | 'once' | 'waiting';

/**
 * Gives the guard back in `database`: the tables its records name forgotten by the verification
 * (read whole at the next pin), then its triggers, function and table dropped, the control schema
 * too when the guard made it and it is empty. Idempotent; true when a guard was pending.
 */
async function dropGuard(ctx: FootprintContext | RestoreContext, database: string, way: GuardDrop = 'waiting'): Promise<boolean> {
  const held = way === 'held';
  const name = ctx.spec.migrationName;
  const [pending] = await pendingChanges<GuardUndo>(ctx.store, name, database, CHANGE);
  if (!pending) return false;
  const names = guardNamesOf(name, database);
  try {
    await withSession(ctx.spec.target, { database, purpose: 'cutover', writable: true }, async (client) => {
      if (await guardTableExists(client, names)) {
        const written = (await client.query<{ schema: string; name: string }>(WRITTEN_TABLES_SQL(names))).rows;
        await forgetTableVerifications(ctx.store, name, database, written);
      }
      const { rows } = await client.query<{ schema: string; name: string; trigger: string }>(GUARD_TRIGGERS_SQL, [guardFunction(names)]);
      const drops = rows.map((t) => ({
        table: qualified(t.schema, t.name),
        shown: displayName(t.schema, t.name),
        sql: `DROP TRIGGER IF EXISTS ${ident(t.trigger)} ON ${qualified(t.schema, t.name)}`,
      }));
      const rest = [`DROP FUNCTION IF EXISTS ${guardFunction(names)}`, `DROP TABLE IF EXISTS ${qualified(CONTROL_SCHEMA, names.table)}`];
      if (held) {
        // the apply stopped and the applications held: one transaction, one durable commit inside the hold
        await inTransaction(client, () => client.query([...drops.map((d) => d.sql), ...rest].join('; ')), SHORT_LOCK_WAIT);
      } else {
        // one table a transaction, as they were made: the apply may be streaming again beside it
        for (const drop of drops)
          if (way === 'waiting') await dropTriggerWhenFree(ctx, client, database, drop);
          else await inTransaction(client, () => client.query(drop.sql), SHORT_LOCK_WAIT);
        await inTransaction(client, () => client.query(rest.join('; ')), SHORT_LOCK_WAIT);
      }
      // the schema the guard made goes only when nothing else is in it (RESTRICT refuses then)
      await dropControlSchemaIfMade(client, pending.undo.schemaCreated);
    });
  } catch (error) {
    if (sqlState(error) !== INVALID_CATALOG_NAME) throw error;
  }
  // a runner killed here leaves the guard gone and its record pending, which a resumed runner's
  // undo must find harmless (the fault campaign draws it: faults/poolerTrial.ts)
  if (held) failpoint(`cutover-guard-dropped:${database}`);
  await markUndone(ctx.store, name, database, CHANGE, DATABASE);
  return true;
}

/** How often a drop a session of someone else's holds up is tried again. */
const LOCK_RETRY_MS = 1000;

/**
 * One guard trigger dropped outside the hold, where the applications may already write on the
 * target: each try waits for the table's lock no longer than a short lock_timeout, so that it never
 * queues the applications' statements behind it for long, and is tried again until it passes. A
 * session of someone else's that keeps the table (a monitoring tool's open read transaction) is
 * named once with how to end it; the guard's triggers are not left behind, where they would record
 * every write of the applications. Only a stop of the run ends the wait, the guard still pending.
 */
async function dropTriggerWhenFree(
  ctx: RestoreContext,
  client: pg.Client,
  database: string,
  drop: { readonly table: string; readonly shown: string; readonly sql: string },
): Promise<void> {
  let told = false;
  for (;;) {
    try {
      return await inTransaction(client, () => client.query(drop.sql).then(() => undefined), SHORT_LOCK_WAIT);
    } catch (error) {
      if (sqlState(error) !== LOCK_NOT_AVAILABLE || !ctx.signal || ctx.signal.aborted) throw error;
    }
    if (!told) {
      told = true;
      const holders = await lockHolders(client, { table: drop.table });
      const fix = endHoldersWords(holders);
      await ctx.warn(
        `the release waits to drop the target's guard on ${drop.shown}: ${holders.length > 0 ? holders.map(holderWords).join(', ') : 'a session'} holds the table; it goes on once that transaction ends${fix ? ` (or end it: ${fix})` : ''}`,
        database,
      );
    }
    await sleepUnlessAborted(LOCK_RETRY_MS, ctx.signal);
  }
}

/**
 * Gives the guard back while the applications are still held (the cutover, before the pooler
 * points at the target): its DDL then queues behind no application. A lock it cannot take at once
 * (a session of someone else's on the target) leaves it to the release, said in a warning.
 */
export async function dropGuardWhileHeld(
  run: Pick<MigrationRun, 'spec' | 'store' | 'warn' | 'onProgress'>,
  database: string,
): Promise<void> {
  try {
    await dropGuard(run, database, 'held');
  } catch (error) {
    if (sqlState(error) !== LOCK_NOT_AVAILABLE) throw error;
    await run.warn(`cutover: the target's guard could not be dropped yet (${errorMessage(error)}); the release drops it`, database);
  }
}

/**
 * Gives the guard back at a roll-back: a lock someone holds on one of its tables fails the drop at
 * once (LOCK_NOT_AVAILABLE), and the caller leaves the guard on for the next cutover.
 */
export function dropGuardOrRefuse(run: RestoreContext, database: string): Promise<boolean> {
  return dropGuard(run, database, 'once');
}

export const targetGuard = {
  name: 'targetGuard',
  server: 'target',
  describe:
    "the target's guard at a held cutover: triggers on each streamed table of the target recording any row written by a session that is not pgferry's apply from the pin before the hold to the switch, its triggers, function and table dropped",
  ledger: `${CONTROL_SCHEMA}.footprint (change targetGuard: undo.schemaCreated)`,
  rights: {
    server: 'target',
    needs: 'the owner of each streamed table of the target (or its TRIGGER privilege), as the apply already is',
    // the target's tables are the copy's, owned as the apply needs them: nothing more to check up front
    refusal: () => Promise.resolve(undefined),
  },
  madeFor: (spec) => spec.mode === 'Online' && spec.verify === true,
  pending: async (ctx, database) =>
    (await pendingChanges<GuardUndo>(ctx.store, ctx.spec.migrationName, database, CHANGE)).map(
      () => `${liftGuardStatement(ctx.spec.migrationName, database)} (on the target, in ${displayIdent(database)})`,
    ),
  undo: (ctx, database) => dropGuard(ctx, database, 'waiting'),
  failure: (ctx, database) => ({
    what: "could not drop the target's guard",
    left: `its triggers record the writes of the target's tables; drop them with ${liftGuardStatement(ctx.spec.migrationName, database)} on the target, or resume`,
  }),
} satisfies ReversibleChange;

/** The statement that takes the guard away by hand: its function with the triggers that call it, and its table. */
function liftGuardStatement(migration: string, database: string): string {
  const names = guardNamesOf(migration, database);
  return `DROP FUNCTION IF EXISTS ${guardFunction(names)} CASCADE; DROP TABLE IF EXISTS ${qualified(CONTROL_SCHEMA, names.table)}`;
}

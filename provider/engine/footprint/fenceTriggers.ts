// The writer fence's first line inside the database (footprint/writerFence.ts): a trigger on every
// table the stream carries that refuses any write of a session that is not pgferry's. The
// database's default_transaction_read_only only sets how a transaction starts, so a session that
// asks for a writable one (`BEGIN READ WRITE`, `SET SESSION CHARACTERISTICS AS TRANSACTION READ
// WRITE`, `SET default_transaction_read_only = off`, a role's own setting) writes through it; the
// trigger fires whatever the transaction's mode, the session's settings or its role, and a table's
// owner may create it, so it holds on a managed server too (no superuser needed).
//
// One statement-level trigger per table, BEFORE INSERT, UPDATE, DELETE and TRUNCATE, calling one
// function in the control schema's name on that server (no comparison reads it, and the schema
// check leaves out the triggers that call it). A statement on a partitioned table fires the
// parent's statement triggers and a statement on a partition its own, so the parents and the
// partitions of every published table get one. Made ENABLE ALWAYS where the user owns the table,
// so a session with session_replication_role = replica is refused too.
//
// pgferry's appliers pass, told by identity, never by a name a client can give itself (any client
// may call itself `pgferry apply`): the reverse stream of a fallback window writes into the fenced
// old source, and the forward stream again into the fenced target, and no other session of pgferry
// writes a fenced table (a marker is a logical message, a sequence a setval, a large object a
// pg_largeobject row: none fires a table's trigger). An applier holds its database's apply lock
// exclusively for its connection's life (cdc/apply/applyTarget.ts), so while it runs no other
// session can hold it, and its parallel apply sessions hold the lane lock beside it under the same
// login. The verdict is read from pg_locks once per transaction: the function notes the
// transaction it lets through in a table of the control schema that only its owner may write (an
// unlogged table, one row per session), and a later statement of that transaction passes on that
// row, an index lookup, without reading the locks again. A client cannot note a transaction of its
// own there, nor give itself another session's transaction (a transaction's id is its own and never
// comes again). What the fence leaves open is said in docs/safety.md: a session that takes the lock
// itself while no applier holds it (the key is derived from the migration's name) passes, and is
// named by the second line. Every session the fence lets write says who it is in the stream (a
// transactional logical message under the fence's prefix, once per transaction: user, application,
// address, pid), so a write that reaches the stream after the cutover point is named exactly
// (switchover/lateWrites.ts).
import type pg from 'pg';
import { displayIdent, displayName, ident, literal, qualified } from '../connect/quote';
import { PgferryError } from '../core/errors';
import { CONTROL_SCHEMA, MAKE_CONTROL_SCHEMA_SQL, fenceNamesOf, type FenceNames } from '../core/names';
import { dropControlSchemaIfMade, dropControlSchemaIfMadeStatement } from './controlSchema';

/** The SQLSTATE a fenced write fails with: read_only_sql_transaction, as default_transaction_read_only refuses one. */
const READ_ONLY_SQL_TRANSACTION = '25006';

/**
 * The tables of a publication with their partition parents and partitions, plain and partitioned
 * only, and the tables of $4 (a fall-back's tables of the window, switchover/windowTables.ts) with
 * their partitions (not their parents: a window's table is no partition, and an inheritance parent of
 * one is not the window's); `windowed`: a table of $4's or one of their partitions.
 */
const FENCED_TABLES_SQL = `
WITH RECURSIVE pub AS (
  SELECT c.oid
    FROM pg_catalog.pg_publication_tables t
    JOIN pg_catalog.pg_namespace n ON n.nspname = t.schemaname
    JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = t.tablename
   WHERE t.pubname = $1
), up AS (
  SELECT oid FROM pub
  UNION SELECT i.inhparent FROM pg_catalog.pg_inherits i JOIN up ON i.inhrelid = up.oid
), base AS (
  SELECT oid, false AS windowed FROM up
  UNION ALL
  SELECT c.oid, true FROM pg_catalog.pg_class c WHERE c.oid = ANY($4::pg_catalog.oid[])
), down AS (
  SELECT oid, windowed FROM base
  UNION SELECT i.inhrelid, down.windowed FROM pg_catalog.pg_inherits i JOIN down ON i.inhparent = down.oid
), covered AS (
  SELECT oid, pg_catalog.bool_and(windowed) AS windowed FROM down GROUP BY oid
)
SELECT c.oid::text AS oid, n.nspname AS schema, c.relname AS name, covered.windowed,
       pg_catalog.pg_has_role(current_user, c.relowner, 'USAGE') AS owned,
       pg_catalog.has_table_privilege(c.oid, 'TRIGGER') AS may,
       EXISTS (SELECT 1 FROM pg_catalog.pg_trigger tg
                WHERE tg.tgrelid = c.oid AND tg.tgname = $2 AND tg.tgfoid = pg_catalog.to_regprocedure($3)) AS fenced,
       (SELECT tg.tgfoid::pg_catalog.regprocedure::text FROM pg_catalog.pg_trigger tg
         WHERE tg.tgrelid = c.oid AND tg.tgname = $2 AND tg.tgfoid IS DISTINCT FROM pg_catalog.to_regprocedure($3)) AS taken_by
  FROM covered JOIN pg_catalog.pg_class c ON c.oid = covered.oid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p')
 ORDER BY n.nspname, c.relname`;

interface FencedTable {
  readonly oid: string;
  readonly schema: string;
  readonly name: string;
  /** A table of the window (or one of its partitions) rather than of the publication: fenced only where the user may. */
  readonly windowed: boolean;
  readonly owned: boolean;
  readonly may: boolean;
  /** The table has the fence's trigger: one of its name that calls the fence's function (the function, not the name, says it is pgferry's). */
  readonly fenced: boolean;
  /** The function a trigger of the fence's name calls that is not the fence's: someone else's trigger holds the name. */
  readonly taken_by: string | null;
}

/**
 * The tables the fence covers in the connected database: those of `publication`, with their
 * partition tree, and at a fall-back the tables of the window (`windowTables`, their OIDs:
 * switchover/windowTables.ts), with their partitions.
 */
async function fencedTables(
  client: pg.Client,
  publication: string,
  names: FenceNames,
  windowTables: readonly string[] = [],
): Promise<FencedTable[]> {
  const fn = `${qualified(CONTROL_SCHEMA, names.function)}()`;
  return (await client.query<FencedTable>(FENCED_TABLES_SQL, [publication, names.trigger, fn, windowTables])).rows;
}

/** The OIDs of the tables the fence covers in the connected database (fencedTables). */
export async function fencedTableOids(
  client: pg.Client,
  publication: string,
  names: FenceNames,
  windowTables: readonly string[] = [],
): Promise<string[]> {
  return (await fencedTables(client, publication, names, windowTables)).map((t) => t.oid);
}

/** The tables of `publication` the connected user may not put a trigger on (neither owner nor TRIGGER privilege). */
export async function tablesWithoutTriggerRight(
  client: pg.Client,
  publication: string,
  names: FenceNames,
): Promise<{ schema: string; name: string }[]> {
  return (await fencedTables(client, publication, names)).filter((t) => !t.may).map((t) => ({ schema: t.schema, name: t.name }));
}

/**
 * Whether the calling session is pgferry's applier of the database ($KEY: its apply lock, names.ts
 * applyLockKey, a bigint split as pg_advisory_lock(bigint) splits it): it holds the lock exclusively,
 * or it is a parallel apply session of that applier (the lane lock, shared, in the two-key space:
 * cdc/apply/applyTarget.ts) of the same login as the session holding the lock. pg_locks and the
 * login column of pg_stat_activity are shown to every role, so this holds for a non-superuser too.
 */
function passSql(key: string): string {
  const k = `${literal(key)}::pg_catalog.int8`;
  const here = `(SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())`;
  const applier = `l.locktype = 'advisory' AND l.granted AND l.database = ${here} AND l.objsubid = 1 AND l.mode = 'ExclusiveLock'
         AND l.classid = (${k} >> 32)::pg_catalog.oid AND l.objid = (${k} & 4294967295)::pg_catalog.oid`;
  return `EXISTS (SELECT 1 FROM pg_catalog.pg_locks l WHERE l.pid = pg_catalog.pg_backend_pid() AND ${applier})
      OR EXISTS (SELECT 1 FROM pg_catalog.pg_locks m
                  WHERE m.pid = pg_catalog.pg_backend_pid() AND m.locktype = 'advisory' AND m.granted AND m.database = ${here}
                    AND m.objsubid = 2 AND m.classid = ((${k} >> 32)::pg_catalog.int4)::pg_catalog.oid
                    AND m.objid = ((${k} & 2147483647)::pg_catalog.int4)::pg_catalog.oid
                    AND EXISTS (SELECT 1 FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
                                 WHERE ${applier}
                                   AND a.usesysid = (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = session_user)))`;
}

/**
 * The table of the transactions the function let through, one row per session (its pid, which
 * the server gives): unlogged, since it is worth nothing after a crash (every transaction of then
 * has ended), and it never reaches the stream. Only its owner, the function's, writes it: every
 * other right on it is taken back (closePasses).
 */
function passesSql(names: FenceNames): string {
  return `CREATE UNLOGGED TABLE IF NOT EXISTS ${qualified(CONTROL_SCHEMA, names.passes)} (pid int PRIMARY KEY, xact bigint NOT NULL)`;
}

/**
 * Takes back every right on the passes table but its owner's. The table is made with none, but a
 * default privilege of the role that makes it (ALTER DEFAULT PRIVILEGES ... ON TABLES, a common way
 * to hand an application every new table) grants some as it is made, and a role that may write it
 * could note a transaction of its own there and pass the fence.
 */
async function closePasses(client: pg.Client, names: FenceNames): Promise<void> {
  const table = qualified(CONTROL_SCHEMA, names.passes);
  const { rows } = await client.query<{ grantee: string | null }>(
    `SELECT DISTINCT CASE WHEN a.grantee = 0 THEN NULL ELSE pg_catalog.pg_get_userbyid(a.grantee)::text END AS grantee
       FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
      WHERE c.oid = pg_catalog.to_regclass($1) AND a.grantee <> c.relowner`,
    [table],
  );
  for (const r of rows) await client.query(`REVOKE ALL ON ${table} FROM ${r.grantee === null ? 'PUBLIC' : ident(r.grantee)}`);
}

/**
 * The function: a statement of a transaction it let through already passes on its row in the
 * passes table; else pgferry's applier of the database (passSql) passes, says who it is in the
 * stream and has its transaction noted; any other session is refused with
 * read_only_sql_transaction, naming the database and why, whatever it calls itself. SECURITY
 * DEFINER so that a session without the right to emit logical messages, or to write the passes
 * table, still passes when it is pgferry's; session_user, application_name and the client's
 * address stay the writer's. txid_current() is the transaction's id with its epoch, which never
 * comes again; a writing statement assigns one anyway.
 */
function functionSql(names: FenceNames): string {
  const passes = qualified(CONTROL_SCHEMA, names.passes);
  return `CREATE OR REPLACE FUNCTION ${qualified(CONTROL_SCHEMA, names.function)}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $pgferry$
BEGIN
  IF EXISTS (SELECT 1 FROM ${passes} p WHERE p.pid = pg_catalog.pg_backend_pid() AND p.xact = pg_catalog.txid_current()) THEN
    RETURN NULL;
  END IF;
  IF ${passSql(names.passKey)} THEN
    PERFORM pg_catalog.pg_logical_emit_message(true, ${literal(names.prefix)}, pg_catalog.jsonb_build_object(
      'user', session_user::text, 'application', pg_catalog.current_setting('application_name'),
      'address', coalesce(pg_catalog.host(pg_catalog.inet_client_addr()), 'local socket'), 'pid', pg_catalog.pg_backend_pid(),
      'table', pg_catalog.format('%I.%I', TG_TABLE_SCHEMA, TG_TABLE_NAME), 'operation', TG_OP)::text);
    INSERT INTO ${passes} AS p (pid, xact) VALUES (pg_catalog.pg_backend_pid(), pg_catalog.txid_current())
      ON CONFLICT (pid) DO UPDATE SET xact = excluded.xact;
    RETURN NULL;
  END IF;
  RAISE EXCEPTION 'database % is fenced by pgferry for its cutover: % on %.% refused', pg_catalog.current_database(), TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
    USING ERRCODE = ${literal(READ_ONLY_SQL_TRANSACTION)},
          HINT = 'the database is read-only while its migration cuts over (or after it: the application now writes on the new server)';
END
$pgferry$`;
}

/**
 * Refuses a fence whose trigger name a trigger that is not the fence's holds on one of the tables:
 * someone else's, never taken for the fence (its table would be left open) nor replaced. Run before
 * anything of the fence is made, and again as its triggers are made.
 */
export async function refuseTakenFenceName(
  client: pg.Client,
  publication: string,
  names: FenceNames,
  windowTables: readonly string[] = [],
): Promise<void> {
  refuseTakenName(await fencedTables(client, publication, names, windowTables), names, await currentDatabase(client));
}

function refuseTakenName(tables: readonly FencedTable[], names: FenceNames, database: string): void {
  const taken = tables.find((t) => t.taken_by !== null);
  if (!taken) return;
  throw new PgferryError(
    'WRITER_FENCE_REFUSED',
    `fenceWriters: trigger ${displayIdent(names.trigger)} on ${displayName(taken.schema, taken.name)} of ${displayIdent(database)} calls ${taken.taken_by}, not pgferry's fence function: it is someone else's, kept, and nothing was fenced`,
    {
      category: 'source',
      field: 'fenceWriters',
      fix: `rename that trigger (ALTER TRIGGER ${ident(names.trigger)} ON ${qualified(taken.schema, taken.name)} RENAME TO ...), then request the cutover again`,
    },
  );
}

/**
 * Puts the fence on every table of `publication` and of `windowTables` (fencedTables) in the connected database, in the caller's transaction
 * (CREATE TRIGGER waits for the writers already in a table: the caller ends them first and sets a
 * lock_timeout). Idempotent: a table fenced already keeps its trigger. A table of the window the
 * user may not put a trigger on is left as it is (the fall-back says so as it carries it): it is the
 * application's, made by a role of its own. Returns the OIDs of the tables fenced.
 */
export async function installFenceTriggers(
  client: pg.Client,
  publication: string,
  names: FenceNames,
  windowTables: readonly string[] = [],
): Promise<string[]> {
  await client.query(MAKE_CONTROL_SCHEMA_SQL);
  await client.query(passesSql(names));
  await closePasses(client, names);
  await client.query(functionSql(names));
  const tables = (await fencedTables(client, publication, names, windowTables)).filter((t) => t.may || t.fenced || !t.windowed);
  refuseTakenName(tables, names, await currentDatabase(client));
  for (const t of tables) {
    if (t.fenced) continue;
    const table = qualified(t.schema, t.name);
    await client.query(
      `CREATE TRIGGER ${ident(names.trigger)} BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${table}
         FOR EACH STATEMENT EXECUTE FUNCTION ${qualified(CONTROL_SCHEMA, names.function)}()`,
    );
    // ENABLE ALWAYS needs the owner; a trigger left ENABLE fires for every session but one with
    // session_replication_role = replica, which only a superuser may set
    if (t.owned) await client.query(`ALTER TABLE ${table} ENABLE ALWAYS TRIGGER ${ident(names.trigger)}`);
  }
  return tables.map((t) => t.oid);
}

async function currentDatabase(client: pg.Client): Promise<string> {
  return (await client.query<{ db: string }>('SELECT pg_catalog.current_database() AS db')).rows[0]!.db;
}

/** Whether the control schema exists in the connected database (the fence creates it otherwise, and drops it at its lift). */
export async function controlSchemaExists(client: pg.Client): Promise<boolean> {
  return (await client.query('SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1', [CONTROL_SCHEMA])).rows.length > 0;
}

/**
 * The statement, run in the fenced database itself, that takes the fence's triggers away
 * (installFenceTriggers): its function dropped with the triggers that call it, which are the
 * fence's alone (the function is pgferry's, made for the fence), then its passes table, then the
 * control schema when pgferry made it (its mark, or `schemaCreated`: the fence's record says the
 * fence made it) and nothing else is left in it. A fence kept after a cutover is the last of
 * pgferry's objects in the old source's database, and this is the statement `show` gives to lift it:
 * run by hand, it leaves nothing of pgferry's there.
 */
export function liftTriggersStatement(migration: string, database: string, schemaCreated = false): string {
  const names = fenceNamesOf(migration, database);
  return `DROP FUNCTION IF EXISTS ${qualified(CONTROL_SCHEMA, names.function)}() CASCADE; DROP TABLE IF EXISTS ${qualified(CONTROL_SCHEMA, names.passes)}; ${dropControlSchemaIfMadeStatement(schemaCreated)}`;
}

/** Takes the fence's triggers away in the connected database; `dropSchema`: the fence made the control schema. */
export async function dropFenceTriggers(client: pg.Client, migration: string, database: string, dropSchema: boolean): Promise<void> {
  // the fence's own function, dropped with the triggers that call it: nothing else calls it; the
  // schema is dropped by the function below, where a schema filled meanwhile is kept without an error
  const names = fenceNamesOf(migration, database);
  await client.query(`DROP FUNCTION IF EXISTS ${qualified(CONTROL_SCHEMA, names.function)}() CASCADE`);
  await client.query(`DROP TABLE IF EXISTS ${qualified(CONTROL_SCHEMA, names.passes)}`);
  await dropControlSchemaIfMade(client, dropSchema);
}

/** A prepared transaction holding a lock on a fenced table: it wrote there, and may commit after the cutover point. */
export interface PreparedWriter {
  readonly gid: string;
  readonly owner: string;
  readonly prepared: string;
}

/**
 * The prepared transactions of the connected database that hold a lock on one of `tables` (found by
 * the lock on their own transaction id: pg_locks shows a prepared transaction's locks under the
 * virtual transaction it had, not one of its own): a
 * transaction prepared before the fence commits whatever the fence is (COMMIT PREPARED is allowed
 * in a read-only transaction, and its triggers ran when it wrote), so the cutover does not pass one.
 */
export async function preparedWriters(client: pg.Client, tables: readonly string[]): Promise<PreparedWriter[]> {
  const { rows } = await client.query<PreparedWriter>(
    `SELECT p.gid, p.owner::text AS owner, p.prepared::text AS prepared
       FROM pg_catalog.pg_prepared_xacts p
      WHERE p.database = pg_catalog.current_database()
        AND EXISTS (SELECT 1 FROM pg_catalog.pg_locks x JOIN pg_catalog.pg_locks l ON l.virtualtransaction = x.virtualtransaction
                     WHERE x.pid IS NULL AND x.locktype = 'transactionid' AND x.transactionid = p.transaction
                       AND l.pid IS NULL AND l.locktype = 'relation' AND l.relation = ANY($1::oid[]))
      ORDER BY p.prepared`,
    [tables],
  );
  return rows;
}

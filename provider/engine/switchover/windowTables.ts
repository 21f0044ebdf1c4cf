// Tables the applications make on the new server during a fallback window. The reverse publication
// lists the migration's tables only (and the partitions of its partitioned roots), so the rows of
// such a table never reach the old source by the stream: a fall-back that passed its point of no
// return would leave them on a server no application uses any more, without a word.
//
// Which tables are the window's is told by identity: the cutover records the OIDs of the new
// server's tables when the window opens (control/fallbackWindows.ts markFallbackOpen), while the
// applications still point at the fenced old source; a table not among them was made in the window.
// One that was there before (a DBA's own, made on the target while streaming) is not the window's,
// stays on the new server and is never carried. A table made in the window that holds no row loses
// nothing and is kept there as well.
//
// A table of the window that holds rows: when the old source has no table of its name, the fall-back
// stops before its point of no return naming it and the CREATE TABLE that makes it there (the new
// server's definition: columns, constraints, indexes); once the user made it, the fall-back carries
// its rows inside its hold (the new server fenced and drained), in one old-source transaction, into
// the table only while it is empty there, and the verification then compares it as every other
// table. An old source's table of that name that holds rows already is never written: the
// verification compares it, and a difference stops the fall-back.
//
// What the carry wrote is recorded before its first row (footprint/windowCarry.ts: each old-source
// table's OID and the carry's transaction id), so that a fall-back that stops before its point of
// no return, or a runner killed after the carry and resumed, takes back those rows and no other:
// the table found by its OID, the rows by their xmin; a bystander's row written or updated there
// since stays. The sequences of a carried table's columns (serial, identity, and each free-standing
// one a default names) move forward on the old source with its rows, matched by the tables'
// identity, never lower; a take-back leaves them where they are (a gap, never a value drawn twice).
// The printed fix makes each sequence its columns draw from that the old source lacks, under a
// free name where the old source gives the new server's to another object.
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { displayIdent, displayName, ident, identList, literal, qualified } from '../connect/quote';
import { serverMajor, withSession, withSessionPair } from '../connect/session';
import { inTransaction } from '../connect/transaction';
import { CopyFramesIn, CopyFramesOut } from '../copy/copyRelay';
import { CONTROL_SCHEMA } from '../core/names';
import type { ServerSpec } from '../input/migrationSpec';
import type { SourceSequence } from '../catalog/introspect';
import { readSequenceValues, valuesAhead, writeSequenceValues } from './sequenceSync';

/** The OIDs of the database's tables (plain and partitioned), on the session's server. */
export async function targetTableOids(client: pg.Client): Promise<string[]> {
  const { rows } = await client.query<{ oid: string }>(
    `SELECT c.oid::text AS oid FROM pg_catalog.pg_class c WHERE c.relkind IN ('r', 'p')`,
  );
  return rows.map((r) => r.oid);
}

/** A table of the new server made in the window, outside the reverse publication. */
export interface WindowTable {
  readonly oid: string;
  readonly schema: string;
  readonly name: string;
  readonly partitioned: boolean;
  /** Whether pgferry's user may read it; one it may not is judged by its size alone. */
  readonly readable: boolean;
}

/**
 * The window's tables: not among the OIDs recorded at the opening, not in the reverse publication,
 * not a partition (a partition of a migrated root reaches the old source through its root, and one of
 * a window's partitioned table through that table), not temporary, not pgferry's.
 */
const WINDOW_TABLES_SQL = `
SELECT c.oid::text AS oid, n.nspname AS schema, c.relname AS name, c.relkind = 'p' AS partitioned,
       pg_catalog.has_table_privilege(c.oid, 'SELECT') AS readable
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relpersistence <> 't'
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname <> $3
   -- hashed, not scanned per table: the opening's list holds every table of the database
   AND c.oid NOT IN (SELECT pg_catalog.unnest($1::pg_catalog.oid[]))
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_publication_rel r JOIN pg_catalog.pg_publication p ON p.oid = r.prpubid
                    WHERE p.pubname = $2 AND r.prrelid = c.oid)
 ORDER BY 2, 3`;

/**
 * The OIDs of the window's tables on the session's server (the new server), as the fall-back's fence
 * covers them (footprint/targetFence.ts): put on before a row of them is read.
 */
export async function windowTableOids(client: pg.Client, opening: readonly string[], publication: string): Promise<string[]> {
  return (await client.query<WindowTable>(WINDOW_TABLES_SQL, [opening, publication, CONTROL_SCHEMA])).rows.map((t) => t.oid);
}

/** A table's columns as CREATE TABLE defines them; attgenerated is PostgreSQL 12's. */
const columnsSql = (major: number) => `
SELECT a.attname AS name, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS "notNull",
       pg_catalog.pg_get_expr(d.adbin, d.adrelid) AS expr, a.attidentity AS identity,
       ${major >= 12 ? 'a.attgenerated::text' : "''"} AS generated,
       CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
            THEN pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) END AS collation
  FROM pg_catalog.pg_attribute a
  JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
  LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
 WHERE a.attrelid = $1::pg_catalog.oid AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attnum`;

/** The table's own constraints and its indexes that no constraint made. */
const PARTS_SQL = `
SELECT 'CONSTRAINT ' || pg_catalog.quote_ident(co.conname) || ' ' || pg_catalog.pg_get_constraintdef(co.oid) AS definition, false AS index
  FROM pg_catalog.pg_constraint co
 WHERE co.conrelid = $1::pg_catalog.oid AND co.contype <> 'n' AND co.conislocal
UNION ALL
SELECT pg_catalog.pg_get_indexdef(x.indexrelid), true
  FROM pg_catalog.pg_index x
 WHERE x.indrelid = $1::pg_catalog.oid
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint co WHERE co.conindid = x.indexrelid AND co.conrelid = x.indrelid)
 ORDER BY 2, 1`;

interface ColumnRow {
  name: string;
  type: string;
  notNull: boolean;
  expr: string | null;
  identity: string;
  generated: string;
  collation: string | null;
}

function columnDefinition(c: ColumnRow, renamed: ReadonlyMap<string, string>): string {
  const q = ident(c.name);
  const collate = c.collation ? ` COLLATE ${c.collation}` : '';
  const expr = c.expr === null ? null : drawingFrom(c.expr, renamed);
  const generated = c.generated === 's' && expr ? ` GENERATED ALWAYS AS (${expr}) STORED` : '';
  const fallback = c.generated === '' && expr ? ` DEFAULT ${expr}` : '';
  const identity = c.identity === 'a' ? ' GENERATED ALWAYS AS IDENTITY' : c.identity === 'd' ? ' GENERATED BY DEFAULT AS IDENTITY' : '';
  return `${q} ${c.type}${collate}${generated}${fallback}${identity}${c.notNull ? ' NOT NULL' : ''}`;
}

/**
 * A default's expression as the new server prints it, each sequence it names that takes another
 * name on the old source named so: a regclass constant prints as its quoted text cast to regclass.
 */
function drawingFrom(expr: string, renamed: ReadonlyMap<string, string>): string {
  let out = expr;
  for (const [from, to] of renamed) out = out.split(`${literal(from)}::regclass`).join(`${literal(to)}::regclass`);
  return out;
}

/**
 * The sequences a table's columns draw from: those its serial columns own (pg_depend 'a') and those
 * a column's default names (a free-standing one, or another table's), with what CREATE SEQUENCE says
 * of each, its name as the new server prints it in a default (`reg`), and the column of this table
 * that owns it (null for one it only draws from).
 */
const COLUMN_SEQUENCES_SQL = `
SELECT DISTINCT ON (s.oid) sn.nspname AS schema, s.relname AS name, s.oid::pg_catalog.regclass::text AS reg,
       (SELECT a.attname FROM pg_catalog.pg_depend o
          JOIN pg_catalog.pg_attribute a ON a.attrelid = o.refobjid AND a.attnum = o.refobjsubid
         WHERE o.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND o.objid = s.oid
           AND o.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND o.refobjid = $1::pg_catalog.oid AND o.deptype = 'a') AS column,
       pg_catalog.format_type(q.seqtypid, NULL) AS type,
       q.seqincrement::text AS increment, q.seqmin::text AS min, q.seqmax::text AS max, q.seqstart::text AS start,
       q.seqcache::text AS cache, q.seqcycle AS cycle
  FROM (SELECT d.objid AS seq, d.refobjsubid AS attnum FROM pg_catalog.pg_depend d
         WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
           AND d.refobjid = $1::pg_catalog.oid AND d.deptype = 'a'
        UNION ALL
        SELECT d.refobjid, ad.adnum FROM pg_catalog.pg_attrdef ad
          JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass AND d.objid = ad.oid
                                     AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype = 'n'
         WHERE ad.adrelid = $1::pg_catalog.oid) u
  JOIN pg_catalog.pg_class s ON s.oid = u.seq AND s.relkind = 'S'
  JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace
  JOIN pg_catalog.pg_sequence q ON q.seqrelid = s.oid
 ORDER BY s.oid, u.attnum`;

interface ColumnSequence {
  schema: string;
  name: string;
  reg: string;
  column: string | null;
  type: string;
  increment: string;
  min: string;
  max: string;
  start: string;
  cache: string;
  cycle: boolean;
}

/** Whether a name in a schema of the old source is taken by a relation or a type (a sequence's row type shares the relations' names). */
async function nameTaken(to: pg.Client, schema: string, name: string): Promise<boolean> {
  const { rows } = await to.query<{ taken: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname = $1 AND c.relname = $2)
         OR EXISTS (SELECT 1 FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
                     WHERE n.nspname = $1 AND t.typname = $2) AS taken`,
    [schema, name],
  );
  return rows[0]!.taken;
}

/** Whether the old source has a sequence of that schema and name. */
async function hasSequence(to: pg.Client, schema: string, name: string): Promise<boolean> {
  const { rows } = await to.query(
    `SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind = 'S'`,
    [schema, name],
  );
  return rows.length > 0;
}

/** The longest name PostgreSQL keeps (NAMEDATALEN - 1 bytes). */
const NAME_BYTES = 63;

/** What the fix printed so far for the tables before: the names it makes (by schema), and each sequence's name there by the new server's. */
interface Printed {
  readonly names: Set<string>;
  readonly sequences: Map<string, string>;
}

/**
 * A name free on the old source in `schema`: `name` itself, else `name` with a number appended, as
 * PostgreSQL picks a serial's sequence name (shortened to fit), and none the fix already prints.
 */
async function freeName(to: pg.Client, schema: string, name: string, printed: Printed): Promise<string> {
  for (let n = 0; ; n++) {
    const suffix = n === 0 ? '' : String(n);
    let base = name;
    while (Buffer.byteLength(base + suffix) > NAME_BYTES) base = base.slice(0, -1);
    const candidate = base + suffix;
    const key = `${schema}\0${candidate}`;
    if (printed.names.has(key) || (await nameTaken(to, schema, candidate))) continue;
    printed.names.add(key);
    return candidate;
  }
}

/** The sequences a table's fix prints: the statements before its CREATE TABLE and after, and the names its defaults take. */
interface SequenceStatements {
  readonly before: string[];
  readonly after: string[];
  /** The new server's name of a sequence (as a default prints it) to the old source's, where they differ. */
  readonly renamed: Map<string, string>;
}

/**
 * The sequences a table's columns draw from, made as pg_dump makes them: CREATE SEQUENCE first,
 * with the new server's parameters (the column's default names it), then OWNED BY once the table is
 * there for those its columns own. A sequence it only draws from that the old source has by name is
 * that one; else it is made there too. One whose name is taken on the old source (by a bystander's
 * object) gets a free one, and the default names that: the fall-back pairs a column's sequence by
 * the column, never by the sequence's name. Printed as `serial` instead, the old source would reset
 * the parameters, and the default would then differ from the new server's.
 */
async function sequenceStatements(
  to: pg.Client,
  table: WindowTable,
  sequences: readonly ColumnSequence[],
  printed: Printed,
): Promise<SequenceStatements> {
  const out: SequenceStatements = { before: [], after: [], renamed: new Map() };
  for (const q of sequences) {
    if (!printed.sequences.has(q.reg) && q.column === null && (await hasSequence(to, q.schema, q.name))) continue;
    // one an earlier table of the fix makes (it draws from it too) is made once
    let name = printed.sequences.get(q.reg);
    if (name === undefined) {
      name = await freeName(to, q.schema, q.name, printed);
      printed.sequences.set(q.reg, name);
      out.before.push(
        `CREATE SEQUENCE ${qualified(q.schema, name)} AS ${q.type} INCREMENT BY ${q.increment} MINVALUE ${q.min} ` +
          `MAXVALUE ${q.max} START WITH ${q.start} CACHE ${q.cache} ${q.cycle ? 'CYCLE' : 'NO CYCLE'}`,
      );
    }
    if (name !== q.name) out.renamed.set(q.reg, qualified(q.schema, name));
    if (q.column !== null)
      out.after.push(`ALTER SEQUENCE ${qualified(q.schema, name)} OWNED BY ${qualified(table.schema, table.name)}.${ident(q.column)}`);
  }
  return out;
}

/**
 * The statements that make the new server's table on the old source, run as printed: the sequences
 * its columns draw from, CREATE TABLE, its own indexes, then the sequences owned by their columns.
 */
async function createStatements(from: pg.Client, to: pg.Client, t: WindowTable, printed: Printed): Promise<string> {
  const columns = (await from.query<ColumnRow>(columnsSql(await serverMajor(from)), [t.oid])).rows;
  const sequences = await sequenceStatements(to, t, (await from.query<ColumnSequence>(COLUMN_SEQUENCES_SQL, [t.oid])).rows, printed);
  const parts = (await from.query<{ definition: string; index: boolean }>(PARTS_SQL, [t.oid])).rows;
  const inside = [...columns.map((c) => columnDefinition(c, sequences.renamed)), ...parts.filter((p) => !p.index).map((p) => p.definition)];
  const partitioning = t.partitioned
    ? ` PARTITION BY ${(await from.query<{ key: string }>('SELECT pg_catalog.pg_get_partkeydef($1::pg_catalog.oid) AS key', [t.oid])).rows[0]!.key}`
    : '';
  const indexes = parts.filter((p) => p.index).map((p) => p.definition);
  return [
    ...sequences.before,
    `CREATE TABLE ${qualified(t.schema, t.name)} (${inside.join(', ')})${partitioning}`,
    ...indexes,
    ...sequences.after,
  ].join('; ');
}

const holdsRows = async (client: pg.Client, schema: string, name: string): Promise<boolean> =>
  (await client.query<{ rows: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${qualified(schema, name)}) AS rows`)).rows[0]!.rows;

/**
 * Whether a table pgferry's user cannot read may hold rows: its files (a partitioned table's
 * partitions', from PostgreSQL 12) are not empty; a partitioned one before 12 is taken as holding
 * some. pg_relation_size asks no right on the table.
 */
async function mayHoldRows(client: pg.Client, t: WindowTable): Promise<boolean> {
  if (t.partitioned && (await serverMajor(client)) < 12) return true;
  const sql = t.partitioned
    ? 'SELECT coalesce(sum(pg_catalog.pg_relation_size(relid)), 0) > 0 AS rows FROM pg_catalog.pg_partition_tree($1::pg_catalog.oid)'
    : 'SELECT pg_catalog.pg_relation_size($1::pg_catalog.oid) > 0 AS rows';
  return (await client.query<{ rows: boolean }>(sql, [t.oid])).rows[0]!.rows;
}

/** Whether the session's server has a table (plain or partitioned) of that schema and name. */
async function hasTable(client: pg.Client, schema: string, name: string): Promise<boolean> {
  const { rows } = await client.query(
    `SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`,
    [schema, name],
  );
  return rows.length > 0;
}

/** What a fall-back does with the window's tables: stop on those the old source lacks, carry the others' rows. */
export interface WindowTablesPlan {
  /** The one-line reason to stop, naming the tables the old source has no table for and the statements that make them. */
  readonly leftBehind?: string;
  /** Tables with rows on the new server that the old source has, empty: their rows are carried. */
  readonly carry: readonly WindowTable[];
  /** The OIDs of the window's tables the plan read, and of those it found holding rows: what it judged. */
  readonly seen: readonly string[];
  readonly filled: readonly string[];
}

/** Reads, on both servers, what the window's tables ask of a fall-back: nothing is written. */
export async function planWindowTables(
  sides: { readonly newServer: ServerSpec; readonly oldSource: ServerSpec },
  database: string,
  opening: readonly string[],
  publication: string,
): Promise<WindowTablesPlan> {
  const purpose = 'fall-back tables of the window';
  const options = { database, purpose, readOnly: true };
  return withSessionPair(sides.newServer, options, sides.oldSource, options, async ({ source: from, target: to }) => {
    const { rows } = await from.query<WindowTable>(WINDOW_TABLES_SQL, [opening, publication, CONTROL_SCHEMA]);
    const seen = rows.map((t) => t.oid);
    const unreadable: WindowTable[] = [];
    for (const t of rows) if (!t.readable && (await mayHoldRows(from, t))) unreadable.push(t);
    if (unreadable.length > 0) return { carry: [], seen, filled: [], leftBehind: unreadableMessage(unreadable, await userOf(from)) };
    const missing: { table: WindowTable; create: string }[] = [];
    const carry: WindowTable[] = [];
    const filled: string[] = [];
    const printed: Printed = { names: new Set(), sequences: new Map() };
    for (const t of rows) {
      if (!t.readable || !(await holdsRows(from, t.schema, t.name))) continue;
      filled.push(t.oid);
      if (!(await hasTable(to, t.schema, t.name))) missing.push({ table: t, create: await createStatements(from, to, t, printed) });
      else if (!(await holdsRows(to, t.schema, t.name))) carry.push(t);
    }
    return { carry, seen, filled, ...(missing.length > 0 ? { leftBehind: leftBehindMessage(missing) } : {}) };
  });
}

/** What a fall-back read of the window's tables before it carried their rows: the window, and the tables it saw and found filled. */
export interface PlannedWindow {
  readonly opening: readonly string[];
  readonly publication: string;
  readonly seen: WindowTablesPlan['seen'];
  readonly filled: WindowTablesPlan['filled'];
}

/**
 * The window's tables that the plan did not judge and that may lose rows now: one holding rows (or
 * that may, unreadable) the plan did not find holding any, and one made since the plan that the
 * fence does not cover (`fenced`), which may still be written. A session that turns read-only off
 * passes the fence's default, and CREATE TABLE is no write a trigger can refuse: such a table is
 * made, and written, after the plan read the window's tables.
 */
export async function windowTablesSincePlan(
  newServer: ServerSpec,
  database: string,
  plan: PlannedWindow,
  fenced: readonly string[],
): Promise<WindowTable[]> {
  return withSession(newServer, { database, purpose: 'fall-back tables of the window', readOnly: true }, async (client) => {
    const { rows } = await client.query<WindowTable>(WINDOW_TABLES_SQL, [plan.opening, plan.publication, CONTROL_SCHEMA]);
    const late: WindowTable[] = [];
    for (const t of rows) {
      if (plan.filled.includes(t.oid)) continue;
      const unfencedNew = !plan.seen.includes(t.oid) && !fenced.includes(t.oid);
      if (unfencedNew || (t.readable ? await holdsRows(client, t.schema, t.name) : await mayHoldRows(client, t))) late.push(t);
    }
    return late;
  });
}

/** The one-line reason a fall-back stops on the window's tables made or written since it read them. */
export function windowTablesSincePlanMessage(late: readonly WindowTable[]): string {
  const names = late.map((t) => displayName(t.schema, t.name)).join(', ');
  const one = late.length === 1;
  return (
    `${one ? 'table' : 'tables'} ${names} of the new server ${one ? 'was' : 'were'} made or written during the fall-back, after it read the tables of the window, ` +
    `by a session that turned read-only off: a fall-back would leave ${one ? 'its' : 'their'} rows behind; ` +
    `stop that session's writes, then fall back again: the fall-back then carries ${one ? 'it' : 'them'} or names the fix`
  );
}

const userOf = async (client: pg.Client): Promise<string> =>
  (await client.query<{ user: string }>('SELECT current_user AS "user"')).rows[0]!.user;

function unreadableMessage(tables: readonly WindowTable[], user: string): string {
  const names = tables.map((t) => displayName(t.schema, t.name)).join(', ');
  const grants = tables.map((t) => `GRANT SELECT ON ${qualified(t.schema, t.name)} TO ${ident(user)}`).join('; ');
  return (
    `${tables.length === 1 ? 'table' : 'tables'} ${names} of the new server, made there in the fallback window, may hold rows ` +
    `pgferry's user ${displayIdent(user)} cannot read (no SELECT on it), so a fall-back cannot tell whether it would leave them behind; ` +
    `fix on the new server: ${grants}; then fall back again`
  );
}

function leftBehindMessage(missing: readonly { table: WindowTable; create: string }[]): string {
  const names = missing.map((m) => displayName(m.table.schema, m.table.name)).join(', ');
  const one = missing.length === 1;
  const partitions = missing.some((m) => m.table.partitioned) ? ' (a partitioned table with its partitions, as on the new server)' : '';
  return (
    `${one ? 'table' : 'tables'} ${names} of the new server, made there in the fallback window, ${one ? 'holds' : 'hold'} rows ` +
    `the old source has no table for (the reverse stream carries only the migration's tables): a fall-back would leave them behind; ` +
    `fix on the old source${partitions}: ${missing.map((m) => m.create).join('; ')}; then fall back again: the fall-back carries the rows inside its hold`
  );
}

/** The columns COPY writes: all but generated ones, which the old source computes itself. */
async function copiedColumns(client: pg.Client, t: WindowTable): Promise<string[]> {
  return (await client.query<ColumnRow>(columnsSql(await serverMajor(client)), [t.oid])).rows
    .filter((c) => c.generated === '')
    .map((c) => c.name);
}

/** A table of the old source the carry writes, locked there: its OID, recorded before the first row (footprint/windowCarry.ts). */
export interface CarryTarget {
  readonly oid: string;
  readonly schema: string;
  readonly name: string;
}

/** What records a carry before its first row, in the carry's old-source transaction (footprint/windowCarry.ts recordCarry). */
type CarryRecord = (oldSource: pg.Client, tables: readonly CarryTarget[]) => Promise<void>;

/** Each of the old source's tables locked for the carry (as its COPY would), by name, and its OID there. */
async function lockedForCarry(to: pg.Client, tables: readonly WindowTable[]): Promise<CarryTarget[]> {
  const locked: CarryTarget[] = [];
  for (const t of tables) {
    await to.query(`LOCK TABLE ${qualified(t.schema, t.name)} IN ROW EXCLUSIVE MODE`);
    const { rows } = await to.query<{ oid: string }>('SELECT pg_catalog.to_regclass($1)::pg_catalog.oid::text AS oid', [
      qualified(t.schema, t.name),
    ]);
    locked.push({ oid: rows[0]!.oid, schema: t.schema, name: t.name });
  }
  return locked;
}

/**
 * The sequences each of a table's columns draws from, by the table's OID: the one it owns (serial,
 * identity), and each its default depends on (pg_depend of its pg_attrdef row: a free-standing one,
 * or two in one default), placed by where the default, as the server prints it, first names it
 * (its regclass constant, printed from its OID): the printed fix makes the same default on the old
 * source, a sequence renamed at most, so the places pair them.
 */
const COLUMN_DRAWS_SQL = `
SELECT a.attname AS column, u.seq::text AS oid, sn.nspname AS schema, s.relname AS name, u.owned,
       CASE WHEN u.owned THEN 0
            ELSE pg_catalog.strpos(pg_catalog.pg_get_expr(ad.adbin, ad.adrelid),
                                   '''' || pg_catalog.replace(u.seq::pg_catalog.regclass::text, '''', '''''') || '''::regclass') END AS place
  FROM (SELECT d.objid AS seq, d.refobjsubid AS attnum, true AS owned FROM pg_catalog.pg_depend d
         WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
           AND d.refobjid = $1::pg_catalog.oid AND d.deptype IN ('a', 'i')
        UNION ALL
        SELECT d.refobjid, ad.adnum, false FROM pg_catalog.pg_attrdef ad
          JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass AND d.objid = ad.oid
                                     AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype = 'n'
         WHERE ad.adrelid = $1::pg_catalog.oid) u
  JOIN pg_catalog.pg_class s ON s.oid = u.seq AND s.relkind = 'S'
  JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace
  JOIN pg_catalog.pg_attribute a ON a.attrelid = $1::pg_catalog.oid AND a.attnum = u.attnum
  LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
 ORDER BY a.attnum, u.owned DESC, place, s.oid`;

interface ColumnDraw {
  column: string;
  oid: string;
  schema: string;
  name: string;
  owned: boolean;
  place: number;
}

/**
 * Each sequence a table's columns draw from, keyed so that the two servers' pair: a column's own
 * one by the column, each other one its default names by the column and its place among them (the
 * own one, which a serial's default names too, is not counted again).
 */
async function columnSequences(client: pg.Client, oid: string): Promise<Map<string, SourceSequence>> {
  const { rows } = await client.query<ColumnDraw>(COLUMN_DRAWS_SQL, [oid]);
  const out = new Map<string, SourceSequence>();
  const own = new Set<string>();
  const placed = new Map<string, number>();
  for (const r of rows) {
    const sequence = { schema: r.schema, name: r.name, sql: qualified(r.schema, r.name) };
    if (r.owned) {
      own.add(`${r.column}\0${r.oid}`);
      out.set(`${r.column}\0own`, sequence);
    } else if (!own.has(`${r.column}\0${r.oid}`)) {
      const place = (placed.get(r.column) ?? 0) + 1;
      placed.set(r.column, place);
      out.set(`${r.column}\0${place}`, sequence);
    }
  }
  return out;
}

/**
 * The sequences of a carried table's columns moved forward on the old source to the new server's,
 * never lower (sequenceSync.ts valuesAhead): each matched by the tables' identity and the column's
 * name, not by the sequence's own name, which the user's CREATE TABLE there may not have given it.
 * Each free-standing one a default names moves too, two in one default each (matched by its place
 * in the default): the carried keys were drawn from them.
 * Returns how many moved.
 */
async function carrySequences(from: pg.Client, to: pg.Client, t: WindowTable, there: CarryTarget): Promise<number> {
  const theirs = await columnSequences(from, t.oid);
  if (theirs.size === 0) return 0;
  const ours = await columnSequences(to, there.oid);
  const columns = [...theirs.keys()].filter((c) => ours.has(c));
  const values = await readSequenceValues(
    from,
    columns.map((c) => theirs.get(c)!),
  );
  const ahead = await valuesAhead(
    to,
    values.map((value, i) => ({ value, here: ours.get(columns[i]!)! })),
  );
  return writeSequenceValues(to, ahead);
}

/**
 * Copies each table's rows from the new server (fenced and drained: nothing writes them) into the
 * old source's empty table of the same name, in one old-source transaction: all of them or none,
 * recorded by `record` before the first row (so that only they are ever taken back), and carries
 * the sequences of its columns forward. Returns the rows carried and the sequences moved per table.
 */
export async function carryWindowTables(
  sides: { readonly newServer: ServerSpec; readonly oldSource: ServerSpec },
  database: string,
  tables: readonly WindowTable[],
  record: CarryRecord,
): Promise<{ table: string; rows: number; sequences: number }[]> {
  const purpose = 'fall-back tables of the window';
  return withSessionPair(
    sides.newServer,
    { database, purpose, readOnly: true },
    sides.oldSource,
    { database, purpose, writable: true },
    ({ source: from, target: to }) =>
      inTransaction(to, async () => {
        const targets = await lockedForCarry(to, tables);
        await record(to, targets);
        const carried: { table: string; rows: number; sequences: number }[] = [];
        for (const [i, t] of tables.entries()) {
          const columns = identList(await copiedColumns(from, t));
          const out = new CopyFramesOut(`COPY (SELECT ${columns} FROM ${qualified(t.schema, t.name)}) TO STDOUT`);
          const into = new CopyFramesIn(`COPY ${qualified(t.schema, t.name)} (${columns}) FROM STDIN`);
          from.query(out);
          to.query(into);
          await pipeline(out, into);
          const sequences = await carrySequences(from, to, t, targets[i]!);
          carried.push({ table: displayName(t.schema, t.name), rows: into.rowCount, sequences });
        }
        return carried;
      }),
  );
}

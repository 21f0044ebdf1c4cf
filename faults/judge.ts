// The judge: compares a source and a target database with its own queries, never pgferry's
// verify. Each side is read in one REPEATABLE READ snapshot with pinned text settings: the catalog
// (tables, columns with their types, NOT NULL and defaults, indexes, constraints, triggers and
// their enabled state, views, functions, comments, sequences, enum types and domains, policies,
// owners and grants of relations, schemas), each large object read back on both sides (its content
// hashed, its owner), then per table a row count and an
// order-independent sum of 64-bit row hashes. A table
// that differs is compared row by row (by primary key, or as a multiset of row hashes without one)
// to say how many rows were lost, are extra (duplicated or resurrected) or changed. A trigger whose
// function is pgferry's own (the writer fence's, kept on a cut-over source by design) is not the
// application's schema: the fence is judged by itself (leftovers.ts).
import type pg from 'pg';
import { ident, qualified } from '../provider/engine';
import type { Cluster } from '../test/support';

interface TableDiff {
  readonly table: string;
  readonly sourceRows: number;
  readonly targetRows: number;
  /** On the source, missing on the target. */
  readonly lost: number;
  /** On the target and not on the source (a duplicate, or a row the source deleted). */
  readonly extra: number;
  /** Same key, other content. */
  readonly changed: number;
  /** A few keys of each kind, to start the hunt from. */
  readonly samples: readonly string[];
}

export interface DatabaseJudgement {
  readonly database: string;
  /** Catalog entries present on one side only (prefixed '-' source only, '+' target only). */
  readonly catalogDiffs: readonly string[];
  readonly tables: readonly TableDiff[];
  readonly rowsCompared: number;
  /** The large objects read back on both sides (the judge's source's count). */
  readonly largeObjectsCompared: number;
}

const SETTINGS = [
  'SET search_path = pg_catalog',
  "SET datestyle = 'ISO, YMD'",
  "SET intervalstyle = 'postgres'",
  'SET extra_float_digits = 3',
  "SET bytea_output = 'hex'",
  "SET timezone = 'UTC'",
  "SET lc_monetary = 'C'",
].join('; ');

const USER_NAMESPACE = `n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgferry') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'`;

/** Catalog lines that must be equal on both sides. */
const CATALOG_SQL = `
SELECT 'relation ' || c.relkind::text || ' ' || format('%I.%I', n.nspname, c.relname) AS line
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'i') AND ${USER_NAMESPACE}
UNION ALL
SELECT 'column ' || format('%I.%I.%I', n.nspname, c.relname, a.attname) || ' ' || format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm') AND ${USER_NAMESPACE}
UNION ALL
SELECT 'index ' || indexdef FROM pg_indexes i JOIN pg_namespace n ON n.nspname = i.schemaname WHERE ${USER_NAMESPACE}
UNION ALL
SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(c.oid)
  FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE ${USER_NAMESPACE}
UNION ALL
SELECT 'trigger ' || tgrelid::regclass::text || ' ' || tgname || ' enabled=' || tgenabled::text
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE NOT t.tgisinternal AND ${USER_NAMESPACE}
   AND (SELECT p.pronamespace FROM pg_proc p WHERE p.oid = t.tgfoid) NOT IN (SELECT oid FROM pg_namespace WHERE nspname = 'pgferry')
UNION ALL
SELECT 'default ' || format('%I.%I.%I', n.nspname, c.relname, a.attname) || ' ' || pg_get_expr(d.adbin, d.adrelid)
  FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
  JOIN pg_class c ON c.oid = d.adrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE NOT a.attisdropped AND ${USER_NAMESPACE}
UNION ALL
SELECT 'view ' || format('%I.%I', n.nspname, c.relname) || ' ' || pg_get_viewdef(c.oid)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('v', 'm') AND ${USER_NAMESPACE}
UNION ALL
SELECT 'function ' || p.oid::regprocedure::text || ' ' || md5(pg_get_functiondef(p.oid))
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE p.prokind IN ('f', 'p') AND ${USER_NAMESPACE}
   AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_proc'::regclass AND e.objid = p.oid AND e.deptype = 'e')
UNION ALL
SELECT 'comment ' || pg_describe_object(d.classoid, d.objoid, d.objsubid) || ' = ' || d.description
  FROM pg_description d
 WHERE d.objoid >= 16384 AND pg_describe_object(d.classoid, d.objoid, d.objsubid) !~ '(^| )pgferry(\\.|$)'
UNION ALL
SELECT 'type ' || format('%I.%I', n.nspname, t.typname) || ' ' || t.typtype::text || ' ' || format_type(t.typbasetype, t.typtypmod)
       || CASE WHEN t.typnotnull THEN ' not null' ELSE '' END || coalesce(' default ' || t.typdefault, '')
       || coalesce(' labels ' || (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), '')
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
 WHERE t.typtype IN ('e', 'd') AND ${USER_NAMESPACE}
UNION ALL
SELECT 'policy ' || format('%I.%I', schemaname, tablename) || ' ' || policyname || ' ' || permissive || ' ' || cmd || ' ' || roles::text
       || ' using ' || coalesce(qual, '-') || ' check ' || coalesce(with_check, '-')
  FROM pg_policies WHERE schemaname NOT IN ('pgferry')
UNION ALL
SELECT 'privileges ' || format('%I.%I', n.nspname, c.relname) || ' owner ' || pg_get_userbyid(c.relowner) || ' '
       || (SELECT string_agg(x, ',' ORDER BY x) FROM unnest(coalesce(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner))::text[]) x)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND ${USER_NAMESPACE}
UNION ALL
SELECT 'schema ' || n.nspname || ' owner ' || pg_get_userbyid(n.nspowner) FROM pg_namespace n WHERE ${USER_NAMESPACE}
`;

/** Each large object read back, its content hashed, with its owner (a bystander's left out by OID). */
const LARGE_OBJECTS_SQL = `
SELECT 'large object ' || m.oid || ' owner ' || pg_get_userbyid(m.lomowner) || ' md5 ' || md5(lo_get(m.oid)) AS line
  FROM pg_largeobject_metadata m WHERE NOT m.oid::text = ANY($1::text[])`;

const TABLES_SQL = `
SELECT n.nspname AS schema, c.relname AS name,
       (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM pg_index i
          CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
         WHERE i.indrelid = c.oid AND i.indisprimary) AS key
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND ${USER_NAMESPACE}
 ORDER BY 1, 2`;

const SEQUENCES_SQL = `SELECT format('%I.%I', schemaname, sequencename) AS name, coalesce(last_value, 0)::text AS value FROM pg_sequences WHERE schemaname NOT IN ('pgferry')`;

interface TableRef {
  schema: string;
  name: string;
  key: string[] | null;
  /** The row as text is hashed on these columns rather than `t` (a bystander's column left out). */
  row?: string;
}

async function openSnapshot(server: Cluster, database: string): Promise<pg.Client> {
  const client = await server.connect(database);
  client.on('error', () => undefined);
  await client.query(SETTINGS);
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  return client;
}

async function lines(client: pg.Client, sql: string, params: unknown[], skip: (line: string) => boolean): Promise<Set<string>> {
  const { rows } = await client.query<{ line: string }>(sql, params);
  return new Set(rows.map((r) => r.line).filter((l) => !skip(l)));
}

/**
 * What another actor made (faults/bystander.ts): names holding `mark` (its tables, columns, indexes,
 * constraints) and its large objects are left out of the comparison, and a table with one of its
 * columns is compared on the other columns; the bystander checks its own objects.
 */
export interface BystanderObjects {
  readonly mark: string;
  readonly largeObjects: readonly string[];
}

/** Tables holding a bystander's column, as `schema.table` (on either side). */
async function tablesWithMarkedColumns(client: pg.Client, mark: string): Promise<Set<string>> {
  const { rows } = await client.query<{ t: string }>(
    `SELECT n.nspname || '.' || c.relname AS t FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p') AND strpos(a.attname, $1) = 1`,
    [mark],
  );
  return new Set(rows.map((r) => r.t));
}

/** A table's own columns, in order, without the bystander's: the row text both sides are hashed on. */
async function rowExpression(client: pg.Client, t: TableRef, mark: string): Promise<string> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT attname AS name FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped
        AND strpos(attname, $2) <> 1 ORDER BY attnum`,
    [qualified(t.schema, t.name), mark],
  );
  return `ROW(${rows.map((r) => `t.${ident(r.name)}`).join(', ')})`;
}

function setDiff(source: Set<string>, target: Set<string>): string[] {
  const out: string[] = [];
  for (const l of source) if (!target.has(l)) out.push(`- ${l}`);
  for (const l of target) if (!source.has(l)) out.push(`+ ${l}`);
  return out;
}

async function tableHash(client: pg.Client, t: TableRef): Promise<{ n: number; h: string }> {
  const { rows } = await client.query<{ n: string; h: string }>(
    `SELECT count(*) AS n, coalesce(sum(('x' || left(md5(${t.row ?? 't'}::text), 16))::bit(64)::bigint::numeric), 0)::text AS h FROM ONLY ${qualified(t.schema, t.name)} t`,
  );
  return { n: Number(rows[0]!.n), h: rows[0]!.h };
}

/** Row keys (or, without a key, row hashes with a running number) mapped to row hashes. */
async function rowHashes(client: pg.Client, t: TableRef): Promise<Map<string, string>> {
  const row = `${t.row ?? 't'}::text`;
  const key = t.key?.length ? `ROW(${t.key.map((k) => `t.${ident(k)}`).join(', ')})::text` : `md5(${row})`;
  const { rows } = await client.query<{ k: string; h: string }>(
    `SELECT ${key} AS k, md5(${row}) AS h FROM ONLY ${qualified(t.schema, t.name)} t`,
  );
  const out = new Map<string, string>();
  for (const r of rows) {
    if (t.key?.length) out.set(r.k, r.h);
    else {
      // A multiset: the n-th copy of a row hash is its own entry.
      let i = 0;
      while (out.has(`${r.k}#${i}`)) i++;
      out.set(`${r.k}#${i}`, r.h);
    }
  }
  return out;
}

async function diffTable(source: pg.Client, target: pg.Client, t: TableRef, counts: [number, number]): Promise<TableDiff> {
  const [s, d] = await Promise.all([rowHashes(source, t), rowHashes(target, t)]);
  let lost = 0;
  let extra = 0;
  let changed = 0;
  const samples: string[] = [];
  for (const [k, h] of s) {
    const other = d.get(k);
    if (other === undefined) {
      lost++;
      if (samples.length < 6) samples.push(`lost ${k}`);
    } else if (other !== h) {
      changed++;
      if (samples.length < 6) samples.push(`changed ${k}`);
    }
  }
  for (const k of d.keys()) {
    if (!s.has(k)) {
      extra++;
      if (samples.length < 6) samples.push(`extra ${k}`);
    }
  }
  return { table: qualified(t.schema, t.name), sourceRows: counts[0], targetRows: counts[1], lost, extra, changed, samples };
}

/**
 * Sequences whose target value is behind the source's (an application would reuse values). `slack`
 * values are allowed when the source crashed after the cutover: crash recovery moves a sequence on
 * by up to 32 values it never handed out (SEQ_LOG_VALS), so the source is then ahead harmlessly.
 */
function sequencesBehind(source: Map<string, string>, target: Map<string, string>, slack: number): string[] {
  const out: string[] = [];
  for (const [name, value] of source) {
    const t = target.get(name);
    if (t === undefined) continue; // reported by the catalog comparison
    if (BigInt(t) + BigInt(slack) < BigInt(value)) out.push(`sequence ${name} behind on the target: ${t} < ${value}`);
  }
  return out;
}

async function sequenceValues(client: pg.Client): Promise<Map<string, string>> {
  const { rows } = await client.query<{ name: string; value: string }>(SEQUENCES_SQL);
  return new Map(rows.map((r) => [r.name, r.value]));
}

/** Crash recovery can move a source sequence on by this many values (PostgreSQL's SEQ_LOG_VALS). */
export const SEQUENCE_CRASH_SLACK = 32;

export async function judgeDatabase(
  sourceServer: Cluster,
  targetServer: Cluster,
  database: string,
  options: { sequenceSlack?: number; bystanders?: BystanderObjects; rowsJudgedApart?: readonly string[] } = {},
): Promise<DatabaseJudgement> {
  const [source, target] = await Promise.all([openSnapshot(sourceServer, database), openSnapshot(targetServer, database)]);
  try {
    const mark = options.bystanders?.mark;
    const skip = (name: string): boolean => mark !== undefined && name.includes(mark);
    const [sc, tc] = await Promise.all([lines(source, CATALOG_SQL, [], skip), lines(target, CATALOG_SQL, [], skip)]);
    const notBystanders = [options.bystanders?.largeObjects ?? []];
    const [sl, tl] = await Promise.all([
      lines(source, LARGE_OBJECTS_SQL, notBystanders, skip),
      lines(target, LARGE_OBJECTS_SQL, notBystanders, skip),
    ]);
    const [ss, ts] = await Promise.all([sequenceValues(source), sequenceValues(target)]);
    const catalogDiffs = [...setDiff(sc, tc), ...setDiff(sl, tl), ...sequencesBehind(ss, ts, options.sequenceSlack ?? 0)];
    // a table whose rows another judge reads (the application's behind a pooler: poolerTrial.ts) keeps its catalog lines here
    const apart = new Set(options.rowsJudgedApart ?? []);
    const tables = (await source.query<TableRef>(TABLES_SQL)).rows.filter((t) => !skip(t.name) && !apart.has(t.name));
    if (mark !== undefined) {
      const marked = new Set([...(await tablesWithMarkedColumns(source, mark)), ...(await tablesWithMarkedColumns(target, mark))]);
      for (const t of tables) if (marked.has(`${t.schema}.${t.name}`)) t.row = await rowExpression(source, t, mark);
    }
    const diffs: TableDiff[] = [];
    let rowsCompared = 0;
    for (const t of tables) {
      const [a, b] = await Promise.all([tableHash(source, t), tableHash(target, t).catch(() => ({ n: -1, h: 'missing' }))]);
      rowsCompared += a.n;
      if (a.n === b.n && a.h === b.h) continue;
      if (b.n < 0) {
        diffs.push({
          table: qualified(t.schema, t.name),
          sourceRows: a.n,
          targetRows: 0,
          lost: a.n,
          extra: 0,
          changed: 0,
          samples: ['table missing'],
        });
        break; // the target transaction is aborted: nothing further can be read in it
      }
      diffs.push(await diffTable(source, target, t, [a.n, b.n]));
    }
    return { database, catalogDiffs, tables: diffs, rowsCompared, largeObjectsCompared: sl.size };
  } finally {
    await Promise.all([source.end().catch(() => undefined), target.end().catch(() => undefined)]);
  }
}

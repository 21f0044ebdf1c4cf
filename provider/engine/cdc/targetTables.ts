// Maps a streamed relation to the target table the planner writes: the SQL type each text value is
// cast to, whether it is partitioned, and which streamed columns the target lacks (columns added
// on the source while streaming, added on the target here before any row uses them).
import type pg from 'pg';
import { ident, qualified } from '../connect/quote';
import { PgferryError } from '../errors';
import type { Relation, TargetTable } from './types';

/** Type OIDs without a btree equality operator (and their arrays): json, xml, point, lseg, path, box, polygon, line, circle. */
const TEXT_COMPARED_TYPES: ReadonlySet<number> = new Set([
  114, 199, 142, 143, 600, 1017, 601, 1018, 602, 1019, 603, 1020, 604, 1027, 628, 629, 718, 719,
]);

/** OIDs below this are built in and identical on every server (FirstNormalObjectId). */
const FIRST_NORMAL_OID = 16384;

/**
 * The table's kind and row security, and whether a foreign key of it acts on its rows: deletes
 * them (ON DELETE CASCADE) or changes them (ON UPDATE CASCADE, SET NULL, SET DEFAULT; ON DELETE
 * SET NULL, SET DEFAULT, which a REPLICA IDENTITY FULL table's old row no longer matches).
 */
const TABLE_SQL = `
SELECT c.relkind = 'p' AS partitioned, c.relrowsecurity AS row_security,
       EXISTS (SELECT 1 FROM pg_constraint f WHERE f.conrelid = c.oid AND f.contype = 'f' AND f.confdeltype = 'c') AS cascaded_deletes,
       EXISTS (SELECT 1 FROM pg_constraint f WHERE f.conrelid = c.oid AND f.contype = 'f' AND (f.confupdtype IN ('c', 'n', 'd') OR f.confdeltype IN ('n', 'd'))) AS cascaded_updates
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = $1 AND c.relname = $2`;

interface TableRow {
  partitioned: boolean;
  row_security: boolean;
  cascaded_deletes: boolean;
  cascaded_updates: boolean;
}

/**
 * The target table a relation's rows are written to. `foreignKeysFire`: the session applies without
 * replica role, so the target's referential actions change rows on their own (see TargetTable).
 */
export async function resolveTargetTable(target: pg.Client, relation: Relation, foreignKeysFire: boolean): Promise<TargetTable> {
  const { rows: rel } = await target.query<TableRow>(TABLE_SQL, [relation.schema, relation.name]);
  if (rel.length === 0) {
    throw new PgferryError(
      'CDC_TABLE_MISSING',
      `table ${qualified(relation.schema, relation.name)} is streamed from the source but does not exist on the target`,
      {
        category: 'target',
        fix: 'tables created on the source after the migration started are not migrated: restart the migration',
      },
    );
  }
  const builtins = relation.columns.map((c, i) => (c.typeOid < FIRST_NORMAL_OID || !relation.typeNames[i] ? i : -1)).filter((i) => i >= 0);
  const { rows: names } = await target.query<{ i: number; t: string }>(
    'SELECT u.i::int AS i, format_type(u.o, u.m) AS t FROM unnest($1::int[], $2::oid[], $3::int[]) AS u(i, o, m)',
    [builtins, builtins.map((i) => relation.columns[i]!.typeOid), builtins.map((i) => relation.columns[i]!.typeMod)],
  );
  const casts = new Map(names.map((r) => [r.i, r.t]));
  const { rows: always } = await target.query<{ name: string }>(
    `SELECT a.attname AS name FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND a.attidentity = 'a' AND NOT a.attisdropped`,
    [relation.schema, relation.name],
  );
  const identityAlways = new Set(always.map((r) => r.name));
  return {
    oid: relation.oid,
    schema: relation.schema,
    name: relation.name,
    identityFull: relation.replicaIdentity === 'full',
    partitioned: rel[0]!.partitioned,
    rowSecurity: rel[0]!.row_security,
    cascadedDeletes: foreignKeysFire && rel[0]!.cascaded_deletes,
    cascadedUpdates: foreignKeysFire && rel[0]!.cascaded_updates,
    columns: relation.columns.map((c, i) => {
      const named = relation.typeNames[i];
      const cast = named && c.typeOid >= FIRST_NORMAL_OID ? qualified(named.schema, named.name) : casts.get(i);
      if (!cast) throw new Error(`no type name for column "${c.name}" (type oid ${c.typeOid})`);
      return {
        name: c.name,
        cast,
        isKey: c.isKey,
        compareAsText: TEXT_COMPARED_TYPES.has(c.typeOid),
        identityAlways: identityAlways.has(c.name),
      };
    }),
  };
}

/**
 * Streamed columns the target lacks (added on the source), and target columns the stream lacks
 * (dropped or renamed on the source: pgoutput sends every column but generated ones before PG18).
 * Comparing with the target, not only with the previous relation message, also catches changes
 * made while no applier was running.
 */
export async function compareColumns(target: pg.Client, relation: Relation): Promise<{ missing: string[]; extra: string[] }> {
  const { rows } = await target.query<{ name: string; generated: boolean }>(
    `SELECT a.attname AS name, a.attgenerated <> '' AS generated
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped`,
    [relation.schema, relation.name],
  );
  const have = new Set(rows.map((r) => r.name));
  const streamed = new Set(relation.columns.map((c) => c.name));
  return {
    missing: relation.columns.map((c) => c.name).filter((n) => !have.has(n)),
    extra: rows.filter((r) => !r.generated && !streamed.has(r.name)).map((r) => r.name),
  };
}

/** Column definitions as the source has them now (type, default, NOT NULL), read by the relation's source OID. */
export async function sourceColumnDefinitions(
  source: pg.Client,
  relationOid: number,
  columns: readonly string[],
): Promise<{ name: string; type: string; defaultExpr: string | null; notNull: boolean }[]> {
  const { rows } = await source.query<{ name: string; type: string; default_expr: string | null; not_null: boolean }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, pg_get_expr(d.adbin, d.adrelid) AS default_expr, a.attnotnull AS not_null
       FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = $1 AND a.attname = ANY($2::text[]) AND NOT a.attisdropped ORDER BY a.attnum`,
    [relationOid, columns],
  );
  return rows.map((r) => ({ name: r.name, type: r.type, defaultExpr: r.default_expr, notNull: r.not_null }));
}

/**
 * ALTER TABLE ... ADD COLUMN for columns added on the source. The type and default expression are
 * the source catalog's own SQL (format_type / pg_get_expr output), not user input; names are quoted.
 * A constant default gives existing target rows the value the source's existing rows have.
 */
export function addColumnSql(
  schema: string,
  table: string,
  column: { name: string; type: string; defaultExpr: string | null; notNull: boolean },
): string {
  const def = column.defaultExpr ? ` DEFAULT ${column.defaultExpr}` : '';
  const notNull = column.notNull ? ' NOT NULL' : '';
  return `ALTER TABLE ${qualified(schema, table)} ADD COLUMN IF NOT EXISTS ${ident(column.name)} ${column.type}${def}${notNull}`;
}

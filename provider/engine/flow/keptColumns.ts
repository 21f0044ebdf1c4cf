// Columns the target alone has (a DBA's, made on the new server while the stream runs) kept through
// a re-copy at a pin (flow/pinnedCopy.ts). A re-copy replaces a table's rows whole, and the rows it
// writes carry only the source's columns: the target's own column would be left at its default in
// every row. Its values are set aside by the target's primary key in the transaction that empties the
// table, and put back in the same transaction once the copy is in, so no session ever sees them gone.
// A table the target has no such key on cannot have them put back row by row, nor can an identity
// column GENERATED ALWAYS be set: the re-copy is refused before anything is skipped or emptied,
// naming the columns and the fix (docs/safety.md, the ownership rule). A row whose key changed on
// the source meanwhile is a new row: its value is the column's default, as for any row the stream inserts.
import type pg from 'pg';
import type { SourceTable } from '../catalog/introspect';
import { ident, identList } from '../connect/quote';
import { serverMajor } from '../connect/session';

/** One table's columns the target alone has, and the key their values are put back by. */
export interface KeptColumns {
  readonly table: SourceTable;
  readonly columns: readonly string[];
  /** The target's primary key columns, all of them the source's; undefined when there is no such key. */
  readonly key: readonly string[] | undefined;
  /** Identity columns GENERATED ALWAYS among `columns`: no UPDATE can set their values back. */
  readonly always: readonly string[];
}

/**
 * The target's own columns of each table: those the copy does not write (not the source's), neither
 * generated (the server computes them again) nor dropped. Only tables that have some are returned.
 */
export async function readKeptColumns(target: pg.Client, tables: readonly SourceTable[]): Promise<KeptColumns[]> {
  if (tables.length === 0) return [];
  const notGenerated = (await serverMajor(target)) >= 12 ? `AND a.attgenerated = ''` : '';
  const { rows } = await target.query<{ sql: string; columns: string[]; always: string[]; key: string[] }>(
    `SELECT t.x AS sql,
            ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
                   WHERE a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped ${notGenerated}
                   ORDER BY a.attnum) AS columns,
            ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
                   WHERE a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attidentity = 'a') AS always,
            ARRAY(SELECT a.attname::text
                    FROM pg_catalog.pg_index i, pg_catalog.unnest(i.indkey) WITH ORDINALITY AS k(attnum, n), pg_catalog.pg_attribute a
                   WHERE i.indrelid = r.oid AND i.indisprimary AND a.attrelid = r.oid AND a.attnum = k.attnum
                   ORDER BY k.n) AS key
       FROM pg_catalog.unnest($1::pg_catalog.text[]) AS t(x)
       JOIN pg_catalog.pg_class r ON r.oid = pg_catalog.to_regclass(t.x)`,
    [tables.map((t) => t.sql)],
  );
  const bySql = new Map(rows.map((r) => [r.sql, r]));
  const kept: KeptColumns[] = [];
  for (const table of tables) {
    const row = bySql.get(table.sql);
    if (!row) continue;
    const copied = new Set(table.columns);
    const columns = row.columns.filter((c) => !copied.has(c));
    if (columns.length === 0) continue;
    // a key the copy does not write cannot find the copied rows again
    const key = row.key.length > 0 && row.key.every((c) => copied.has(c)) ? row.key : undefined;
    kept.push({ table, columns, key, always: columns.filter((c) => row.always.includes(c)) });
  }
  return kept;
}

/** Why a re-copy of these tables would lose values of the target's own columns; undefined when none would. */
export function keptColumnsRefusal(kept: readonly KeptColumns[]): string | undefined {
  const quoted = (columns: readonly string[]) => columns.map((c) => `"${c}"`).join(', ');
  const reasons = [
    ...kept
      .filter((k) => k.key === undefined)
      .map(
        (k) =>
          `${k.table.display} (${quoted(k.columns)}) has no primary key on the target made of the source's columns to put the values back by`,
      ),
    ...kept
      .filter((k) => k.key !== undefined && k.always.length > 0)
      .map((k) => `${k.table.display} (${quoted(k.always)}) is GENERATED ALWAYS AS IDENTITY, whose values no UPDATE can set back`),
  ];
  if (reasons.length === 0) return undefined;
  return (
    `a re-copy replaces the rows whole, and the target alone has columns not the source's whose values it would lose: ${reasons.join('; ')}; ` +
    `nothing was copied or emptied: add such a primary key on the target (or make the identity BY DEFAULT), or keep the values elsewhere and drop the columns, then ask again`
  );
}

/** The temporary table one table's kept values wait in during the copy's transaction. */
function asideName(index: number): string {
  return `pg_temp.${ident(`pgferry_kept_${index}`)}`;
}

/** In the transaction that empties the tables, before it does: each table's own values, by key. */
export async function setKeptAside(target: pg.Client, kept: readonly KeptColumns[]): Promise<void> {
  for (const [index, k] of kept.entries()) {
    await target.query(
      `CREATE TEMPORARY TABLE ${asideName(index)} ON COMMIT DROP AS SELECT ${identList([...k.key!, ...k.columns])} FROM ONLY ${k.table.sql}`,
    );
  }
}

/** In the same transaction, once the copy is in: the values put back on the rows whose key is still there. */
export async function putKeptBack(target: pg.Client, kept: readonly KeptColumns[]): Promise<void> {
  for (const [index, k] of kept.entries()) {
    const set = k.columns.map((c) => `${ident(c)} = s.${ident(c)}`).join(', ');
    const match = k.key!.map((c) => `t.${ident(c)} = s.${ident(c)}`).join(' AND ');
    await target.query(`UPDATE ONLY ${k.table.sql} AS t SET ${set} FROM ${asideName(index)} AS s WHERE ${match}`);
  }
}

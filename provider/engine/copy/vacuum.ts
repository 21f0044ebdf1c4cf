// The visibility map and the statistics of each copied table: the end state of a VACUUM ANALYZE,
// which the tools users know leave behind (pgcopydb, pg_restore + vacuumdb). A table loaded frozen
// (copyItem.ts) has its heap all-visible and all-frozen already; the index pool runs its VACUUM
// (ANALYZE) as soon as its indexes are built, while other tables still copy, and that VACUUM skips
// the heap and marks the TOAST pages, which COPY FREEZE leaves unmarked (their rows are frozen,
// so visible to every transaction). A table copied in parts is not frozen: its VACUUM (ANALYZE)
// waits for the last step, when no copy transaction older than its rows is open any more.
import type pg from 'pg';
import { INSUFFICIENT_PRIVILEGE, sqlState } from '../connect/sqlstate';

/**
 * Tables whose ANALYZE must wait for post-data: extended statistics objects and indexes built by
 * the post-data restore (partitions of partitioned indexes, indexes left to it) come with it, and
 * an ANALYZE before them would miss their statistics. The rest are analyzed with their VACUUM.
 */
export async function analyzeAfterPostData(
  source: pg.Client,
  tableOids: readonly string[],
  poolIndexOids: readonly string[],
): Promise<Set<string>> {
  if (tableOids.length === 0) return new Set();
  const { rows } = await source.query<{ oid: string }>(
    `SELECT t.oid::int8::text AS oid FROM pg_class t
      WHERE t.oid = ANY($1::oid[])
        AND (EXISTS (SELECT 1 FROM pg_statistic_ext e WHERE e.stxrelid = t.oid)
             OR EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = t.oid AND NOT i.indexrelid = ANY($2::oid[])))`,
    [tableOids, poolIndexOids],
  );
  return new Set(rows.map((r) => r.oid));
}

/**
 * VACUUM, with ANALYZE when the table's statistics need nothing from post-data; `toast: false`
 * (PostgreSQL 14+) when its TOAST table was vacuumed on its own already (toastVacuumStatement).
 */
export function vacuumStatement(tableSql: string, analyze: boolean, toast = true): string {
  const options = [analyze ? 'ANALYZE' : null, toast ? null : 'PROCESS_TOAST false'].filter(Boolean);
  return options.length > 0 ? `VACUUM (${options.join(', ')}) ${tableSql}` : `VACUUM ${tableSql}`;
}

/** PROCESS_TOAST, which lets a table's VACUUM leave its TOAST table out, came in PostgreSQL 14. */
export const TOAST_APART_FROM = 14;

/**
 * VACUUM of a table's TOAST table alone, for a table loaded frozen: its rows are frozen, so the
 * VACUUM marks every page all-visible whatever else is open, and it locks only the TOAST table,
 * so it runs beside the table's index builds (which lock the table against its own VACUUM).
 * Whether it ran: false when the table has no TOAST table, or when the user may not name it (a
 * managed target's admin has no USAGE on pg_toast): the table's own VACUUM then includes it.
 */
export async function vacuumToastOf(target: pg.Client, tableSql: string): Promise<boolean> {
  const { rows } = await target.query<{ toast: string | null }>(
    `SELECT nullif(reltoastrelid, 0)::regclass::text AS toast FROM pg_class WHERE oid = $1::regclass`,
    [tableSql],
  );
  const toast = rows[0]?.toast;
  if (!toast) return false;
  try {
    // regclass output: the TOAST table's name, qualified and quoted by the server
    await target.query(`VACUUM ${toast}`);
    return true;
  } catch (error) {
    if (sqlState(error) === INSUFFICIENT_PRIVILEGE) return false;
    throw error;
  }
}

/**
 * Tables of this database ANALYZE has already run on (the index pool's VACUUM ANALYZE): the last
 * step leaves them out. Read from the statistics system; where it lags (before PostgreSQL 15) a
 * table missing here is only analyzed twice.
 */
export async function analyzedTables(target: pg.Client): Promise<Set<string>> {
  const { rows } = await target.query<{ oid: string }>(
    `SELECT relid::int8::text AS oid FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL`,
  );
  return new Set(rows.map((r) => r.oid));
}

/**
 * Tables of this database a VACUUM left with pages not all-visible (it ran while a transaction
 * older than their rows was still open: one the copy does not track, a helper agent's): the last
 * step vacuums them again. relallvisible and relpages are what that VACUUM recorded.
 */
export async function notAllVisible(target: pg.Client): Promise<Set<string>> {
  const { rows } = await target.query<{ oid: string }>(
    `SELECT c.oid::int8::text AS oid FROM pg_class c
       LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
      WHERE c.relkind = 'r' AND c.relnamespace <> 'pg_catalog'::regnamespace
        AND ((c.relpages > 0 AND c.relallvisible < c.relpages) OR (t.relpages > 0 AND t.relallvisible < t.relpages))`,
  );
  return new Set(rows.map((r) => r.oid));
}

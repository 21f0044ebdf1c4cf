// Whether a copy item copied in an earlier snapshot still holds exactly the rows the resume's snapshot
// sees, read on the source in that newer snapshot. The rule and why it is exact: README, "Resuming
// inside a table". In short: every row version visible now whose xmin is older than the first
// snapshot's xmin was visible then, at the same place (the relfilenode is unchanged); so the rows
// of a range now are a subset of what it held then, and an equal count makes them the same rows.
import type pg from 'pg';
import type { CopyItem } from './plan';

/** txid_snapshot_xmin and _xmax of the session's snapshot (REPEATABLE READ: the imported one), as int8 text. */
export async function snapshotBounds(client: pg.Client): Promise<{ xmin: string; xmax: string }> {
  const { rows } = await client.query<{ xmin: string; xmax: string }>(
    `SELECT txid_snapshot_xmin(s)::text AS xmin, txid_snapshot_xmax(s)::text AS xmax FROM txid_current_snapshot() AS s`,
  );
  return rows[0]!;
}

/** Each table's relfilenode (a rewrite changes it); read under the copy's locks, so it cannot change meanwhile. */
export async function relfilenodes(client: pg.Client, oids: readonly string[]): Promise<Map<string, string>> {
  const { rows } = await client.query<{ oid: string; node: string }>(
    `SELECT o::text AS oid, pg_relation_filenode(o::regclass)::text AS node FROM unnest($1::oid[]) AS o`,
    [oids],
  );
  return new Map(rows.map((r) => [r.oid, r.node]));
}

/**
 * Rows of the item's range visible in this snapshot, and how many of them were written at or after
 * `firstXmin`. xmin is a 32-bit xid: it is widened to 64 bits against this snapshot's xmax (every
 * visible row's xid is within 2^31 below it); xids 0-2 (bootstrap, frozen) are old. Comparing with
 * the first snapshot's xmin rather than its in-progress list also counts rows of subtransactions
 * (whose xids that list leaves out) as newer: never exact-looking when it is not.
 */
export async function rangeCensus(
  source: pg.Client,
  item: CopyItem,
  firstXmin: string,
  xmax: string,
): Promise<{ rows: number; newer: number }> {
  const where = item.part ? ` WHERE ${item.part.where}` : '';
  const { rows } = await source.query<{ rows: string; newer: string }>(
    `SELECT count(*)::int8 AS rows,
            count(*) FILTER (WHERE xmin::text::int8 >= 3
                               AND $2::int8 - (($2::int8 % 4294967296) - xmin::text::int8 + 4294967296) % 4294967296 >= $1::int8)::int8 AS newer
       FROM ONLY ${item.table.sql}${where}`,
    [firstXmin, xmax],
  );
  return { rows: Number(rows[0]!.rows), newer: Number(rows[0]!.newer) };
}

// The copy's work items in the control catalog (pgferry.copy_item): one per table, or per part of a
// split table, with its range as numbers, its claim's epoch and, once done, its row count.
// The authority on whether an item is done is its done-record in the target database, committed
// with its rows (copy/doneRecords.ts); these rows mirror it for `show` and the claimers, and a
// resumed copy brings them back in line from the done-records before it starts.
import { displayIdent, ident } from '../connect/quote';
import { CONTROL_SCHEMA, qualifiedKey } from '../core/names';
import type { RangeBounds } from '../copy/plan';
import type { CatalogQueries } from './copyRounds';
import type { CatalogConnection } from './connection';

const S = ident(CONTROL_SCHEMA);

/** What a resumed copy checks the source against (copy/resumeCheck.ts), recorded with the items. */
export interface CopyPlanRecord {
  /** txid_snapshot_xmin of the first copy's snapshot: a row written by a transaction at or after it is newer. */
  readonly snapshotXmin: string;
  /** Hash of the dump's table of contents: any schema change since means the database is copied again. */
  readonly schemaSignature: string;
  /** Post-data started: the copy is past the point where it can resume inside (indexes, constraints, triggers). */
  readonly postData?: boolean;
  /**
   * The partitioned tables above the copied ones, by source OID, named as in the snapshot: the
   * table watch's first look compares with them (absent in a plan an older pgferry recorded; an
   * entry without a schema is one whose printed name control migration 32 could not read back).
   */
  readonly partitionedParents?: readonly { readonly oid: string; readonly schema?: string; readonly name: string }[];
}

export interface CopyItemRecord {
  readonly item: string;
  readonly tableOid: string;
  /** The table's schema and name on the source when the plan was made. */
  readonly tableSchema: string;
  readonly tableName: string;
  /** Absent: the whole table. */
  readonly part?: number;
  readonly parts: number;
  readonly range?: RangeBounds;
  /** The table's relfilenode when planned: a rewrite since (VACUUM FULL, CLUSTER, TRUNCATE) moves rows. */
  readonly relfilenode: string;
  readonly state: 'pending' | 'done';
  readonly epoch: number;
  readonly rows?: number;
  readonly bytes?: number;
}

/**
 * Records a database's copy plan and its items (in copy order: their rank), replacing an earlier plan's (a copy started again:
 * new slot, new snapshot) in one transaction. The new items' epochs start above every epoch of the
 * old ones, so a claim of the new plan always outranks a fence an earlier run raised in a target
 * database that survived.
 */
export async function recordCopyPlan(
  store: CatalogConnection,
  migration: string,
  database: string,
  plan: CopyPlanRecord,
  items: readonly Omit<CopyItemRecord, 'state' | 'epoch'>[],
): Promise<void> {
  await store.install(); // a runner resumed on a catalog an older pgferry made: schema_name comes with version 33
  await store.transaction(async (client) => {
    const { rows } = await client.query<{ epoch: string }>(
      `SELECT coalesce(max(epoch), 0)::text AS epoch FROM ${S}.copy_item WHERE migration = $1 AND database = $2`,
      [migration, database],
    );
    await client.query(`DELETE FROM ${S}.copy_item WHERE migration = $1 AND database = $2`, [migration, database]);
    await client.query(`UPDATE ${S}.migration_database SET copy_plan = $3::jsonb WHERE migration = $1 AND database = $2`, [
      migration,
      database,
      JSON.stringify(plan),
    ]);
    await client.query(
      `INSERT INTO ${S}.copy_item (migration, database, item, table_oid, schema_name, table_name, part, parts, range, relfilenode, epoch, rank)
       SELECT $1, $2, j->>'item', (j->>'tableOid')::int8, j->>'tableSchema', j->>'tableName', (j->>'part')::int, (j->>'parts')::int, j->'range',
              (j->>'relfilenode')::int8, $4::int8, n
         FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS e(j, n)`,
      [migration, database, JSON.stringify(items), rows[0]?.epoch ?? '0'],
    );
  });
}

/**
 * The partitioned tables the copy made on the target, source OID to the qualifiedKey of the name
 * they were copied under (empty for a plan an older pgferry recorded, or none): what tells a parent
 * renamed on the source from another table (cdc/apply/partitionTree.ts).
 */
export async function copiedParents(store: CatalogConnection, migration: string, database: string): Promise<Map<string, string>> {
  await store.install(); // the parents' schema comes with version 33
  const [row] = await store.query<{ parents: CopyPlanRecord['partitionedParents'] | null }>(
    `SELECT copy_plan -> 'partitionedParents' AS parents FROM ${S}.migration_database WHERE migration = $1 AND database = $2`,
    [migration, database],
  );
  return new Map((row?.parents ?? []).flatMap((p) => (p.schema === undefined ? [] : [[p.oid, qualifiedKey(p.schema, p.name)]])));
}

/** A database's recorded copy plan and items; undefined when none was recorded. */
export async function loadCopyPlan(
  store: CatalogConnection,
  migration: string,
  database: string,
): Promise<{ plan: CopyPlanRecord; items: CopyItemRecord[] } | undefined> {
  await store.install(); // schema_name comes with version 33
  const [row] = await store.query<{ plan: CopyPlanRecord | null }>(
    `SELECT copy_plan AS plan FROM ${S}.migration_database WHERE migration = $1 AND database = $2`,
    [migration, database],
  );
  if (!row?.plan) return undefined;
  const items = await store.query<{
    item: string;
    table_oid: string;
    schema_name: string;
    table_name: string;
    part: number | null;
    parts: number;
    range: RangeBounds | null;
    relfilenode: string;
    state: 'pending' | 'done';
    epoch: string;
    rows: string | null;
    bytes: string | null;
  }>(
    `SELECT item, table_oid::text, schema_name, table_name, part, parts, range, relfilenode::text, state, epoch, rows, bytes
       FROM ${S}.copy_item WHERE migration = $1 AND database = $2 ORDER BY table_oid, part`,
    [migration, database],
  );
  return {
    plan: row.plan,
    items: items.map((r) => ({
      item: r.item,
      tableOid: r.table_oid,
      tableSchema: r.schema_name,
      tableName: r.table_name,
      ...(r.part === null ? {} : { part: r.part }),
      parts: r.parts,
      ...(r.range === null ? {} : { range: r.range }),
      relfilenode: r.relfilenode,
      state: r.state,
      epoch: Number(r.epoch),
      ...(r.rows === null ? {} : { rows: Number(r.rows) }),
      ...(r.bytes === null ? {} : { bytes: Number(r.bytes) }),
    })),
  };
}

/** Claims an item: raises its epoch, which the commit of its rows checks on the target; returns the new epoch. */
export async function claimCopyItem(
  store: CatalogConnection,
  migration: string,
  database: string,
  item: string,
  holder: string,
): Promise<number> {
  const [row] = await store.query<{ epoch: string }>(
    `UPDATE ${S}.copy_item SET epoch = epoch + 1, holder = $4, claimed_at = now()
      WHERE migration = $1 AND database = $2 AND item = $3 RETURNING epoch`,
    [migration, database, item, holder],
  );
  if (!row) throw new Error(`copy item ${item} of database ${displayIdent(database)} is not in the control catalog`);
  return Number(row.epoch);
}

/** Mirrors a done-record: the item's rows committed on the target under this epoch (the holder stays: who copied it). */
export async function markCopyItemDone(
  store: CatalogQueries,
  migration: string,
  database: string,
  done: { item: string; epoch: number; rows: number; bytes: number },
): Promise<void> {
  await store.query(
    `UPDATE ${S}.copy_item SET state = 'done', epoch = GREATEST(epoch, $4), rows = $5, bytes = $6, done_at = now()
      WHERE migration = $1 AND database = $2 AND item = $3`,
    [migration, database, done.item, done.epoch, done.rows, done.bytes],
  );
}

/** Makes items pending again (their table is copied again) and mirrors the rest as the done-records say. */
export async function resetCopyItems(
  store: CatalogConnection,
  migration: string,
  database: string,
  items: readonly string[],
): Promise<void> {
  if (items.length === 0) return;
  await store.query(
    `UPDATE ${S}.copy_item SET state = 'pending', rows = NULL, bytes = NULL, done_at = NULL, holder = NULL
      WHERE migration = $1 AND database = $2 AND item = ANY($3::text[])`,
    [migration, database, items],
  );
}

/** Post-data is about to start: from here on a resume copies the database again from the start. */
export async function markCopyPostData(store: CatalogConnection, migration: string, database: string): Promise<void> {
  await store.query(
    `UPDATE ${S}.migration_database SET copy_plan = copy_plan || '{"postData": true}'::jsonb
      WHERE migration = $1 AND database = $2 AND copy_plan IS NOT NULL`,
    [migration, database],
  );
}

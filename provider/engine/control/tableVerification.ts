// Each table's last verification (pgferry.table_verification): where the background verifier
// compared it (the pinned source position) and how the cutover checked it again. The cutover
// reads the background records to decide what to re-read (switchover/recheckPlan.ts); tests and
// `show` read what was done.
import { displayName, ident } from '../connect/quote';
import { CONTROL_SCHEMA, type QualifiedName } from '../core/names';
import type { CatalogConnection } from './connection';

const T = `${ident(CONTROL_SCHEMA)}.table_verification`;

type VerificationMethod = 'background' | 'cutover-full' | 'cutover-keys' | 'cutover-count';

export interface TableVerificationRecord {
  readonly database: string;
  /** The table's schema and name, which its row is keyed by. */
  readonly relation: QualifiedName;
  /** The table as the verification report names it (read back: printed from `relation`). */
  readonly table: string;
  readonly method: VerificationMethod;
  readonly verifiedLsn?: string;
  readonly sourceRows: number;
  readonly targetRows: number;
  readonly keysChecked?: number;
  readonly matches: boolean;
  readonly reason?: string;
}

const UPSERT_SQL = `INSERT INTO ${T} (migration, database, schema_name, table_name, method, verified_lsn, source_rows, target_rows, keys_checked, matches, reason)
     VALUES ($1, $2, $3, $11, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (migration, database, schema_name, table_name) DO UPDATE
        SET method = excluded.method, verified_lsn = excluded.verified_lsn, source_rows = excluded.source_rows,
            target_rows = excluded.target_rows, keys_checked = excluded.keys_checked, matches = excluded.matches,
            reason = excluded.reason, verified_at = now()`;

const upsertParams = (migration: string, r: TableVerificationRecord): unknown[] => [
  migration,
  r.database,
  r.relation.schema,
  r.method,
  r.verifiedLsn ?? null,
  r.sourceRows,
  r.targetRows,
  r.keysChecked ?? null,
  r.matches,
  r.reason ?? null,
  r.relation.name,
];

export async function recordTableVerification(store: CatalogConnection, migration: string, r: TableVerificationRecord): Promise<void> {
  await store.install(); // a runner resumed on a catalog an older pgferry made: schema_name comes with version 33
  await store.query(UPSERT_SQL, upsertParams(migration, r));
}

/** Several tables' verifications in one transaction: one commit for all (the cutover's, inside the hold). */
export async function recordTableVerifications(
  store: CatalogConnection,
  migration: string,
  records: readonly TableVerificationRecord[],
): Promise<void> {
  if (records.length === 0) return;
  await store.install(); // schema_name comes with version 33
  await store.transaction(async (client) => {
    for (const r of records) await client.query(UPSERT_SQL, upsertParams(migration, r));
  });
}

/**
 * Forgets the verification of these tables: their shape changed, so the cutover reads them whole
 * next time instead of trusting what was verified before.
 */
export async function forgetTableVerifications(
  store: CatalogConnection,
  migration: string,
  database: string,
  tables: readonly QualifiedName[],
): Promise<void> {
  if (tables.length === 0) return;
  await store.install(); // schema_name comes with version 33
  await store.query(
    `DELETE FROM ${T} WHERE migration = $1 AND database = $2
        AND (schema_name, table_name) IN (SELECT s, n FROM unnest($3::text[], $4::text[]) AS u(s, n))`,
    [migration, database, tables.map((t) => t.schema), tables.map((t) => t.name)],
  );
}

export async function tableVerifications(
  store: CatalogConnection,
  migration: string,
  database?: string,
): Promise<TableVerificationRecord[]> {
  await store.install(); // schema_name comes with version 33
  const rows = await store.query<{
    database: string;
    schema_name: string;
    table_name: string;
    method: VerificationMethod;
    verified_lsn: string | null;
    source_rows: string;
    target_rows: string;
    keys_checked: string | null;
    matches: boolean;
    reason: string | null;
  }>(
    `SELECT database, schema_name, table_name, method, verified_lsn, source_rows::text, target_rows::text, keys_checked::text, matches, reason
       FROM ${T} WHERE migration = $1 AND ($2::text IS NULL OR database = $2) ORDER BY database, schema_name, table_name`,
    [migration, database ?? null],
  );
  return rows.map((r) => ({
    database: r.database,
    relation: { schema: r.schema_name, name: r.table_name },
    table: displayName(r.schema_name, r.table_name),
    method: r.method,
    ...(r.verified_lsn ? { verifiedLsn: r.verified_lsn } : {}),
    sourceRows: Number(r.source_rows),
    targetRows: Number(r.target_rows),
    ...(r.keys_checked !== null ? { keysChecked: Number(r.keys_checked) } : {}),
    matches: r.matches,
    ...(r.reason ? { reason: r.reason } : {}),
  }));
}

// Replica identity: UPDATE and DELETE can only be streamed for tables with a primary key, a
// REPLICA IDENTITY USING INDEX, or REPLICA IDENTITY FULL. Tables without one either fail
// validation or, with allowReplicaIdentityFull, get FULL on source and target.
import type pg from 'pg';
import { qualified } from '../connect/quote';

export interface TableName {
  readonly schema: string;
  readonly name: string;
}

/**
 * Permanent user tables that could not stream an UPDATE or DELETE, partitions included: each leaf
 * logs its own old rows, so FULL must be set on every level, not only on the root.
 */
export const TABLES_WITHOUT_IDENTITY = `
SELECT n.nspname AS schema, c.relname AS name
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'p'
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
   AND (c.relreplident = 'n'
        OR (c.relreplident = 'd' AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary))
        OR (c.relreplident = 'i' AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident)))
 ORDER BY 1, 2`;

export async function tablesWithoutIdentity(client: pg.Client): Promise<TableName[]> {
  const { rows } = await client.query<TableName>(TABLES_WITHOUT_IDENTITY);
  return rows;
}

/** ALTER TABLE ... REPLICA IDENTITY FULL for each table (on the source before the slot exists, then on the target). */
export async function setIdentityFull(client: pg.Client, tables: readonly TableName[]): Promise<void> {
  for (const t of tables) {
    await client.query(`ALTER TABLE ${qualified(t.schema, t.name)} REPLICA IDENTITY FULL`);
  }
}

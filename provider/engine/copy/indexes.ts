// Index and index-backed constraint builds, run by their own worker pool as soon as a table's
// data is in (pgcopydb's design): the definitions come from the source catalog, so one table's
// indexes build while other tables still copy.
import type pg from 'pg';
import type { SourceIndex } from '../catalog/introspect';
import { ident, qualified } from '../connect/quote';

/** The statement that builds one index or constraint on the target. */
export function indexStatement(index: SourceIndex): string {
  if (index.constraint) {
    // pg_get_constraintdef gives "PRIMARY KEY (id)", "UNIQUE (a, b) DEFERRABLE", "EXCLUDE USING gist (...)"
    return `ALTER TABLE ONLY ${qualified(index.schema, index.table)} ADD CONSTRAINT ${ident(index.constraint.name)} ${index.constraint.def}`;
  }
  // pg_get_indexdef output is fully qualified and quoted by the server itself.
  return index.indexDef;
}

/**
 * What pg_dump writes after the index in the same TOC entry, which leaving that entry out of
 * pg_restore's post-data would otherwise lose (issue 16): statistics targets of index columns,
 * the clustered mark and the replica identity. Each runs as its own statement: one transaction
 * would hold the index build's lock while waiting for another worker's (a deadlock).
 */
export function indexMarkStatements(index: SourceIndex): string[] {
  const table = qualified(index.schema, index.table);
  const statements = index.columnStatistics.map(
    (s) =>
      `ALTER INDEX ${qualified(index.schema, index.indexName)} ALTER COLUMN ${Math.trunc(s.column)} SET STATISTICS ${Math.trunc(s.target)}`,
  );
  if (index.clustered) statements.push(`ALTER TABLE ${table} CLUSTER ON ${ident(index.indexName)}`);
  if (index.replicaIdentity) statements.push(`ALTER TABLE ONLY ${table} REPLICA IDENTITY USING INDEX ${ident(index.indexName)}`);
  return statements;
}

/** Groups indexes by table oid. */
export function indexesByTable(indexes: readonly SourceIndex[]): Map<string, SourceIndex[]> {
  const map = new Map<string, SourceIndex[]>();
  for (const index of indexes) {
    const list = map.get(index.tableOid) ?? [];
    list.push(index);
    map.set(index.tableOid, list);
  }
  return map;
}

/** Source-catalog OIDs of what pgferry builds itself, to leave out of pg_restore's post-data. */
export function builtObjectOids(indexes: readonly SourceIndex[]): Set<string> {
  const oids = new Set<string>();
  for (const index of indexes) {
    oids.add(index.indexOid);
    if (index.constraint) oids.add(index.constraint.oid);
  }
  return oids;
}

export async function buildIndex(target: pg.Client, index: SourceIndex): Promise<void> {
  await target.query(indexStatement(index));
  for (const statement of indexMarkStatements(index)) await target.query(statement);
}

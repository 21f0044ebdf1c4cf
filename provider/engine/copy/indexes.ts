// Index and index-backed constraint builds, run by their own worker pool as soon as a table's
// data is in (pgcopydb's design): the definitions come from the source catalog, so one table's
// indexes build while other tables still copy.
import type pg from 'pg';
import type { SourceIndex } from '../catalog/introspect';
import { ident, qualified } from '../connect/quote';

/**
 * The statement that builds one index or constraint on the target. A primary key or unique
 * constraint that can be is built as its index alone (CREATE UNIQUE INDEX, the name the key gives
 * it) and attached once the table's last index is built (attachStatement), as pgcopydb does: ADD
 * CONSTRAINT ... PRIMARY KEY in one statement holds ACCESS EXCLUSIVE on the table for the whole
 * build, and every other index of the table waits behind it; CREATE INDEX takes SHARE, which lets
 * the table's other builds run beside it, and the attach is a change of the catalog alone.
 */
export function indexStatement(index: SourceIndex): string {
  if (index.constraint?.attach) return index.indexDef;
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

/** The statement that makes the key of an index built alone (indexStatement); undefined for every other index. */
export function attachStatement(index: SourceIndex): string | undefined {
  const attach = index.constraint?.attach;
  if (!index.constraint || !attach) return undefined;
  const timing = attach.deferrable ? (attach.deferred ? ' DEFERRABLE INITIALLY DEFERRED' : ' DEFERRABLE') : '';
  return (
    `ALTER TABLE ONLY ${qualified(index.schema, index.table)} ADD CONSTRAINT ${ident(index.constraint.name)} ` +
    `${attach.kind} USING INDEX ${ident(index.indexName)}${timing}`
  );
}

/**
 * Attaches the keys of a table's indexes built alone, once no build of the table is left (the
 * attach waits for ACCESS EXCLUSIVE: a build beside it would hold the worker idle until it ends).
 * One already attached (a resumed copy, whose earlier run attached it before it stopped) is left as it is.
 */
export async function attachKeys(target: pg.Client, indexes: readonly SourceIndex[]): Promise<void> {
  for (const index of indexes) {
    const statement = attachStatement(index);
    if (!statement) continue;
    const { rows } = await target.query<{ attached: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conindid = to_regclass($1)) AS attached`,
      [qualified(index.schema, index.indexName)],
    );
    if (!rows[0]?.attached) await target.query(statement);
  }
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

// Tablespaces: pg_dump places each object in its tablespace with `SET default_tablespace`, which a
// target without that tablespace refuses, failing the restore after the validation passed; and a
// managed target (Azure's Flexible Server) offers no tablespace to create. So pgferry restores
// every object into the target database's default tablespace (pg_restore --no-tablespaces), and
// validation says which of the source's objects that moves, with how to place them afterwards.
import type pg from 'pg';
import { displayIdent } from '../connect/quote';
import type { ValidationResult } from '../core/model';
import { CODES } from './codes';
import { CHECK_TYPES, warning } from './result';

/** User relations and indexes outside the database's default tablespace, per tablespace. */
const SOURCE_TABLESPACES_SQL = `
SELECT t.spcname AS tablespace, count(*)::int AS objects,
       min(pg_catalog.format('%I.%I', n.nspname, c.relname)) AS example
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_tablespace t ON t.oid = c.reltablespace
 WHERE c.relkind IN ('r', 'p', 'm', 'i', 'I')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
 GROUP BY 1 ORDER BY 1`;

export async function checkTablespaces(client: pg.Client, database: string): Promise<ValidationResult[]> {
  const { rows } = await client.query<{ tablespace: string; objects: number; example: string }>(SOURCE_TABLESPACES_SQL);
  return rows.map((r) =>
    warning(
      CODES.TABLESPACE_NOT_KEPT,
      CHECK_TYPES.schema,
      `${r.objects} table(s) and index(es) of database ${displayIdent(database)} are in tablespace ${displayIdent(r.tablespace)} (e.g. ${r.example}): they are restored into the target database's default tablespace`,
      `to place them on the target afterwards, ALTER TABLE ... SET TABLESPACE (or ALTER INDEX ...) there; a managed target offers no tablespace of its own`,
      { database },
    ),
  );
}

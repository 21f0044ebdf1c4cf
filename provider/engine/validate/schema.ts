// Schema-level items of a source database the copy cannot carry as they are: tables WITH OIDS
// (sources before 12) and user-defined casts.
import type pg from 'pg';
import { ident, qualified } from '../connect/quote';
import type { ValidationResult } from '../model';
import { CODES } from './codes';
import { CHECK_TYPES, failed, succeeded, warning } from './result';

/** relhasoids exists only before PostgreSQL 12. */
export const TABLES_WITH_OIDS_SQL_PG11 = `
SELECT n.nspname AS schema, c.relname AS name
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relhasoids AND c.relkind = 'r'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
ORDER BY 1, 2`;

export const USER_CASTS_SQL = `
SELECT c.castsource::regtype::text AS source, c.casttarget::regtype::text AS target
FROM pg_cast c
WHERE c.oid >= 16384
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_cast'::regclass AND d.objid = c.oid AND d.deptype IN ('e', 'i'))
ORDER BY 1, 2`;

export async function checkSchema(client: pg.Client, database: string, sourceMajor: number): Promise<ValidationResult[]> {
  const type = CHECK_TYPES.schema;
  const scope = { database };
  const results: ValidationResult[] = [];
  if (sourceMajor < 12) {
    const { rows } = await client.query<{ schema: string; name: string }>(TABLES_WITH_OIDS_SQL_PG11);
    for (const t of rows) {
      const name = qualified(t.schema, t.name);
      results.push(
        failed(
          CODES.TABLE_WITH_OIDS,
          type,
          `table ${name} is WITH OIDS, which PostgreSQL 12 and later do not support`,
          `on the source, in database ${ident(database)}: ALTER TABLE ${name} SET WITHOUT OIDS (add an explicit column first if the application reads oid)`,
          scope,
        ),
      );
    }
  }
  const casts = (await client.query<{ source: string; target: string }>(USER_CASTS_SQL)).rows;
  for (const c of casts) {
    results.push(
      warning(
        CODES.USER_DEFINED_CAST,
        type,
        `user-defined cast (${c.source} AS ${c.target}) will be recreated on the target`,
        `the target user must own type ${c.source} or ${c.target} (or be superuser) to create it; otherwise drop the cast on the source (DROP CAST (${c.source} AS ${c.target})) and recreate it on the target as an administrator`,
        scope,
      ),
    );
  }
  if (results.length === 0)
    results.push(succeeded(CODES.SCHEMA, type, `database ${ident(database)} has no tables WITH OIDS and no user-defined casts`, scope));
  return results;
}

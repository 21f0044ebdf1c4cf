// Schema-level items of a source database the copy cannot carry as they are: tables WITH OIDS
// (sources before 12) and user-defined casts. The source stays as it is (it is the fallback): a
// fix is something to do on the target or with pgferry's options, or says plainly what the
// migration cannot carry and why.
import { USER_SCHEMA } from '../catalog/queries';
import type pg from 'pg';
import { displayIdent, displayName } from '../connect/quote';
import type { ValidationResult } from '../core/model';
import { CODES } from './codes';
import { CHECK_TYPES, failed, succeeded, warning } from './result';

/** relhasoids exists only before PostgreSQL 12. */
const TABLES_WITH_OIDS_SQL_PG11 = `
SELECT n.nspname AS schema, c.relname AS name
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relhasoids AND c.relkind = 'r'
  AND ${USER_SCHEMA}
ORDER BY 1, 2`;

/** builtin_types: both types come with PostgreSQL (initdb's objects), owned by its bootstrap superuser. */
const USER_CASTS_SQL = `
SELECT c.castsource::regtype::text AS source, c.casttarget::regtype::text AS target,
       c.castsource < 16384 AND c.casttarget < 16384 AS builtin_types
FROM pg_cast c
WHERE c.oid >= 16384
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_cast'::regclass AND d.objid = c.oid AND d.deptype IN ('e', 'i'))
ORDER BY 1, 2`;

/** Who the schema copy runs as on the target. */
export interface SchemaTarget {
  readonly user: string;
  readonly superuser: boolean;
}

/**
 * A user-defined cast: the schema copy creates it as the target user, which PostgreSQL allows a
 * superuser or the owner of either type; a failed CREATE CAST fails the restore. Between two
 * built-in types only a superuser can, so a non-superuser target cannot hold the cast.
 */
function castResult(
  cast: { source: string; target: string; builtin_types: boolean },
  target: SchemaTarget,
  database: string,
): ValidationResult {
  const type = CHECK_TYPES.schema;
  const scope = { database };
  const name = `(${cast.source} AS ${cast.target})`;
  const user = displayIdent(target.user);
  if (target.superuser) {
    return warning(
      CODES.USER_DEFINED_CAST,
      type,
      `user-defined cast ${name} will be recreated on the target`,
      `none needed: the target user ${user} is a superuser and creates it`,
      scope,
    );
  }
  if (cast.builtin_types) {
    return failed(
      CODES.USER_DEFINED_CAST,
      type,
      `user-defined cast ${name} cannot be created on the target by ${user}: both types are built into PostgreSQL, owned by its bootstrap superuser, and only a superuser or a type's owner may create a cast`,
      `run the migration with a target user that is a superuser; a target that has none (a managed server) cannot hold this cast, so the migration cannot carry it there`,
      scope,
    );
  }
  return warning(
    CODES.USER_DEFINED_CAST,
    type,
    `user-defined cast ${name} will be recreated on the target by ${user}, which must then own type ${cast.source} or ${cast.target}`,
    `none needed if ${user} owns one of the two types on the target or inherits its owner (the roles pgferry restores make it a member); otherwise run the migration with a target user that does, or a superuser`,
    scope,
  );
}

export async function checkSchema(
  client: pg.Client,
  database: string,
  sourceMajor: number,
  target: SchemaTarget,
): Promise<ValidationResult[]> {
  const type = CHECK_TYPES.schema;
  const scope = { database };
  const results: ValidationResult[] = [];
  if (sourceMajor < 12) {
    const { rows } = await client.query<{ schema: string; name: string }>(TABLES_WITH_OIDS_SQL_PG11);
    for (const t of rows) {
      const name = displayName(t.schema, t.name);
      results.push(
        failed(
          CODES.TABLE_WITH_OIDS,
          type,
          `table ${name} is WITH OIDS, which PostgreSQL 12 and later do not support: the migration cannot carry its hidden oid column`,
          `PostgreSQL 12 and later tables have no hidden oid column, so ${name}'s oid values have nowhere to go on the target, and pgferry does not leave them behind silently; the table can migrate once it has no OIDS on the source, which is for the source's owners to decide`,
          scope,
        ),
      );
    }
  }
  const casts = (await client.query<{ source: string; target: string; builtin_types: boolean }>(USER_CASTS_SQL)).rows;
  for (const c of casts) results.push(castResult(c, target, database));
  if (results.length === 0)
    results.push(
      succeeded(CODES.SCHEMA, type, `database ${displayIdent(database)} has no tables WITH OIDS and no user-defined casts`, scope),
    );
  return results;
}

// The source user must read every table it copies and, online, own them (CREATE PUBLICATION
// ... FOR TABLE needs ownership).
import { NOT_EXTENSION_MEMBER, USER_SCHEMA } from '../catalog/queries';
import type pg from 'pg';
import { displayIdent } from '../connect/quote';
import type { ValidationResult } from '../core/model';
import { CODES } from './codes';
import { CHECK_TYPES, failed, succeeded } from './result';
import { listSome } from '../util/listSome';

const SOURCE_TABLE_PRIVILEGES_SQL = `
SELECT format('%I.%I', n.nspname, c.relname) AS name,
       r.rolname AS owner,
       c.relkind AS kind,
       has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT') AS can_read,
       pg_has_role(c.relowner, 'USAGE') AS owns
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_roles r ON r.oid = c.relowner
WHERE c.relkind IN ('r', 'p', 'S', 'm') AND c.relpersistence <> 't'
  AND ${USER_SCHEMA}
  AND ${NOT_EXTENSION_MEMBER}
ORDER BY 1`;

export async function checkSourceTablePrivileges(
  client: pg.Client,
  database: string,
  user: string,
  online: boolean,
): Promise<ValidationResult[]> {
  const type = CHECK_TYPES.privileges;
  const scope = { database, server: 'source' as const };
  const { rows } = await client.query<{ name: string; owner: string; kind: string; can_read: boolean; owns: boolean }>(
    SOURCE_TABLE_PRIVILEGES_SQL,
  );
  const results: ValidationResult[] = [];
  const unreadable = rows.filter((r) => !r.can_read);
  if (unreadable.length) {
    results.push(
      failed(
        CODES.SOURCE_TABLE_NOT_READABLE,
        type,
        `source user ${displayIdent(user)} cannot read ${unreadable.length} relation(s) in ${displayIdent(database)}: ${listSome(unreadable.map((r) => r.name))}`,
        `on the source, in ${displayIdent(database)}: GRANT USAGE ON SCHEMA … and GRANT SELECT ON ALL TABLES IN SCHEMA … TO ${displayIdent(user)} (PostgreSQL 14+: GRANT pg_read_all_data TO ${displayIdent(user)})`,
        scope,
      ),
    );
  }
  // Publications hold tables only; sequences are synced at cutover.
  const notOwned = online ? rows.filter((r) => !r.owns && (r.kind === 'r' || r.kind === 'p')) : [];
  if (notOwned.length) {
    const owners = [...new Set(notOwned.map((r) => r.owner))].sort();
    results.push(
      failed(
        CODES.SOURCE_TABLE_NOT_OWNED,
        type,
        `source user ${displayIdent(user)} does not own ${notOwned.length} relation(s) in ${displayIdent(database)}, so it cannot publish them: ${listSome(notOwned.map((r) => r.name))}`,
        `on the source: GRANT ${owners.map(displayIdent).join(', ')} TO ${displayIdent(user)}`,
        scope,
      ),
    );
  }
  if (results.length === 0) {
    results.push(
      succeeded(
        CODES.SOURCE_TABLE_PRIVILEGES,
        type,
        `source user ${displayIdent(user)} can read${online ? ' and publish' : ''} all ${rows.length} relation(s) in ${displayIdent(database)}`,
        scope,
      ),
    );
  }
  return results;
}

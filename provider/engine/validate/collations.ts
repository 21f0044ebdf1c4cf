// Collations: each database's locale and every collation its columns use must exist on the
// target; user-defined collations are recreated by the schema copy and reported as warnings.
// Fixes are made on the target: the source stays as it is (it is the fallback).
import { USER_SCHEMA } from '../catalog/queries';
import type pg from 'pg';
import { displayIdent, displayName } from '../connect/quote';
import { qualifiedKey } from '../core/names';
import type { ValidationResult } from '../core/model';
import { CODES } from './codes';
import { CHECK_TYPES, failed, succeeded, warning } from './result';

/** Whole row as JSON: the locale columns differ by version (datlocprovider 15+, daticulocale → datlocale 17). */
const SOURCE_DATABASE_LOCALE_SQL = `
SELECT to_jsonb(d) - 'datacl' AS db FROM pg_database d WHERE d.datname = current_database()`;

/** Non-default collations used by columns of user relations, one example column each. */
const SOURCE_COLUMN_COLLATIONS_SQL = `
SELECT cn.nspname AS schema, co.collname AS name, co.oid >= 16384 AS user_defined,
       min(format('%I.%I.%I', n.nspname, c.relname, a.attname)) AS example_column
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_collation co ON co.oid = a.attcollation
JOIN pg_namespace cn ON cn.oid = co.collnamespace
WHERE a.attnum > 0 AND NOT a.attisdropped
  AND c.relkind IN ('r', 'p', 'm', 'v', 'f', 'c')
  AND ${USER_SCHEMA}
  AND co.collname <> 'default'
GROUP BY cn.nspname, co.collname, co.oid
ORDER BY 1, 2`;

/** Collations created by users (not by initdb, not by an extension). */
const SOURCE_USER_COLLATIONS_SQL = `
SELECT n.nspname AS schema, c.collname AS name, c.collprovider AS provider,
       coalesce(c.collcollate, '') AS locale
FROM pg_collation c
JOIN pg_namespace n ON n.oid = c.collnamespace
WHERE c.oid >= 16384
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_collation'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2`;

const TARGET_COLLATIONS_SQL = `
SELECT n.nspname AS schema, c.collname AS name, c.collprovider AS provider, coalesce(c.collcollate, '') AS locale
FROM pg_collation c
JOIN pg_namespace n ON n.oid = c.collnamespace
UNION ALL
SELECT 'pg_catalog', '', 'c', datcollate::text FROM pg_database`;

export interface TargetCollations {
  readonly names: ReadonlySet<string>;
  /** Normalized libc locales the target knows. */
  readonly locales: ReadonlySet<string>;
  readonly icu: boolean;
}

/** en_US.UTF-8 and en_US.utf8 name the same locale. */
export function normalizeLocale(locale: string): string {
  const [lang, codeset] = locale.split('.', 2);
  return codeset === undefined ? lang! : `${lang}.${codeset.toLowerCase().replace(/-/g, '')}`;
}

function localeKnown(target: TargetCollations, locale: string): boolean {
  if (locale === '' || locale === 'C' || locale === 'POSIX' || /^C\./i.test(locale)) return true;
  return target.locales.has(normalizeLocale(locale));
}

export async function readTargetCollations(client: pg.Client): Promise<TargetCollations> {
  const { rows } = await client.query<{ schema: string; name: string; provider: string; locale: string }>(TARGET_COLLATIONS_SQL);
  return {
    names: new Set(rows.filter((r) => r.name).map((r) => qualifiedKey(r.schema, r.name))),
    locales: new Set(rows.filter((r) => r.provider === 'c' && r.locale).map((r) => normalizeLocale(r.locale))),
    icu: rows.some((r) => r.provider === 'i'),
  };
}

/** What one database's collation checks find: each result typed as this check and scoped to the database. */
class Findings {
  readonly results: ValidationResult[] = [];
  constructor(readonly database: string) {}

  fail(code: string, message: string, fix: string): void {
    this.results.push(failed(code, CHECK_TYPES.collations, message, fix, { database: this.database }));
  }

  warn(code: string, message: string, fix: string): void {
    this.results.push(warning(code, CHECK_TYPES.collations, message, fix, { database: this.database }));
  }
}

/** The database's own locale (LC_COLLATE, LC_CTYPE, or ICU) must exist on the target. */
async function checkDatabaseLocale(client: pg.Client, target: TargetCollations, found: Findings): Promise<void> {
  const database = found.database;
  const db = (await client.query<{ db: Record<string, string | null | undefined> }>(SOURCE_DATABASE_LOCALE_SQL)).rows[0]!.db;
  const icuDb = db.datlocprovider === 'i';
  for (const key of ['datcollate', 'datctype'] as const) {
    const locale = String(db[key] ?? '');
    if (!icuDb && !localeKnown(target, locale)) {
      found.fail(
        CODES.DATABASE_COLLATION_MISSING,
        `database ${displayIdent(database)} uses locale "${locale}" (${key === 'datcollate' ? 'LC_COLLATE' : 'LC_CTYPE'}), which the target does not have`,
        `install locale "${locale}" on the target's OS (and run pg_import_system_collations), or choose a target whose locales include it`,
      );
    }
  }
  if (icuDb && !target.icu) {
    found.fail(
      CODES.DATABASE_COLLATION_MISSING,
      `database ${displayIdent(database)} uses an ICU locale and the target has no ICU collations`,
      'use a target server built with ICU support',
    );
  }
}

/** Built-in collations the source's columns use must exist on the target by name. */
async function checkColumnCollations(client: pg.Client, target: TargetCollations, found: Findings): Promise<void> {
  const columns = (
    await client.query<{ schema: string; name: string; user_defined: boolean; example_column: string }>(SOURCE_COLUMN_COLLATIONS_SQL)
  ).rows;
  for (const col of columns) {
    // User-defined collations are created by the schema copy; their locale is checked below.
    if (col.user_defined || target.names.has(qualifiedKey(col.schema, col.name))) continue;
    found.fail(
      CODES.COLUMN_COLLATION_MISSING,
      `collation ${displayName(col.schema, col.name)} (used by column ${col.example_column}) does not exist on the target`,
      `install its locale on the target's OS and run SELECT pg_import_system_collations('pg_catalog') there, or migrate to a target whose OS provides it; otherwise the migration cannot carry ${col.example_column} and the columns sharing its collation: the target has no collation of that name to give them`,
    );
  }
}

/** User-defined collations are recreated by the schema copy: their provider or locale must exist on the target. */
async function checkUserCollations(client: pg.Client, target: TargetCollations, found: Findings): Promise<void> {
  const userCollations = (
    await client.query<{ schema: string; name: string; provider: string; locale: string }>(SOURCE_USER_COLLATIONS_SQL)
  ).rows;
  for (const coll of userCollations) {
    const name = displayName(coll.schema, coll.name);
    const missing = coll.provider === 'i' ? !target.icu : coll.provider === 'c' && !localeKnown(target, coll.locale);
    if (missing) {
      found.fail(
        CODES.COLUMN_COLLATION_MISSING,
        `user-defined collation ${name} needs ${coll.provider === 'i' ? 'ICU' : `locale "${coll.locale}"`}, which the target does not have`,
        coll.provider === 'i'
          ? 'use a target server built with ICU support'
          : `install locale "${coll.locale}" on the target's OS (then run SELECT pg_import_system_collations('pg_catalog') there), or migrate to a target whose OS provides it; otherwise the migration cannot carry ${name}: the target has no locale for it to sort by`,
      );
    } else {
      found.warn(
        CODES.USER_DEFINED_COLLATION,
        `user-defined collation ${name} will be recreated on the target by the schema copy`,
        `none needed if the target sorts "${coll.locale || coll.provider}" the same way; compare ORDER BY results on columns using ${name} after the migration`,
      );
    }
  }
}

export async function checkCollations(client: pg.Client, database: string, target: TargetCollations): Promise<ValidationResult[]> {
  const found = new Findings(database);
  await checkDatabaseLocale(client, target, found);
  await checkColumnCollations(client, target, found);
  await checkUserCollations(client, target, found);
  if (found.results.length === 0) {
    return [
      succeeded(CODES.COLLATIONS, CHECK_TYPES.collations, `database ${displayIdent(database)}'s collations all exist on the target`, {
        database,
      }),
    ];
  }
  return found.results;
}

// Extensions used by each source database: available on the target, allow-listed in
// azure.extensions when the target has that parameter, preloaded when they need it, and
// creatable by a non-superuser target user.
import type pg from 'pg';
import { displayIdent } from '../connect/quote';
import { INSUFFICIENT_PRIVILEGE, sqlState } from '../connect/sqlstate';
import type { ValidationResult } from '../core/model';
import { CODES } from './codes';
import { CHECK_TYPES, failed, succeeded, warning } from './result';
import { listSome } from '../util/listSome';

const SOURCE_EXTENSIONS_SQL = `
SELECT e.extname AS name, e.extversion AS version, n.nspname AS schema
FROM pg_extension e
JOIN pg_namespace n ON n.oid = e.extnamespace
ORDER BY e.extname`;

const TARGET_AVAILABLE_EXTENSIONS_SQL = `
SELECT a.name, a.default_version, coalesce(v.superuser, true) AS superuser, coalesce(v.trusted, false) AS trusted
FROM pg_available_extensions a
LEFT JOIN pg_available_extension_versions v ON v.name = a.name AND v.version = a.default_version`;

/** Before 13 there are no trusted extensions. */
const TARGET_AVAILABLE_EXTENSIONS_SQL_PG12 = `
SELECT a.name, a.default_version, coalesce(v.superuser, true) AS superuser, false AS trusted
FROM pg_available_extensions a
LEFT JOIN pg_available_extension_versions v ON v.name = a.name AND v.version = a.default_version`;

/** azure.extensions is a custom parameter: NULL when the target does not have it. */
const TARGET_ALLOW_LIST_SQL = `SELECT current_setting('azure.extensions', true) AS allow_list`;

/** Superuser-only unless the user has pg_read_all_settings (a managed admin may not). */
const TARGET_PRELOAD_SQL = `SELECT current_setting('shared_preload_libraries') AS preload`;

/** Extensions whose library must be in shared_preload_libraries (extension → library). */
const PRELOAD_LIBRARIES: Readonly<Record<string, string>> = {
  pg_stat_statements: 'pg_stat_statements',
  pg_cron: 'pg_cron',
  timescaledb: 'timescaledb',
  pg_hint_plan: 'pg_hint_plan',
  pgaudit: 'pgaudit',
  pglogical: 'pglogical',
  pg_squeeze: 'pg_squeeze',
  pg_qualstats: 'pg_qualstats',
  pg_stat_kcache: 'pg_stat_kcache',
  pg_wait_sampling: 'pg_wait_sampling',
  pg_partman_bgw: 'pg_partman_bgw',
  citus: 'citus',
  pg_failover_slots: 'pg_failover_slots',
};

/** Always present in every database: never copied, never allow-listed. */
const BUILT_IN = new Set(['plpgsql']);

export interface SourceExtension {
  readonly name: string;
  readonly version: string;
  readonly schema: string;
}

export interface TargetExtensions {
  readonly available: ReadonlyMap<string, { readonly superuser: boolean; readonly trusted: boolean }>;
  /** Entries of azure.extensions, or undefined when the target has no such parameter. */
  readonly allowList?: readonly string[];
  /** shared_preload_libraries, or undefined when the target user may not read it. */
  readonly preload?: readonly string[];
}

export async function readSourceExtensions(client: pg.Client): Promise<SourceExtension[]> {
  return (await client.query<SourceExtension>(SOURCE_EXTENSIONS_SQL)).rows;
}

/** Splits a comma-separated parameter value, trimming blanks and quotes. */
export function splitList(value: string | null | undefined): string[] {
  if (value === null || value === undefined) return [];
  return value
    .split(',')
    .map((s) => s.trim().replace(/^"(.*)"$/, '$1'))
    .filter(Boolean);
}

export async function readTargetExtensions(client: pg.Client, targetMajor: number): Promise<TargetExtensions> {
  const sql = targetMajor >= 13 ? TARGET_AVAILABLE_EXTENSIONS_SQL : TARGET_AVAILABLE_EXTENSIONS_SQL_PG12;
  // One client runs one query at a time: sequential, not Promise.all.
  const available = await client.query<{ name: string; superuser: boolean; trusted: boolean }>(sql);
  const allowList = (await client.query<{ allow_list: string | null }>(TARGET_ALLOW_LIST_SQL)).rows[0]!.allow_list;
  let preload: string[] | undefined;
  try {
    preload = splitList((await client.query<{ preload: string }>(TARGET_PRELOAD_SQL)).rows[0]!.preload);
  } catch (error) {
    if (sqlState(error) !== INSUFFICIENT_PRIVILEGE) throw error;
  }
  return {
    available: new Map(available.rows.map((r) => [r.name, { superuser: r.superuser, trusted: r.trusted }])),
    ...(allowList === null ? {} : { allowList: splitList(allowList) }),
    ...(preload === undefined ? {} : { preload }),
  };
}

/** The full new value of a list parameter: the existing entries, then the missing ones in the list's case. */
export function extendList(existing: readonly string[], missing: readonly string[]): string {
  const upper = existing.length > 0 && existing.every((e) => e === e.toUpperCase());
  const added = missing.map((m) => (upper ? m.toUpperCase() : m));
  return [...existing, ...added].join(',');
}

function allowed(allowList: readonly string[], name: string): boolean {
  return allowList.some((a) => a.toLowerCase() === name.toLowerCase());
}

/** What every database's extensions are judged against (see checkExtensions). */
interface ExtensionContext {
  readonly target: TargetExtensions;
  readonly targetIsSuperuser: boolean;
  readonly notAllowed: readonly string[];
  readonly notPreloaded: readonly string[];
  readonly allowValue: string;
  readonly preloadValue: string;
}

/** One extension of one database: available, allow-listed, preloaded, creatable by the target user. */
function checkOneExtension(ext: SourceExtension, database: string, context: ExtensionContext, results: ValidationResult[]): void {
  const { target, targetIsSuperuser, notAllowed, notPreloaded, allowValue, preloadValue } = context;
  const scope = { database };
  const name = displayIdent(ext.name);
  const onTarget = target.available.get(ext.name);
  if (!onTarget) {
    results.push(
      failed(
        CODES.EXTENSION_UNAVAILABLE,
        CHECK_TYPES.extensions,
        `extension ${name} ${ext.version} (database ${displayIdent(database)}) is not available on the target`,
        `install the package that provides ${name} on the target server so it appears in pg_available_extensions`,
        scope,
      ),
    );
    return;
  }
  if (notAllowed.includes(ext.name)) {
    results.push(
      failed(
        CODES.EXTENSION_NOT_ALLOWED,
        CHECK_TYPES.serverParameters,
        `extension ${name} (database ${displayIdent(database)}) is not allow-listed in the target's azure.extensions`,
        `set the target server parameter azure.extensions to '${allowValue}' (az postgres flexible-server parameter set --name azure.extensions --value '${allowValue}')`,
        scope,
      ),
    );
  }
  const library = PRELOAD_LIBRARIES[ext.name];
  if (library && notPreloaded.includes(library) && target.preload === undefined) {
    results.push(
      warning(
        CODES.EXTENSION_NOT_PRELOADED,
        CHECK_TYPES.serverParameters,
        `extension ${name} (database ${displayIdent(database)}) needs library ${library} in the target's shared_preload_libraries, which the target user may not read`,
        `make sure the target's shared_preload_libraries includes ${library} (Azure: server parameter shared_preload_libraries, then restart), or GRANT pg_read_all_settings TO the target user so this check can verify it`,
        scope,
      ),
    );
  } else if (library && notPreloaded.includes(library)) {
    results.push(
      failed(
        CODES.EXTENSION_NOT_PRELOADED,
        CHECK_TYPES.serverParameters,
        `extension ${name} (database ${displayIdent(database)}) needs library ${library} in the target's shared_preload_libraries`,
        `set the target server parameter shared_preload_libraries to '${preloadValue}' and restart the target`,
        scope,
      ),
    );
  }
  const allowListed = target.allowList !== undefined && allowed(target.allowList, ext.name);
  if (!targetIsSuperuser && onTarget.superuser && !onTarget.trusted && !allowListed) {
    results.push(
      failed(
        CODES.UNTRUSTED_EXTENSION,
        CHECK_TYPES.extensions,
        `extension ${name} (database ${displayIdent(database)}) can only be created by a superuser, and the target user is not one`,
        `have the target's administrator allow-list it (Azure: server parameter azure.extensions) or run CREATE EXTENSION ${name} in ${displayIdent(database)} on the target after it is created, or migrate with a superuser target user`,
        scope,
      ),
    );
  }
}

/**
 * Pure: decides per database and extension. Allow-list and preload fixes carry the whole new
 * parameter value, covering every database, so one change fixes them all.
 */
export function checkExtensions(
  perDatabase: ReadonlyMap<string, readonly SourceExtension[]>,
  target: TargetExtensions,
  targetIsSuperuser: boolean,
): ValidationResult[] {
  const used = [...new Set([...perDatabase.values()].flat().map((e) => e.name))].filter((n) => !BUILT_IN.has(n)).sort();
  const notAllowed = target.allowList ? used.filter((n) => target.available.has(n) && !allowed(target.allowList!, n)) : [];
  const libraries = [...new Set(used.map((n) => PRELOAD_LIBRARIES[n]).filter((l): l is string => !!l))];
  const notPreloaded = libraries.filter((l) => !target.preload?.includes(l));
  const allowValue = target.allowList ? extendList(target.allowList, notAllowed) : '';
  const preloadValue = extendList(target.preload ?? [], notPreloaded);

  const context: ExtensionContext = { target, targetIsSuperuser, notAllowed, notPreloaded, allowValue, preloadValue };
  const results: ValidationResult[] = [];
  for (const [database, extensions] of perDatabase) {
    const scope = { database };
    const before = results.length;
    for (const ext of extensions) {
      if (!BUILT_IN.has(ext.name)) checkOneExtension(ext, database, context, results);
    }
    if (results.length === before) {
      const names = extensions.map((e) => e.name).filter((n) => !BUILT_IN.has(n));
      results.push(
        succeeded(
          CODES.EXTENSIONS,
          CHECK_TYPES.extensions,
          names.length ? `extensions ${listSome(names, 10)} are available on the target` : 'no extensions besides plpgsql',
          scope,
        ),
      );
    }
  }
  return results;
}

// The pooler in front of the source (spec.pooler, docs/pooler.md), checked before anything is
// changed: its admin console answers the user and password given, the user may PAUSE (admin_users,
// not stats_users alone), pgferry can read and write its configuration file and finds there a line
// for each of its databases, the pooler serves exactly the migrated databases from the source, and
// each database's pool mode says what its pause will wait for. Read-only: SHOW commands alone.
import { lookup } from 'node:dns/promises';
import { errorMessage } from '../core/errors';
import { maskSecrets } from '../core/secrets';
import type { ValidationResult } from '../core/model';
import type { MigrationSpec, PoolerSpec, ServerSpec } from '../input/migrationSpec';
import {
  configuredAddresses,
  configWritable,
  pooledDatabases,
  poolerAdminRefusal,
  poolerNames,
  poolerSettings,
  withPoolerAdmin,
  type PooledDatabase,
} from '../switchover/pooler';
import { CODES } from './codes';
import { CHECK_TYPES, failed, succeeded, warning } from './result';
import { displayIdent } from '../connect/quote';

const SCOPE = { server: 'pooler' } as const;
const TYPE = CHECK_TYPES.pooler;

/** Every address a host name stands for (itself when it does not resolve). */
async function addressesOf(host: string): Promise<Set<string>> {
  const found = await lookup(host, { all: true }).catch(() => []);
  return new Set([host, ...found.map((a) => a.address)]);
}

/** Whether the pooler's line goes to the source: the same port, and a host that is, or resolves to, one of the source's addresses. */
async function goesTo(d: PooledDatabase, server: ServerSpec): Promise<boolean> {
  if (d.port !== server.port || d.host === null) return false;
  const [mine, its] = await Promise.all([addressesOf(d.host), addressesOf(server.host)]);
  return [...mine].some((a) => its.has(a));
}

/** The pooler checks of a migration that names one; `databases`: the migrated databases (the source's, resolved). */
export async function checkPooler(spec: MigrationSpec, databases: readonly string[]): Promise<ValidationResult[]> {
  const pooler = spec.pooler;
  if (!pooler) return [];
  let served: PooledDatabase[];
  let settings: ReadonlyMap<string, string>;
  try {
    [served, settings] = await withPoolerAdmin(pooler, async (admin) => [
      await pooledDatabases(pooler, admin),
      await poolerSettings(pooler, admin),
    ]);
  } catch (error) {
    return [unreachable(pooler, error)];
  }
  const results: ValidationResult[] = [
    succeeded(
      CODES.POOLER_CONNECTIVITY,
      TYPE,
      `the pooler's admin console at ${pooler.host}:${pooler.port} answers "${pooler.user}"`,
      SCOPE,
    ),
  ];
  const refusal = await poolerAdminRefusal(pooler);
  results.push(
    refusal
      ? failed(CODES.POOLER_ADMIN, TYPE, refusal.message, refusal.fix, SCOPE)
      : succeeded(
          CODES.POOLER_ADMIN,
          TYPE,
          `the pooler's user "${pooler.user}" is in its admin_users: it may PAUSE, RELOAD and RESUME`,
          SCOPE,
        ),
  );
  const mine = await servedDatabases(results, spec, pooler, served, databases);
  await configChecks(
    results,
    pooler,
    mine.map((d) => d.name),
  );
  for (const d of mine) results.push(...poolModeResults(d, settings));
  return results;
}

function unreachable(pooler: PoolerSpec, error: unknown): ValidationResult {
  const why = maskSecrets(errorMessage(error), [pooler.password]);
  // the pooler answered and refused (a SQLSTATE: the login), or never answered (a socket's error code)
  const cause = (error as { cause?: { code?: unknown } }).cause ?? (error as { code?: unknown });
  const auth = typeof cause.code === 'string' && /^[0-9A-Z]{5}$/.test(cause.code);
  return failed(
    CODES.POOLER_UNREACHABLE,
    TYPE,
    `the pooler's admin console at ${pooler.host}:${pooler.port} cannot be used: ${why}`,
    auth
      ? `check pooler.user and pooler.password against the pooler's auth_file (or auth_query), for a user of its admin_users`
      : `check pooler.host and pooler.port (PgBouncer's listen_addr and listen_port), that PgBouncer runs, and that this machine may reach it`,
    SCOPE,
  );
}

/**
 * The pooler's databases the migration pauses and repoints: each named one must exist and go to
 * the source, to a migrated database, and each migrated database must be reached by one; one of
 * the pooler's other databases that goes to a migrated database would stay on the old source.
 */
async function servedDatabases(
  results: ValidationResult[],
  spec: MigrationSpec,
  pooler: PoolerSpec,
  served: readonly PooledDatabase[],
  databases: readonly string[],
): Promise<PooledDatabase[]> {
  const names = poolerNames(spec, databases);
  const named = new Set(names);
  const mine: PooledDatabase[] = [];
  for (const name of names) {
    const d = served.find((s) => s.name === name);
    const fix = `add "${name} = host=${spec.source.host} port=${spec.source.port} dbname=..." to the [databases] section of ${pooler.configFile} and RELOAD the pooler, or name the pooler's databases in pooler.databases`;
    if (!d) {
      results.push(failed(CODES.POOLER_DATABASES, TYPE, `the pooler serves no database "${name}"`, fix, SCOPE));
    } else if (!(await goesTo(d, spec.source))) {
      results.push(
        failed(
          CODES.POOLER_DATABASES,
          TYPE,
          `the pooler's "${name}" goes to ${d.host ?? '(its default host)'}:${d.port}, not to the source ${spec.source.host}:${spec.source.port}`,
          fix,
          SCOPE,
        ),
      );
    } else if (!databases.includes(d.database)) {
      results.push(
        failed(
          CODES.POOLER_DATABASES,
          TYPE,
          `the pooler's "${name}" goes to the source's database ${displayIdent(d.database)}, which is not migrated`,
          `leave "${name}" out of pooler.databases, or migrate ${displayIdent(d.database)}`,
          SCOPE,
        ),
      );
    } else mine.push(d);
  }
  for (const database of databases) {
    if (mine.some((d) => d.database === database)) continue;
    results.push(
      failed(
        CODES.POOLER_DATABASES,
        TYPE,
        `none of the pooler's databases goes to the migrated database ${displayIdent(database)}`,
        `add a line for ${displayIdent(database)} to the [databases] section of ${pooler.configFile}, or name it in pooler.databases`,
        { ...SCOPE, database },
      ),
    );
  }
  for (const d of served) {
    if (named.has(d.name) || !databases.includes(d.database) || !(await goesTo(d, spec.source))) continue;
    results.push(
      warning(
        CODES.POOLER_DATABASES,
        TYPE,
        `the pooler's "${d.name}" goes to the migrated database ${displayIdent(d.database)} too, and would stay on the old source after the cutover`,
        `name it in pooler.databases so it is paused and repointed with the others`,
        { ...SCOPE, database: d.database },
      ),
    );
  }
  if (mine.length > 0 && mine.length === names.length)
    results.push(
      succeeded(
        CODES.POOLER_DATABASES,
        TYPE,
        `the pooler serves the migrated databases from the source: ${mine.map((d) => `"${d.name}"`).join(', ')}`,
        SCOPE,
      ),
    );
  return mine;
}

/** The configuration file pgferry points the databases' lines in: writable, with a line for each. */
async function configChecks(results: ValidationResult[], pooler: PoolerSpec, names: readonly string[]): Promise<void> {
  const why = await configWritable(pooler);
  if (why) {
    results.push(
      failed(
        CODES.POOLER_CONFIG,
        TYPE,
        `the pooler's configuration file: ${why}`,
        `run pgferry where it can write pooler.configFile (beside PgBouncer, as its OS user or root), or give the path PgBouncer reads`,
        SCOPE,
      ),
    );
    return;
  }
  try {
    await configuredAddresses(pooler, names);
    results.push(
      succeeded(
        CODES.POOLER_CONFIG,
        TYPE,
        `the pooler's configuration file ${pooler.configFile} can be written and holds a line for each of its databases`,
        SCOPE,
      ),
    );
  } catch (error) {
    const fix = (error as { fix?: string }).fix ?? 'give pooler.configFile the file PgBouncer reads';
    results.push(failed(CODES.POOLER_CONFIG, TYPE, errorMessage(error), fix, SCOPE));
  }
}

/**
 * What a pause means in a database's pool mode. transaction (statement): PAUSE waits for each
 * transaction in flight, then every new query waits; the applications keep their connections.
 * session: PAUSE waits for every client of the database to disconnect, which a pool of long-lived
 * connections never does: the pause then times out and the cutover is rolled back (a warning: an
 * application that connects per request does disconnect). server_reset_query is said with it: in
 * session pooling a client keeps its server's state, which does not follow it to the target.
 */
function poolModeResults(d: PooledDatabase, settings: ReadonlyMap<string, string>): ValidationResult[] {
  const mode = d.poolMode ?? settings.get('pool_mode') ?? 'session';
  const scope = { ...SCOPE, database: d.database };
  if (mode !== 'session') {
    return [
      succeeded(
        CODES.POOLER_POOL_MODE,
        TYPE,
        `the pooler's "${d.name}" pools by ${mode}: the cutover's PAUSE waits for the transactions in flight, then holds new queries until it resumes on the target`,
        scope,
      ),
    ];
  }
  const results = [
    warning(
      CODES.POOLER_POOL_MODE,
      TYPE,
      `the pooler's "${d.name}" pools by session: the cutover's PAUSE waits for every client of it to disconnect, and is rolled back after pooler.pauseTimeoutSeconds while one stays connected`,
      `set pool_mode = transaction for "${d.name}" if its applications keep no session state (SET, prepared statements by name, temporary tables, advisory locks), or have them disconnect at the cutover`,
      scope,
    ),
  ];
  if ((settings.get('server_reset_query') ?? '').trim() === '')
    results.push(
      warning(
        CODES.POOLER_RESET_QUERY,
        TYPE,
        `the pooler has no server_reset_query: in session pooling a server connection keeps the state a client left (SET, prepared statements, temporary tables), which no connection to the target will have`,
        'set server_reset_query = DISCARD ALL in the pooler, so no client depends on state another left, before or after the cutover',
        scope,
      ),
    );
  return results;
}

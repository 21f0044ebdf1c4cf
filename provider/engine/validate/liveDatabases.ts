// Whether a target database that overwriteDbsInTarget would drop is live: clients other than
// this check have sessions in it, or another migration recorded in this catalog cut over into it
// (online: the applications moved there) or still writes it. A live database is overwritten only
// when overwriteLiveDbsInTarget names it; the validation and the run's own gate both ask here.
//
// The decision counts every session but the check's own, told by its backend pid: a session's
// application name is the client's to choose (any may call itself `pgferry apply`), so it excepts
// nobody. No session of pgferry's is in a database it would overwrite when the check runs (the
// validation reads the target from its maintenance database, and the run asks before it copies);
// another migration's session there makes it live, as its catalog record does. Without
// pg_read_all_stats, pg_stat_activity hides the backend type and the address of other roles'
// sessions (not their database, role or application name): such a session counts as a client's,
// its address shown as hidden, so a managed target's admin refuses the same databases a superuser does.
import type pg from 'pg';
import { displayIdent } from '../connect/quote';
import { databasesInUse } from '../control/databasesInUse';
import { PgferryError } from '../core/errors';
import type { MigrationSpec } from '../input/migrationSpec';

/** Client sessions in the databases, this one's excepted, grouped by who holds them. */
const SESSIONS_SQL = `
SELECT datname AS database,
       coalesce(usename::text, '?') AS usename,
       coalesce(nullif(application_name, ''), '-') AS application,
       CASE WHEN backend_type IS NULL THEN 'an address hidden from the target user' ELSE coalesce(host(client_addr), 'local') END AS address,
       count(*)::int AS n
  FROM pg_catalog.pg_stat_activity
 WHERE datname = ANY($1::text[])
   AND pid <> pg_backend_pid()
   AND usesysid IS NOT NULL
   AND coalesce(backend_type, 'client backend') = 'client backend'
 GROUP BY 1, 2, 3, 4
 ORDER BY 1, 5 DESC, 2, 3, 4`;

interface SessionRow {
  database: string;
  usename: string;
  application: string;
  address: string;
  n: number;
}

/**
 * Of `databases` (those the migration would overwrite), each live one with why, in words: the
 * sessions (user, application name, address) and the migrations that use it. `client` is a session
 * on the target's maintenance database.
 */
export async function liveTargetDatabases(
  client: pg.Client,
  spec: Pick<MigrationSpec, 'migrationName'>,
  databases: readonly string[],
): Promise<Map<string, string>> {
  const live = new Map<string, string[]>();
  const add = (database: string, why: string) => live.set(database, [...(live.get(database) ?? []), why]);
  if (databases.length === 0) return new Map();
  // what the catalog records first: the stronger reason
  for (const use of await databasesInUse(client, spec.migrationName, databases)) {
    add(
      use.database,
      use.how === 'cutOver'
        ? `migration "${use.migration}" cut over into it (recorded in this target's control catalog)`
        : `migration "${use.migration}" still copies or streams into it`,
    );
  }
  const { rows } = await client.query<SessionRow>(SESSIONS_SQL, [databases]);
  const byDatabase = new Map<string, SessionRow[]>();
  for (const r of rows) byDatabase.set(r.database, [...(byDatabase.get(r.database) ?? []), r]);
  for (const [database, sessions] of byDatabase) {
    const total = sessions.reduce((n, r) => n + r.n, 0);
    const who = sessions
      .slice(0, 3)
      .map((r) => `${r.n > 1 ? `${r.n}× ` : ''}${r.usename} from ${r.address} (application ${r.application})`)
      .join(', ');
    add(database, `${total} session${total === 1 ? '' : 's'} of other clients: ${who}${sessions.length > 3 ? ', ...' : ''}`);
  }
  return new Map([...live].map(([database, whys]) => [database, whys.join('; ')]));
}

/** Of the live databases, those overwriteLiveDbsInTarget does not name. */
export function unnamedLive(spec: Pick<MigrationSpec, 'overwriteLiveDbsInTarget'>, live: ReadonlyMap<string, string>): string[] {
  return [...live.keys()].filter((d) => !spec.overwriteLiveDbsInTarget.includes(d));
}

/** The fix for a live database refused: name it, or make it not live; nothing else is offered. */
export function liveOverwriteFix(database: string): string {
  return `if it may be lost, name it in overwriteLiveDbsInTarget (CLI: --overwrite-live-dbs-in-target ${database}); otherwise stop what uses it, or choose another target database name`;
}

/** The run's gate: the first live database not named, refused before anything is changed. */
export function liveOverwriteError(database: string, why: string): PgferryError {
  return new PgferryError(
    'TARGET_DATABASE_LIVE',
    `database ${displayIdent(database)} on the target is live (${why}): overwriteDbsInTarget would drop it; nothing was changed`,
    { category: 'validation', field: 'overwriteLiveDbsInTarget', fix: liveOverwriteFix(database) },
  );
}

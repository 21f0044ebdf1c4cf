// The control catalog's handle: every module of control/ is plain functions over it, one file per
// table or concept (store.ts, migrationRequests.ts, tableResyncs.ts...), each taking it first. Its
// one connection to the target's maintenance database: opened on first use,
// reopened after a drop (a restarting target), shared in turn by concurrent callers (progress events
// among them), and the idempotent install of the catalog's numbered migrations: missing ones are
// applied, a catalog newer than this build is refused before anything changes (control/version.ts).
import type pg from 'pg';
import { closeSession, openSession } from '../connect/session';
import { displayIdent, ident } from '../connect/quote';
import { retrying, RETRY_POLICIES } from '../connect/retry';
import { INVALID_SCHEMA_NAME, isRetryable, UNDEFINED_TABLE } from '../connect/sqlstate';
import { PgferryError } from '../core/errors';
import { CONTROL_INSTALL_LOCK, CONTROL_SCHEMA } from '../core/names';
import type { ServerSpec } from '../input/migrationSpec';
import { CONTROL_MIGRATIONS } from './schemaVersions';
import { checkCatalogVersion } from './version';
import { inTransaction } from '../connect/transaction';

const S = ident(CONTROL_SCHEMA);

/**
 * The catalog's tables that came with a later version and that a reader looks for before it reads
 * them (tableExists): the fallback windows' (version 22) and the footprint ledger's (version 20).
 */
const LATER_TABLES = [`${S}.fallback_window`, `${S}.footprint`];

/** A statement that found a table or schema missing: what was found of the catalog may be gone. */
function isGoneObject(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === UNDEFINED_TABLE || code === INVALID_SCHEMA_NAME;
}

/** What to do when the catalog cannot be installed and nothing more precise is known: the database's CREATE, granted. */
function installFix(target: ServerSpec): string {
  return `on the target, as the owner of database ${displayIdent(target.maintenanceDatabase)} or an administrator: GRANT CREATE ON DATABASE ${ident(target.maintenanceDatabase)} TO ${ident(target.user)}; or choose another target maintenanceDatabase`;
}

/**
 * The fix for a refused install: when the control schema is already there and belongs to a role
 * whose schema this user may not use (an earlier run as a superuser or another admin made it), that
 * role is named, since CREATE on the database does not help (and a grant on the schema would not
 * reach the tables in it); otherwise the database's CREATE.
 */
async function refusedInstallFix(client: pg.Client, target: ServerSpec): Promise<string> {
  const { rows } = await client.query<{ owner: string; usable: boolean }>(
    `SELECT r.rolname AS owner, has_schema_privilege(n.oid, 'USAGE') AND has_schema_privilege(n.oid, 'CREATE') AS usable
       FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_roles r ON r.oid = n.nspowner WHERE n.nspname = $1`,
    [CONTROL_SCHEMA],
  );
  const schema = rows[0];
  if (!schema || schema.usable) return installFix(target);
  return (
    `the schema ${CONTROL_SCHEMA} there belongs to role ${displayIdent(schema.owner)} (made by an earlier run as that role), which this user may not use: ` +
    'run pgferry as that role on this target, or choose another target maintenanceDatabase'
  );
}

export class CatalogConnection {
  private client: pg.Client | undefined;
  private installed = false;
  /** Set once the catalog's version was found to be one this build knows. */
  private versionChecked = false;
  /**
   * The catalog's tables found here (the catalog's own name among them once it was found): a
   * runner reads its migration several times before its stream starts, and each look at whether a
   * table exists was a round trip on its way. Forgotten when a statement finds a table or schema
   * gone (the catalog dropped under a long-lived process).
   */
  private readonly tablesFound = new Set<string>();
  /** Callers (progress events among them) run concurrently; the one connection serves them in turn. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly target: ServerSpec) {}

  private async connection(): Promise<pg.Client> {
    if (!this.client) {
      // pipelined: statements a caller sends together (queries) go in one round trip, each still
      // its own statement with its own sync, answered in turn; one after another they run as before
      const client = await openSession(this.target, { purpose: 'control', writable: true, pipeline: true });
      client.on('error', () => {
        if (this.client === client) this.client = undefined;
      });
      this.client = client;
    }
    return this.client;
  }

  /**
   * Starts opening the connection now, for a caller with something else to wait for before its
   * first statement (a runner's lease); nothing is sent on it until then. A failure here is met
   * again by the first statement, which opens a connection anew.
   */
  openAhead(): void {
    void this.exclusive(async () => undefined).catch(() => undefined);
  }

  /** Runs `fn` with exclusive use of the connection. */
  exclusive<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
    const result = this.queue.then(async () => fn(await this.connection()));
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Runs a query, reconnecting if the connection dropped. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    return this.exclusive(() => this.queryNow<R>(sql, params));
  }

  /**
   * Runs `fn` in one transaction on the catalog's connection: all its statements commit or none.
   * Retried as a whole, like `query`, while the target restarts, so `fn` must only run statements.
   */
  transaction<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
    return this.exclusive(() =>
      retrying(RETRY_POLICIES.statement, async () => {
        const client = await this.connection();
        try {
          return await inTransaction(client, () => fn(client));
        } catch (error) {
          if (isRetryable(error)) {
            await closeSession(client);
            if (this.client === client) this.client = undefined;
          }
          throw error;
        }
      }),
    );
  }

  /**
   * Runs statements sent at once, each on its own (not one transaction), in one round trip on the
   * pipelined connection; the rows of each, in order. Retried as a whole, like `query`, so they
   * must only read. A resumed runner reads its migration several times before its stream starts,
   * each read three statements (control/store.ts get).
   */
  queries(statements: readonly { readonly sql: string; readonly params: unknown[] }[]): Promise<pg.QueryResultRow[][]> {
    return this.exclusive(() => this.queriesNow(statements));
  }

  /** Retried while the target restarts or the connection dropped, on a new connection each time. */
  private async queryNow<R extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<R[]> {
    const [rows] = await this.queriesNow([{ sql, params }]);
    return rows as R[];
  }

  private queriesNow(statements: readonly { readonly sql: string; readonly params: unknown[] }[]): Promise<pg.QueryResultRow[][]> {
    return retrying(RETRY_POLICIES.statement, async (): Promise<pg.QueryResultRow[][]> => {
      const client = await this.connection();
      try {
        const sent = statements.map((s) => client.query<pg.QueryResultRow>(s.sql, s.params));
        // every answer awaited before any failure is acted on: the connection may be closed below
        const settled = await Promise.allSettled(sent);
        const failed = settled.find((r) => r.status === 'rejected');
        if (failed) throw failed.reason;
        return settled.map((r) => (r as PromiseFulfilledResult<pg.QueryResult<pg.QueryResultRow>>).value.rows);
      } catch (error) {
        if (isGoneObject(error)) this.tablesFound.clear();
        if (isRetryable(error)) {
          await closeSession(client);
          if (this.client === client) this.client = undefined;
        }
        throw error;
      }
    });
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await closeSession(client);
  }

  /** Creates or upgrades the catalog; concurrent installers are serialized by an advisory lock. */
  async install(): Promise<void> {
    if (this.installed) return;
    await this.exclusive((client) => this.installNow(client));
  }

  private async installNow(client: pg.Client): Promise<void> {
    if (this.installed) return;
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [CONTROL_INSTALL_LOCK]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${S}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${S}.schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
      );
      const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${S}.schema_version`);
      const done = new Set(rows.map((r) => r.version));
      checkCatalogVersion(done.size > 0 ? Math.max(...done) : undefined, this.where());
      for (const migration of CONTROL_MIGRATIONS) {
        if (done.has(migration.version)) continue;
        await client.query(`INSERT INTO ${S}.schema_version (version) VALUES ($1)`, [migration.version]);
        await client.query(migration.sql);
      }
      await client.query('COMMIT');
      this.installed = true;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      if (error instanceof PgferryError) throw error;
      throw new PgferryError(
        'CONTROL_INSTALL',
        `cannot install the control catalog (schema ${CONTROL_SCHEMA}) in database ${displayIdent(this.target.maintenanceDatabase)} on the target: ${(error as Error).message}`,
        { category: 'target', fix: await refusedInstallFix(client, this.target).catch(() => installFix(this.target)), cause: error },
      );
    }
  }

  private where(): string {
    return `database ${displayIdent(this.target.maintenanceDatabase)}`;
  }

  /** Whether the catalog exists at all (a target no migration has used yet has none); a newer one is refused. */
  async catalogExists(): Promise<boolean> {
    if (this.installed || this.tablesFound.has(`${S}.migration`)) return true;
    // the tables of later versions that readers look for (tableExists) are looked for here too: a
    // resumed runner looked for each in a round trip of its own before its stream started
    const [found] = await this.query<{ ok: boolean; versioned: boolean; present: string[] }>(
      `SELECT to_regclass($1) IS NOT NULL AS ok, to_regclass($2) IS NOT NULL AS versioned,
              ARRAY(SELECT t FROM unnest($3::text[]) AS t WHERE to_regclass(t) IS NOT NULL) AS present`,
      [`${S}.migration`, `${S}.schema_version`, LATER_TABLES],
    );
    for (const t of found?.present ?? []) this.tablesFound.add(t);
    if (found?.versioned && !this.versionChecked) {
      const [{ version }] = await this.query<{ version: number | null }>(`SELECT max(version) AS version FROM ${S}.schema_version`);
      checkCatalogVersion(version ?? undefined, this.where());
      this.versionChecked = true;
    }
    if (found?.ok) this.tablesFound.add(`${S}.migration`);
    return found?.ok ?? false;
  }

  /**
   * `read` of the catalog, or `none` when there is none. A catalog found once is not looked for
   * again (catalogExists), so a read that finds a table or schema gone looks once more: a catalog
   * dropped meanwhile is `none`, as it was before it was found.
   */
  async ifCatalog<T>(read: () => Promise<T>, none: T): Promise<T> {
    if (!(await this.catalogExists())) return none;
    try {
      return await read();
    } catch (error) {
      if (isGoneObject(error) && !(await this.catalogExists())) return none;
      throw error;
    }
  }

  /** Whether the catalog's table `qualified` exists (one of an older catalog may not); a table found is not looked for again. */
  async tableExists(qualified: string): Promise<boolean> {
    if (this.tablesFound.has(qualified)) return true;
    const [found] = await this.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [qualified]);
    if (found?.ok) this.tablesFound.add(qualified);
    return found?.ok ?? false;
  }
}

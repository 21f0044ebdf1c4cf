// REPLICA IDENTITY FULL that pgferry sets on the source, and sets back. A table without a usable
// key (catalog/replicaIdentity.ts) is streamed only with allowReplicaIdentityFull; pgferry records
// the identity it had (sourceRecords.ts) before changing it, so the cutover, a cancel, a failure
// or a resumed runner can set it back. Setting it back while a publication still publishes the
// table would make the application's UPDATEs fail, so that is checked first, each time.
import type pg from 'pg';
import type { SourceRelation } from '../catalog/replicaIdentity';
import { withSession } from '../connect/session';
import { ident, qualified } from '../connect/quote';
import { errorMessage } from '../errors';
import type { MigrationRun } from '../migrationRun';
import { markIdentityRestored, pendingIdentityChanges, recordIdentityBefore, type IdentityChange } from './sourceRecords';
import { runSourceDdl, type DdlPatience } from './sourceDdl';

/** What setting FULL needs of a migration. */
export type IdentityContext = Pick<MigrationRun, 'spec' | 'store'> & { readonly signal?: AbortSignal };

/** Sets REPLICA IDENTITY FULL on each table, recording its identity first (in the control catalog). */
export async function setIdentityFull(
  run: IdentityContext,
  database: string,
  client: pg.Client,
  tables: readonly SourceRelation[],
): Promise<void> {
  for (const table of tables) {
    await recordIdentityBefore(run.store, run.spec.migrationName, database, table);
    await runSourceDdl(
      client,
      {
        what: `set REPLICA IDENTITY FULL on ${table.display}`,
        tables: [table.oid],
        lock: 'AccessExclusiveLock',
        statements: [`ALTER TABLE ONLY ${qualified(table.schema, table.name)} REPLICA IDENTITY FULL`],
      },
      patienceOf(run),
    );
  }
}

/** The same tables on the target (as restored by pg_dump they may have FULL already). */
export async function setTargetIdentityFull(client: pg.Client, tables: readonly SourceRelation[]): Promise<void> {
  for (const t of tables) await client.query(`ALTER TABLE ONLY ${qualified(t.schema, t.name)} REPLICA IDENTITY FULL`);
}

function patienceOf(run: IdentityContext): DdlPatience {
  return { seconds: run.spec.lockTimeoutSeconds, signal: run.signal };
}

/** The clause that gives a table back the identity it had. */
export function identityClause(change: Pick<IdentityChange, 'before' | 'beforeIndex'>): string {
  switch (change.before) {
    case 'd':
      return 'DEFAULT';
    case 'i':
      // USING INDEX whose index was already gone behaved as NOTHING: keep it that way
      return change.beforeIndex ? `USING INDEX ${ident(change.beforeIndex)}` : 'NOTHING';
    default:
      return 'NOTHING';
  }
}

/**
 * Publications (any, not only pgferry's) that publish updates or deletes of a table, directly or
 * through a partitioned ancestor: while one does, the table must keep a usable replica identity.
 */
const IDENTITY_NOW_SQL = `
WITH RECURSIVE up(relid) AS (
  SELECT $1::oid
  UNION
  SELECT i.inhparent FROM up JOIN pg_class pc ON pc.oid = up.relid JOIN pg_inherits i ON i.inhrelid = up.relid
   WHERE pc.relispartition
)
SELECT (SELECT relreplident FROM pg_class WHERE oid = $1)::text AS replident,
       ARRAY(SELECT DISTINCT pt.pubname::text
               FROM up
               JOIN pg_class c ON c.oid = up.relid
               JOIN pg_namespace n ON n.oid = c.relnamespace
               JOIN pg_publication_tables pt ON pt.schemaname = n.nspname AND pt.tablename = c.relname
               JOIN pg_publication p ON p.pubname = pt.pubname
              WHERE p.pubupdate OR p.pubdelete) AS publications`;

/** What restoring needs of a migration: a running one, or a cleanup after its runner is gone. */
export type RestoreContext = Pick<MigrationRun, 'spec' | 'store' | 'warn' | 'onProgress'>;

/** A RestoreContext without a running migration (a cancel carried out for a stopped runner): warnings become events. */
export function restoreContextOf(spec: MigrationRun['spec'], store: MigrationRun['store']): RestoreContext {
  return {
    spec,
    store,
    warn: (message, database) => store.recordEvent(spec.migrationName, 'warning', message, database),
    onProgress: () => undefined,
  };
}

type Outcome = 'restored' | 'nothing-to-do' | { readonly keptFullFor: readonly string[] };

/** Sets one table back on the source, unless a publication still needs its FULL. */
async function restoreOnSource(run: RestoreContext, client: pg.Client, change: IdentityChange): Promise<Outcome> {
  const { rows } = await client.query<{ replident: string | null; publications: string[] }>(IDENTITY_NOW_SQL, [change.oid]);
  const now = rows[0]!;
  // gone, or its identity changed by someone else since: nothing of pgferry's left to undo
  if (now.replident !== 'f') return 'nothing-to-do';
  if (now.publications.length > 0) return { keptFullFor: now.publications };
  await runSourceDdl(
    client,
    {
      what: `set the replica identity of ${change.schema}.${change.name} back`,
      tables: [change.oid],
      lock: 'AccessExclusiveLock',
      statements: [`ALTER TABLE ONLY ${qualified(change.schema, change.name)} REPLICA IDENTITY ${identityClause(change)}`],
    },
    { seconds: run.spec.lockTimeoutSeconds },
  );
  return 'restored';
}

/** The same on the target, where pg_dump carried FULL over: by name, when it still has FULL. */
async function restoreOnTarget(run: RestoreContext, database: string, changes: readonly IdentityChange[]): Promise<void> {
  await withSession(run.spec.target, { database, purpose: 'restore identity', writable: true }, async (client) => {
    for (const change of changes) {
      const { rows } = await client.query<{ oid: string }>(
        `SELECT c.oid::int8::text AS oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relname = $2 AND c.relreplident = 'f'`,
        [change.schema, change.name],
      );
      if (rows.length === 0) continue;
      await runSourceDdl(
        client,
        {
          what: `set the replica identity of ${change.schema}.${change.name} back on the target`,
          tables: [rows[0]!.oid],
          lock: 'AccessExclusiveLock',
          statements: [`ALTER TABLE ONLY ${qualified(change.schema, change.name)} REPLICA IDENTITY ${identityClause(change)}`],
        },
        { seconds: run.spec.lockTimeoutSeconds },
      );
    }
  });
}

/**
 * Sets back every replica identity pgferry changed in one database, on the source and then on the
 * target; called at cutover and when a migration is canceled or fails, after the publication is
 * gone. Never throws: what cannot be set back is a warning naming the table, and stays recorded.
 */
export async function restoreReplicaIdentity(run: RestoreContext, database: string): Promise<void> {
  const migration = run.spec.migrationName;
  try {
    const changes = await pendingIdentityChanges(run.store, migration, database);
    if (changes.length === 0) return;
    const restored: IdentityChange[] = [];
    await withSession(run.spec.source, { database, purpose: 'restore identity', writable: true }, async (client) => {
      for (const change of changes) {
        const outcome = await restoreOnSource(run, client, change).catch((error: unknown) => error as Error);
        if (outcome instanceof Error) {
          await run.warn(
            `could not set the replica identity of ${change.schema}.${change.name} back on the source: ${errorMessage(outcome)}`,
            database,
          );
        } else if (typeof outcome === 'object') {
          await run.warn(
            `left REPLICA IDENTITY FULL on ${change.schema}.${change.name}: publication(s) ${outcome.keptFullFor.join(', ')} still publish its updates or deletes, which would fail without it`,
            database,
          );
        } else {
          await markIdentityRestored(run.store, migration, database, change.oid);
          restored.push(change);
        }
      }
    });
    await restoreOnTarget(run, database, restored);
    if (restored.length > 0)
      run.onProgress({ kind: 'info', message: `replica identity set back on ${restored.length} table(s)`, database });
  } catch (error) {
    await run.warn(`could not set replica identities back: ${errorMessage(error)}`, database).catch(() => undefined);
  }
}

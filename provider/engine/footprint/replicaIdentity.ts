// REPLICA IDENTITY FULL on source tables without a usable key (catalog/identityVerdict.ts), set
// only with allowReplicaIdentityFull, and set back. This module owns the change: its ledger rows
// (the footprint ledger, change replicaIdentity, object the table's source OID: the identity each
// table had), written before the ALTER TABLE, so the cutover, a cancel, a failure or a resumed runner
// sets it back after a crash too; setting FULL (on the source, and on the target where pg_dump
// carries it over); and setting it back at release, last of all, on each server once no publication
// there publishes the table (a table keeps FULL while any publication needs it, or the application's
// UPDATEs would fail). After a cutover with a fallback window the target's reverse publication lists
// the table: it keeps FULL on both servers (as the schema check compares them) until the window
// closes or falls back (release.ts releaseFallback), its row pending until then.
// The stages that find a table to set FULL (cdc/prepare/sourcePrep.ts and tableWatch.ts) are below
// this folder: the flow hands them setIdentityFull as their SetIdentityFull.
import type pg from 'pg';
import { readSourceRelations, type SourceRelation } from '../catalog/identityVerdict';
import { withSession } from '../connect/session';
import { displayIdent, displayName, ident, qualified } from '../connect/quote';
import { retrying, RETRY_POLICIES } from '../connect/retry';
import { isRetryable } from '../connect/sqlstate';
import { errorMessage } from '../core/errors';
import { listSome } from '../util/listSome';
import { CONTROL_SCHEMA, reverseStreamNamesOf, streamNamesOf } from '../core/names';
import type { CatalogConnection } from '../control/connection';
import { runSourceDdl, type DdlPatience } from '../cdc/prepare/sourceDdl';
import type { IdentityContext, SetIdentityFull } from '../cdc/prepare/sourcePrep';
import type { ReversibleChange, RestoreContext, RightsRefusal, RightsSessions } from './change';
import { amendUndo, markUndone, pendingChanges, recordChange } from './ledger';

const CHANGE = 'replicaIdentity';

interface IdentityUndo {
  readonly schema: string;
  readonly name: string;
  readonly before: string;
  readonly beforeIndex?: string;
  /** The target's table, by its OID there, once found: matched by identity from then on, not by name. */
  readonly targetOid?: string;
}

/** A table whose replica identity pgferry set to FULL and has not set back yet. */
export interface IdentityChange {
  readonly oid: string;
  readonly schema: string;
  readonly name: string;
  /** relreplident before: d (default), n (nothing) or i (using index). */
  readonly before: string;
  readonly beforeIndex?: string;
  readonly targetOid?: string;
}

/**
 * Records the identity a table has before pgferry changes it. An earlier record not yet set back
 * (an earlier attempt's, whose FULL is still there) keeps its value: it is the table's own.
 */
async function recordIdentityBefore(store: CatalogConnection, migration: string, database: string, table: SourceRelation): Promise<void> {
  const index = table.replident === 'i' ? table.identity.index : undefined;
  const undo: IdentityUndo = { schema: table.schema, name: table.name, before: table.replident, ...(index ? { beforeIndex: index } : {}) };
  await recordChange(store, migration, database, CHANGE, table.oid, undo);
}

export async function pendingIdentityChanges(store: CatalogConnection, migration: string, database: string): Promise<IdentityChange[]> {
  const entries = await pendingChanges<IdentityUndo>(store, migration, database, CHANGE);
  return entries
    .map(({ object, undo }) => ({
      oid: object,
      schema: undo.schema,
      name: undo.name,
      before: undo.before,
      ...(undo.beforeIndex ? { beforeIndex: undo.beforeIndex } : {}),
      ...(undo.targetOid ? { targetOid: undo.targetOid } : {}),
    }))
    .sort((a, b) => (a.schema === b.schema ? compare(a.name, b.name) : compare(a.schema, b.schema)));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function markIdentityRestored(store: CatalogConnection, migration: string, database: string, oid: string): Promise<void> {
  await markUndone(store, migration, database, CHANGE, oid);
}

/** Sets REPLICA IDENTITY FULL on each table, recording its identity first (in the ledger). */
export const setIdentityFull: SetIdentityFull = async (run, database, client, tables) => {
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
};

/** The same tables on the target (as restored by pg_dump they may have FULL already). */
export async function setTargetIdentityFull(client: pg.Client, tables: readonly SourceRelation[]): Promise<void> {
  for (const t of tables) await client.query(`ALTER TABLE ONLY ${qualified(t.schema, t.name)} REPLICA IDENTITY FULL`);
}

function patienceOf(run: IdentityContext): DdlPatience {
  return { seconds: run.spec.lockTimeoutSeconds, signal: run.signal };
}

/** The clause that gives a table back the identity it had. */
function identityClause(change: Pick<IdentityChange, 'before' | 'beforeIndex'>): string {
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
      what: `set the replica identity of ${displayName(change.schema, change.name)} back`,
      tables: [change.oid],
      lock: 'AccessExclusiveLock',
      statements: [`ALTER TABLE ONLY ${qualified(change.schema, change.name)} REPLICA IDENTITY ${identityClause(change)}`],
    },
    { seconds: run.spec.lockTimeoutSeconds },
  );
  return 'restored';
}

/** A step's result, or what it was refused; thrown when a server went away, for the whole step to be redone. */
async function unlessGone<T>(step: Promise<T>): Promise<T | Error> {
  try {
    return await step;
  } catch (error) {
    if (isRetryable(error)) throw error;
    return error instanceof Error ? error : new Error(String(error));
  }
}

/** The release's context; its instance names pgferry's own publications (absent: a migration from before instances). */
type RestoreRun = RestoreContext & { readonly instance?: string | undefined };

/** The target's copy of a table: by its recorded OID there, else (the first time) by name. */
const TARGET_TABLE_SQL = `
SELECT c.oid::int8::text AS oid, n.nspname::text AS schema, c.relname::text AS name
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE CASE WHEN $1::text IS NULL THEN n.nspname = $2 AND c.relname = $3 ELSE c.oid = $1::text::oid END`;

/** The target's copy of a table pgferry gave FULL, while it still has FULL, and the publications there that need it. */
interface TargetCopy {
  readonly oid: string;
  readonly schema: string;
  readonly name: string;
  readonly publications: readonly string[];
}

async function targetCopyOf(client: pg.Client, change: IdentityChange): Promise<TargetCopy | undefined> {
  const found = await client.query<{ oid: string; schema: string; name: string }>(TARGET_TABLE_SQL, [
    change.targetOid ?? null,
    change.schema,
    change.name,
  ]);
  const table = found.rows[0];
  if (!table) return undefined;
  const { rows } = await client.query<{ replident: string | null; publications: string[] }>(IDENTITY_NOW_SQL, [table.oid]);
  // its identity changed by someone else since: nothing of pgferry's left to undo there
  return rows[0]!.replident === 'f' ? { ...table, publications: rows[0]!.publications } : undefined;
}

/** The changes whose target copy a publication there (the fallback window's reverse one) still needs FULL on. */
interface NeededOnTarget {
  readonly change: IdentityChange;
  readonly copy: TargetCopy;
}

/**
 * Sorts the changes by the target: those whose copy a publication there still needs (kept FULL on
 * both servers, so that the two stay alike for the schema check) and the others, to set back.
 */
async function neededOnTarget(
  run: RestoreRun,
  database: string,
  changes: readonly IdentityChange[],
): Promise<{ readonly needed: NeededOnTarget[]; readonly free: IdentityChange[] }> {
  const needed: NeededOnTarget[] = [];
  const free: IdentityChange[] = [];
  await withSession(run.spec.target, { database, purpose: 'restore identity', readOnly: true }, async (client) => {
    for (const change of changes) {
      const copy = await targetCopyOf(client, change);
      if (copy && copy.publications.length > 0) needed.push({ change, copy });
      else free.push(change);
    }
  });
  return { needed, free };
}

/**
 * Sets the target's copies back, where pg_dump carried FULL over (or pgferry set it), when they still
 * have FULL. Returns the changes set back or found with nothing to do; a refused one stays recorded.
 */
async function restoreOnTarget(run: RestoreRun, database: string, changes: readonly IdentityChange[]): Promise<IdentityChange[]> {
  const done: IdentityChange[] = [];
  if (changes.length === 0) return done;
  await withSession(run.spec.target, { database, purpose: 'restore identity', writable: true }, async (client) => {
    for (const change of changes) {
      const copy = await targetCopyOf(client, change);
      if (!copy || copy.publications.length > 0) {
        // a publication made on the target since the look before: kept, and said
        if (copy)
          await run.warn(
            `left REPLICA IDENTITY FULL on ${displayName(copy.schema, copy.name)} on the target: ${stillPublished(copy.publications)}`,
            database,
          );
        else done.push(change);
        continue;
      }
      const refused = await unlessGone(
        runSourceDdl(
          client,
          {
            what: `set the replica identity of ${displayName(copy.schema, copy.name)} back on the target`,
            tables: [copy.oid],
            lock: 'AccessExclusiveLock',
            statements: [`ALTER TABLE ONLY ${qualified(copy.schema, copy.name)} REPLICA IDENTITY ${identityClause(change)}`],
          },
          { seconds: run.spec.lockTimeoutSeconds },
        ),
      );
      if (refused instanceof Error) {
        const what = `could not set the replica identity of ${displayName(change.schema, change.name)} back on the target`;
        await run.warn(`${what}: ${errorMessage(refused)}`, database);
      } else {
        done.push(change);
      }
    }
  });
  return done;
}

function stillPublished(publications: readonly string[]): string {
  return `publication(s) ${publications.join(', ')} still publish its updates or deletes, which would fail without it`;
}

/**
 * The publications pgferry makes for this migration's database: the forward one on the source (made
 * again by a fall-back with --resume-forward) and the reverse one of a fallback window on the
 * target. FULL kept for them is expected, said as information, not as a warning.
 */
function ownPublications(run: RestoreRun, database: string): Set<string> {
  const migration = run.spec.migrationName;
  return new Set([
    streamNamesOf(migration, database, run.instance).publication,
    reverseStreamNamesOf(migration, database, run.instance).publication,
  ]);
}

/**
 * Sets back every replica identity pgferry changed in one database, on the source and then on the
 * target; called at cutover and when a migration is canceled or fails, after the publication is
 * gone, and when a fallback window closes or falls back, after the reverse publication is gone. A
 * table whose target copy the window's reverse publication lists keeps FULL on both servers until
 * then (said once, recorded still). What a table refuses (a lock not granted in time, a publication
 * not pgferry's that still needs FULL) is a warning naming it, and stays recorded. A server that
 * went away (a restart, a dropped connection) is waited for and the whole step redone, as it is
 * idempotent; if it stays away the error is thrown, the changes stay recorded, and whoever runs the
 * step again (a resumed cutover, a cancel run again, the window's end) sets them back.
 */
export async function restoreReplicaIdentity(run: RestoreRun, database: string): Promise<void> {
  await retrying(RETRY_POLICIES.statement, () => restoreOnce(run, database), {
    signal: run.signal,
    // fire and forget (onRetry is synchronous); a cancel's warn writes the catalog, which may be
    // the server that went away: that write is dropped rather than left unhandled
    onRetry: (error) =>
      void run.warn(`setting replica identities back is tried again: ${errorMessage(error)}`, database).catch(() => undefined),
  });
}

/**
 * Sets the source back for each change; returns those whose source is done (set back, or nothing of
 * pgferry's left there). A refusal, or a publication not pgferry's still needing FULL, is warned;
 * pgferry's own forward publication (made again by a fall-back) keeps it quietly, for its release.
 */
async function restoreSources(
  run: RestoreRun,
  database: string,
  changes: readonly IdentityChange[],
  ours: ReadonlySet<string>,
): Promise<IdentityChange[]> {
  const settled: IdentityChange[] = [];
  if (changes.length === 0) return settled;
  await withSession(run.spec.source, { database, purpose: 'restore identity', writable: true }, async (client) => {
    for (const change of changes) {
      const outcome = await unlessGone(restoreOnSource(run, client, change));
      const shown = displayName(change.schema, change.name);
      if (outcome instanceof Error) {
        await run.warn(`could not set the replica identity of ${shown} back on the source: ${errorMessage(outcome)}`, database);
      } else if (typeof outcome === 'object') {
        if (!outcome.keptFullFor.every((p) => ours.has(p)))
          await run.warn(`left REPLICA IDENTITY FULL on ${shown}: ${stillPublished(outcome.keptFullFor)}`, database);
      } else {
        settled.push(change);
      }
    }
  });
  return settled;
}

async function restoreOnce(run: RestoreRun, database: string): Promise<void> {
  const migration = run.spec.migrationName;
  const changes = await pendingIdentityChanges(run.store, migration, database);
  if (changes.length === 0) return;
  const ours = ownPublications(run, database);
  const { needed, free } = await neededOnTarget(run, database, changes);
  await keptForTarget(run, database, needed, ours);
  // Recorded as restored only once the target is done too: a step redone after a lost connection
  // finds the source already set back ('nothing-to-do') and still sets the target back.
  const done = await restoreOnTarget(run, database, await restoreSources(run, database, free, ours));
  for (const change of done) await markIdentityRestored(run.store, migration, database, change.oid);
  if (done.length > 0) run.onProgress({ kind: 'info', message: `replica identity set back on ${done.length} table(s)`, database });
}

/**
 * The tables a publication on the target still needs FULL on: kept on both servers, their target
 * OID recorded the first time (found by identity from then on); the fallback window's own said as
 * information, another's as a warning naming it.
 */
async function keptForTarget(
  run: RestoreRun,
  database: string,
  needed: readonly NeededOnTarget[],
  ours: ReadonlySet<string>,
): Promise<void> {
  const migration = run.spec.migrationName;
  const forWindow: string[] = [];
  for (const { change, copy } of needed) {
    if (change.targetOid === undefined) await amendUndo(run.store, migration, database, CHANGE, change.oid, { targetOid: copy.oid });
    const shown = displayName(copy.schema, copy.name);
    if (copy.publications.every((p) => ours.has(p))) forWindow.push(shown);
    else
      await run.warn(
        `left REPLICA IDENTITY FULL on ${shown} on both servers: on the target ${stillPublished(copy.publications)}`,
        database,
      );
  }
  if (forWindow.length === 0) return;
  run.onProgress({
    kind: 'info',
    message: `REPLICA IDENTITY FULL kept on ${listSome(forWindow)} on both servers while the fallback window's reverse stream publishes their updates and deletes; set back when the window closes or falls back`,
    database,
  });
}

/** The tables without a usable key (the ones set FULL) that the source user does not own. */
async function refusal(s: RightsSessions): Promise<RightsRefusal | undefined> {
  const foreign = (await readSourceRelations(s.source)).filter((t) => t.identity.kind === 'none' && !t.owned);
  if (foreign.length === 0) return undefined;
  const owners = [...new Set(foreign.map((t) => t.owner))].sort();
  return {
    message: `source user ${displayIdent(s.spec.source.user)} may not set REPLICA IDENTITY FULL on ${listSome(foreign.map((t) => t.display))} in ${displayIdent(s.database)}: it does not own them`,
    fix: `on the source: GRANT ${owners.map(ident).join(', ')} TO ${ident(s.spec.source.user)}`,
  };
}

export const replicaIdentity = {
  name: 'replicaIdentity',
  server: 'source',
  describe: 'REPLICA IDENTITY FULL on source tables without a usable key, set back to the identity each had once no publication needs it',
  ledger: `${CONTROL_SCHEMA}.footprint (change replicaIdentity: undo.before, undo.beforeIndex, undone_at)`,
  rights: { server: 'source', needs: 'ownership of the tables (ALTER TABLE ... REPLICA IDENTITY)', refusal },
  madeFor: (spec) => spec.mode === 'Online' && spec.allowReplicaIdentityFull,
  pending: async (ctx, database) =>
    (await pendingIdentityChanges(ctx.store, ctx.spec.migrationName, database)).map(
      (c) => `ALTER TABLE ONLY ${qualified(c.schema, c.name)} REPLICA IDENTITY ${identityClause(c)}`,
    ),
  undo: restoreReplicaIdentity,
  failure: () => ({
    what: 'could not set replica identities back',
    left: `the tables still to set back are in ${CONTROL_SCHEMA}.footprint on the target`,
  }),
} satisfies ReversibleChange;

// One table resynchronised at a pinned source position while the other tables stream
// (docs/verification.md's pin and the copy engine together), and the tables created on the source
// while streaming followed with it: created on the target from the source's own definition
// (pg_dump -t), added to the publication, their rows copied at a pinned position, then streamed.
//
// The copy and the stream agree on one position, exactly once: flow/pinnedCopy.ts says why.
//   A new table is added to the publication before the pin, and the pin waits until every
//   transaction running at the add has ended: one that wrote the table before the add and commits
//   after L would otherwise have rows decoded under the old publication (not sent) and not in S.
//
// A request is recorded first (control/tableResyncs.ts) and stays pending until the copy
// committed: a runner killed anywhere leaves it to the next, which starts it again; each step is
// idempotent and the copy replaces the table's rows whole.
import type pg from 'pg';
import { listTables, type SourceTable } from '../catalog/introspect';
import { identityFix, readSourceRelations, type SourceRelation } from '../catalog/identityVerdict';
import { displayIdent, qualified } from '../connect/quote';
import { serverMajor, withSession } from '../connect/session';
import { isIntegrityRefusal, isRetryable } from '../connect/sqlstate';
import { canceledError, errorMessage } from '../core/errors';
import { formatLsn } from '../core/lsn';
import { qualifiedKey } from '../core/names';
import { ChangeTracker } from '../cdc/plan/changeTracker';
import { streamNames, type OnlineStream } from '../cdc/apply/onlineStream';
import { fireAsReplica, replicaRolePermitted } from '../footprint/targetFiring';
import { keptColumnsRefusal, readKeptColumns } from './keptColumns';
import { holdForeignKeysOf } from '../footprint/targetForeignKeys';
import { publishesViaRoot, publishTables } from '../cdc/prepare/publication';
import { planPublication, streamedAs } from '../cdc/prepare/publicationPlan';
import { setIdentityFull } from '../footprint/replicaIdentity';
import { clearNotStreamedTable, recordNotStreamed } from '../control/sourceTables';
import { markCreatedOnTarget, markResyncAttempt, markResyncDone, pendingTableResyncs, type TableResync } from '../control/tableResyncs';
import { readFilterPlan } from '../filter/plan';
import { dumpSchema, listToc, restoreSection, type PgToolPaths, type TocEntry } from '../schema/dumpRestore';
import type { MigrationRun } from '../run/migrationRun';
import path from 'node:path';
import { trace } from '../util/trace';
import { holdpoint } from '../util/failpoints';
import { requestApplyRetry } from '../control/migrationRequests';
import { recordEvent } from '../control/store';

/**
 * The change tracker a database's stream starts with: the tables whose resync is pending skipped
 * until their pin (an earlier runner published them, or skipped their changes, before it stopped).
 */
export async function trackerWithResyncs(run: MigrationRun, database: string): Promise<ChangeTracker> {
  const tracker = new ChangeTracker();
  for (const r of await pendingTableResyncs(run.store, run.spec.migrationName, [database]))
    tracker.resyncing.add(qualified(r.schema, r.name));
  return tracker;
}

/** Attempts of one request before it is given up (reported; the cutover's verification then stops on the table). */
const MAX_ATTEMPTS = 5;
/** Pins given up on a straggler (docs/verification.md, 3) before the attempt counts as failed. */
const PIN_TRIES = 20;
/** How long a transaction that was running when the table was published may keep the copy waiting. */
const OLDER_TRANSACTIONS_WAIT_MS = 10 * 60_000;

/** What one request came to: copied at a position, or ended without a copy (`error`: why, reported). */
interface Outcome {
  readonly lsn?: bigint;
  readonly rows?: number;
  readonly tables?: number;
  readonly error?: string;
  /** Created on the target by this attempt. */
  readonly created?: readonly string[];
}

/**
 * The online loop's handler of resync requests (named so the loop's supervisor calls it like the
 * others): carries out every pending request of a database that streams. A request for a database
 * whose stream is stopped is prepared only (a partition created on the source may be what stopped
 * it: it is created on the target, and the stream tried again at once); its copy waits for the stream.
 */
export async function carryOutTableResyncs(
  run: MigrationRun,
  streams: readonly OnlineStream[],
  isStopped: (database: string) => boolean,
  /** A table created under the name of one whose drop or rename is still to follow (flow/tableDropsFollow.ts): it waits for it. */
  waitsForName: (database: string, table: { readonly schema: string; readonly name: string }) => boolean = () => false,
): Promise<void> {
  if (streams.length === 0) return;
  const { spec, store } = run;
  const pending = await pendingTableResyncs(
    store,
    spec.migrationName,
    streams.map((s) => s.database),
  );
  let retryStopped = false;
  for (const request of pending) {
    if (run.signal.aborted) return;
    const stream = streams.find((s) => s.database === request.database);
    if (!stream) continue;
    if (request.reason === 'created' && waitsForName(request.database, request)) continue;
    const stopped = isStopped(request.database) || stream.failure !== undefined;
    try {
      const outcome = await carryOut(run, stream, request, stopped);
      if (outcome === 'waiting' || outcome === 'changed') {
        // something for the stream to apply differently now (a partition it lacked, changes to skip): tried again at once
        if (outcome === 'changed') retryStopped = true;
        continue;
      }
      // asked for again since this look (the apply emptied the table again past the pin): it stays
      // pending and is carried out again, its changes skipped meanwhile as the new request set
      const ended = await markResyncDone(store, spec.migrationName, request, {
        ...(outcome.lsn !== undefined ? { lsn: formatLsn(outcome.lsn) } : {}),
        ...(outcome.rows !== undefined ? { rows: outcome.rows } : {}),
        ...(outcome.error !== undefined ? { error: outcome.error } : {}),
      });
      if (ended && outcome.error !== undefined) stream.applier.tracker.resyncing.delete(qualified(request.schema, request.name));
      if (ended || outcome.lsn !== undefined) await report(run, request, outcome, !ended);
    } catch (error) {
      if (run.signal.aborted) return;
      // a server restarting, the stream reconnecting: tried again at the next look, uncounted
      if (isRetryable(error)) continue;
      const attempts = await markResyncAttempt(store, spec.migrationName, request, errorMessage(error));
      // a constraint on the target refuses the same rows on every try: each try would copy the whole
      // table again for nothing, so the first refusal ends the request and says what to fix
      const refused = isIntegrityRefusal(error);
      if (attempts < MAX_ATTEMPTS && !refused) continue;
      const why = refused
        ? `${errorMessage(error)} (a constraint on the target refuses rows the source has: make the target's constraint match the source's)`
        : `${errorMessage(error)} (${attempts} attempts)`;
      // asked for again meanwhile: tried again, its attempts counted afresh
      if (!(await markResyncDone(store, spec.migrationName, request, { error: why }))) continue;
      stream.applier.tracker.resyncing.delete(qualified(request.schema, request.name));
      await run.warn(
        `${what(request)} failed: ${why}; the cutover's verification stops on ${request.table} if it differs: ask again with \`pgferry update --name ${spec.migrationName} --resync ${displayIdent(request.database)}/${request.table}\` once the cause is fixed`,
        request.database,
      );
    }
  }
  if (retryStopped) await requestApplyRetry(store, spec.migrationName);
}

function what(request: TableResync): string {
  if (request.reason === 'created') return `following ${request.table} (created on the source while streaming)`;
  if (request.reason === 'keyed') return `following ${request.table} (not streamed until now, publishable on the source now)`;
  return request.reason === 'reshaped'
    ? `resynchronising ${request.table} (a column changed on the source in a way the stream cannot replay)`
    : `resynchronising ${request.table} (requested)`;
}

/** What a request came to, said as an event; `again`: the table was asked for again meanwhile, so it is copied once more. */
async function report(run: MigrationRun, request: TableResync, outcome: Outcome, again: boolean): Promise<void> {
  if (outcome.error !== undefined) {
    await run.warn(`${what(request)}: not done: ${outcome.error}`, request.database);
    return;
  }
  const created = outcome.created && outcome.created.length > 0 ? `created on the target (${outcome.created.join(', ')}), ` : '';
  const tables = outcome.tables && outcome.tables > 1 ? ` of ${outcome.tables} tables` : '';
  const copied = `${outcome.rows} row(s)${tables} copied at source position ${formatLsn(outcome.lsn!)}`;
  const said =
    request.reason === 'created'
      ? `followed ${request.table}, created on the source while streaming: ${created}${copied}, streamed from there`
      : request.reason === 'keyed'
        ? `followed ${request.table}, not streamed until now and publishable on the source now (logged, owned, a usable replica identity): ${created}${copied}, streamed from there`
        : `resynchronised ${request.table}: ${created}${copied} while the other tables streamed, streamed from there`;
  const message = again ? `${said}; asked for again meanwhile: copied once more` : said;
  run.onProgress({ kind: 'info', database: request.database, message });
  await recordEvent(run.store, run.spec.migrationName, 'info', message, request.database);
}

/** The table and everything below it (a partitioned table's partitions, at every level). */
function treeOf(table: SourceRelation, relations: readonly SourceRelation[]): SourceRelation[] {
  const byOid = new Map(relations.map((r) => [r.oid, r]));
  const under = (r: SourceRelation): boolean => {
    for (let p = r; p.parent !== undefined;) {
      if (p.parent === table.oid) return true;
      const parent = byOid.get(p.parent);
      if (!parent) return false;
      p = parent;
    }
    return false;
  };
  return [table, ...relations.filter(under)];
}

/** Ancestors of a partition, nearest first. */
function ancestorsOf(table: SourceRelation, byOid: ReadonlyMap<string, SourceRelation>): SourceRelation[] {
  const out: SourceRelation[] = [];
  for (let p = byOid.get(table.parent ?? ''); p; p = byOid.get(p.parent ?? '')) out.push(p);
  return out;
}

/** What is copied at the pin once the table is on the target and streamed; or the request's end without a copy. */
type Prepared =
  | {
      readonly copy: {
        readonly tables: readonly SourceTable[];
        /** Every name the tables' changes come under (a straggler's makes the pin inexact). */
        readonly names: ReadonlySet<string>;
        /** The names whose changes the apply skips until the pin (ChangeTracker.resyncing). */
        readonly skip: ReadonlySet<string>;
        readonly created: readonly string[];
      };
    }
  | Outcome;

/**
 * One request: prepared (on the target, published), then copied at a pin. 'waiting': prepared, the
 * copy waits for the stream (stopped); 'changed': the same, and the preparing changed what the stream
 * meets (a table created on the target, changes now skipped), so the stopped stream may pass now.
 */
async function carryOut(
  run: MigrationRun,
  stream: OnlineStream,
  request: TableResync,
  stopped: boolean,
): Promise<Outcome | 'waiting' | 'changed'> {
  const { spec } = run;
  const database = request.database;
  const { publication } = streamNames(run, database);
  const skippedBefore = new Set(stream.applier.tracker.resyncing);
  const prepared = await withSession(
    spec.source,
    { database, purpose: 'table resync', writable: true },
    async (source): Promise<Prepared> => {
      const relations = await readSourceRelations(source, publication);
      const table = relations.find((r) => r.schema === request.schema && r.name === request.name);
      if (!table) return { error: 'it is not on the source (dropped or renamed since the request)' };
      const filter = await readFilterPlan(source, spec);
      if (!filter.rowsMove(table.oid)) return { error: "the migration's filters leave its rows out" };
      const byOid = new Map(relations.map((r) => [r.oid, r]));
      const tree = treeOf(table, relations).filter((r) => filter.rowsMove(r.oid));
      const leaves = tree.filter((r) => !r.partitioned);
      const unlogged = leaves.filter((r) => r.unlogged);
      if (unlogged.length > 0) {
        const reason = 'it is unlogged: logical decoding does not see its changes';
        for (const r of unlogged) await recordNotStreamed(run.store, spec.migrationName, database, r, reason);
        return { error: `${unlogged.map((r) => r.display).join(', ')}: ${reason}` };
      }
      // the target: what is missing there, the table's ancestors included, is created from the source's definition
      trace(`resync ${request.table}: create`);
      const created = await createOnTarget(run, database, [...ancestorsOf(table, byOid).reverse(), ...tree], request);
      const major = await serverMajor(source);
      const wanted = new Set(leaves.map((r) => r.oid));
      const tables = (await listTables(source, major)).filter((t) => wanted.has(t.oid));
      // the target's own columns' values could not be put back after the copy: refused before any change is skipped
      const kept = await withSession(spec.target, { database, purpose: 'table resync' }, (target) => readKeptColumns(target, tables));
      const refusal = keptColumnsRefusal(kept);
      if (refusal) return { error: refusal, created };
      // from the moment it is published until the pin, the tree's changes are the copy's (skipped by the apply)
      for (const r of tree) stream.applier.tracker.resyncing.add(qualified(r.schema, r.name));
      trace(`resync ${request.table}: publish`);
      const blocked = await publishIfNeeded(run, database, source, publication, relations, tree);
      if (blocked) {
        for (const r of leaves) await recordNotStreamed(run.store, spec.migrationName, database, r, blocked);
        return { error: blocked, created };
      }
      for (const r of leaves) await clearNotStreamedTable(run.store, spec.migrationName, database, r.oid);
      // the publication never publishes via the root (cdc/prepare/publication.ts): each partition's
      // changes, TRUNCATE included, come under its own name, so the tree's names are all there is
      // to skip until the pin, and all a straggler's change can come under
      const names = new Set(tree.map((r) => qualified(r.schema, r.name)));
      return { copy: { tables, names, skip: names, created } };
    },
  );
  const resyncing = stream.applier.tracker.resyncing;
  // ended without a copy: the caller stops skipping the table's changes once the request is over
  if (!('copy' in prepared)) return prepared;
  const { tables, names, skip, created } = prepared.copy;
  for (const name of skip) resyncing.add(name);
  const changed = created.length > 0 || [...skip].some((name) => !skippedBefore.has(name));
  if (stopped) return changed ? 'changed' : 'waiting';
  // a test changes the source's table here, between the resync's look at it and its pin
  await holdpoint(`resync-pin:${request.table}`);
  // the copy's modules are loaded only for a copy: a resumed runner's start is time to its first change
  const { copyAtPin } = await import('./pinnedCopy');
  for (let tries = 1; ; tries++) {
    if (run.signal.aborted) throw canceledError();
    trace(`resync ${request.table}: pin try ${tries}`);
    const copied = await copyAtPin(run, stream, { tables, names, skip });
    if (copied === 'stream ended') return changed ? 'changed' : 'waiting';
    if (copied) {
      // a test asks for the table again here, after the copy committed and before the request ends
      await holdpoint(`resync-copied:${request.table}`);
      return { ...copied, tables: tables.length, created };
    }
    if (tries >= PIN_TRIES) {
      for (const name of skip) resyncing.delete(name);
      throw new Error(`no exact pin in ${tries} tries (transactions kept committing across the pin)`);
    }
    await sleep(Math.min(2_000, 100 * tries));
  }
}

/** Creates on the target the relations of `wanted` it lacks (pg_dump -t of each from the source); returns their names. */
async function createOnTarget(
  run: MigrationRun,
  database: string,
  wanted: readonly SourceRelation[],
  request: TableResync,
): Promise<string[]> {
  const { spec } = run;
  const onTarget = await withSession(spec.target, { database, purpose: 'table resync' }, async (target) => {
    const { rows } = await target.query<{ schema: string; name: string }>(
      `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND (n.nspname, c.relname) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
      [wanted.map((r) => r.schema), wanted.map((r) => r.name)],
    );
    return new Set(rows.map((r) => qualifiedKey(r.schema, r.name)));
  });
  const missing = wanted.filter((r) => !onTarget.has(qualifiedKey(r.schema, r.name)));
  if (missing.length === 0) return [];
  // the source user may read the definition only: a schema the target lacks is the schema's own change
  const tools = await run.tools();
  const file = path.join(run.workDir, `${encodeURIComponent(database)}.resync.${Date.now()}.dump`);
  await dumpSchema({
    tools,
    source: spec.source,
    database,
    file,
    lockTimeoutSeconds: spec.lockTimeoutSeconds,
    signal: run.signal,
    onlyTables: missing,
  });
  for (const section of ['pre-data', 'post-data'] as const) {
    // a partition attached to a table with a primary key (or an index) got its own at ATTACH:
    // pg_dump -t of the partition alone still writes it, which the target then refuses
    const only = section === 'post-data' ? await postDataNotThere(run, database, tools, file, missing) : undefined;
    const restored = await restoreSection({
      tools,
      target: spec.target,
      database,
      file,
      section,
      ...(only ? { only } : {}),
      noOwner: !spec.migrateRoles,
      signal: run.signal,
    });
    for (const w of restored.warnings) await run.warn(w, database);
  }
  await markCreatedOnTarget(run.store, spec.migrationName, request);
  // a target whose apply cannot take the replica role: the new tables' triggers and rules fire as
  // for one, and their foreign keys are held until the cutover, as the copied tables' are
  await withSession(spec.target, { database, purpose: 'table resync', writable: true }, async (target) => {
    if (await replicaRolePermitted(target)) return;
    await fireAsReplica(target, { store: run.store, migration: spec.migrationName, database });
    await holdForeignKeysOf(run, target, database, missing);
  });
  return missing.map((r) => r.display);
}

/**
 * The dump's entries but the indexes and constraints the target already has (made by ATTACH
 * PARTITION). An entry's index is found by the OID the dump recorded, in the source's catalog:
 * `pg_restore --list` prints names raw, so a name with a space cannot be read back from its lines.
 */
async function postDataNotThere(
  run: MigrationRun,
  database: string,
  tools: PgToolPaths,
  file: string,
  tables: readonly SourceRelation[],
): Promise<TocEntry[]> {
  const existing = await withSession(run.spec.target, { database, purpose: 'table resync' }, async (target) => {
    const { rows } = await target.query<{ schema: string; name: string }>(
      `SELECT n.nspname AS schema, i.relname AS name FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
         JOIN pg_class c ON c.oid = x.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE (n.nspname, c.relname) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
      [tables.map((t) => t.schema), tables.map((t) => t.name)],
    );
    return new Set(rows.map((r) => qualifiedKey(r.schema, r.name)));
  });
  const toc = await listToc(tools, file);
  const indexed = toc.filter((e) => e.desc === 'INDEX' || e.desc === 'CONSTRAINT');
  if (indexed.length === 0 || existing.size === 0) return toc;
  // an INDEX entry is the index's pg_class row; a CONSTRAINT entry is the pg_constraint row of a
  // key or exclusion constraint, whose index it builds (a CHECK constraint has none, and stays)
  const indexOf = await withSession(run.spec.source, { database, purpose: 'table resync' }, async (source) => {
    const { rows } = await source.query<{ id: string; schema: string; name: string }>(
      `SELECT e.id::text AS id, n.nspname AS schema, i.relname AS name
         FROM unnest($1::int[], $2::oid[], $3::oid[]) AS e(id, classid, objid)
         LEFT JOIN pg_constraint k ON e.classid = 'pg_constraint'::regclass AND k.oid = e.objid
         JOIN pg_class i ON i.oid = CASE WHEN e.classid = 'pg_class'::regclass THEN e.objid ELSE k.conindid END
         JOIN pg_namespace n ON n.oid = i.relnamespace`,
      [indexed.map((e) => e.dumpId), indexed.map((e) => e.catalogOid), indexed.map((e) => e.objectOid)],
    );
    return new Map(rows.map((r) => [Number(r.id), qualifiedKey(r.schema, r.name)]));
  });
  return toc.filter((e) => {
    const key = indexOf.get(e.dumpId);
    return key === undefined || !existing.has(key);
  });
}

/**
 * Adds to the publication what streams the tree's rows, every partition by name, unless it streams
 * already; returns why it cannot be streamed safely, if so. Then waits until every transaction
 * running at the add has ended (none need be waited for when every partition streamed already: a
 * CREATE TABLE ... PARTITION OF or ATTACH PARTITION made it a member of a listed table in the
 * transaction that made it, and ATTACH waits for every transaction that wrote the table before).
 */
async function publishIfNeeded(
  run: MigrationRun,
  database: string,
  source: pg.Client,
  publication: string,
  relations: readonly SourceRelation[],
  tree: readonly SourceRelation[],
): Promise<string | undefined> {
  const { spec } = run;
  const options = { viaRoot: await publishesViaRoot(source) };
  const byOid = new Map(relations.map((r) => [r.oid, r]));
  const leaves = tree.filter((r) => !r.partitioned);
  const inTree = new Set(tree.map((r) => r.oid));
  const plan = planPublication(relations, options);
  if (leaves.every((r) => streamedAs(r, byOid, options) !== undefined)) {
    // published already as partitions of a listed table (created or attached under it): listed by
    // name as well, where the source user may, so that a later DETACH leaves them streamed
    const members = plan.publish.filter((r) => inTree.has(r.oid) && !r.published && !r.partitioned && r.owned);
    await publishTables(source, publication, members, { seconds: spec.lockTimeoutSeconds, signal: run.signal });
    return undefined;
  }
  const publish = plan.publish.filter((r) => inTree.has(r.oid) && !r.published);
  const notOwned = publish.filter((r) => !r.owned);
  if (notOwned.length > 0) {
    return `the source user does not own ${notOwned.map((r) => `${r.display} (owner ${r.owner})`).join(', ')}: only an owner may add a table to the publication; grant the owner role to the source user and ask again (\`pgferry update --resync\`)`;
  }
  const withoutIdentity = plan.withoutIdentity.filter((r) => inTree.has(r.oid));
  if (withoutIdentity.length > 0) {
    if (!spec.allowReplicaIdentityFull) {
      const fixes = withoutIdentity.map((r) => identityFix(r)).join('; ');
      return `${withoutIdentity.map((r) => `${r.display}: ${r.identity.flaw}`).join('; ')} (allowReplicaIdentityFull is off: its UPDATE and DELETE would fail on the source once published); on the source: ${fixes} (or allowReplicaIdentityFull), and pgferry copies and streams it`;
    }
    await setIdentityFull(run, database, source, withoutIdentity);
  }
  await publishTables(source, publication, publish, { seconds: spec.lockTimeoutSeconds, signal: run.signal });
  await waitForOlderTransactions(run, source);
  return undefined;
}

/**
 * Waits until every transaction that had an id when the publication changed has ended: such a
 * transaction's earlier changes of the table were decoded without it, so it must commit before the
 * pin's position (and be in its snapshot) or not at all.
 */
async function waitForOlderTransactions(run: MigrationRun, source: pg.Client): Promise<void> {
  const { rows } = await source.query<{ x: string }>(`SELECT pg_catalog.txid_snapshot_xmax(pg_catalog.txid_current_snapshot())::text AS x`);
  const horizon = rows[0]!.x;
  const deadline = Date.now() + OLDER_TRANSACTIONS_WAIT_MS;
  for (;;) {
    const { rows: now } = await source.query<{ done: boolean }>(
      `SELECT pg_catalog.txid_snapshot_xmin(pg_catalog.txid_current_snapshot()) >= $1::int8 AS done`,
      [horizon],
    );
    if (now[0]!.done) return;
    if (run.signal.aborted) throw canceledError();
    if (Date.now() > deadline) {
      throw new Error(
        `a source transaction open since before the table was published has not ended in ${OLDER_TRANSACTIONS_WAIT_MS / 60_000} minutes (see pg_stat_activity, backend_xid older than ${horizon}); tried again`,
      );
    }
    await sleep(200);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

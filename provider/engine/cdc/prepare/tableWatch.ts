// The online flow's watch over the source's tables while changes stream, one catalog scan per
// database every few seconds (called from the online supervisor's tick (flow/handleTick.ts)):
// - a table created (or attached as a partition) after the migration started is published by
//   nobody, so the application can use it freely; it is followed: a request is recorded, which
//   flow/tableResync.ts carries out (created on the target, published by name, copied at a pinned
//   position, streamed), or reports as not streamed when it cannot be published safely;
// - a partition created (or attached) under a listed partitioned table is published with it, its
//   changes under its own name: the target needs the same partition, so one missing there is
//   followed the same way; and it is listed by name as well, so that it stays streamed as the
//   plain table it becomes if it is detached later;
// - a streamed table that has lost its usable replica identity (its primary key dropped, made
//   DEFERRABLE by re-creation, REPLICA IDENTITY NOTHING ...) would make the application's UPDATE
//   and DELETE fail: it gets REPLICA IDENTITY FULL with allowReplicaIdentityFull, or is taken out of
//   the publication and reported as not streamed;
// - a table reported as not streamed is judged again at every scan: once it has a usable replica
//   identity (the application's later migration added a primary key, or set REPLICA IDENTITY FULL
//   or USING INDEX) and may be published, it is followed as a created table is (published, copied
//   at a pinned position, streamed), so the rows it changed while not streamed arrive too;
// - a streamed table dropped or renamed: reported, or, with tableDropsAndRenames: follow, handed to
//   the online flow to follow on the target (flow/tableDropsFollow.ts) by takeDroppedOrRenamed;
// - a streamed table moved to another tablespace (ALTER TABLE ... SET TABLESPACE): its changes
//   stream on, and the warning says the target keeps it in its database's default tablespace;
// - a streamed table taken out of pgferry's publication by someone else (ALTER PUBLICATION ... DROP
//   TABLE by hand): told, and followed as a created table is (published, copied at a pinned position).
//
// A scan rather than an event trigger: it needs no superuser, puts nothing in the application's
// database, and never runs inside the application's transactions, where any error of pgferry's
// would become the application's. What a scan cannot close is the moment between the application
// dropping a key and the next scan, the application's own DDL; README's online section says so.
import type pg from 'pg';
import { identityFix, readSourceRelations, type SourceRelation } from '../../catalog/identityVerdict';
import { whoseRowsMove } from '../../filter/plan';
import { displayIdent, displayName } from '../../connect/quote';
import { closeSession, openSession } from '../../connect/session';
import { isRetryable } from '../../connect/sqlstate';
import { errorMessage } from '../../core/errors';
import { qualifiedKey } from '../../core/names';
import type { MigrationRun } from '../../run/migrationRun';
import { publishesViaRoot, publishTables, unpublishTables } from './publication';
import { reviewTables, rootOf, streamedAs, type PlanOptions } from './publicationPlan';
import type { SetIdentityFull } from './sourcePrep';
import { notStreamedTables, recordNotStreamed } from '../../control/sourceTables';
import { pendingTableResyncs, requestTableResync } from '../../control/tableResyncs';
import { loadCopyPlan } from '../../control/copyItems';

interface Watched {
  readonly database: string;
  readonly publication: string;
}

/** A streamed table's name on the source. */
export interface TableName {
  readonly schema: string;
  readonly name: string;
  readonly display: string;
}

/** A streamed table the source dropped (`to` undefined) or renamed since the last scan. */
export interface DroppedOrRenamed {
  readonly database: string;
  readonly oid: string;
  readonly from: TableName;
  readonly to?: TableName;
}

interface DatabaseState {
  client?: pg.Client;
  target?: pg.Client;
  options?: PlanOptions;
  /** OIDs recorded as not streamed. */
  reported?: Set<string>;
  /** The last scan failed and said so. */
  failing: boolean;
  /** Partitions published as members of a listed root known to exist on the target, or said to be missing there (OIDs). */
  readonly partitionsChecked: Set<string>;
  /** The streamed tables of the last scan, OID to name: one gone or renamed since is reported. */
  streamed?: Map<string, TableName>;
  /** The streamed tables' tablespaces at the last scan, by OID (null: the database's default): a move since is reported. */
  tablespaces?: Map<string, string | null>;
  /** Tables not streamed judged again and followed, by OID, with the identity they were followed with. */
  readonly judged: Map<string, string>;
  /** The name each streamed table the source renamed had before, by OID: the target keeps it until the rename reaches it. */
  readonly renamedFrom: Map<string, TableName>;
}

/**
 * What a table created on the source is followed as: itself, or the topmost partitioned table above
 * it that nothing streams yet (a partitioned table created with its partitions is followed whole).
 */
function followedAs(
  table: SourceRelation,
  byOid: ReadonlyMap<string, SourceRelation>,
  relations: readonly SourceRelation[],
): SourceRelation {
  let top = table;
  for (let parent = byOid.get(top.parent ?? ''); parent; parent = byOid.get(parent.parent ?? '')) {
    const p = parent;
    const streamsSome = relations.some((r) => r.published && (r === p || isUnder(r, p, byOid)));
    if (p.published || streamsSome) break;
    top = p;
  }
  return top;
}

function isUnder(r: SourceRelation, ancestor: SourceRelation, byOid: ReadonlyMap<string, SourceRelation>): boolean {
  for (let p = byOid.get(r.parent ?? ''); p; p = byOid.get(p.parent ?? '')) if (p === ancestor) return true;
  return false;
}

export class SourceTableWatch {
  private readonly state = new Map<string, DatabaseState>();
  /** Tables dropped or renamed, to follow (tableDropsAndRenames: follow), not taken yet. */
  private droppedOrRenamed: DroppedOrRenamed[] = [];

  constructor(
    private readonly run: MigrationRun,
    private readonly watched: readonly Watched[],
    /** footprint/replicaIdentity.ts's, from the flow: a new table without a usable key is set FULL through it. */
    private readonly setIdentityFull: SetIdentityFull,
  ) {}

  /** Scans every database once; a scan that fails is reported once and tried again next time. */
  async scan(): Promise<void> {
    for (const w of this.watched) {
      const state = this.stateOf(w.database);
      try {
        await this.scanDatabase(w, state);
        state.failing = false;
      } catch (error) {
        await Promise.all([closeSession(state.client), closeSession(state.target)]);
        state.client = state.target = undefined;
        // the source may be restarting: the appliers reconnect on their own, so does this
        if (isRetryable(error) || state.failing) continue;
        state.failing = true;
        await this.run.warn(`could not check the source's tables for new ones: ${errorMessage(error)}`, w.database).catch(() => undefined);
      }
    }
  }

  /**
   * The name a streamed table had before the source renamed it (`now`, its name there), found by its
   * OID, which a rename keeps: the name of the last scan when none has run since the rename, else
   * the one that scan found renamed. Undefined for a table the migration does not stream, or one
   * never renamed. The schema watch reads it, so that a table whose rename is still to reach the
   * target is not told as a table the target lacks.
   */
  formerName(database: string, oid: string, now: { schema: string; name: string }): TableName | undefined {
    const state = this.state.get(database);
    const last = state?.streamed?.get(oid);
    if (last && (last.schema !== now.schema || last.name !== now.name)) return last;
    return state?.renamedFrom.get(oid);
  }

  /** The tables dropped or renamed on the source found since the last call, to follow on the target. */
  takeDroppedOrRenamed(): DroppedOrRenamed[] {
    const taken = this.droppedOrRenamed;
    this.droppedOrRenamed = [];
    return taken;
  }

  async close(): Promise<void> {
    for (const state of this.state.values()) await Promise.all([closeSession(state.client), closeSession(state.target)]);
    this.state.clear();
  }

  private stateOf(database: string): DatabaseState {
    let state = this.state.get(database);
    if (!state)
      this.state.set(database, (state = { failing: false, partitionsChecked: new Set(), judged: new Map(), renamedFrom: new Map() }));
    return state;
  }

  private async scanDatabase(w: Watched, state: DatabaseState): Promise<void> {
    state.client ??= await openSession(this.run.spec.source, { database: w.database, purpose: 'table watch', writable: true });
    state.options ??= { viaRoot: await publishesViaRoot(state.client) };
    state.reported ??= await this.knownUnstreamed(w.database);
    const relations = await whoseRowsMove(state.client, await readSourceRelations(state.client, w.publication), this.run.spec);
    await this.reportDroppedOrRenamed(w.database, state, relations);
    await this.reportTablespaceMoves(w.database, state);
    const review = reviewTables(relations, state.reported, state.options);
    const byOid = new Map(relations.map((r) => [r.oid, r]));
    for (const lost of review.lostIdentity) await this.keepSourceWorking(w, state, lost.relation, lost.publishedAs, relations);
    await this.judgeAgain(w, state, relations);
    await this.checkTargetPartitions(w, state, relations);
    // published as members of their listed root: listed by name too, so a DETACH keeps them streamed
    // (one the source user does not own cannot be: detached, it is a new table, followed or reported)
    const lost = new Set(review.lostIdentity.map((l) => l.relation.oid));
    const members = relations.filter(
      (r) =>
        !r.partitioned && !r.unlogged && !r.published && r.owned && !lost.has(r.oid) && streamedAs(r, byOid, state.options!) !== undefined,
    );
    await publishTables(state.client, w.publication, members, { seconds: this.run.spec.lockTimeoutSeconds, signal: this.run.signal });
    if (review.newTables.length === 0) return;
    // Followed (flow/tableResync.ts): a request recorded first, then created on the target, published,
    // copied at a pinned position and streamed; what cannot be streamed safely is reported there.
    const requested: string[] = [];
    for (const table of review.newTables) {
      const follow = followedAs(table, byOid, relations);
      state.reported!.add(table.oid);
      if (requested.includes(follow.display)) continue;
      requested.push(follow.display);
      await requestTableResync(this.run.store, this.run.spec.migrationName, w.database, follow, 'created');
    }
    this.run.onProgress({
      kind: 'info',
      database: w.database,
      message: `${requested.length} table(s) created on the source after the migration started, followed: ${requested.join(', ')}`,
    });
  }

  /**
   * Tables recorded as not streamed that may be published now: logged, owned by the source user,
   * with a usable replica identity, streamed by nothing. Each is followed (flow/tableResync.ts) as
   * the topmost table above it that nothing streams, once per identity it is seen with: a follow
   * that fails again for another cause is not asked for at every scan.
   */
  private async judgeAgain(w: Watched, state: DatabaseState, relations: readonly SourceRelation[]): Promise<void> {
    const byOid = new Map(relations.map((r) => [r.oid, r]));
    const identityOf = (r: SourceRelation): string => `${r.identity.kind} ${r.identity.index ?? ''}`;
    const ready = relations.filter(
      (r) =>
        !r.partitioned &&
        !r.unlogged &&
        r.owned &&
        r.identity.kind !== 'none' &&
        state.reported!.has(r.oid) &&
        state.judged.get(r.oid) !== identityOf(r) &&
        streamedAs(r, byOid, state.options!) === undefined,
    );
    if (ready.length === 0) return;
    const { store, spec } = this.run;
    // only tables recorded as not streamed: a created table whose follow is still under way is reported too
    const recorded = new Set((await notStreamedTables(store, spec.migrationName, [w.database])).map((t) => t.oid));
    const pending = new Set((await pendingTableResyncs(store, spec.migrationName, [w.database])).map((r) => r.table));
    const requested: string[] = [];
    for (const table of ready.filter((r) => recorded.has(r.oid))) {
      state.judged.set(table.oid, identityOf(table));
      const follow = followedAs(table, byOid, relations);
      if (pending.has(follow.display) || requested.includes(follow.display)) continue;
      requested.push(follow.display);
      await requestTableResync(store, spec.migrationName, w.database, follow, 'keyed');
    }
    if (requested.length === 0) return;
    this.run.onProgress({
      kind: 'info',
      database: w.database,
      message: `${requested.length} table(s) reported as not streamed may be published now (a usable replica identity), followed: ${requested.join(', ')}`,
    });
  }

  /** Tables recorded as not streamed, and those whose following is under way (by OID; requests by name). */
  private async knownUnstreamed(database: string): Promise<Set<string>> {
    const { store, spec } = this.run;
    const known = new Set((await notStreamedTables(store, spec.migrationName, [database])).map((t) => t.oid));
    const pending = new Set((await pendingTableResyncs(store, spec.migrationName, [database])).map((r) => r.table));
    if (pending.size === 0) return known;
    const client = this.state.get(database)!.client!;
    for (const r of await readSourceRelations(client)) if (pending.has(r.display)) known.add(r.oid);
    return known;
  }

  /**
   * A streamed table dropped or renamed on the source since the last scan: with tableDropsAndRenames
   * `follow` it is handed to the online flow (takeDroppedOrRenamed); with `report` it is said at
   * once (a warning `show` lists), never left for the cutover to find alone. The cutover's schema
   * check then names the table with its fix; a renamed table's next change stops the stream
   * (CDC_TABLE_MISSING) until the target has the new name.
   */
  private async reportDroppedOrRenamed(database: string, state: DatabaseState, relations: readonly SourceRelation[]): Promise<void> {
    const byOid = new Map(relations.map((r) => [r.oid, r]));
    const options = state.options!;
    // the first scan of a runner compares with what the copy copied: a table dropped or renamed
    // between the copy and this scan (or while no runner ran) is told like a later one
    const before = state.streamed ?? (await this.copiedTables(database, state));
    const streamedLeaves = relations.filter((r) => !r.partitioned && streamedAs(r, byOid, options) !== undefined);
    // a partitioned table above a streamed partition is the migration's too: renamed or dropped, it
    // is followed like a table (its partitions stream under their own names, so nothing in the
    // stream tells it); once known it stays known while the source has it, its partitions detached or not
    const parents = new Set<string>();
    for (const leaf of streamedLeaves) for (let p = byOid.get(leaf.parent ?? ''); p; p = byOid.get(p.parent ?? '')) parents.add(p.oid);
    const now = new Map(
      [...streamedLeaves, ...relations.filter((r) => r.partitioned && (parents.has(r.oid) || before?.has(r.oid)))].map((r) => [
        r.oid,
        { schema: r.schema, name: r.name, display: r.display },
      ]),
    );
    state.streamed = now;
    if (!before) return;
    for (const [oid, table] of before) {
      const renamed = byOid.get(oid);
      const name = table.display;
      if (renamed && renamed.display === name) {
        if (!now.has(oid) && !state.reported?.has(oid)) await this.reportUnpublished(database, name);
        continue;
      }
      if (renamed) state.renamedFrom.set(oid, table);
      if (this.run.spec.tableDropsAndRenames === 'follow') {
        const to = renamed && { schema: renamed.schema, name: renamed.name, display: renamed.display };
        this.droppedOrRenamed.push({ database, oid, from: table, ...(to && { to }) });
        continue;
      }
      const what = renamed
        ? `was renamed to ${renamed.display} on the source while streaming: rename it on the target (ALTER TABLE ${name} RENAME TO ...) before its next change reaches the target, or the stream stops on it`
        : `was dropped on the source while streaming (or left the migration's filters): its rows stay on the target, and the cutover's schema check stops on it until you drop it there too or undo the drop`;
      await this.run.warn(`streamed table ${name} ${what}`, database);
    }
  }

  /**
   * A streamed table taken out of pgferry's publication on the source by someone else (ALTER
   * PUBLICATION ... DROP TABLE by hand: pgferry takes one out only after recording it as not
   * streamed): its changes since were not decoded. The scan then finds it unpublished and follows it
   * as a table created while streaming, published again and copied whole at a pinned position, so
   * nothing is lost; the user hears who did what.
   */
  private async reportUnpublished(database: string, name: string): Promise<void> {
    await this.run.warn(
      `streamed table ${name} was taken out of pgferry's publication on the source while streaming, not by pgferry: its changes since were not streamed, so it is published again and its rows copied again at a pinned position; leave pgferry's publication as it is`,
      database,
    );
  }

  /**
   * A streamed table moved to another tablespace on the source since the last scan (ALTER TABLE ...
   * SET TABLESPACE): a move changes no row and the stream follows the table by its OID, so nothing
   * stops; but the target keeps it where the restore put every object, its database's default
   * tablespace (validation's TABLESPACE_NOT_KEPT told the placements it found), and a user who moved
   * it on purpose hears so at once, a warning `show` lists, once per move. The first scan of a runner
   * reads where the tables are.
   */
  private async reportTablespaceMoves(database: string, state: DatabaseState): Promise<void> {
    const streamed = state.streamed!;
    const { rows } = await state.client!.query<{ oid: string; tablespace: string | null }>(
      `SELECT c.oid::text AS oid, t.spcname AS tablespace FROM pg_catalog.pg_class c
         LEFT JOIN pg_catalog.pg_tablespace t ON t.oid = c.reltablespace WHERE c.oid = ANY($1::oid[])`,
      [[...streamed.keys()]],
    );
    const before = state.tablespaces;
    state.tablespaces = new Map(rows.map((r) => [r.oid, r.tablespace]));
    if (!before) return;
    for (const r of rows) {
      if (!before.has(r.oid) || before.get(r.oid) === r.tablespace) continue;
      const table = streamed.get(r.oid)!.display;
      const to = r.tablespace === null ? "its database's default tablespace" : `tablespace ${displayIdent(r.tablespace)}`;
      await this.run.warn(
        `streamed table ${table} was moved to ${to} on the source while streaming: its changes stream on, and on the target it stays in the database's default tablespace (ALTER TABLE ${table} SET TABLESPACE ... there to place it)`,
        database,
      );
    }
  }

  /**
   * The tables the copy copied and the stream took on (not recorded as not streamed), and the
   * partitioned tables above them, by source OID, as the target has them under the schema and name
   * the copy recorded. One the target no longer has was followed already (dropped there) and is not
   * told again.
   */
  private async copiedTables(database: string, state: DatabaseState): Promise<Map<string, TableName>> {
    const copied = await loadCopyPlan(this.run.store, this.run.spec.migrationName, database);
    const tables = new Map<string, TableName>();
    if (!copied) return tables;
    state.target ??= await openSession(this.run.spec.target, { database, purpose: 'table watch' });
    const { rows } = await state.target.query<{ schema: string; name: string }>(
      `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')`,
    );
    const byName = new Map<string, TableName>();
    for (const r of rows)
      byName.set(qualifiedKey(r.schema, r.name), { schema: r.schema, name: r.name, display: displayName(r.schema, r.name) });
    for (const item of copied.items) {
      const table = byName.get(qualifiedKey(item.tableSchema, item.tableName));
      if (table && !state.reported?.has(item.tableOid)) tables.set(item.tableOid, table);
    }
    // the partitioned tables above them: nothing in the stream names one, so a rename of one before
    // this look (while no runner ran, or before the watch's first tick) is found only by this compare
    for (const parent of copied.plan.partitionedParents ?? []) {
      const table = parent.schema === undefined ? undefined : byName.get(qualifiedKey(parent.schema, parent.name));
      if (table && !state.reported?.has(parent.oid)) tables.set(parent.oid, table);
    }
    return tables;
  }

  /** A streamed table without a usable identity: FULL by consent, else out of the publication. */
  private async keepSourceWorking(
    w: Watched,
    state: DatabaseState,
    table: SourceRelation,
    publishedAs: SourceRelation,
    relations: readonly SourceRelation[],
  ): Promise<void> {
    const client = state.client!;
    if (this.run.spec.allowReplicaIdentityFull && table.owned) {
      await this.setIdentityFull(this.run, w.database, client, [table]);
      await this.run.warn(
        `REPLICA IDENTITY FULL set on ${table.display}: ${table.identity.flaw}, and a streamed table needs a usable identity`,
        w.database,
      );
      return;
    }
    const byOid = new Map(relations.map((r) => [r.oid, r]));
    // a partition listed by name is published as a member of its listed root too: both go
    const root = rootOf(publishedAs, byOid);
    const out = root !== publishedAs && root.partitioned && root.published ? [publishedAs, root] : [publishedAs];
    await unpublishTables(client, w.publication, out, { seconds: this.run.spec.lockTimeoutSeconds, signal: this.run.signal });
    const leaves = publishedAs.partitioned ? relations.filter((r) => !r.partitioned && rootOf(r, byOid) === publishedAs) : [publishedAs];
    const why = this.run.spec.allowReplicaIdentityFull
      ? `the source user does not own it (owner ${table.owner})`
      : 'allowReplicaIdentityFull is off';
    const fix = this.run.spec.allowReplicaIdentityFull
      ? ''
      : `; on the source: ${identityFix(table)}, and pgferry copies and streams it again`;
    const reason = `taken out of the publication while streaming: ${table.display}: ${table.identity.flaw}, and ${why} (its UPDATE and DELETE would fail on the source)${fix}`;
    for (const leaf of leaves) await this.recordUnstreamed(w.database, state, leaf, reason);
    await this.run.warn(`${publishedAs.display} is no longer streamed: ${reason}`, w.database);
  }

  /**
   * A partition created (or attached) under a listed partitioned table is published with it, its
   * changes under its own name: the target needs the same partition, or the applier has nowhere to
   * put its rows. Followed once per partition.
   */
  private async checkTargetPartitions(w: Watched, state: DatabaseState, relations: readonly SourceRelation[]): Promise<void> {
    const byOid = new Map(relations.map((r) => [r.oid, r]));
    const unchecked = relations.filter((r) => {
      if (r.parent === undefined || r.unlogged || state.partitionsChecked.has(r.oid)) return false;
      const as = streamedAs(r, byOid, state.options!);
      return as !== undefined && as !== r;
    });
    if (unchecked.length === 0) return;
    state.target ??= await openSession(this.run.spec.target, { database: w.database, purpose: 'table watch' });
    const { rows } = await state.target.query<{ schema: string; name: string }>(
      `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relispartition`,
    );
    const onTarget = new Set(rows.map((r) => qualifiedKey(r.schema, r.name)));
    const missing = unchecked.filter((r) => !onTarget.has(qualifiedKey(r.schema, r.name)));
    for (const r of unchecked) state.partitionsChecked.add(r.oid);
    // its changes stream already: the target needs the partition (applying them fails until it has
    // it), and its rows from before it was attached are copied at a pinned position
    for (const p of missing) await requestTableResync(this.run.store, this.run.spec.migrationName, w.database, p, 'created');
    if (missing.length > 0) {
      this.run.onProgress({
        kind: 'info',
        database: w.database,
        message: `${missing.length} partition(s) created or attached on the source under a streamed partitioned table, followed: ${missing.map((p) => p.display).join(', ')}`,
      });
    }
  }

  private async recordUnstreamed(database: string, state: DatabaseState, table: SourceRelation, reason: string): Promise<void> {
    await recordNotStreamed(this.run.store, this.run.spec.migrationName, database, table, reason);
    state.reported!.add(table.oid);
    // followed once it may be published again, whatever identity it had when followed before
    state.judged.delete(table.oid);
  }
}

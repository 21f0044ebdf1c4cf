// The online flow's watch over the source's tables while changes stream, one catalog scan per
// database every few seconds (called from online.ts's watch loop):
// - a table created (or attached as a partition) after the migration started is published by
//   nobody, so the application can use it freely; it is recorded and reported as not streamed;
// - a streamed table that has lost its usable replica identity (its primary key dropped, made
//   DEFERRABLE by re-creation, REPLICA IDENTITY NOTHING ...) would make the application's UPDATE
//   and DELETE fail: it gets REPLICA IDENTITY FULL with allowReplicaIdentityFull, or is taken out of
//   the publication and reported as not streamed.
//
// A scan rather than an event trigger: it needs no superuser, puts nothing in the application's
// database, and never runs inside the application's transactions, where any error of pgferry's
// would become the application's. What a scan cannot close is the moment between the application
// dropping a key and the next scan, the application's own DDL; README's online section says so.
import type pg from 'pg';
import { readSourceRelations, type SourceRelation } from '../catalog/replicaIdentity';
import { closeSession, openSession } from '../connect/session';
import { isRetryable } from '../connect/sqlstate';
import { errorMessage } from '../errors';
import type { MigrationRun } from '../migrationRun';
import { publishesViaRoot, unpublishTables } from './publication';
import { newTableReason, reviewTables, rootOf, type PlanOptions } from './publicationPlan';
import { setIdentityFull } from './replicaIdentity';
import { notStreamedTables, recordNotStreamed } from './sourceRecords';

interface Watched {
  readonly database: string;
  readonly publication: string;
}

interface DatabaseState {
  client?: pg.Client;
  options?: PlanOptions;
  /** OIDs recorded as not streamed. */
  reported?: Set<string>;
  /** The last scan failed and said so. */
  failing: boolean;
}

export class SourceTableWatch {
  private readonly state = new Map<string, DatabaseState>();

  constructor(
    private readonly run: MigrationRun,
    private readonly watched: readonly Watched[],
  ) {}

  /** Scans every database once; a scan that fails is reported once and tried again next time. */
  async scan(): Promise<void> {
    for (const w of this.watched) {
      const state = this.stateOf(w.database);
      try {
        await this.scanDatabase(w, state);
        state.failing = false;
      } catch (error) {
        await closeSession(state.client);
        state.client = undefined;
        // the source may be restarting: the appliers reconnect on their own, so does this
        if (isRetryable(error) || state.failing) continue;
        state.failing = true;
        await this.run.warn(`could not check the source's tables for new ones: ${errorMessage(error)}`, w.database).catch(() => undefined);
      }
    }
  }

  async close(): Promise<void> {
    for (const state of this.state.values()) await closeSession(state.client);
    this.state.clear();
  }

  private stateOf(database: string): DatabaseState {
    let state = this.state.get(database);
    if (!state) this.state.set(database, (state = { failing: false }));
    return state;
  }

  private async scanDatabase(w: Watched, state: DatabaseState): Promise<void> {
    state.client ??= await openSession(this.run.spec.source, { database: w.database, purpose: 'table watch', writable: true });
    state.options ??= { viaRoot: await publishesViaRoot(state.client) };
    state.reported ??= new Set((await notStreamedTables(this.run.store, this.run.spec.migrationName, [w.database])).map((t) => t.oid));
    const relations = await readSourceRelations(state.client, w.publication);
    const review = reviewTables(relations, state.reported, state.options);
    const byOid = new Map(relations.map((r) => [r.oid, r]));
    for (const lost of review.lostIdentity) await this.keepSourceWorking(w, state, lost.relation, lost.publishedAs, relations);
    if (review.newTables.length === 0) return;
    for (const table of review.newTables) {
      const root = rootOf(table, byOid);
      await this.recordUnstreamed(
        w.database,
        state,
        table,
        newTableReason(table, this.run.spec.allowReplicaIdentityFull, root === table ? undefined : root),
      );
    }
    await this.run.warn(
      `${review.newTables.length} table(s) created on the source after the migration started are not streamed (see the migration status; the cutover's verification names them): ${review.newTables.map((t) => t.display).join(', ')}`,
      w.database,
    );
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
      await setIdentityFull(this.run, w.database, client, [table]);
      await this.run.warn(
        `REPLICA IDENTITY FULL set on ${table.display}: ${table.identity.flaw}, and a streamed table needs a usable identity`,
        w.database,
      );
      return;
    }
    await unpublishTables(client, w.publication, [publishedAs], { seconds: this.run.spec.lockTimeoutSeconds, signal: this.run.signal });
    const byOid = new Map(relations.map((r) => [r.oid, r]));
    const leaves = publishedAs.partitioned ? relations.filter((r) => !r.partitioned && rootOf(r, byOid) === publishedAs) : [publishedAs];
    const why = this.run.spec.allowReplicaIdentityFull
      ? `the source user does not own it (owner ${table.owner})`
      : 'allowReplicaIdentityFull is off';
    const reason = `taken out of the publication while streaming: ${table.display}: ${table.identity.flaw}, and ${why} (its UPDATE and DELETE would fail on the source)`;
    for (const leaf of leaves) await this.recordUnstreamed(w.database, state, leaf, reason);
    await this.run.warn(`${publishedAs.display} is no longer streamed: ${reason}`, w.database);
  }

  private async recordUnstreamed(database: string, state: DatabaseState, table: SourceRelation, reason: string): Promise<void> {
    await recordNotStreamed(this.run.store, this.run.spec.migrationName, database, table, reason);
    state.reported!.add(table.oid);
  }
}

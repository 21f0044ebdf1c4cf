// One database's change stream inside an online migration: its applier, started or restarted
// with the migration's derived names, the counters carried over from earlier appliers, and how far
// it has applied.
import type { OpenedAhead } from './sessionConfig';
import { cutoverMessagePrefix, streamNamesOf, type StreamNames } from '../../core/names';
import type { MigrationRun } from '../../run/migrationRun';
import { maxLsn } from '../../core/lsn';
import { Applier, type ApplierOptions, type ApplyStats } from './applier';
import type { SessionEnd } from './applySession';
import type { ChangeTracker } from '../plan/changeTracker';
import type { DdlFollowing } from './ddlFollow';
import { displayIdent, displayName } from '../../connect/quote';
import { recordEvent } from '../../control/store';
import { requestTableResync } from '../../control/tableResyncs';
import { knownColumns, knownOnTarget, recordKnownObjects } from '../../control/knownObjects';
import { copiedParents } from '../../control/copyItems';
import { schemaObjectKey } from '../../core/names';

/** One database's stream: its applier and what it reported so far. */
export interface OnlineStream {
  readonly database: string;
  readonly slot: string;
  readonly publication: string;
  readonly origin: string;
  applier: Applier;
  done: Promise<SessionEnd>;
  failure?: Error;
  /** Counters carried over from an earlier runner (resume). */
  readonly base: { inserts: number; updates: number; deletes: number };
}

/** The stream's counters so far: its applier's plus those carried over (what a replacing stream starts from). */
export function streamCounts(stream: OnlineStream): OnlineStream['base'] {
  const stats = stream.applier.stats();
  return {
    inserts: stream.base.inserts + stats.inserts,
    updates: stream.base.updates + stats.updates,
    deletes: stream.base.deletes + stats.deletes,
  };
}

/** How far a stream has applied: the position committed on the target, or the one confirmed past it while idle. */
export function appliedUpTo(stats: Pick<ApplyStats, 'appliedLsn' | 'confirmedLsn'>): bigint {
  return maxLsn(stats.confirmedLsn, stats.appliedLsn);
}

export function streamNames(run: MigrationRun, database: string): StreamNames {
  return streamNamesOf(run.spec.migrationName, database, run.instance);
}

/** Starts (or restarts) the applier of one database. */
export function startStream(
  run: MigrationRun,
  database: string,
  initialLsn: bigint | undefined,
  base: OnlineStream['base'],
  tracker?: ChangeTracker,
  ddlFollowing?: DdlFollowing,
  openedAhead?: OpenedAhead,
): OnlineStream {
  const n = streamNames(run, database);
  const applier = new Applier({
    source: run.spec.source,
    target: run.spec.target,
    database,
    ...n,
    migration: run.spec.migrationName,
    cutoverPrefix: cutoverMessagePrefix(run.spec.migrationName),
    initialLsn,
    tracker,
    leaseSessionPid: run.leaseSessionPid,
    followSchemaChanges: run.spec.followSchemaChanges,
    followTableRenames: run.spec.tableDropsAndRenames === 'follow',
    // the online flow's schema watch makes the source's types and labels there (flow/schemaWatch.ts)
    schemaWatched: run.spec.followSchemaChanges,
    applySessions: run.spec.applySessions,
    ...(ddlFollowing ? { ddlFollowing } : {}),
    ...(openedAhead ? { openedAhead } : {}),
    requestResync: async (schema, table, why) => {
      await requestTableResync(run.store, run.spec.migrationName, database, { schema, name: table }, 'reshaped');
      const message = `database ${displayIdent(database)}: source table ${displayName(schema, table)} changed while streaming (${why}): copied again at a pinned position`;
      run.onProgress({ kind: 'info', message, database });
      await recordEvent(run.store, run.spec.migrationName, 'info', message, database);
    },
    parentsCopied: () => copiedParents(run.store, run.spec.migrationName, database),
    // only a migration that follows schema changes records its known objects (flow/schemaFollow.ts)
    ...(run.spec.followSchemaChanges ? knownObjectsOf(run, database) : {}),
    log: (level, message) => {
      // fire and forget (log is synchronous): a run's warn never rejects
      if (level === 'warning') void run.warn(message, database);
      else if (level === 'event') {
        run.onProgress({ kind: 'info', message, database });
        void recordEvent(run.store, run.spec.migrationName, 'info', message, database).catch(() => undefined);
      } else run.onProgress({ kind: 'info', message, database });
    },
  });
  const stream: OnlineStream = { database, ...n, applier, done: applier.run(), base };
  stream.done.catch((error: Error) => (stream.failure = error));
  return stream;
}

/**
 * A table's columns among the migration's known objects, and their record: what tells a column the
 * target alone has (a DBA's, kept) from one pgferry made or the source had (shapeFollow.ts). No
 * record at all (a catalog an older pgferry filled) reads as undefined: nothing to tell by. And the
 * target OIDs of the known objects of their own: a type the source renamed before the stream told
 * its old name is renamed on the target only if it is one of them (unseenTypeRenames.ts).
 */
function knownObjectsOf(
  run: MigrationRun,
  database: string,
): Required<Pick<ApplierOptions, 'knownColumns' | 'recordKnownColumns' | 'madeOnTarget'>> {
  const migration = run.spec.migrationName;
  return {
    knownColumns: (schema, table) => knownColumns(run.store, migration, database, schema, table),
    madeOnTarget: () => knownOnTarget(run.store, migration, database),
    recordKnownColumns: (schema, table, columns) =>
      recordKnownObjects(
        run.store,
        migration,
        database,
        columns.map((c) => ({ object: schemaObjectKey('column', schema, table, c.name, null), attnum: c.attnum })),
        run.spec,
      ),
  };
}

// What one apply session (applySession.ts) is started with: both servers, the database, its slot
// and publication, where its position is recorded, the lock that makes it the only applier, and its
// planner's and commits' limits. Fixed for the session's life; what outlives it is applyState.ts.
import type { DdlFollowing } from './ddlFollow';
import type { ServerSpec } from '../../input/migrationSpec';
import type { StreamWords } from '../../core/streamWords';
import type { PlannerLimits } from '../plan/types';
import type { PositionKey } from './positionCommit';
import type pg from 'pg';
import type { ReplicationConnection } from '../receive/stream';
import type { PublishedAttributes } from './sourceColumns';

/** The source session that reads its catalog (SessionConnections.sourceSession), with the server's major version. */
export interface SourceCatalog {
  readonly client: pg.Client;
  readonly major: number;
}

/**
 * The source's catalog session opened ahead, and with the schema followed the published tables'
 * columns read on it (the read a session otherwise starts as it starts, readSourceColumns).
 */
export interface SourceCatalogAhead {
  readonly session: Promise<SourceCatalog>;
  /** Undefined when the columns are not read ahead (the schema is not followed). */
  readonly published?: Promise<PublishedAttributes>;
}

/**
 * Connections a resume opened ahead of the stream's start, beside its catalog reads: each is taken
 * at most once, by the first session that starts. Nothing is sent on the target's or the
 * replication connection before it: the apply session takes its fence and reads its position as on
 * a connection of its own, and the replication connection holds nothing of the slot before
 * START_REPLICATION. The source's catalog session only reads the source's catalog, which any
 * session may do at any time: its reads are sent as soon as it is open. The target's catalog
 * session reads the target tables' facts only once the apply session holds its fence
 * (SessionConnections.readTablesAhead), when no other applier can change those tables any more.
 */
export interface OpenedAhead {
  /** The source's catalog session, or undefined once taken. */
  takeSource(): SourceCatalogAhead | undefined;
  /**
   * A read-only session in the target database (the resume's counts were read on it), for the
   * target tables' facts read ahead beside the apply's connection; undefined once taken. The taker
   * ends it.
   */
  takeTargetCatalog(): Promise<pg.Client> | undefined;
  /** The replication connection, or undefined once taken. */
  takeReplication(): Promise<ReplicationConnection> | undefined;
  /** The apply session's connection (openApplyConnection, applyTarget.ts), or undefined once taken. */
  takeTarget(): Promise<pg.Client> | undefined;
}

export interface SessionConfig {
  readonly source: ServerSpec;
  readonly target: ServerSpec;
  /** How its messages name the two servers: the source and the target, or back in a fallback window. */
  readonly words: StreamWords;
  readonly database: string;
  readonly slot: string;
  readonly publication: string;
  readonly progressKey: PositionKey;
  /** Advisory lock key the session holds on the target database while it lives (names.ts applyLockKey). */
  readonly fenceKey: string;
  readonly cutoverPrefix: string;
  /** Use the progress table even where origins are permitted. */
  readonly preferProgressTable: boolean;
  /** Position to stream from when nothing was recorded yet (the slot's consistent point). */
  readonly initialLsn: bigint;
  readonly queueBudgetBytes: number;
  readonly limits: PlannerLimits;
  /** A target transaction commits at the first source commit after this many rows or milliseconds. */
  readonly commitRows: number;
  readonly commitMs: number;
  /** The runner's lease session: every COMMIT checks it still holds its lock (leaseGuard.ts); undefined without a lease. */
  readonly leaseSessionPid: number | undefined;
  /**
   * Columns dropped, renamed or retyped (derivably) and NOT NULL dropped on the source are followed
   * on the target at the relation message that first carries them (shapeFollow.ts); false: they stop
   * the stream, as added columns with values only the source has do.
   */
  readonly followSchemaChanges: boolean;
  /**
   * A streamed table renamed (or moved to another schema) on the source is renamed on the target at
   * the relation message that carries its new name (same OID), before any row under it
   * (tableDropsAndRenames: follow); false: the stream stops on it.
   */
  readonly followTableRenames: boolean;
  /** Target sessions applying the stream (applySessions): 1 applies in one session; more, in parallel (applyLanes.ts). */
  readonly applySessions: number;
  /** schemaChangeCapture eventTrigger: the source's DDL messages, followed at their place among the rows (ddlFollow.ts). */
  readonly ddlFollowing?: DdlFollowing;
  /** Connections opened ahead for the first session (a resume's). */
  readonly openedAhead?: OpenedAhead;
}

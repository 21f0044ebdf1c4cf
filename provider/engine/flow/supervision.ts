// What the online supervisor's handlers share during one watch (flow/supervisor.ts): the streams
// and their stops, the watchers that run beside them (the source's tables and schema, the
// reporter, the background verification), and the requests read from the
// control catalog, once per look. A watch lasts from the moment the streams wait for the user until
// a handler hands off (a cutover, some databases' cancel) or throws; closing it stops every watcher
// first, so none of them runs while a cutover or a cancel does.
import type { OnlineStream } from '../cdc/apply/onlineStream';
import { SourceTableWatch } from '../cdc/prepare/tableWatch';
import { setIdentityFull } from '../footprint/replicaIdentity';
import type { ApplyRateMeter } from '../switchover/lagGate';
import type { MigrationRun } from '../run/migrationRun';
import { BackgroundVerification } from '../verify/background';
import { SchemaWatch } from './schemaWatch';
import { TableDropsFollow } from './tableDropsFollow';
import { StreamReporter } from './streamReporter';
import type { StreamStops } from './streamStops';
import { cutoverRequestedAt, databaseRequests } from '../control/migrationRequests';
import type { Watched } from './watchLoop';

/** The per-database requests of the streaming databases (control/migrationRequests.ts databaseRequests). */
interface DatabaseRequests {
  /** dbsToCancelMigrationOn. */
  readonly cancel: readonly string[];
  /** dbsToTriggerCutoverOn. */
  readonly cutover: readonly string[];
}

/** The longest the watchers wait for the streams' first commit (Supervision.open): a verifier's pause between passes. */
const WATCHERS_WAIT_MS = 2_000;
/** How often the watch looks whether the streams have committed, until its watchers start. */
const FIRST_APPLY_LOOK_MS = 25;

/**
 * The stream has committed a position past where it started. A position confirmed while idle does
 * not count: the walsender's keepalives move it before the first change of a backlog is decoded.
 */
export function hasApplied(stream: OnlineStream): boolean {
  const from = stream.applier.startedFrom;
  return from !== undefined && stream.applier.stats().appliedLsn > from;
}

export class Supervision implements Watched {
  /** New tables, partitions and lost keys on the source (the tick handler and the cutover handler scan). */
  readonly tables: SourceTableWatch;
  /** The source's schema compared while streaming (the tick handler starts its looks). */
  readonly schema: SchemaWatch;
  /** Tables dropped or renamed on the source, followed on the target (tableDropsAndRenames: follow). */
  readonly tableDrops: TableDropsFollow;
  /** When the tick handler last ran (flow/handleTick.ts); 0 before the watch's first tick. */
  lastTick = 0;
  /** When the watch began (the first tick waits for the streams' first change: flow/handleTick.ts). */
  readonly openedAt = Date.now();
  private databaseRead: Promise<DatabaseRequests> | undefined;
  private wholeRead: Promise<boolean> | undefined;
  /** The wait before the watchers start (startWatchers), until they have. */
  private watcherWait: NodeJS.Timeout | undefined;

  private constructor(
    readonly run: MigrationRun,
    /** The streams, the online flow's own list: a stream restarted (a stop tried again) replaces its entry. */
    readonly streams: OnlineStream[],
    readonly stops: StreamStops,
    /** The apply rate the reporter samples and the cutover's lag gate predicts from. */
    readonly meter: ApplyRateMeter,
    private readonly verifiers: readonly BackgroundVerification[],
    private readonly reporter: StreamReporter,
  ) {
    this.tables = new SourceTableWatch(run, streams, setIdentityFull);
    this.schema = new SchemaWatch(run, streams, (database, oid, now) => this.tables.formerName(database, oid, now));
    this.tableDrops = new TableDropsFollow(run, streams, (database) => stops.stopOf(database));
  }

  /**
   * Opens a watch; its watchers, the background verification and the reporter, start once every
   * stream has committed something on the target since it started, or after WATCHERS_WAIT_MS. A
   * resumed runner's first change came while the verifiers opened two sessions each, read both
   * servers' catalogs and compared tables, and the reporter opened its own: on a loaded machine
   * that CPU was taken from the first batch's decoding and its tables' facts. A stream that cannot
   * apply, or has nothing to apply, waits no longer than a verifier's pause between two passes.
   */
  static open(run: MigrationRun, streams: OnlineStream[], stops: StreamStops, meter: ApplyRateMeter): Supervision {
    // verification while streaming (verify: true, the default): one verifier per stream, following
    // the stream through restarts (streams[i] is replaced by a restarted one); stopped before a cutover
    const verifiers = run.spec.verify === true ? streams.map((_, i) => new BackgroundVerification(run, () => streams[i]!)) : [];
    const reporter = new StreamReporter(run, streams, meter);
    const supervision = new Supervision(run, streams, stops, meter, verifiers, reporter);
    supervision.startWatchers();
    return supervision;
  }

  /** Starts the verifiers and the reporter once the streams have applied, or after WATCHERS_WAIT_MS (see open). */
  private startWatchers(): void {
    const start = () => {
      this.watcherWait = undefined;
      for (const verifier of this.verifiers) verifier.start();
      this.reporter.start();
    };
    const look = () => {
      if (Date.now() - this.openedAt >= WATCHERS_WAIT_MS || this.streams.every(hasApplied)) start();
      else this.watcherWait = setTimeout(look, FIRST_APPLY_LOOK_MS);
    };
    look();
  }

  /** The databases that stream now. */
  get streaming(): string[] {
    return this.streams.map((s) => s.database);
  }

  /**
   * A handler is about to change the target's tables (a follow, a resync, the schema watch, a
   * cutover): every stream reads each table at its next relation message from now on, rather than
   * the facts it read ahead as it started (cdc/apply/sessionConnections.ts).
   */
  targetMayChange(): void {
    for (const stream of this.streams) stream.applier.giveUpTablesAhead();
  }

  /** A new look: the requests are read again when a handler asks. */
  nextLook(): void {
    this.databaseRead = undefined;
    this.wholeRead = undefined;
  }

  /** The streaming databases' cancel and cutover requests, read once per look. */
  databaseRequests(): Promise<DatabaseRequests> {
    this.databaseRead ??= databaseRequests(this.run.store, this.run.spec.migrationName).then((requests) => {
      const streaming = this.streaming;
      return {
        cancel: requests.cancel.filter((d) => streaming.includes(d)),
        cutover: requests.cutover.filter((d) => streaming.includes(d)),
      };
    });
    return this.databaseRead;
  }

  /** Whether the whole migration's cutover is requested (`update --cutover`, triggerCutover), read once per look. */
  wholeCutoverRequested(): Promise<boolean> {
    this.wholeRead ??= cutoverRequestedAt(this.run.store, this.run.spec.migrationName).then((at) => at !== undefined);
    return this.wholeRead;
  }

  /** Stops every watcher: nothing of the watch runs after this. */
  async close(): Promise<void> {
    clearTimeout(this.watcherWait);
    await this.reporter.stop();
    await this.tables.close();
    await this.schema.close();
    await Promise.all(this.verifiers.map((v) => v.stop()));
  }
}

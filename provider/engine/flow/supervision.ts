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
    this.schema = new SchemaWatch(run, streams);
    this.tableDrops = new TableDropsFollow(run, streams, (database) => stops.stopOf(database));
  }

  /** Starts the watchers of a watch: the background verification, the reporter. */
  static open(run: MigrationRun, streams: OnlineStream[], stops: StreamStops, meter: ApplyRateMeter): Supervision {
    const verifiers = startVerifiers(run, streams);
    const reporter = new StreamReporter(run, streams, meter);
    reporter.start();
    return new Supervision(run, streams, stops, meter, verifiers, reporter);
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
    await this.reporter.stop();
    await this.tables.close();
    await this.schema.close();
    await Promise.all(this.verifiers.map((v) => v.stop()));
  }
}

/**
 * Verification while streaming (verify: true, the default): one verifier per stream, following the
 * stream through restarts (streams[i] is replaced by a restarted one). Stopped before a cutover.
 */
function startVerifiers(run: MigrationRun, streams: OnlineStream[]): BackgroundVerification[] {
  if (run.spec.verify !== true) return [];
  return streams.map((_, i) => {
    const verifier = new BackgroundVerification(run, () => streams[i]!);
    verifier.start();
    return verifier;
  });
}

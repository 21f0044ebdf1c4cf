// A resumed runner whose migration already streams starts, as soon as it has read its migration,
// what its streams wait for and what does not depend on the steps before data (the versions, the
// target databases' gate, the waits): the takeover of the previous runner's sessions on both
// servers and the state of every slot. They ran after those steps, each on a session of its own, so
// a resume opened one connection after another along one chain of catalog steps before its first
// change. Here the source side of both is one session, which the versions' read shares, and the
// target side is the control catalog's session. Later, each resumed stream's apply connection,
// replication connection and source catalog session (with the published tables' columns read on
// it) are opened beside the catalog reads before its start (openStreamConnectionsAhead), not after
// them.
//
// Ending the previous runner's sessions this early changes nothing the steps before data read or
// write on a resume: those steps write only the control catalog, and the sessions ended are the
// ones holding this migration's apply fences or streaming from its slots, which belong to a runner
// that lost the lease this one holds. The takeover still completes before any stream starts
// (runOnline awaits it), so the one applier per database and exactly once hold as before.
import type pg from 'pg';
import { closeSession, openSession } from '../connect/session';
import type { CatalogConnection } from '../control/connection';
import { endPreviousRunnerSessions } from '../cdc/prepare/takeover';
import { streamNamesOf } from '../core/names';
import type { MigrationStatus, ProgressListener } from '../core/model';
import { safeEmit } from '../core/model';
import { slotStatesOn, type SlotState } from '../footprint/slotAndPublication';
import type { MigrationSpec } from '../input/migrationSpec';
import { openApplyConnection } from '../cdc/apply/applyTarget';
import type { OpenedAhead, SourceCatalogAhead } from '../cdc/apply/sessionConfig';
import { openSourceCatalog } from '../cdc/apply/sessionConnections';
import { publishedAttributes } from '../cdc/apply/sourceColumns';
import { ReplicationStream, type ReplicationConnection } from '../cdc/receive/stream';

/** What a resume started ahead of the steps before data. */
export interface ResumeAhead {
  /** The source session the takeover and the slots' read use, shared with the versions' read; rejects when it cannot open. */
  readonly source: Promise<pg.Client>;
  /** The previous runner's sessions ended on both servers; never rejects (a failure is warned). */
  readonly takeover: Promise<void>;
  /** Each database's slot state, by database; a rejection leaves each database to read its own. */
  readonly slots: Promise<ReadonlyMap<string, SlotState>>;
  /** Ends the source session once everything above has settled (once, however often it is called). */
  close(): Promise<void>;
}

/** A database that streamed (or stopped streaming on a fixable error) when its runner stopped. */
const STREAMED = new Set(['WaitingForCutoverTrigger', 'ApplyStopped']);

/**
 * Whether a resumed run of `registered` goes straight to its streams: online, past its data
 * migration's start, not ended, cleaning up or cut over, with a database that streamed.
 */
function streamsOnResume(spec: MigrationSpec, registered: MigrationStatus | undefined): registered is MigrationStatus {
  if (spec.mode !== 'Online' || !registered || registered.startedAt === undefined) return false;
  if (registered.state !== 'InProgress' && registered.state !== 'WaitingForUserAction') return false;
  return registered.databases.some((d) => STREAMED.has(d.state));
}

/**
 * Starts the takeover and the slots' read of a resumed migration that streams; undefined for any
 * other run, which does both where it always did (flow/online.ts).
 */
export function startResumeAhead(
  spec: MigrationSpec,
  store: CatalogConnection,
  registered: MigrationStatus | undefined,
  onProgress: ProgressListener,
): ResumeAhead | undefined {
  if (!streamsOnResume(spec, registered)) return undefined;
  const run = {
    spec,
    instance: registered.instance,
    async warn(message: string) {
      safeEmit(onProgress, { kind: 'warning', message });
    },
  };
  const source = openSession(spec.source, { purpose: 'resume' });
  source.catch(() => undefined); // met by each use below
  // the source side on its own session when the shared one cannot open: that error is the takeover's to warn of
  const takeover = source.then(
    (client) => endPreviousRunnerSessions(run, { source: client, target: (fn) => store.exclusive(fn) }),
    () => endPreviousRunnerSessions(run, { target: (fn) => store.exclusive(fn) }),
  );
  const slotOf = new Map(spec.databases.map((d) => [d, streamNamesOf(spec.migrationName, d, registered.instance).slot]));
  const slots = source.then(async (client) => {
    const states = await slotStatesOn(client, [...slotOf.values()]);
    return new Map([...slotOf].map(([database, slot]) => [database, states.get(slot)!]));
  });
  slots.catch(() => undefined); // awaited where used
  let closing: Promise<void> | undefined;
  return {
    source,
    takeover,
    slots,
    close() {
      closing ??= Promise.allSettled([takeover, slots]).then(async () => closeSession(await source.catch(() => undefined)));
      return closing;
    },
  };
}

/** Connections opened ahead of one resumed stream, and the end of those its session did not take. */
export interface StreamConnectionsAhead extends OpenedAhead {
  /** Runs a read on the target's catalog session (the resume's counts), whether or not a session took it since. */
  onTargetCatalog<T>(read: (client: pg.Client) => Promise<T>): Promise<T>;
  /** Ends whichever connection was not taken (the stream did not start, or stopped before its first session). */
  close(): Promise<void>;
}

/**
 * The source's catalog session of a resumed stream opened now, and with the schema followed the
 * published tables' columns read on it at once: the stream's first relation message waits for
 * them (and for the target tables' facts, read once they name the tables), and they were read
 * only as the session started, on a session it opened then, after START_REPLICATION.
 */
function sourceCatalogAhead(spec: MigrationSpec, database: string, publication: string): SourceCatalogAhead {
  const session = openSourceCatalog(spec.source, database);
  session.catch(() => undefined); // met by the session that takes it
  if (!spec.followSchemaChanges) return { session };
  const published = session.then((c) => publishedAttributes(c.client, c.major, publication));
  published.catch(() => undefined); // met at the first relation message
  return { session, published };
}

/**
 * Opens a resumed stream's apply connection, replication connection, source catalog session and
 * target catalog session now, beside the catalog reads that come before its start
 * (flow/online.ts openStream): they were opened only once those were done. Nothing is sent on the
 * first two before the session takes them (SessionConfig.OpenedAhead); the third reads the
 * published tables' columns at once; the fourth reads the resume's counts at once, and the target
 * tables' facts once the apply session holds its fence. The fourth was the counts' own session,
 * closed after their read: the facts were read on the apply's connection, where the first batch's
 * statements queued behind them.
 */
export function openStreamConnectionsAhead(spec: MigrationSpec, database: string, publication: string): StreamConnectionsAhead {
  // a connection lost while it waits fails the session's first statement there, and the apply starts again
  let target: Promise<pg.Client> | undefined = openApplyConnection(spec.target, database);
  let replication: Promise<ReplicationConnection> | undefined = ReplicationStream.connect(spec.source, database);
  let source: SourceCatalogAhead | undefined = sourceCatalogAhead(spec, database, publication);
  // jit off as on the apply's connection (applyTarget.ts openApplyConnection): the facts' read is costly enough to be compiled
  const catalogOpened = openSession(spec.target, { database, purpose: 'apply catalog', readOnly: true, settings: { jit: 'off' } });
  let targetCatalog: Promise<pg.Client> | undefined = catalogOpened;
  const opened = [target, replication, catalogOpened];
  for (const p of opened) p.catch(() => undefined); // met by the session that takes it
  return {
    onTargetCatalog: (read) => catalogOpened.then(read),
    takeTargetCatalog() {
      const taken = targetCatalog;
      targetCatalog = undefined;
      return taken;
    },
    takeSource() {
      const taken = source;
      source = undefined;
      return taken;
    },
    takeTarget() {
      const taken = target;
      target = undefined;
      return taken;
    },
    takeReplication() {
      const taken = replication;
      replication = undefined;
      return taken;
    },
    async close() {
      const [t, r, s, c] = [target, replication, source, targetCatalog];
      target = replication = source = targetCatalog = undefined;
      await Promise.all([
        t?.then(closeSession, () => undefined),
        c?.then(closeSession, () => undefined),
        s?.session.then(
          (c) => closeSession(c.client),
          () => undefined,
        ),
        r?.then(
          (c) => c.close(),
          () => undefined,
        ),
      ]);
    },
  };
}

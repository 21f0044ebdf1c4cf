// The online supervisor's cutover handler (flow/supervisor.ts): where a cutover requested by the
// user starts, of the whole migration (`pgferry update --cutover`, the resource's triggerCutover)
// or of some databases (dbsToTriggerCutoverOn), both read from the control catalog. While a stream it
// would cut over is stopped on an error to fix, that stream is tried again at once, once per request
// (the user often asks right after the fix, before the stop's back-off tries it): while every such
// stream is being tried the request stays, and the cutover starts once they apply; one that stops
// again refuses it (cleared with the reason, told as an event, the migration WaitingForApplyFix).
// Otherwise the source's tables are scanned once more (a table created until now is reported
// before the cutover verifies) and the watch hands off to the cutover step (flow/cutover.ts: fence
// and lag gate, marker, drain, sequences, schema check, verification, release). The databases cut
// over leave the supervised streams; the others stream on.
import { resyncs } from './handleResyncs';
import type { StreamStops } from './streamStops';
import type { Supervision } from './supervision';
import type { Handoff } from './watchLoop';
import { clearCutover } from '../control/migrationRequests';
import { recordEvent } from '../control/store';
import { displayIdent } from '../connect/quote';

/** The streaming databases a cutover is requested for (all of them for the whole migration's), if any. */
export async function databasesToCutOver(s: Supervision): Promise<ReadonlySet<string> | undefined> {
  const whole = await s.wholeCutoverRequested();
  const toCutOver = whole ? s.streaming : (await s.databaseRequests()).cutover;
  return toCutOver.length > 0 ? new Set(toCutOver) : undefined;
}

/** Refuses the cutover while a stream of it is stopped, else hands it off (it runs once the watch is closed). */
export async function startCutover(s: Supervision, databases: ReadonlySet<string>): Promise<Handoff | undefined> {
  const { run, streams, stops, meter } = s;
  const stopped = [...databases].filter((d) => stops.isStopped(d));
  if (stopped.length > 0) {
    // a stream tried again (after its fix, or at once for this request) keeps the request: the
    // cutover starts once it applies; one that stopped again refuses it
    if (!stops.triedForCutover(stopped, streams)) await refuseCutover(s);
    return undefined;
  }
  s.targetMayChange();
  await s.tables.scan(); // tables created until now are followed (or reported) before the cutover verifies
  await resyncs(s);
  return async () => {
    // loaded at the first cutover: a resumed runner's start loads only what streaming needs
    const { cutover } = await import('./cutover');
    const end = await cutover(run, streams, databases, meter);
    if (end.cutOver) {
      // cut over: those streams ended; the others stream on
      for (let i = streams.length - 1; i >= 0; i--) if (databases.has(streams[i]!.database)) streams.splice(i, 1);
      return;
    }
    // stopped, saying why: all stream on, those started again past the marker in their places
    for (const again of end.streaming) {
      const i = streams.findIndex((x) => x.database === again.database);
      if (i >= 0) streams[i] = again;
    }
  };
}

/**
 * The request cleared with why, the migration WaitingForApplyFix. The refusal is an event too: the
 * migration's message is the stream's again once it streams, and the request must not vanish unsaid.
 */
async function refuseCutover({ run, stops }: Supervision): Promise<void> {
  const message = cutoverRefusedMessage(stops);
  await recordEvent(run.store, run.spec.migrationName, 'warning', message);
  run.onProgress({ kind: 'warning', message, recorded: true });
  await clearCutover(run.store, run.spec.migrationName, message, 'WaitingForApplyFix');
  stops.cutoverRefused();
}

function cutoverRefusedMessage(stops: StreamStops): string {
  const dbs = stops.databases.map((d) => displayIdent(d)).join(', ');
  return `cutover not started: streaming of ${dbs} is stopped on an error to fix first (see the database's message); request the cutover again once it streams`;
}

// The online supervisor's tick (flow/supervisor.ts): every TICK_MS while changes stream, the source
// is looked at for what the stream does not follow by itself: tables created or attached, streamed
// tables that lost their usable key (cdc/prepare/tableWatch.ts, one catalog scan per database), and
// schema changes (flow/schemaWatch.ts, whose look runs beside the loop on its own schedule, so
// the user hears of a change within seconds rather than at the cutover). In the supervisor's loop,
// not on a timer of its own like the reporter: the cutover handler scans the tables once more before
// it hands off, and two scans must never share the watch's sessions at once.
import { resyncs } from './handleResyncs';
import type { Supervision } from './supervision';

const TICK_MS = 2_000;

/** Whether TICK_MS passed since the last tick ended (the first look of a watch ticks at once). */
export function tickDue(s: Supervision): true | undefined {
  return Date.now() - s.lastTick >= TICK_MS || undefined;
}

export async function tick(s: Supervision): Promise<undefined> {
  await s.tables.scan();
  // tables it found dropped or renamed, followed once the apply has passed them (tableDropsAndRenames: follow)
  await s.tableDrops.follow(s.tables.takeDroppedOrRenamed());
  // tables it recorded as created, and resyncs asked for, carried out while the others stream
  await resyncs(s);
  // a schema change on the source is told within seconds (the look runs beside this loop)
  s.schema.look(s.streaming);
  s.lastTick = Date.now();
  return undefined;
}

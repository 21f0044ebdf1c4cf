// The online supervisor's tick (flow/supervisor.ts): every TICK_MS while changes stream, the source
// is looked at for what the stream does not follow by itself: tables created or attached, streamed
// tables that lost their usable key (cdc/prepare/tableWatch.ts, one catalog scan per database), and
// schema changes (flow/schemaWatch.ts, whose look runs beside the loop on its own schedule, so
// the user hears of a change within seconds rather than at the cutover). In the supervisor's loop,
// not on a timer of its own like the reporter: the cutover handler scans the tables once more before
// it hands off, and two scans must never share the watch's sessions at once.
import { resyncs } from './handleResyncs';
import { hasApplied, type Supervision } from './supervision';

const TICK_MS = 2_000;

/**
 * Whether TICK_MS passed since the last tick ended. A watch's first tick waits until every stream
 * has committed something on the target since it started, or TICK_MS: its scans of both servers'
 * catalogs took the CPU a resumed apply needed for its first change, on a loaded machine most of
 * the time to it, and a stream that cannot apply (a table missing) or has nothing to apply waits
 * for the tick no longer than the next one would have. A position confirmed while idle does not
 * count: the walsender's keepalives move it before the first change of a backlog is decoded, and
 * the first tick then ran beside the first batch.
 */
export function tickDue(s: Supervision): true | undefined {
  if (s.lastTick === 0) return Date.now() - s.openedAt >= TICK_MS || s.streams.every(hasApplied) || undefined;
  return Date.now() - s.lastTick >= TICK_MS || undefined;
}

export async function tick(s: Supervision): Promise<undefined> {
  // what follows may rename, drop or make again a table on the target: no stream uses its facts read ahead
  s.targetMayChange();
  // The watch looks on while this tick waits: a resync waits for the apply to reach its pin, and
  // the apply may hold a change until the watch makes a type or label it needs
  // (cdc/apply/watchWait.ts), which no look would make were looks started only between ticks.
  const looking = setInterval(() => s.schema.look(s.streaming), TICK_MS);
  try {
    await s.tables.scan();
    // tables it found dropped or renamed, followed once the apply has passed them (tableDropsAndRenames: follow)
    await s.tableDrops.follow(s.tables.takeDroppedOrRenamed());
    // tables it recorded as created, and resyncs asked for, carried out while the others stream
    await resyncs(s);
  } finally {
    clearInterval(looking);
  }
  // a schema change on the source is told within seconds (the look runs beside this loop)
  s.schema.look(s.streaming);
  s.lastTick = Date.now();
  return undefined;
}

// What the cutover reads again of each table verified in the background: nothing but its count
// when no change reached it since its pinned verification, its count and the rows of the keys
// changed since otherwise, and the whole table when this runner cannot tell (not pinned by it, a
// TRUNCATE, too many keys, rows without a usable key, a verification record that is not this pin's,
// a table whose shape changed while streaming: ChangeTracker.reshaped, a table not streamed, whose
// changes no tracker sees). A table pinned again just
// before a pooler's PAUSE or the writer fence (switchover/pinBeforePause.ts) is not counted: that
// pin counted it, only the keys changed since are read, and what reached the target since from
// anyone but the apply is the target's guard's to report (footprint/targetGuard.ts).
import type { Applier } from '../cdc/apply/applier';
import type { OnlineStream } from '../cdc/apply/onlineStream';
import type { SourceTable } from '../catalog/introspect';
import { parseLsn } from '../core/lsn';
import { tableVerifications, type TableVerificationRecord } from '../control/tableVerification';
import type { MigrationRun } from '../run/migrationRun';
import type { TableRecheck } from '../verify/verifyTables';
import { pinStillCurrent } from '../cdc/pin/pinRecord';
import type { ChangeTracker, TableChanges } from '../cdc/plan/changeTracker';
import { NOTHING_PINNED, type PinnedBeforePause } from './pinBeforePause';

export async function recheckPlan(
  run: MigrationRun,
  streams: readonly OnlineStream[],
  beforePause: PinnedBeforePause = NOTHING_PINNED,
  notStreamed: readonly { readonly database: string; readonly table: string }[] = [],
): Promise<(database: string, table: SourceTable) => TableRecheck | undefined> {
  const records = new Map<string, TableVerificationRecord>();
  for (const r of await tableVerifications(run.store, run.spec.migrationName)) records.set(`${r.database}\0${r.table}`, r);
  // no change of a table not streamed reaches the tracker: an UPDATE since its pin would pass a count
  const unstreamed = new Set(notStreamed.map((t) => `${t.database}\0${t.table}`));
  return (database, table) => {
    if (unstreamed.has(`${database}\0${table.display}`)) return undefined;
    const tracker = streams.find((s) => s.database === database)?.applier.tracker;
    const entry = tracker?.entry(table.sql);
    const record = records.get(`${database}\0${table.display}`);
    if (!tracker || !pinStillCurrent(entry, record)) return undefined;
    const recheck = recheckOf(entry, tracker, table);
    const pinned = beforePause.get(database)?.get(table.sql);
    if (recheck === undefined || pinned?.since !== entry.since) return recheck;
    // the pin before the pause counted it: the keys changed since are all that is left to read
    const keys = recheck.kind === 'keys' ? recheck.keys : [];
    return { kind: 'keys', keys, keyColumns: entry.keyColumns ?? [], pinnedRows: pinned.rows };
  };
}

/**
 * How a table counted from a verified point is read again: whole (undefined) when its keys are not
 * all known or its shape changed, else its count and the keys changed since, or its count alone.
 */
function recheckOf(entry: TableChanges, tracker: ChangeTracker, table: SourceTable): TableRecheck | undefined {
  if (entry.keys === 'all' || tracker.wasReshaped(table.sql)) return undefined;
  if (entry.keys.size === 0) return { kind: 'count' };
  return { kind: 'keys', keys: [...entry.keys], keyColumns: entry.keyColumns ?? [] };
}

/**
 * The fall-back's recheck (flow/fallBackStep.ts): the cutover verified the two servers equal at the
 * window's opening, and the reverse applier counted every key it changed since then
 * (flow/fallback.ts trackFromOpening). When its first session started there, a table it changed is
 * read for its count and those keys; every other table is read whole (a runner started again
 * since, a TRUNCATE, too many keys, a change of shape, and a table it never changed). Unlike the
 * forward cutover, no background verification pinned the old source since the window opened, and
 * the old source is where a session behind the fence could have written: a count alone would let
 * a changed row through, so a table the reverse stream never wrote is proven equal by its content.
 * `opened`: the window's opening position as its record holds it; none, every table is read whole.
 */
export function reverseRecheck(
  applier: Pick<Applier, 'tracker' | 'startedFrom'>,
  opened: string | undefined,
): ((database: string, table: SourceTable) => TableRecheck | undefined) | undefined {
  if (opened === undefined) return undefined;
  const openedLsn = parseLsn(opened);
  return (_database, table) => {
    if (applier.startedFrom !== openedLsn) return undefined;
    const entry = applier.tracker.entry(table.sql);
    const recheck = entry?.since === openedLsn ? recheckOf(entry, applier.tracker, table) : undefined;
    return recheck?.kind === 'keys' ? recheck : undefined;
  };
}

// The forward stream made again at a fall-back asked with --resume-forward (docs/fallback.md "The
// forward stream again"): per database, past the fall-back's verification and before the old
// source's fence is lifted, what a first start makes for streaming, without a copy (the target
// holds every row the old source holds: the fall-back just compared them): no forward applied
// position on the target, the publication and replica identities on the old source, the slot at
// the fall-back point, the target readied for apply. Each step idempotent, so a fall-back resumed
// after a kill makes them again without harm; the slot's point is recorded last. The switch back to
// streaming, once every window has fallen back, is control/fallbackWindows.ts reopenForward; the streaming itself
// is the online flow's (online.ts), as for a resumed runner.
import { openForwardSlot } from '../footprint/slotAndPublication';
import { prepareSource } from '../cdc/prepare/sourcePrep';
import { setIdentityFull, setTargetIdentityFull } from '../footprint/replicaIdentity';
import { prepareTargetForStreaming } from './streamingTarget';
import { withSession } from '../connect/session';
import { streamNamesOf } from '../core/names';
import { markForwardSlot } from '../control/fallbackWindows';
import { appliedPosition } from '../footprint/appliedPosition';
import type { SwitchoverRun } from '../run/migrationRun';

/** Makes one database's forward stream again on the old source; returns the slot's consistent point. */
export async function openForwardAgain(run: SwitchoverRun, database: string): Promise<string> {
  const { spec } = run;
  const names = streamNamesOf(spec.migrationName, database, run.instance);
  // the new stream starts at its slot's point: no position left on the target may move it
  await appliedPosition.undo({ spec, instance: run.instance }, database);
  const full = await prepareSource(run, setIdentityFull, database, names.publication);
  if (full.length > 0) {
    await withSession(spec.target, { database, purpose: 'online', writable: true }, (client) => setTargetIdentityFull(client, full));
  }
  const lsn = await openForwardSlot(spec.source, database, names.slot);
  await prepareTargetForStreaming(run, database, 'add');
  await markForwardSlot(run.store, spec.migrationName, database, lsn);
  run.onProgress({ kind: 'info', database, message: `fall-back: the forward stream made again on the old source from ${lsn}` });
  return lsn;
}

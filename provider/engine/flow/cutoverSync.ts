// What the stream does not carry, brought level after the drain (inside the hold when there is one)
// and before the checks that compare it: each database's sequence values copied, its extensions'
// configuration rows copied again and its partitions attached or detached as on the source, its step
// 'drained' recorded then; beside them, its large objects brought level. The mechanisms are
// switchover/'s (sequenceSync.ts, extensionConfigSync.ts, largeObjectDelta.ts) and the partition
// tree's (cdc/apply/partitionTree.ts).
import { withSessionPair } from '../connect/session';
import { configRowsMessages, syncExtensionConfigRows } from '../switchover/extensionConfigSync';
import { streamCounts, type OnlineStream } from '../cdc/apply/onlineStream';
import { followPartitionTree } from '../cdc/apply/partitionTree';
import type { MigrationRun } from '../run/migrationRun';
import { sideBySide } from '../util/sideBySide';
import { configRowsLedger } from '../control/extensionConfigRows';
import { copiedParents } from '../control/copyItems';
import { madeByMigration, notOursMessage, syncSequences, type MadeByMigration } from '../switchover/sequenceSync';
import { knownWithIdentities } from '../control/knownObjects';
import { keptLargeObjectsMessage, syncLargeObjects, type LargeObjectDelta } from '../switchover/largeObjectDelta';
import { failpoint } from '../util/failpoints';
import { PgferryError } from '../core/errors';
import { setCutoverStep, updateDatabase } from '../control/store';
import { displayIdent } from '../connect/quote';
import { again, announce } from './cutoverStep';
import { resumeAfterMismatch, type RolledBack } from './cutoverRollBack';

/**
 * After the drain (inside the fence or the pause when there is one): every database's sequence
 * values copied and its large objects brought level, side by side, since neither reads what the
 * other writes (switchover/sequenceSync.ts, switchover/largeObjectDelta.ts), and both are done before
 * the schema check and the verification, which compare them again. Large objects the source created,
 * wrote or unlinked while changes streamed are what logical decoding does not carry. Each runs to its
 * end before either's outcome is acted on. A statement the target refuses for the large objects
 * stops the cutover, nothing changed, streaming on: the streams as they go on then (RolledBack).
 * Else the objects made on the target alone, kept, by database: the verification leaves them out.
 */
export async function sequencesAndLargeObjects(
  run: MigrationRun,
  databases: ReadonlySet<string>,
  streams: readonly OnlineStream[],
): Promise<{ readonly kept: ReadonlyMap<string, readonly string[]> } | RolledBack> {
  const [, deltas] = await sideBySide([
    sideBySide(streams.map((s) => sequencesAtCutover(run, s))),
    sideBySide(streams.map((s) => largeObjectsOf(run, s.database))),
  ]);
  const refused = deltas.find((d) => 'refused' in d);
  if (refused) return resumeAfterMismatch(run, streams, databases, refused.refused, 'the large objects');
  const kept = new Map<string, readonly string[]>();
  for (const [i, s] of streams.entries()) {
    const delta = deltas[i] as LargeObjectDelta;
    kept.set(s.database, delta.kept);
    if (delta.kept.length > 0) await announce(run, keptLargeObjectsMessage('cutover', s.database, delta.kept, 'the target'));
    if (delta.compared === 0 && delta.unlinked === 0) continue;
    const stand = delta.deliberate > 0 ? `; ${delta.deliberate} keep the owner or grants the restore gave them on the target` : '';
    await announce(
      run,
      `cutover: large objects of ${displayIdent(s.database)}: ${delta.compared} compared, ${delta.created} created, ${delta.rewritten} rewritten, ${delta.unlinked} unlinked, ${delta.metadataSet} given their owner, grants or comment (${delta.bytes} bytes) in ${delta.seconds.toFixed(2)} s${stand}`,
    );
  }
  return { kept };
}

/** One database's sequences copied after the drain, and its partitions followed: its step 'drained' recorded then. */
async function sequencesAtCutover(run: MigrationRun, s: OnlineStream): Promise<void> {
  const { spec, store } = run;
  await updateDatabase(store, spec.migrationName, s.database, { ...streamCounts(s), latencySeconds: 0, pendingBytes: 0 });
  const mine = await sequencesMadeByMigration(run, s.database);
  const { copied, notOurs } = await again(run, `the sequences of ${displayIdent(s.database)}`, () => {
    failpoint(`cutover-sequences:${s.database}`);
    return syncSequences(spec.source, spec.target, s.database, spec, mine);
  });
  run.onProgress({ kind: 'info', message: `cutover: ${copied} sequence value(s) copied`, database: s.database });
  if (notOurs.length > 0) await run.warn(notOursMessage(notOurs), s.database);
  await configRowsAtCutover(run, s.database);
  await followPartitionsAtCutover(run, s.database);
  await setCutoverStep(store, spec.migrationName, s.database, 'drained');
  failpoint(`cutover-drained:${s.database}`);
}

/**
 * Which free-standing sequences of the target are the migration's (switchover/sequenceSync.ts
 * madeByMigration): told by the known objects, recorded when the schema is followed; by their name
 * otherwise, as before.
 */
export async function sequencesMadeByMigration(
  run: Pick<MigrationRun, 'spec' | 'store'>,
  database: string,
): Promise<MadeByMigration | undefined> {
  if (!run.spec.followSchemaChanges) return undefined;
  return madeByMigration(await knownWithIdentities(run.store, run.spec.migrationName, database));
}

/**
 * The rows of the extensions' configuration tables copied again after the drain (under the writer
 * fence when there is one): those tables are not published, so what the source changed in them
 * while streaming arrives here, before the verification compares them.
 */
async function configRowsAtCutover(run: MigrationRun, database: string): Promise<void> {
  const { spec } = run;
  const purpose = 'extension configuration';
  const copied = await again(run, `the extension configuration rows of ${displayIdent(database)}`, () =>
    withSessionPair(spec.source, { database, purpose, readOnly: true }, spec.target, { database, purpose, writable: true }, (p) =>
      syncExtensionConfigRows(p.source, p.target, 'forward', configRowsLedger(run.store, spec.migrationName, database)),
    ),
  );
  for (const c of copied) for (const said of configRowsMessages('cutover', c)) run.onProgress({ ...said, database });
}

/**
 * After the drain the target holds what the source held at the marker: partitions attached or
 * detached on the source since the applier last followed them (partitionTree.ts) are followed
 * now, before the schema check, which stops the cutover over any step the target refused.
 */
async function followPartitionsAtCutover(run: MigrationRun, database: string): Promise<void> {
  const { spec } = run;
  const result = await again(run, `the partitions of ${displayIdent(database)}`, () =>
    withSessionPair(spec.source, { database, purpose: 'cutover' }, spec.target, { database, purpose: 'cutover', writable: true }, (pair) =>
      followPartitionTree(pair.source, pair.target, () => copiedParents(run.store, spec.migrationName, database)),
    ),
  );
  for (const { step, error } of result.refused) {
    await run.warn(`cutover: ${step.kind} of partition ${step.table} refused on the target: ${error}`, database);
  }
  if (result.done.length === 0) return;
  const what = result.done.map((d) => `${d.kind === 'detach' ? 'detached' : 'attached'} ${d.table}`).join(', ');
  await announce(run, `cutover: partitions followed in ${displayIdent(database)} as on the source: ${what}`);
}

/** One database's large objects brought level: the delta, or the target's refusal in one line (which stops the cutover). */
async function largeObjectsOf(run: MigrationRun, database: string): Promise<LargeObjectDelta | { readonly refused: string }> {
  try {
    return await again(run, `the large objects of ${displayIdent(database)}`, () => {
      failpoint(`cutover-large-objects:${database}`);
      return syncLargeObjects(run.spec, database, run.store);
    });
  } catch (error) {
    if (run.signal.aborted || !(error instanceof PgferryError) || error.code !== 'CUTOVER_LARGE_OBJECTS') throw error;
    return { refused: `${error.message} (fix: ${error.fix})` };
  }
}

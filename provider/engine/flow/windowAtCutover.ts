// The fallback window at the cutover: a window the cutover could not keep safe is refused before
// anything is changed on either server (one without the writer fence, or one asked with the request
// alone whose changes the user lacks the rights for), and a window asked for is opened at the cutover
// point, before the release (its reverse slot and publication: fallback.ts openFallbackWindows).
import { withSessionPair } from '../connect/session';
import type { OnlineStream } from '../cdc/apply/onlineStream';
import { reverseStream } from '../footprint/reverseStream';
import { reversePosition } from '../footprint/reversePosition';
import type { MigrationRun } from '../run/migrationRun';
import { unfencedWindowRefusal } from '../input/fallbackWindow';
import { openFallbackWindows, requestedWindow } from './fallback';
import { cutoverOptionsOf } from '../control/cutoverOptions';
import { again } from './cutoverStep';
import { rollBack } from './cutoverRollBack';

/**
 * A fallback window without the writer fence (a window from one of spec and request, fenceWriters:
 * false from the other) is refused before anything is changed on either server: an application
 * left on the old source would write beside the reverse stream. True when refused.
 */
export async function unfencedWindow(run: MigrationRun): Promise<boolean> {
  const options = await cutoverOptionsOf(run.store, run.spec.migrationName);
  const refusal = unfencedWindowRefusal(run.spec, options);
  if (!refusal) return false;
  await rollBack(run, [], `cutover not started: ${refusal}; nothing was changed on either server, and changes stream on`);
  return true;
}

/**
 * A fallback window asked with the cutover request alone brings changes whose rights validation
 * never checked (the spec did not ask for them): the reverse slot and publication on the target,
 * the applied position on the old source. Their rights are checked here, before anything is
 * changed on either server, and a refusal names what the user lacks and the statement that grants
 * it. Before, the cutover fenced the writers, then failed on the reverse slot (a target user
 * without REPLICATION, as on a managed server) and ended the migration Failed. True when refused.
 */
export async function windowRightsRefused(run: MigrationRun, databases: readonly string[]): Promise<boolean> {
  const options = await cutoverOptionsOf(run.store, run.spec.migrationName);
  if (options.fallbackWindow === undefined || run.spec.fallbackWindow !== undefined) return false;
  const spec = { ...run.spec, fallbackWindow: options.fallbackWindow };
  // the target's writer fence is a fall-back's, which checks its own rights then
  const changes = [reverseStream, reversePosition].filter((c) => c.madeFor(spec) && !c.madeFor(run.spec));
  const refused: string[] = [];
  for (const database of databases) {
    const purpose = 'fallback window rights';
    await withSessionPair(spec.source, { database, purpose, readOnly: true }, spec.target, { purpose, readOnly: true }, async (pair) => {
      for (const change of changes) {
        const refusal = await change.rights.refusal({ spec, database, source: pair.source, target: pair.target });
        if (refusal) refused.push(`${refusal.message} (fix: ${refusal.fix})`);
      }
    });
  }
  if (refused.length === 0) return false;
  await rollBack(run, [], `cutover not started: ${refused.join('; ')}; nothing was changed on either server, and changes stream on`);
  return true;
}

/** A fallback window asked for (spec or request): its reverse stream opened at the cutover point, after the verification and before the release (fallback.ts); true when one was. */
export async function openWindowAtCutover(run: MigrationRun, streams: readonly OnlineStream[]): Promise<boolean> {
  const window = await requestedWindow(run);
  if (window === undefined) return false;
  await again(run, 'the fallback window', () => openFallbackWindows(run, streams, window));
  return true;
}

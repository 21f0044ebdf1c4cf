// Past the cutover's point of no return, one database at a time: the switch, the applications' side
// (the writer fence kept, the target's guard dropped, the pooler pointed at the target and resumed),
// then the release (everything the migration changed given back, footprint/release.ts; the schema
// compared once more with nothing set aside; Succeeded with its downtime). The cutover switches every
// database before it releases any (cutover.ts); a resumed runner does both again (finishCutover).
import { releaseDatabase } from '../footprint/release';
import type { MigrationRun } from '../run/migrationRun';
import { schemaMismatchError } from '../verify/schema/checkSchema';
import { failpoint } from '../util/failpoints';
import { describeFirings } from '../footprint/targetFiring';
import { wholeSchemaCheck } from './wholeSchemaCheck';
import { errorMessage } from '../core/errors';
import { keepFence } from '../footprint/writerFence';
import { switchPooler } from '../footprint/poolerPause';
import { dropGuardAtSwitch } from './targetGuardAtCutover';
import { updateDatabase } from '../control/store';
import { recordCutOver } from '../control/cutoverCount';
import { closeFellBackRecord } from '../control/fallbackWindows';
import { trace } from '../util/trace';
import { recordSchemaCheck } from './cutoverChecks';

/**
 * The first part of finishCutover, the applications' side of the point of no return: the writer
 * fence kept, the target's guard dropped and the pooler pointed at the target and resumed. Apart
 * from the release so that the cutover gives every database's applications the target before it
 * releases any, and clocks the switch as its own step of the pause.
 */
export async function switchAtCutover(run: MigrationRun, database: string): Promise<void> {
  const { spec, store } = run;
  // 'released' is recorded: a runner stopped here leaves the fence to a resume or a cancel, which keep it too
  failpoint(`cutover-point-of-no-return:${database}`);
  // past the point of no return: a writer fence stays (writes on the source would be lost), and no
  // cancel or failure lifts it from here on
  await keepFence(store, spec.migrationName, database);
  trace('switch: fence kept');
  // the target's guard goes while the applications are still held: its DDL queues behind none of them
  await dropGuardAtSwitch(run, database);
  trace('switch: guard dropped');
  // the pooler's held queries go to the target from here on (a resumed runner does it again: idempotent)
  await switchPooler(run, database);
}

/** The second part of finishCutover: everything the migration changed given back, the schema compared once more, Succeeded. */
export async function releaseAfterSwitch(run: MigrationRun, database: string, began?: number): Promise<void> {
  const { spec, store } = run;
  const firings = await releaseDatabase(run, database, 'throw', { cutOver: true });
  const restored = firings && describeFirings(firings);
  if (restored) run.onProgress({ kind: 'info', message: `cutover: ${restored} set back as on the source`, database });
  failpoint(`cutover-released:${database}`);
  // the second look, with everything given back: what was set aside must come back whole
  const whole = await wholeSchemaCheck(run, database);
  const check = await whole.check().catch(async (error: unknown) => {
    // the first look passed; one that cannot read now (a lock held past lock_timeout) is told, not fatal
    if (run.signal.aborted) throw error;
    await run.warn(
      `cutover: the schema could not be compared again once the target was given back (${errorMessage(error)}): check it with \`pgferry verify\``,
      database,
    );
    return undefined;
  });
  if (check) await recordSchemaCheck(run, check);
  if (check && check.differences.length > 0) {
    const error = schemaMismatchError(check);
    await updateDatabase(store, spec.migrationName, database, { state: 'Failed', endedAt: true, message: error.message });
    throw error;
  }
  // Succeeded, with its downtime and one more cutover counted (PgMigration's cutoverCount compares with it)
  await recordCutOver(store, spec.migrationName, database, began === undefined ? undefined : (Date.now() - began) / 1000);
  // a second cutover after a fall-back (docs/fallback.md), without a new window: the fall-back's record closes
  await closeFellBackRecord(store, spec.migrationName, database);
}

// The target's writer fence at a fall-back (docs/fallback.md): the target database made read-only
// for new transactions and its sessions ended before the reverse stream's marker, by the same
// mechanism as the source's fence at a cutover (footprint/writerFence.ts, side 'target'), recorded
// first in the footprint ledger (change targetFence). A fall-back that stops before the old source
// is the primary again lifts it, as any release does; once it fell back the fence stays (kept), so
// an application still pointed at the new server fails loudly instead of writing where nothing reads.
// The fall-back's fences go through here alone, one entry per direction: put on the target
// (fenceTarget), handed over to the old source past the point of no return (handOverFences), or
// lifted off the target when the fall-back stops before it (targetFence.undo). The target's fence
// covers the tables the applications made there in the window too (not streamed, their rows carried
// by the fall-back): the same trigger under the same record, put on with the fence and again, for
// those made since, before the carry reads their rows (fenceWindowTables).
import { CONTROL_SCHEMA, reverseStreamNamesOf } from '../core/names';
import { tablesAtOpening } from '../control/fallbackWindows';
import type { MigrationRun } from '../run/migrationRun';
import { windowTableOids } from '../switchover/windowTables';
import {
  fenceDatabase,
  fenceMoreTables,
  fenceRightsRefusal,
  keepFence,
  liftStatements,
  liftWriterFence,
  pendingFences,
  reclaimFence,
  type WindowTablesOf,
} from './writerFence';
import type { RestoreContext, RightsRefusal, RightsSessions, ReversibleChange } from './change';

/** The target user fences a database it owns (it created it) or any as a superuser; one not made yet it will own. */
async function refusal(s: RightsSessions): Promise<RightsRefusal | undefined> {
  const { rows } = await s.target.query('SELECT 1 FROM pg_database WHERE datname = $1', [s.database]);
  if (rows.length === 0) return undefined;
  const refused = await fenceRightsRefusal(s.target, s.database, s.spec.target.user);
  if (!refused) return undefined;
  return {
    message: `${refused.message.replace('source user', 'target user').replace('fenceWriters', 'fallbackWindow')} (for a fall-back)`,
    fix: refused.fix.replace('on the source', 'on the target'),
  };
}

export const targetFence = {
  name: 'targetFence',
  server: 'target',
  describe:
    'writer fence on the target at a fall-back: the target database read-only for new transactions (default_transaction_read_only), lifted to its recorded value unless the fall-back completed',
  ledger: `${CONTROL_SCHEMA}.footprint (change targetFence: undo.priorSetting, kept_at)`,
  rights: {
    server: 'target',
    needs: "the database's owner (or a member of it) for ALTER DATABASE, and pg_signal_backend to end other roles' sessions",
    refusal,
  },
  madeFor: (spec) => spec.mode === 'Online' && spec.fallbackWindow !== undefined,
  pending: async (ctx, database) =>
    (await pendingFences(ctx.store, ctx.spec.migrationName, database, 'targetFence')).map((fence) =>
      liftStatements(ctx.spec.migrationName, database, fence.priorSetting),
    ),
  undo: (ctx, database) => liftWriterFence(ctx, database, 'target'),
  failure: () => ({
    what: 'could not lift the writer fence on the target',
    left: `the target database is still read-only for new transactions; its earlier value is in ${CONTROL_SCHEMA}.footprint, and a resume lifts it`,
  }),
} satisfies ReversibleChange;

type FenceRun = Pick<MigrationRun, 'spec' | 'store' | 'warn' | 'instance'>;

/**
 * The tables the applications made on the new server in the window (switchover/windowTables.ts),
 * read in the fenced database: not streamed, so the reverse publication does not list them, yet the
 * fall-back carries their rows and must read them fenced. None for a window opened before control
 * migration 34, which recorded no tables at its opening.
 */
function windowTablesOf(run: FenceRun, database: string): WindowTablesOf {
  return async (inDatabase) => {
    const opening = await tablesAtOpening(run.store, run.spec.migrationName, database);
    if (!opening) return [];
    const { publication } = reverseStreamNamesOf(run.spec.migrationName, database, run.instance);
    return windowTableOids(inDatabase, opening, publication);
  };
}

/**
 * The fall-back fences the target (footprint/writerFence.ts, side target), recorded first: the
 * reverse publication's tables and the window's. Returns how many sessions it ended.
 */
export function fenceTarget(run: FenceRun, database: string): Promise<number> {
  return fenceDatabase(run, database, 'target', windowTablesOf(run, database));
}

/**
 * Before the fall-back reads the rows of the window's tables to carry them: its fence put on those
 * made since the target was fenced (a session that turned read-only off may make one), under the
 * target fence's record, so the fence's one undo and its lift take them away with the rest. Returns
 * the window's tables and those of them fenced (one the target user may not put a trigger on is not).
 */
export function fenceWindowTables(
  run: FenceRun,
  database: string,
): Promise<{ readonly windowTables: readonly string[]; readonly fenced: readonly string[] }> {
  return fenceMoreTables(run, database, 'target', windowTablesOf(run, database));
}

/**
 * Past the fall-back's point of no return, the fences change hands: the target's kept (no cancel or
 * failure lifts it from here on), the old source's, kept since the cutover, pending again and lifted
 * to its recorded value. Idempotent: a resumed runner does it again.
 */
export async function handOverFences(ctx: RestoreContext, database: string): Promise<void> {
  const name = ctx.spec.migrationName;
  await keepFence(ctx.store, name, database, 'targetFence');
  await reclaimFence(ctx.store, name, database);
  await liftWriterFence(ctx, database, 'source');
}

// The pooler's pause at a fall-back through a pooler (spec.pooler with a fallback window,
// docs/pooler.md): the cutover's pause the other way, by the same steps (poolerPause.ts, PauseWay).
// The pooler's databases the cutover switched to the target (its poolerPause rows, kept) are
// recorded (change poolerPauseBack, undo where their lines point now: the new server) and paused
// before the target's fence. A fall-back that stops before its point of no return gives the pause
// back (undo): the lines untouched, RELOAD, RESUME, the held queries run on the new server. Past it
// (flow/fallBackStep.ts, once the old source's fence is lifted) they are pointed where the cutover
// found them (the old source, from the cutover's rows), reloaded, resumed, and kept.
import { CONTROL_SCHEMA } from '../core/names';
import { PgferryError } from '../core/errors';
import { configuredAddresses, type PoolerAddress } from '../switchover/pooler';
import type { RestoreContext, ReversibleChange } from './change';
import { changesOf } from './ledger';
import { pauseLines, pauseParts, poolerOf, switchLines, type PauseWay } from './poolerPause';

const CHANGE = 'poolerPauseBack' as const;

const FALLBACK_WAY: PauseWay = { change: CHANGE, step: 'fallback', other: 'poolerPause' };

/** Where the cutover found each of the pooler's databases of `database` that it switched to the target: the old source. */
async function switchedAtCutover(ctx: RestoreContext, database: string): Promise<Map<string, PoolerAddress>> {
  const rows = await changesOf<PoolerAddress>(ctx.store, ctx.spec.migrationName, 'poolerPause');
  return new Map(rows.filter((r) => r.database === database && r.kept).map((r) => [r.object, { host: r.undo.host, port: r.undo.port }]));
}

/**
 * Pauses the pooler's databases the cutover of `database` switched to the target, each recorded
 * first with where its line points now. None (a cutover without the pooler): nothing is paused.
 */
export async function pausePoolerBack(ctx: RestoreContext, database: string): Promise<readonly string[]> {
  const names = [...(await switchedAtCutover(ctx, database)).keys()];
  if (names.length === 0) return [];
  return pauseLines(ctx, database, FALLBACK_WAY, await configuredAddresses(poolerOf(ctx.spec), names));
}

/**
 * Past the fall-back's point of no return, the old source's fence lifted: the paused lines pointed
 * where the cutover found them, RELOAD, RESUME, kept. Idempotent, as the cutover's switch is.
 */
export async function switchPoolerBack(ctx: RestoreContext, database: string): Promise<boolean> {
  const source = await switchedAtCutover(ctx, database);
  return switchLines(ctx, database, FALLBACK_WAY, (object) => {
    const address = source.get(object);
    if (address) return address;
    // a line with no record of the old source is not pointed anywhere: it stays paused for a resume to finish
    throw new PgferryError('POOLER_REFUSED', `the pooler's "${object}" has no record of where the cutover found it`, {
      fix: `point its line in ${poolerOf(ctx.spec).configFile} at the old source, RELOAD and RESUME ${object} on the pooler's admin console`,
    });
  });
}

export const poolerPauseBack = {
  ...pauseParts(FALLBACK_WAY),
  describe:
    "pooler pause at a fall-back: the pooler's databases the cutover pointed at the target paused (PAUSE), then pointed at the old source (its configuration file, RELOAD) and resumed; given back by RELOAD and RESUME where they point, the new server",
  // a window may be asked with the cutover request alone
  madeFor: (spec) => spec.mode === 'Online' && spec.pooler !== undefined,
  failure: () => ({
    what: 'could not resume the pooler on the new server',
    left: `its databases may still be paused; what their lines pointed at is in ${CONTROL_SCHEMA}.footprint on the target, and a resume gives them back`,
  }),
} satisfies ReversibleChange;

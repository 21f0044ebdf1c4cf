// The pooler's pause at a cutover through a pooler (spec.pooler, docs/pooler.md): per migrated
// database, each of the pooler's databases that goes to it is recorded (change poolerPause, object
// its pooler name, undo the host= and port= its line had: the source) before it is paused. Given
// back (undo) it is pointed at those recorded values again (the file rewritten only where it was
// changed), the pooler reloaded, and resumed: the applications' held queries run on the old source,
// nothing lost. Past the cutover's point of no return (flow/cutover.ts finishCutover, after
// 'released' is recorded) it is switched instead: pointed at the target, reloaded, resumed, and
// kept (kept_at): a release of a database cut over never points it back. Both are idempotent, so a
// runner killed at any step leaves the pooler paused on the source until the resumed runner gives
// it back (flow/online.ts) or switches it, never half on each server. The steps take the way as a
// parameter (PauseWay): a fall-back through the pooler runs them the other way, recorded under its
// own change (footprint/poolerPauseBack.ts).
import { CONTROL_SCHEMA } from '../core/names';
import { errorMessage, PgferryError } from '../core/errors';
import { failpoint } from '../util/failpoints';
import { trace } from '../util/trace';
import type { MigrationSpec, PoolerSpec } from '../input/migrationSpec';
import {
  configuredAddresses,
  pausePooled,
  pointDatabases,
  pooledDatabases,
  poolerAdminRefusal,
  poolerNames,
  POOLER_PASSWORD_VARIABLE,
  reloadPooler,
  resumePooled,
  targetAddress,
  withPoolerAdmin,
  type PoolerAddress,
} from '../switchover/pooler';
import type { ChangeRights, FootprintContext, RestoreContext, ReversibleChange } from './change';
import { markKept, markPendingAgain, markUndone, noteDetail, pendingChanges, recordChanges, type LedgerEntry } from './ledger';
import type { PoolerPause } from '../core/model';
import { displayIdent } from '../connect/quote';

const CHANGE = 'poolerPause' as const;

/** A paused database's ledger row's undo: where its line pointed, and the pooler (without its password; absent in rows recorded before it was kept). */
interface PausedLine extends PoolerAddress {
  readonly pooler?: Omit<PoolerSpec, 'password'>;
}

/**
 * The spec with the pooler the ledger recorded for a pause still pending in one of `databases`,
 * when the spec names none (a cancel for a stopped runner whose body leaves the pooler out), its
 * password given apart (the ledger keeps none).
 */
export async function withRecordedPooler(
  ctx: RestoreContext,
  databases: readonly string[],
  password: string | undefined,
): Promise<MigrationSpec> {
  if (ctx.spec.pooler !== undefined) return ctx.spec;
  for (const database of databases) {
    const pending = await pendingChanges<PausedLine>(ctx.store, ctx.spec.migrationName, database, CHANGE);
    const recorded = pending.find((p) => p.undo.pooler !== undefined)?.undo.pooler;
    if (!recorded) continue;
    const { databases: names, ...rest } = recorded;
    const pooler = { ...rest, ...(names ? { databases: [...names] } : {}), ...(password === undefined ? {} : { password }) };
    return { ...ctx.spec, pooler };
  }
  return ctx.spec;
}

export function poolerOf(spec: MigrationSpec): PoolerSpec {
  if (spec.pooler) return spec.pooler;
  throw new PgferryError('POOLER_REFUSED', 'a pause of the pooler is recorded, but the spec names no pooler', {
    fix: 'give the migration its pooler (pooler, or --pooler-* with the CLI) so pgferry can resume it',
  });
}

/**
 * The pooler's databases that go to a migrated database (poolerNames, matched by the server
 * database they name, as SHOW DATABASES lists them), with where each line points now.
 */
async function poolerDatabasesOf(spec: MigrationSpec, pooler: PoolerSpec, database: string): Promise<Map<string, PoolerAddress>> {
  const wanted = new Set(poolerNames(spec, spec.databases.length > 0 ? spec.databases : [database]));
  const served = await withPoolerAdmin(pooler, (admin) => pooledDatabases(pooler, admin));
  const names = served.filter((d) => wanted.has(d.name) && d.database === database).map((d) => d.name);
  return configuredAddresses(pooler, names);
}

/**
 * Which way a pause moves the pooler: the cutover's (change poolerPause, from the source to the
 * target) or the fall-back's (change poolerPauseBack, from the target back to the old source,
 * footprint/poolerPauseBack.ts). The steps are the same both ways; only the ledger's change, the
 * failpoints' step and where the lines go differ.
 */
export interface PauseWay {
  readonly change: 'poolerPause' | 'poolerPauseBack';
  /** The failpoints' prefix: `${step}-pooler-paused:<db>` and so on. */
  readonly step: 'cutover' | 'fallback';
  /** The other way's change: its rows are given back once this way switched the pooler (it no longer points where they left it). */
  readonly other: 'poolerPause' | 'poolerPauseBack';
}

const CUTOVER_WAY: PauseWay = { change: CHANGE, step: 'cutover', other: 'poolerPauseBack' };

/**
 * Pauses the named pooler databases of `database`, each recorded first with where its line points
 * (a row still pending keeps what an earlier attempt read). One a killed runner left paused is not
 * paused again (PgBouncer refuses a second PAUSE). Refused, resumed, when a PAUSE waits longer than
 * pooler.pauseTimeoutSeconds.
 */
export async function pauseLines(
  ctx: RestoreContext,
  database: string,
  way: PauseWay,
  addresses: ReadonlyMap<string, PoolerAddress>,
): Promise<readonly string[]> {
  const pooler = poolerOf(ctx.spec);
  // the pooler itself beside each line (its password left out), so a cancel without the body's pooler finds it
  const { password: _secret, ...recorded } = pooler;
  const entries = [...addresses].map(([object, address]) => ({ object, undo: { ...address, pooler: recorded } satisfies PausedLine }));
  trace('pause: lines read');
  await recordChanges(ctx.store, ctx.spec.migrationName, database, way.change, entries);
  trace('pause: recorded');
  await withPoolerAdmin(pooler, async (admin) => {
    const paused = new Set((await pooledDatabases(pooler, admin)).filter((d) => d.paused).map((d) => d.name));
    for (const { object } of entries) if (!paused.has(object)) await pausePooled(pooler, admin, object);
  });
  failpoint(`${way.step}-pooler-paused:${database}`);
  return entries.map((e) => e.object);
}

/**
 * Pauses the pooler's databases that go to `database` at its cutover, each recorded first with
 * where its line points: the source.
 */
export async function pausePooler(ctx: RestoreContext, database: string): Promise<readonly string[]> {
  const pooler = poolerOf(ctx.spec);
  return pauseLines(ctx, database, CUTOVER_WAY, await poolerDatabasesOf(ctx.spec, pooler, database));
}

/**
 * Past a switchover's point of no return: the database's paused lines pointed where `to` says, the
 * pooler reloaded and resumed, the change kept and the other way's rows given back; false when
 * nothing was pending. Idempotent (a resumed runner finishing a release, or a cancel for a stopped
 * runner, does it again; a line already pointing there is not written).
 */
export async function switchLines(
  ctx: RestoreContext,
  database: string,
  way: PauseWay,
  to: (object: string) => PoolerAddress,
): Promise<boolean> {
  const name = ctx.spec.migrationName;
  const pending = await pendingChanges<PoolerAddress>(ctx.store, name, database, way.change);
  if (pending.length === 0) return false;
  const pooler = poolerOf(ctx.spec);
  trace('switch: pending read');
  await pointDatabases(pooler, new Map(pending.map((p) => [p.object, to(p.object)])));
  trace('switch: file pointed');
  failpoint(`${way.step}-pooler-edited:${database}`);
  await withPoolerAdmin(pooler, async (admin) => {
    await reloadPooler(pooler, admin);
    // switched, not resumed yet: `show` and the console say so (a runner killed here leaves it so)
    const switchedAt = new Date().toISOString();
    trace('switch: reloaded');
    for (const p of pending) await noteDetail(ctx.store, name, database, way.change, p.object, { switchedAt });
    failpoint(`${way.step}-pooler-reloaded:${database}`);
    for (const p of pending) await resumePooled(pooler, admin, p.object);
    const resumed = resumedDetail(way.change, 'there');
    for (const p of pending) await noteDetail(ctx.store, name, database, way.change, p.object, resumed);
  });
  failpoint(`${way.step}-pooler-resumed:${database}`);
  await markKept(ctx.store, name, database, way.change);
  // the other way's pause, kept when it switched, is over: a later switchover that way records it afresh
  await markPendingAgain(ctx.store, name, database, way.other);
  for (const p of await pendingChanges(ctx.store, name, database, way.other))
    await markUndone(ctx.store, name, database, way.other, p.object);
  return true;
}

/** Past the cutover's point of no return: the database's pooler lines pointed at the target, reloaded and resumed (switchLines). */
export function switchPooler(ctx: RestoreContext, database: string): Promise<boolean> {
  const target = targetAddress(ctx.spec);
  return switchLines(ctx, database, CUTOVER_WAY, () => target);
}

/**
 * Before a cancel for a stopped runner changes anything (runner/stoppedRunner.ts): the pooler
 * paused for any of `databases` must answer its admin console, or the cancel is refused, nothing
 * changed, naming how to give its password (the stored spec keeps none).
 */
export async function checkPausedPoolerReachable(ctx: RestoreContext, databases: readonly string[]): Promise<void> {
  const paused: string[] = [];
  for (const database of databases) {
    if ((await pendingChanges(ctx.store, ctx.spec.migrationName, database, CHANGE)).length > 0) paused.push(database);
  }
  if (paused.length === 0) return;
  const pooler = poolerOf(ctx.spec);
  try {
    await withPoolerAdmin(pooler, (admin) => pooledDatabases(pooler, admin));
  } catch (error) {
    const password = pooler.password === undefined ? ' (no password was given for it)' : '';
    throw new PgferryError(
      'POOLER_REFUSED',
      `migration "${ctx.spec.migrationName}": the pooler paused for ${paused.map((d) => displayIdent(d)).join(', ')} cannot be resumed${password}: ${errorMessage(error)}; nothing was changed`,
      {
        category: 'input',
        field: 'pooler',
        fix: `give the pooler's admin password in ${POOLER_PASSWORD_VARIABLE} (or pooler.password in the --properties body) and cancel again`,
        cause: error,
      },
    );
  }
}

/** The server each way's switchover goes to: the cutover's the target, the fall-back's the old source. */
const GOES_TO: Readonly<Record<PauseWay['change'], 'source' | 'target'>> = { poolerPause: 'target', poolerPauseBack: 'source' };

/**
 * What a pause's rows note as it is resumed: when, and on which server (`there`: where the
 * switchover goes; `back`: where it left), so `show` says it whatever the rows become later (a
 * fall-back gives the cutover's rows back long after their RESUME).
 */
function resumedDetail(change: PauseWay['change'], where: 'there' | 'back'): { resumedAt: string; resumedOn: 'source' | 'target' } {
  const there = GOES_TO[change];
  return { resumedAt: new Date().toISOString(), resumedOn: where === 'there' ? there : there === 'target' ? 'source' : 'target' };
}

/**
 * The pooler's pause of each database whose switchover (`change`: the cutover's, or the
 * fall-back's) paused it, from a migration's ledger rows, as `show` gives it (footprint/shown.ts
 * reads the rows): resumed where the switchover goes or where it left, as its RESUME noted (a row
 * of an older pgferry without that note: resumed there once kept, back once given back), switched
 * once its lines point there, else paused; with how long the queries waited once resumed.
 */
export function poolerPausesOf(entries: readonly LedgerEntry<unknown>[], change: PauseWay['change'] = CHANGE): Map<string, PoolerPause> {
  const byDatabase = new Map<string, LedgerEntry<unknown>[]>();
  for (const e of entries.filter((x) => x.change === change)) byDatabase.set(e.database, [...(byDatabase.get(e.database) ?? []), e]);
  const pauses = new Map<string, PoolerPause>();
  for (const [database, rows] of byDatabase) {
    // the rows of one database move together; the earliest says where the pause stands
    const switched = rows.map((r) => r.detail.switchedAt).filter((t): t is string => typeof t === 'string');
    const resumedAt = rows.map((r) => r.detail.resumedAt).filter((t): t is string => typeof t === 'string');
    const resumedOn = rows.map((r) => r.detail.resumedOn).find((t): t is 'source' | 'target' => t === 'source' || t === 'target');
    const there = GOES_TO[change];
    const state: PoolerPause['state'] =
      resumedOn !== undefined && resumedAt.length === rows.length
        ? resumedOn === there
          ? 'resumed'
          : 'resumedOnSource'
        : rows.every((r) => r.kept)
          ? 'resumed'
          : rows.every((r) => r.undone)
            ? 'resumedOnSource'
            : switched.length === rows.length
              ? 'switched'
              : 'paused';
    const pausedAt = new Date(Math.min(...rows.map((r) => r.madeAt.getTime())));
    const lastResumed = resumedAt.length === rows.length ? resumedAt.sort()[resumedAt.length - 1]! : undefined;
    pauses.set(database, {
      state,
      poolerDatabases: rows.map((r) => r.object),
      pausedAt: pausedAt.toISOString(),
      ...(switched.length === rows.length && state !== 'resumedOnSource' ? { switchedAt: switched.sort()[0]! } : {}),
      ...(lastResumed && resumedOn && (state === 'resumed' || state === 'resumedOnSource')
        ? {
            resumedAt: lastResumed,
            resumedOn,
            pauseSeconds: Math.max(0, (new Date(lastResumed).getTime() - pausedAt.getTime()) / 1000),
          }
        : {}),
    });
  }
  return pauses;
}

/**
 * Gives a pause back: the lines pointed where the ledger says they were (the server the switchover
 * left, untouched when they still point there), the pooler reloaded and resumed.
 */
async function resumeWhereRecorded(ctx: FootprintContext, database: string, change: PauseWay['change']): Promise<void> {
  const pending = await pendingChanges<PoolerAddress>(ctx.store, ctx.spec.migrationName, database, change);
  if (pending.length === 0) return;
  const pooler = poolerOf(ctx.spec);
  await pointDatabases(pooler, new Map(pending.map((p) => [p.object, p.undo])));
  await withPoolerAdmin(pooler, async (admin) => {
    await reloadPooler(pooler, admin);
    for (const p of pending) await resumePooled(pooler, admin, p.object);
  });
  const resumed = resumedDetail(change, 'back');
  for (const p of pending) await markUndone(ctx.store, ctx.spec.migrationName, database, change, p.object, resumed);
}

/** The pooler's rights, the same both ways. */
const POOLER_RIGHTS: ChangeRights = {
  server: 'pooler',
  needs: "a user of the pooler's admin_users (PAUSE, RELOAD, RESUME), and a configuration file pgferry can write",
  refusal: (s) => poolerAdminRefusal(poolerOf(s.spec)),
};

/**
 * What a pause's change is, one way or the other: recorded in the ledger under the way's change,
 * pending while neither given back nor kept, given back by pointing the lines where they were,
 * RELOAD and RESUME. Each way's module adds what it is, when it is made and what a failed undo leaves.
 */
export function pauseParts(way: PauseWay): Pick<ReversibleChange, 'name' | 'server' | 'ledger' | 'rights' | 'pending' | 'undo'> {
  return {
    name: way.change,
    server: 'pooler',
    ledger: `${CONTROL_SCHEMA}.footprint (change ${way.change}: object the pooler's database, undo.host and undo.port its line had, kept_at)`,
    rights: POOLER_RIGHTS,
    pending: async (ctx, database) =>
      (await pendingChanges<PoolerAddress>(ctx.store, ctx.spec.migrationName, database, way.change)).map(
        (p) =>
          `the pooler's "${p.object}" is paused or was being pointed elsewhere: its line to be pointed at host=${p.undo.host ?? '(none)'} port=${p.undo.port ?? '(none)'}, then RELOAD and RESUME ${p.object}`,
      ),
    undo: (ctx, database) => resumeWhereRecorded(ctx, database, way.change),
  };
}

export const poolerPause = {
  ...pauseParts(CUTOVER_WAY),
  describe:
    "pooler pause: each of the pooler's databases that goes to a migrated database paused at cutover (PAUSE), then pointed at the target (its configuration file, RELOAD) and resumed; given back by pointing it where it was, RELOAD and RESUME",
  madeFor: (spec) => spec.mode === 'Online' && spec.pooler !== undefined,
  staysAfterCutover: true,
  failure: () => ({
    what: 'could not resume the pooler on the source',
    left: `its databases may still be paused; what their lines pointed at is in ${CONTROL_SCHEMA}.footprint on the target, and a resume or a cancel gives them back`,
  }),
} satisfies ReversibleChange;

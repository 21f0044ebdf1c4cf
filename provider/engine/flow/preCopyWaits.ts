// The waits before a migration copies anything, each one of Azure's substates: the source's
// logical replication setup (WaitingForLogicalReplicationSetupRequestOnSourceDB), the migration
// window (WaitingForDataMigrationWindow) and the confirmation to overwrite a target database
// (WaitingForTargetDBOverwriteConfirmation), and the refusal of an overwrite of a live database.
// Each re-checks periodically, follows a cancel at once, and changes nothing on either server
// except the ALTER SYSTEM the user opted in to.
import type pg from 'pg';
import type { MigrationStatus } from '../core/model';
import { withSession } from '../connect/session';
import { retrying, RETRY_POLICIES } from '../connect/retry';
import { displayIdent, literal } from '../connect/quote';
import type { CatalogConnection } from '../control/connection';
import { canceledError, errorMessage, PgferryError } from '../core/errors';
import { streamNamesOf } from '../core/names';
import { DATABASES_WAIT, databasesWaitMessage, waitState, windowPhase, type MigrationWindow } from '../core/transitions';
import type { MigrationSpec } from '../input/migrationSpec';
import { targetDatabaseOid, targetDatabasePlan, type TargetDatabasePlan } from '../schema/database';
import { REPLICATION_SETTINGS_SQL } from '../validate/replicationSettings';
import { liveOverwriteError, liveTargetDatabases, unnamedLive } from '../validate/liveDatabases';
import { clearMessage, get, recordEvent, setState } from '../control/store';
import { migrationWindow } from '../control/migrationRequests';
import type { MigrationRun } from '../run/migrationRun';
import { outageRetry } from './outage';

/** How often a wait for the user looks again (the source restarted, the overwrite allowed). */
const RECHECK_MS = 2_000;
/** A window wait sleeps at most this long at a time, so a cancel or a clock change is seen soon. */
const WINDOW_TICK_MS = 5_000;

/** Sleeps `ms`, or throws the cancel as soon as `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(canceledError());
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(canceledError());
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** A server setting the source needs and the value pgferry would set. */
export interface SettingNeed {
  readonly setting: 'wal_level' | 'max_replication_slots' | 'max_wal_senders';
  readonly value: string;
}

/** Pure: what the source lacks to stream `needed` databases, from its current settings. */
export function logicalReplicationNeeds(
  s: { wal_level: string; max_slots: number; max_senders: number; used_slots: number },
  needed: number,
): SettingNeed[] {
  const needs: SettingNeed[] = [];
  if (s.wal_level !== 'logical') needs.push({ setting: 'wal_level', value: 'logical' });
  const slots = s.used_slots + needed;
  if (s.max_slots < slots) needs.push({ setting: 'max_replication_slots', value: String(slots) });
  if (s.max_senders < slots) needs.push({ setting: 'max_wal_senders', value: String(Math.max(slots, s.max_slots)) });
  return needs;
}

async function readNeeds(spec: MigrationSpec, instance: string | undefined): Promise<SettingNeed[]> {
  const own = spec.databases.map((d) => streamNamesOf(spec.migrationName, d, instance).slot);
  return withSession(spec.source, { purpose: 'validate' }, async (c) => {
    const { rows } = await c.query<{ wal_level: string; max_slots: number; max_senders: number; used_slots: number }>(
      REPLICATION_SETTINGS_SQL,
      [own],
    );
    return logicalReplicationNeeds(rows[0]!, spec.databases.length);
  });
}

/** ALTER SYSTEM for each need; the error when the source user may not (managed servers, no rights). */
async function alterSystem(spec: MigrationSpec, needs: readonly SettingNeed[]): Promise<string | undefined> {
  try {
    await withSession(spec.source, { purpose: 'setup logical replication', writable: true }, async (c) => {
      // the names are pgferry's constants (SettingNeed), the values numbers or 'logical'
      for (const n of needs) await c.query(`ALTER SYSTEM SET ${n.setting} = ${literal(n.value)}`);
      await c.query('SELECT pg_reload_conf()');
    });
    return undefined;
  } catch (error) {
    return errorMessage(error);
  }
}

const describe = (needs: readonly SettingNeed[]) => needs.map((n) => `${n.setting}=${n.value}`).join(', ');

/**
 * Online (migrating, not only validating), a source without what logical replication needs waits
 * in WaitingForLogicalReplicationSetupRequestOnSourceDB, as Azure's service does:
 * - with setupLogicalReplicationOnSourceDbIfNeeded, or once the user sends the setup request
 *   (`pgferry update --setup-replication`, az's flag), pgferry sets what the source lacks with ALTER
 *   SYSTEM where the source user may, then waits until the source runs with it;
 * - without either, it waits for that request or for the user to set it up, naming both ways.
 * It re-checks every RECHECK_MS. pgferry never restarts the source: these settings take effect only
 * at a restart, which is the user's to choose, and a look that meets the source restarting waits
 * for it to answer again rather than failing the migration the user was asked to restart it for.
 */
export async function setupLogicalReplication(
  spec: MigrationSpec,
  store: CatalogConnection,
  run: Pick<MigrationRun, 'signal' | 'onProgress'>,
  instance: string | undefined,
): Promise<void> {
  const { signal } = run;
  if (spec.mode !== 'Online' || spec.option === 'Validate') return;
  const name = spec.migrationName;
  const subState = 'WaitingForLogicalReplicationSetupRequestOnSourceDB';
  let asked = false;
  let altered = false;
  for (;;) {
    if (signal.aborted) throw canceledError();
    const needs = await retrying(
      RETRY_POLICIES.phase,
      () => readNeeds(spec, instance),
      outageRetry({ ...run, warn: async (message) => run.onProgress({ kind: 'warning', message }) }, "the source's replication settings"),
    );
    if (needs.length === 0) {
      if (asked || altered) {
        await recordEvent(store, name, 'info', 'the source now runs with logical replication: the migration goes on');
        await clearMessage(store, name);
      }
      return;
    }
    const setUp = spec.setupLogicalReplicationOnSourceDbIfNeeded || (await get(store, name))?.replicationSetupRequested === true;
    const steps = needs.map((n) => `ALTER SYSTEM SET ${n.setting} = ${literal(n.value)};`).join(' ');
    if (!setUp && !asked) {
      const message = `the source needs ${describe(needs)} for an online migration: let pgferry set it with \`pgferry update --name ${name} --setup-replication\` (az: update --setup-replication), or on the source run ${steps} (Azure: server parameters; Amazon RDS: rds.logical_replication = 1); then restart the source. The migration re-checks every ${RECHECK_MS / 1000} s and goes on by itself`;
      await setState(store, name, waitState(subState), subState, message);
      await recordEvent(store, name, 'warning', message);
      asked = true;
    }
    if (setUp && !altered) {
      const refused = await alterSystem(spec, needs);
      const message = refused
        ? `the source needs ${describe(needs)} and pgferry could not set it (${refused}): on the source run ${steps} (Azure: server parameters; Amazon RDS: rds.logical_replication = 1), then restart the source; the migration re-checks every ${RECHECK_MS / 1000} s and goes on by itself`
        : `pgferry set ${describe(needs)} on the source with ALTER SYSTEM: restart the source server to apply it (pgferry never restarts it); the migration re-checks every ${RECHECK_MS / 1000} s and goes on by itself`;
      await setState(store, name, waitState(subState), subState, message);
      await recordEvent(store, name, refused ? 'warning' : 'info', message);
      altered = true;
    }
    await pause(RECHECK_MS, signal);
  }
}

/**
 * Created with startDataMigration: false: after validation, waits in
 * WaitingForDataMigrationScheduling until the user starts the data migration (an update body with
 * startDataMigration: True, `pgferry update --start-data-migration`). A resume of a migration whose
 * copy had started goes on.
 */
export async function waitForDataMigrationStart(
  spec: MigrationSpec,
  store: CatalogConnection,
  signal: AbortSignal,
  copyStarted: boolean,
): Promise<void> {
  if (spec.startDataMigration || copyStarted) return;
  const name = spec.migrationName;
  const started = async () => (await get(store, name))?.dataMigrationStartRequested === true;
  if (await started()) return;
  const subState = 'WaitingForDataMigrationScheduling';
  const message = `created with startDataMigration: False: the data migration waits to be started with \`pgferry update --name ${name} --start-data-migration\`, an update body {"properties": {"startDataMigration": "True"}} or startDataMigration: true and \`pulumi up\`; nothing was copied yet`;
  await setState(store, name, waitState(subState), subState, message);
  await recordEvent(store, name, 'info', message);
  do await pause(RECHECK_MS, signal);
  while (!(await started()));
  await recordEvent(store, name, 'info', 'the data migration was started by the user');
  await clearMessage(store, name);
}

/**
 * Created without dbsToMigrate (as Azure's migration may be): waits in
 * WaitingForDBsToMigrateSpecification, changing nothing on either server, until an update names
 * the databases (apiRequests.ts nameDatabasesToMigrate); returns the spec with them. A spec that
 * names none while the catalog holds some (a resume given the properties the migration was created
 * with) takes the stored ones at once.
 */
export async function waitForDatabasesToMigrate(
  spec: MigrationSpec,
  store: CatalogConnection,
  signal: AbortSignal,
): Promise<MigrationSpec> {
  if (spec.databases.length > 0) return spec;
  const name = spec.migrationName;
  let waiting = false;
  for (;;) {
    const stored = (await get(store, name))?.databases.map((d) => d.database) ?? [];
    if (stored.length > 0) {
      if (waiting) {
        await recordEvent(store, name, 'info', `the databases to migrate were named (${stored.join(', ')}): the migration goes on`);
        await setState(store, name, 'InProgress', 'PerformingPreRequisiteSteps');
        await clearMessage(store, name);
      }
      return { ...spec, databases: stored };
    }
    if (!waiting) {
      await setState(store, name, waitState(DATABASES_WAIT), DATABASES_WAIT, databasesWaitMessage(name));
      waiting = true;
    }
    await pause(RECHECK_MS, signal);
  }
}

/**
 * With a migration window: waits (WaitingForDataMigrationWindow) until its start. A window that
 * closed before the copy started fails the migration; a copy already under way (a resume) goes on.
 */
export async function waitForWindow(
  spec: MigrationSpec,
  store: CatalogConnection,
  signal: AbortSignal,
  copyStarted: boolean,
): Promise<void> {
  let waiting = false;
  let shown = '';
  for (;;) {
    // the window as stored now: a user may move it while the migration waits (moveMigrationWindow)
    const window: MigrationWindow = await migrationWindow(store, spec.migrationName);
    const phase = windowPhase(window, Date.now());
    if (phase === 'open' || (phase === 'closed' && copyStarted)) break;
    if (phase === 'closed') {
      throw new PgferryError(
        'MIGRATION_WINDOW_MISSED',
        `the migration window closed at ${window.end} before the copy started (was its runner stopped?); nothing was copied`,
        { field: 'migrationWindowEndTimeInUtc' },
      );
    }
    if (!waiting || shown !== `${window.start}/${window.end}`) {
      shown = `${window.start}/${window.end}`;
      const subState = 'WaitingForDataMigrationWindow';
      const until = window.end ? ` (and must start before ${window.end})` : '';
      await setState(
        store,
        spec.migrationName,
        waitState(subState),
        subState,
        `waiting for the migration window: the copy starts at ${window.start}${until}`,
      );
      waiting = true;
    }
    await pause(Math.min(WINDOW_TICK_MS, Math.max(50, Date.parse(window.start!) - Date.now())), signal);
  }
  if (waiting) await clearMessage(store, spec.migrationName);
}

/** What the gate of a run reads before it changes anything (targetDatabaseGate). */
export interface TargetDatabaseGate {
  /** The migration as registered. */
  readonly status: MigrationStatus | undefined;
  /** The target databases that exist and may not be overwritten by this migration (its own, or those it may overwrite, excepted). */
  readonly blocked: readonly string[];
  /** The refusal of the first database it would overwrite that is live and not named by overwriteLiveDbsInTarget. */
  readonly refusedLive?: PgferryError;
}

/**
 * The gate of every run, with or without validation, read on the target's maintenance database
 * through the control catalog's session (a resume waits for it before its first change, and a
 * session of its own was one more connection on the way): the target databases it may not
 * replace, and the live ones among those it would overwrite (refuseLiveOverwrites says why they
 * are refused).
 */
export async function targetDatabaseGate(spec: MigrationSpec, store: CatalogConnection): Promise<TargetDatabaseGate> {
  const status = await get(store, spec.migrationName);
  return store.exclusive(async (c) => {
    const plans = await targetDatabasePlans(c, spec, status);
    const blocked = spec.databases.filter((d) => plans.get(d) === 'refuse');
    const overwritten = spec.databases.filter((d) => plans.get(d) === 'overwrite');
    if (overwritten.length === 0) return { status, blocked };
    const live = await liveTargetDatabases(c, spec, overwritten);
    const [refused] = unnamedLive(spec, live);
    return { status, blocked, ...(refused === undefined ? {} : { refusedLive: liveOverwriteError(refused, live.get(refused)!) }) };
  });
}

/** Each target database's plan (schema/database.ts targetDatabasePlan) for this run, read on `c`. */
async function targetDatabasePlans(
  c: pg.Client,
  spec: MigrationSpec,
  status: MigrationStatus | undefined,
): Promise<Map<string, TargetDatabasePlan>> {
  const overwrite = spec.overwriteDbsInTarget || status?.overwriteAllowed === true;
  const plans = new Map<string, TargetDatabasePlan>();
  for (const database of spec.databases) {
    const owned = status?.databases.find((d) => d.database === database)?.targetDatabase;
    plans.set(database, targetDatabasePlan(await targetDatabaseOid(c, database), owned, overwrite));
  }
  return plans;
}

/**
 * Refuses, before anything is changed, to overwrite a target database that is live (another
 * client's sessions, or a migration that cut over into it or writes it) unless
 * overwriteLiveDbsInTarget names it; asked again after a wait for the overwrite's confirmation
 * (the databases the run overwrites changed meanwhile).
 */
export async function refuseLiveOverwrites(spec: MigrationSpec, store: CatalogConnection): Promise<void> {
  const { refusedLive } = await targetDatabaseGate(spec, store);
  if (refusedLive) throw refusedLive;
}

/**
 * waitForOverwriteConfirmation: waits (WaitingForTargetDBOverwriteConfirmation) until the user
 * allows the overwrite (`pgferry update --overwrite-dbs-in-target`, overwriteDbsInTarget: true and
 * `pulumi up`: control/migrationRequests.ts confirmOverwrite) or drops the databases; returns whether the overwrite
 * was allowed, so the run goes on with overwriteDbsInTarget.
 */
export async function waitForOverwriteConfirmation(
  spec: MigrationSpec,
  store: CatalogConnection,
  signal: AbortSignal,
  blocked: readonly string[],
): Promise<boolean> {
  const name = spec.migrationName;
  const subState = 'WaitingForTargetDBOverwriteConfirmation';
  const list = blocked.map((d) => displayIdent(d)).join(', ');
  const message = `target database(s) ${list} exist and were not created by this migration: allow overwriting them with \`pgferry update --name ${name} --overwrite-dbs-in-target\` (Pulumi: overwriteDbsInTarget: true, then pulumi up), drop them on the target, or cancel; nothing was changed`;
  await setState(store, name, waitState(subState), subState, message);
  await recordEvent(store, name, 'warning', message);
  for (;;) {
    await pause(RECHECK_MS, signal);
    const status = await get(store, name);
    if (status?.overwriteAllowed === true) {
      await recordEvent(store, name, 'info', `overwriting ${list} was allowed: the migration goes on`);
      await clearMessage(store, name);
      return true;
    }
    if ((await targetDatabaseGate(spec, store)).blocked.length === 0) {
      await clearMessage(store, name);
      return false;
    }
  }
}

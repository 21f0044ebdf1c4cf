// The PgMigration lifecycle over the engine's public API (check, diff, create, update; read and
// delete live in read.ts and remove.ts). The serialized provider shim loads this compiled module
// inside the provider host; every migration action is an engine call, and a failure after the
// migration exists is reported as a partial failure so Pulumi keeps the resource.
import * as engine from '../engine';
import type { MigrationSpec, MigrationStatus } from '../engine';
import { withDefaults } from './defaults';
import { aliasesWritten, asWritten, databaseList, withAzureAliases } from './aliases';
import { withAzureDefaults, withAzureNativeServers } from './azureNative';
import { containsUnknown } from './unknown';
import { diffInputs, hasCutOver, sameSet, type DiffDecision } from './diff';
import {
  continueWork,
  cutover,
  cutoverOptionsOf,
  CutoverStopped,
  resume,
  isFinal,
  isWaitingForCutover,
  startWork,
  waitUntilSettled,
  type OperationOptions,
} from './drive';
import { asFailure, reachabilityHint, settle, timeoutHint } from './failures';
import { inputsOf } from './inputs';
import { completedCutovers, migrationId } from './outputs';
import { newResourceOwner, notOwnedLine, ownsMigration, resourceOwnerIn, withResourceOwner } from './ownership';
import { stdoutWriter } from './progress';
import { redactingWriter } from './redact';
import { dropAllowedAfterCutover, namedIn } from './remove';
import type { CheckFailure } from './checkFailure';
import { checkInputs, parseDuration, parseMigrationId, toMigrationSpec, wantedCutovers } from './inputSchema';
import { setAzureContext } from '../engine';
import { withRuntimeChosen } from './runtimeChoice';

export { inputsOf } from './inputs';
export { read } from './read';
export { remove } from './remove';

type Props = Record<string, unknown>;

export interface CheckResult {
  readonly inputs: Props;
  readonly failures: CheckFailure[];
}

/**
 * The inputs with the machine-independent defaults filled (mode, option, cutover, port, sslMode…),
 * so state and previews say what the migration runs with; tableJobs and indexJobs stay unset
 * (they follow the CPU count of whichever machine runs Pulumi).
 */
export async function check(olds: Props, news: Props, options: OperationOptions = {}): Promise<CheckResult> {
  // azure-native's servers (sourceDbServerResourceId, serverName, secretParameters…) as source and target
  // and Azure's defaults where they differ from pgferry's (roles, the overwrite wait)
  const servers = withAzureNativeServers(withAzureDefaults(olds, news, containsUnknown), containsUnknown);
  // azure-native's names (migrationMode, dbsToMigrate, triggerCutover…) and pgferry's: one value under both
  const aliased = withAzureAliases(servers.inputs, containsUnknown);
  const inputs = withAzureAliases(withDefaults(aliased.inputs), containsUnknown).inputs;
  // a server azure-native's inputs could not give is that failure alone, not also the spec's
  const specFailures = checkInputs(olds ?? {}, aliased.inputs).filter(
    (f) => servers.failures.length === 0 || !/^(source|target)(\.|$)/.test(f.property),
  );
  const failures = [...servers.failures, ...aliased.failures, ...specFailures];
  // runtime not given: agents when the target has one for this source, said at preview (runtimeChoice.ts)
  const placed = await withRuntimeChosen(olds ?? {}, news, inputs, failures, options.write ?? stdoutWriter);
  return { inputs: placed, failures: asWritten(failures, { ...aliasesWritten(news), ...servers.fieldNames }) };
}

/** How long the diff waits for the live state of a migration it would replace. */
const LIVE_STATE_WAIT_MS = 15_000;

/**
 * The diff rules of diff.ts. Before planning a replace of a migration whose stored state is not
 * Succeeded, the live state is read (best effort): a cutover run from the CLI since the last
 * refresh must still refuse the replace.
 */
export async function diff(_id: string, olds: Props, news: Props, options: OperationOptions = {}): Promise<DiffDecision> {
  const context = {
    dropAllowed: (name: string) => dropAllowedAfterCutover(name),
    hostChangeAllowed: (name: string) => namedIn('PGFERRY_ALLOW_HOST_CHANGE', name),
  };
  let decision = diffInputs(olds, news, context);
  if (decision.replaces.length > 0 && !hasCutOver(olds.state, olds.option) && news.allowReplaceAfterCutover !== true) {
    const liveState = await readLiveState(olds);
    if (hasCutOver(liveState, olds.option)) decision = diffInputs(olds, news, { ...context, liveState });
  }
  const write = options.write ?? stdoutWriter;
  for (const note of decision.notes) write(note);
  return decision;
}

async function readLiveState(olds: Props): Promise<string | undefined> {
  try {
    const spec = toMigrationSpec(inputsOf(olds));
    const timeout = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), LIVE_STATE_WAIT_MS).unref());
    const status = await Promise.race([engine.showMigration(spec.target, spec.migrationName), timeout]);
    return status?.state;
  } catch {
    return undefined; // unreachable or unreadable: the stored state decides
  }
}

function timeoutOf(inputs: Props, op: 'create' | 'update' | 'delete'): number | undefined {
  const timeouts = inputs.customTimeouts as Record<string, string | undefined> | undefined;
  return parseDuration(timeouts?.[op]);
}

/** The spec with the databases in the order the catalog holds them (resume compares positions). */
function inStoredOrder(inputs: Props, status: MigrationStatus): MigrationSpec {
  const stored = status.spec.databases;
  // none stored: it waits for them, and the inputs say whether they name them now
  if (!Array.isArray(stored) || stored.length === 0) return toMigrationSpec(inputs);
  const databases = sameSet(stored, inputs.databases) ? stored : inputs.databases;
  return toMigrationSpec({ ...inputs, databases });
}

export async function create(inputs: Props, options: OperationOptions = {}): Promise<{ id: string; outs: Props }> {
  let spec = toMigrationSpec(inputs);
  const id = migrationId(spec);
  const timeoutMs = timeoutOf(inputs, 'create');
  const write = redactingWriter(spec, options.write ?? stdoutWriter);

  // A migration found under the name is adopted only when the program says so (the import
  // option), as Pulumi adopts only by import: a resource renamed without an alias, another stack
  // or the CLI made it, and a create that took it silently would let its maker's delete cancel it.
  const existing = await engine.showMigration(spec.target, spec.migrationName).catch((error: unknown) => {
    throw reachabilityHint(error, spec);
  });
  checkAdoption(inputs, spec, existing);
  // this resource's id, in its state (every output, partial failures too) and in the catalog
  const owner = newResourceOwner();
  const owned = withResourceOwner(inputs, owner);
  let status: MigrationStatus;
  try {
    if (existing) {
      write(
        `${spec.migrationName}: adopting the existing migration (${existing.state}/${existing.subState}); it is this resource's from now on`,
      );
      await engine.adoptMigration(spec.target, spec.migrationName, owner);
      spec = inStoredOrder(inputs, existing);
      status = await continueWork(spec, existing, timeoutMs, options);
    } else {
      const thenCutover = spec.mode === 'Online' && inputs.cutover === true;
      status = await startWork(spec, timeoutMs, options, { resourceOwner: owner, thenCutover });
    }
    if (!existing) await recordAzureContext(spec, inputs, options);
    if (spec.mode === 'Online' && inputs.cutover === true && isWaitingForCutover(status)) {
      status = await cutover(spec, timeoutMs, options);
    }
  } catch (error) {
    const recorded = error instanceof CutoverStopped ? { ...owned, cutover: false } : owned;
    throw await asFailure(spec, recorded, timeoutHint(error, spec, 'create', timeoutMs), 'create');
  }
  return { id, outs: settle(spec, owned, status) };
}

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/**
 * azure-native's inputs that pgferry records without acting on them, kept in the catalog beside the
 * migration (as `pgferry create` keeps az's), so `pgferry show` prints the same ARM id and properties.
 */
async function recordAzureContext(spec: MigrationSpec, inputs: Props, options: OperationOptions): Promise<void> {
  const runtime = text(inputs.migrationInstanceResourceId) ?? text(inputs.migrationRuntimeResourceId);
  const tags = inputs.tags !== null && typeof inputs.tags === 'object' ? (inputs.tags as Record<string, string>) : undefined;
  const context: engine.AzureContext = {
    ...(text(inputs.subscriptionId) ? { subscription: text(inputs.subscriptionId) } : {}),
    ...(text(inputs.resourceGroupName) ? { resourceGroup: text(inputs.resourceGroupName) } : {}),
    ...((text(inputs.serverName) ?? text(inputs.targetDbServerName))
      ? { server: text(inputs.serverName) ?? text(inputs.targetDbServerName) }
      : {}),
    ...(text(inputs.sourceType) ? { sourceType: text(inputs.sourceType) } : {}),
    ...(runtime ? { migrationInstanceResourceId: runtime } : {}),
    ...(text(inputs.location) ? { location: text(inputs.location) } : {}),
    ...(tags ? { tags } : {}),
    migrateRoles: spec.migrateRoles,
  };
  if (runtime) {
    (options.write ?? stdoutWriter)(
      `${spec.migrationName}: migrationInstanceResourceId recorded, not used: pgferry runs the migration where pulumi up runs (runtime: agents runs it on pgferry agent workers near the target)`,
    );
  }
  const store = engine.openControlCatalog(spec.target);
  try {
    await setAzureContext(store, spec.migrationName, context);
  } finally {
    await store.close();
  }
}

/**
 * Refuses to record someone else's migration (adopted only with importId, and only with the same
 * spec), and (importId) to start one where one was expected.
 */
function checkAdoption(inputs: Props, spec: MigrationSpec, existing: MigrationStatus | undefined): void {
  const importId = typeof inputs.importId === 'string' ? inputs.importId : undefined;
  if (importId !== undefined) {
    const parsed = parseMigrationId(importId);
    const same =
      parsed && parsed.host === spec.target.host && parsed.port === spec.target.port && parsed.migrationName === spec.migrationName;
    if (!same) {
      throw new Error(
        `importId: "${importId}" is not the id of these inputs (${migrationId(spec)}: target host:port/migrationName); import names the migration the inputs describe`,
      );
    }
    if (!existing) {
      throw new Error(
        `importId: no migration "${spec.migrationName}" on ${spec.target.host}:${spec.target.port} to import; nothing was started (remove the import option to create it)`,
      );
    }
  }
  if (existing && !engine.sameMigration(existing, spec)) {
    throw new Error(
      `migrationName: migration "${spec.migrationName}" already exists on the target with a different spec (${existing.state}); choose another migrationName, or remove the existing one`,
    );
  }
  if (existing && importId === undefined) {
    throw new Error(
      `migrationName: migration "${spec.migrationName}" already exists on the target (${existing.state}/${existing.subState}) and this resource did not create it (another PgMigration, one renamed without an alias, or the CLI did); nothing was changed: give a renamed resource an alias to its old name, or take the migration over with the import option ({ import: "${migrationId(spec)}" }; its earlier resource's delete then leaves it), or choose another migrationName`,
    );
  }
}

export async function update(_id: string, _olds: Props, news: Props, options: OperationOptions = {}): Promise<{ outs: Props }> {
  let spec = toMigrationSpec(news);
  // the outputs keep this resource's id from its state
  const owned = withResourceOwner(news, resourceOwnerIn(_olds));
  const timeoutMs = timeoutOf(news, 'update');
  const write = redactingWriter(spec, options.write ?? stdoutWriter);
  let status: MigrationStatus | undefined;
  try {
    status = await migrationToUpdate(spec, _olds);
    // created without dbsToMigrate and waiting for them: the databases now given are named (Azure's
    // PATCH of dbsToMigrate), then the runner goes on with them
    if (status.databases.length === 0 && spec.databases.length > 0 && !isFinal(status)) {
      const field = Array.isArray(news.dbsToMigrate) ? 'dbsToMigrate' : 'databases';
      write(`${spec.migrationName}: databases to migrate named: ${spec.databases.join(', ')}`);
      await engine.nameDatabasesToMigrate(spec.target, spec.migrationName, spec.databases, field);
      status = await engine.leftWait(spec.target, spec.migrationName, 'WaitingForDBsToMigrateSpecification');
    }
    spec = inStoredOrder(news, status);
    // a moved window: a migration still waiting for its window starts in the new one
    const window = (p: Props) => JSON.stringify([p.migrationWindowStartTimeInUtc ?? null, p.migrationWindowEndTimeInUtc ?? null]);
    if (window(news) !== window(_olds)) {
      status = await engine.moveMigrationWindow(spec.target, spec.migrationName, {
        start: spec.migrationWindowStartTimeInUtc,
        end: spec.migrationWindowEndTimeInUtc,
      });
    }
    status = await answerWaits(spec, news, status);
    // cancel: true cancels the whole migration, or with dbsToCancelMigrationOn only those databases
    const canceled = await cancelRequested(spec, news, status, timeoutMs, options);
    // the cancel this update asked for is its success, as Azure's PATCH of `cancel` is
    if (canceled) return { outs: settle(spec, owned, canceled, { canceledOnRequest: true }) };
    // triggerCutover with dbsToTriggerCutoverOn cuts over those databases only (Azure's
    // MigrationProperties: "when you want to trigger cutover for specific databases set
    // triggerCutover to True and the names of the specific databases in this array"), as the CLI
    // and an Azure update body do; the list alone does the same
    const listed = databaseList(news.dbsToTriggerCutoverOn);
    // `pulumi up` cuts over while fewer cutovers were made than the program asks for: the first by
    // cutover: true, one more after a fall-back with resumeForward by raising cutoverCount; a
    // migration that streams forward again is never cut over again by the inputs of the first
    // (docs/fallback.md)
    const wanted = wantedCutovers(news);
    const cutoverInputs = (completedCutovers(status) ?? 0) < wanted;
    const wantsCutover = cutoverInputs && news.cutover === true && (listed === undefined || listed.length === 0);
    const asksCutover = spec.mode === 'Online' && cutoverInputs && (wantsCutover || listed !== undefined);
    // A retry after a partial failure, an interrupted run or a dead runner: drive it to where create
    // stops; with agents only a cutover waits for the stream
    status = await continueWork(spec, status, timeoutMs, options, asksCutover);
    // cut over with a fallback window whose runner is gone: the reverse stream must go on (agents take it up themselves)
    if (keepsAWindow(status) && engine.runnerGone(status) && spec.runtime !== 'agents') {
      write(`${spec.migrationName}: no runner keeps the fallback window; restarting it`);
      await resume(spec);
      status = (await engine.showMigration(spec.target, spec.migrationName)) ?? status;
    }
    const some = listed?.filter((d) => !doneDatabase(status!, d));
    if (spec.mode === 'Online' && cutoverInputs && some && some.length > 0 && isWaitingForCutover(status)) {
      status = await cutoverDatabases(spec, some, timeoutMs, options);
    }
    // cutover: true without a list (the whole migration) also retries a cutover whose earlier update failed part-way.
    if (spec.mode === 'Online' && wantsCutover && isWaitingForCutover(status)) {
      status = await cutover(spec, timeoutMs, options);
    } else if (spec.mode === 'Online' && wantsCutover && !isFinal(status) && status.subState === 'CompletingMigration') {
      status = await waitUntilSettled(spec, timeoutMs, options, 'cutover');
    }
    // the fall-back applies to the newest cutover: none while the one asked by cutoverCount is not made
    if (news.fallBack === true && spec.mode === 'Online' && (completedCutovers(status) ?? 0) >= wanted) {
      status = await fallBack(spec, status, timeoutMs, options, news.resumeForward === true);
    }
  } catch (error) {
    if (error instanceof NotOwned) throw error;
    // a cutover (or a fall-back) that stopped is recorded as not done, so the next `pulumi up` asks for it again
    const recorded =
      error instanceof CutoverStopped
        ? {
            ...owned,
            cutover: _olds.cutover ?? false,
            dbsToTriggerCutoverOn: _olds.dbsToTriggerCutoverOn,
            cutoverCount: _olds.cutoverCount,
          }
        : error instanceof FallBackStopped
          ? { ...owned, fallBack: _olds.fallBack ?? false, resumeForward: _olds.resumeForward }
          : owned;
    throw await asFailure(spec, recorded, timeoutHint(error, spec, 'update', timeoutMs), 'update');
  }
  return { outs: settle(spec, owned, status) };
}

/** An update of a migration another resource owns: refused with nothing changed, state kept as it was. */
class NotOwned extends Error {
  override readonly name = 'NotOwned';
}

/**
 * Azure's PATCH of the inputs a migration waits for: overwriteDbsInTarget true answers the overwrite
 * confirmation, the setup flag the replication setup, startDataMigration the scheduling.
 */
async function answerWaits(spec: MigrationSpec, news: Props, waiting: MigrationStatus): Promise<MigrationStatus> {
  let status = waiting;
  // overwriteDbsInTarget: true answers a migration waiting for that confirmation (as Azure's PATCH)
  if (news.overwriteDbsInTarget === true && status.subState === 'WaitingForTargetDBOverwriteConfirmation') {
    await engine.confirmOverwrite(spec.target, spec.migrationName);
    // the runner looks every 2 s: until it has left the wait, a run's wait would end at once
    status = await engine.leftWait(spec.target, spec.migrationName, 'WaitingForTargetDBOverwriteConfirmation');
  }
  // Azure's PATCH of the setup flag and of startDataMigration answers a migration waiting for it
  if (news.setupLogicalReplicationOnSourceDbIfNeeded === true && status.subState === 'WaitingForLogicalReplicationSetupRequestOnSourceDB') {
    status = await engine.requestReplicationSetup(spec.target, spec.migrationName);
  }
  if (
    news.startDataMigration !== false &&
    status.subState === 'WaitingForDataMigrationScheduling' &&
    status.spec.startDataMigration === false
  ) {
    await engine.requestDataMigrationStart(spec.target, spec.migrationName);
    // the runner looks every 2 s: once it has left the wait, driving it on waits for the copy
    status = await engine.leftWait(spec.target, spec.migrationName, 'WaitingForDataMigrationScheduling');
  }
  return status;
}

/** The migration an update acts on: still on the target, and this resource's own. */
async function migrationToUpdate(spec: MigrationSpec, olds: Props): Promise<MigrationStatus> {
  const status = await engine.showMigration(spec.target, spec.migrationName);
  if (!status) {
    throw new Error(
      `migration "${spec.migrationName}" is not on the target any more; run \`pulumi refresh\` and then \`pulumi up\` to create it again`,
    );
  }
  // another resource adopted it: this one changes nothing (a plain error: its state stays as it was)
  if (!(await ownsMigration(spec, olds)).owns) {
    throw new NotOwned(`${notOwnedLine(spec, 'update refused')}; remove this resource from the program (its delete leaves the migration)`);
  }
  return status;
}

/** A fall-back refused or stopped: the update fails with why, and fallBack is recorded as not done. */
class FallBackStopped extends Error {
  override readonly name = 'FallBackStopped';
}

/** Succeeded, with a fallback window whose reverse stream (or fall-back) still needs a runner. */
function keepsAWindow(status: MigrationStatus): boolean {
  const live = new Set(['Open', 'Stopped', 'FallingBack']);
  return status.state === 'Succeeded' && status.databases.some((d) => d.fallback !== undefined && live.has(d.fallback.state));
}

/**
 * fallBack: true (docs/fallback.md): asked once, unless every window fell back already, then waited
 * for; a fall-back that stops (a difference found, the reverse stream stopped) fails the update with
 * its reason, recorded as not done so the next `pulumi up` asks again. With resumeForward (as
 * `--resume-forward`) it waits on until the migration streams forward again.
 */
async function fallBack(
  spec: MigrationSpec,
  status: MigrationStatus,
  timeoutMs: number | undefined,
  options: OperationOptions,
  resumeForward: boolean,
): Promise<MigrationStatus> {
  const fellBack = (s: MigrationStatus) =>
    s.databases.some((d) => d.fallback) && s.databases.every((d) => !d.fallback || d.fallback.state === 'FellBack');
  if (fellBack(status)) return status;
  const asked = status.databases.some((d) => d.fallback?.state === 'FallingBack' || d.fallback?.fallBackRequested === true);
  if (!asked) {
    (options.write ?? stdoutWriter)(`${spec.migrationName}: fall-back requested${resumeForward ? ', then the forward stream again' : ''}`);
    try {
      await engine.requestFallBack(spec.target, spec.migrationName, { resumeForward });
    } catch (error) {
      // refused (a stopped reverse stream, no window): said as the engine says it, asked again next time
      throw new FallBackStopped(error instanceof Error ? error.message : String(error));
    }
  }
  const after = await engine.waitForMigration(spec.target, spec.migrationName, engine.fallBackSettled, {
    intervalMs: options.intervalMs ?? 1000,
    timeoutMs,
  });
  if (!fellBack(after)) {
    const why = after.databases.find((d) => d.fallback && d.fallback.state !== 'FellBack')?.fallback?.message;
    throw new FallBackStopped(`fall-back did not complete: ${why ?? 'see pgferry show'}`);
  }
  if (!resumeForward) return after;
  // fell back; the runner switches the migration back to streaming forward (or is gone: resumed
  // later), through InProgress: waited for in whichever state the fall-back's wait saw last
  return engine.waitForMigration(spec.target, spec.migrationName, engine.forwardAgainSettled, {
    intervalMs: options.intervalMs ?? 1000,
    timeoutMs,
  });
}

/** Whether a database was cut over or canceled already (a repeated per-database input does nothing more). */
function doneDatabase(status: MigrationStatus, database: string): boolean {
  const d = status.databases.find((x) => x.database === database);
  return d !== undefined && engine.isDatabaseDone(d.state);
}

/**
 * cancel: true (the whole migration) or dbsToCancelMigrationOn (some databases, the others stream
 * on): requested, then waited for. Returns the final status of a whole cancel, else undefined.
 */
async function cancelRequested(
  spec: MigrationSpec,
  news: Props,
  status: MigrationStatus,
  timeoutMs: number | undefined,
  options: OperationOptions,
): Promise<MigrationStatus | undefined> {
  if (isFinal(status)) return undefined;
  const write = options.write ?? stdoutWriter;
  const listed = databaseList(news.dbsToCancelMigrationOn);
  if (news.cancel === true && (listed === undefined || listed.length === 0)) {
    write(`${spec.migrationName}: cancel requested`);
    await engine.cancelMigration(spec.target, spec.migrationName, { spec });
    return waitUntilSettled(spec, timeoutMs, options, 'cancel');
  }
  const some = listed?.filter((d) => !doneDatabase(status, d));
  if (!some || some.length === 0) return undefined;
  write(`${spec.migrationName}: cancel of ${some.join(', ')} requested; the other databases go on`);
  await engine.cancelMigration(spec.target, spec.migrationName, { spec, databases: some });
  const done = (s: MigrationStatus) => isFinal(s) || some.every((d) => doneDatabase(s, d));
  const after = await engine.waitForMigration(spec.target, spec.migrationName, done, { intervalMs: options.intervalMs ?? 1000, timeoutMs });
  return isFinal(after) ? after : undefined;
}

/** dbsToTriggerCutoverOn: those databases cut over, the others stream on; waits until they are Succeeded. */
async function cutoverDatabases(
  spec: MigrationSpec,
  databases: readonly string[],
  timeoutMs: number | undefined,
  options: OperationOptions,
): Promise<MigrationStatus> {
  const write = options.write ?? stdoutWriter;
  write(`${spec.migrationName}: cutover of ${databases.join(', ')} requested; the other databases stream on`);
  await engine.requestCutover(spec.target, spec.migrationName, databases, cutoverOptionsOf(spec));
  const done = (s: MigrationStatus) =>
    isFinal(s) || engine.waitingForApplyFix(s) || engine.cutoverStopped(s, databases) || databases.every((d) => doneDatabase(s, d));
  const status = await engine.waitForMigration(spec.target, spec.migrationName, done, {
    intervalMs: options.intervalMs ?? 1000,
    timeoutMs,
  });
  if (engine.cutoverStopped(status, databases)) {
    throw new CutoverStopped(`cutover of ${databases.join(', ')} did not complete: ${status.message ?? 'see pgferry show'}`);
  }
  return status;
}

// The PgMigration lifecycle over the engine's public API (check, diff, create, read, update,
// delete). The serialized provider shim loads this compiled module inside the provider host;
// every migration action is an engine call, and a failure after the migration exists is
// reported as a partial failure so Pulumi keeps the resource.
import * as engine from '../engine';
import type { MigrationSpec, MigrationStatus } from '../engine';
import { diffInputs } from './diff';
import {
  continueWork,
  cutover,
  isFinal,
  isStale,
  isWaitingForCutover,
  resume,
  startWork,
  waitUntilSettled,
  type OperationOptions,
} from './drive';
import { asFailure, settle, timeoutHint } from './failures';
import { migrationId, migrationOutputs } from './outputs';
import { stdoutWriter } from './progress';
import { redact, redactingWriter } from './redact';
import { checkInputs, parseDuration, toMigrationSpec, type CheckFailure } from './schema';

type Props = Record<string, unknown>;

/** The property names of the inputs: the engine spec's fields plus the Pulumi-only ones. */
const INPUT_KEYS = [...Object.keys(engine.migrationSpecSchema.shape), 'cutover', 'dropTargetDatabasesOnDelete', 'customTimeouts'];

/** The inputs inside stored outputs (read and delete receive only the outputs). */
export function inputsOf(outputs: Props): Props {
  return Object.fromEntries(Object.entries(outputs).filter(([k]) => INPUT_KEYS.includes(k)));
}

export interface CheckResult {
  readonly inputs: Props;
  readonly failures: CheckFailure[];
}

export async function check(olds: Props, news: Props): Promise<CheckResult> {
  // The inputs are returned as given: defaults (tableJobs follows the CPU count) stay out of
  // state so that the same program diffs clean from any machine.
  return { inputs: news, failures: checkInputs(olds ?? {}, news) };
}

export async function diff(_id: string, olds: Props, news: Props) {
  return diffInputs(olds, news);
}

function timeoutOf(inputs: Props, op: 'create' | 'update' | 'delete'): number | undefined {
  const timeouts = inputs.customTimeouts as Record<string, string | undefined> | undefined;
  return parseDuration(timeouts?.[op]);
}

function sameSpec(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Props)[k])]),
    );
  }
  return value;
}

export async function create(inputs: Props, options: OperationOptions = {}): Promise<{ id: string; outs: Props }> {
  const spec = toMigrationSpec(inputs);
  const id = migrationId(spec);
  const timeoutMs = timeoutOf(inputs, 'create');
  const write = redactingWriter(spec, options.write ?? stdoutWriter);

  // Idempotent create: an interrupted `pulumi up` left this migration; adopt it. A different
  // spec under the name belongs to someone else and must not be recorded as ours.
  const existing = await engine.showMigration(spec.target, spec.migrationName);
  if (existing && !sameSpec(existing.spec, engine.publicSpec(spec))) {
    throw new Error(
      `migrationName: migration "${spec.migrationName}" already exists on the target with a different spec (${existing.state}); choose another migrationName, or remove the existing one`,
    );
  }
  let status: MigrationStatus;
  try {
    if (existing) {
      write(`${spec.migrationName}: adopting the existing migration (${existing.state}/${existing.subState})`);
      status = await continueWork(spec, existing, timeoutMs, options);
    } else {
      status = await startWork(spec, timeoutMs, options);
    }
    if (spec.mode === 'Online' && inputs.cutover === true && isWaitingForCutover(status)) {
      status = await cutover(spec, timeoutMs, options);
    }
  } catch (error) {
    throw await asFailure(spec, inputs, timeoutHint(error, spec, 'create', timeoutMs), 'create');
  }
  return { id, outs: settle(spec, inputs, status) };
}

export async function read(id: string, props: Props, options: OperationOptions = {}): Promise<{ id: string; props: Props }> {
  const inputs = inputsOf(props);
  const spec = toMigrationSpec(inputs);
  let status = await engine.showMigration(spec.target, spec.migrationName);
  // Gone from the target's catalog: an empty id tells Pulumi the resource no longer exists.
  if (!status) return { id: '', props: {} };
  if (isStale(status)) {
    const write = redactingWriter(spec, options.write ?? stdoutWriter);
    write(`${spec.migrationName}: the runner stopped; restarting it`);
    await resume(spec);
    status = (await engine.showMigration(spec.target, spec.migrationName)) ?? status;
  }
  return { id, props: migrationOutputs(inputs, status) };
}

export async function update(id: string, _olds: Props, news: Props, options: OperationOptions = {}): Promise<{ outs: Props }> {
  void id;
  const spec = toMigrationSpec(news);
  const timeoutMs = timeoutOf(news, 'update');
  let status: MigrationStatus | undefined;
  try {
    status = await engine.showMigration(spec.target, spec.migrationName);
    if (!status) {
      throw new Error(
        `migration "${spec.migrationName}" is not on the target any more; run \`pulumi refresh\` and then \`pulumi up\` to create it again`,
      );
    }
    // A retry after a partial failure or an interrupted run: drive it to where create stops.
    status = await continueWork(spec, status, timeoutMs, options);
    // cutover: true also retries a cutover whose earlier update failed part-way.
    const wantsCutover = news.cutover === true;
    if (spec.mode === 'Online' && wantsCutover && isWaitingForCutover(status)) {
      status = await cutover(spec, timeoutMs, options);
    } else if (spec.mode === 'Online' && wantsCutover && !isFinal(status) && status.subState === 'CompletingMigration') {
      status = await waitUntilSettled(spec, timeoutMs, options, isFinal);
    }
  } catch (error) {
    throw await asFailure(spec, news, timeoutHint(error, spec, 'update', timeoutMs), 'update');
  }
  return { outs: settle(spec, news, status) };
}

const DEFAULT_DELETE_WAIT_MS = 5 * 60_000;

export async function remove(id: string, props: Props, options: OperationOptions = {}): Promise<void> {
  void id;
  const inputs = inputsOf(props);
  const spec = toMigrationSpec(inputs);
  const write = redactingWriter(spec, options.write ?? stdoutWriter);
  try {
    let status = await engine.showMigration(spec.target, spec.migrationName);
    if (status && !isFinal(status)) {
      write(`${spec.migrationName}: canceling (${status.state}/${status.subState})`);
      try {
        // a stopped runner's cancel is carried out here, with the source credentials of the inputs
        status = await engine.cancelMigration(spec.target, spec.migrationName, { spec });
      } catch (error) {
        if (!(engine.isPgferryError(error) && error.code === 'MIGRATION_FINISHED')) throw error;
      }
      // Run in a provider host that is gone (no runner recorded): restarted, it sees the recorded
      // cancel request, drops its slot and publication and ends Canceled.
      if (status.runner === undefined) {
        write(`${spec.migrationName}: no runner holds the migration; restarting it to carry out the cancel`);
        await resume(spec);
      }
      await waitUntilSettled(spec, timeoutOf(inputs, 'delete') ?? DEFAULT_DELETE_WAIT_MS, options, isFinal);
    }
    if (spec.mode === 'Online') {
      // Idempotent: also covers a slot left by a runner that crashed before recording it.
      write(`${spec.migrationName}: removing replication slots and publications on the source`);
      await engine.cleanupSource(spec);
    }
    if (inputs.dropTargetDatabasesOnDelete === true) {
      write(`${spec.migrationName}: dropping the target databases (dropTargetDatabasesOnDelete)`);
      const { dropped, kept } = await engine.dropTargetDatabases(spec);
      if (dropped.length > 0) write(`${spec.migrationName}: dropped ${dropped.join(', ')}`);
      for (const k of kept) write(`${spec.migrationName}: kept database "${k.database}": ${k.reason}`);
    }
    await engine.removeMigration(spec.target, spec.migrationName);
  } catch (error) {
    // the cause is not kept: its message may carry what redact() removed
    // eslint-disable-next-line preserve-caught-error
    throw new Error(redact(`delete: ${engine.errorMessage(error)}`, spec));
  }
}

/** Parses stored outputs the way read/delete do (used by tests and the CLI-side tooling). */
export function specFromOutputs(outputs: Props): MigrationSpec {
  return toMigrationSpec(inputsOf(outputs));
}

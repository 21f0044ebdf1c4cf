// `pulumi destroy` (and the delete half of a replace): cancel a migration in progress, remove what
// it made on the source, and forget it; a migration another resource owns is left as it is. A migration that has cut over keeps its target databases
// even with dropTargetDatabasesOnDelete, unless the operation itself names it (see below).
import * as engine from '../engine';
import type { MigrationSpec, MigrationStatus } from '../engine';
import { hasCutOver } from './diff';
import { isFinal, resume, waitUntilSettled, type OperationOptions } from './drive';
import { inputsOf } from './inputs';
import { notOwnedLine, ownsMigration } from './ownership';
import { stdoutWriter, type LineWriter } from './progress';
import { redact, redactingWriter } from './redact';
import { parseDuration, toMigrationSpec } from './inputSchema';

type Props = Record<string, unknown>;

/**
 * Delete sees only the stored outputs, never the program's inputs, so the opt-in to drop the
 * databases of a migration that has cut over travels with the operation instead: this variable,
 * in the environment of that `pulumi destroy` / `pulumi up`, listing migration names.
 */
const DROP_AFTER_CUTOVER_ENV = 'PGFERRY_ALLOW_DROP_AFTER_CUTOVER';

/** Whether an environment variable of this operation names `migrationName` (comma- or space-separated list). */
export function namedIn(variable: string, migrationName: string, env: NodeJS.ProcessEnv = process.env): boolean {
  return (env[variable] ?? '').split(/[\s,]+/).includes(migrationName);
}

/** Whether this operation's environment names `migrationName` in PGFERRY_ALLOW_DROP_AFTER_CUTOVER. */
export function dropAllowedAfterCutover(migrationName: string, env: NodeJS.ProcessEnv = process.env): boolean {
  return namedIn(DROP_AFTER_CUTOVER_ENV, migrationName, env);
}

const DEFAULT_DELETE_WAIT_MS = 5 * 60_000;

export async function remove(id: string, props: Props, options: OperationOptions = {}): Promise<void> {
  void id;
  const inputs = inputsOf(props);
  const spec = toMigrationSpec(inputs);
  const write = redactingWriter(spec, options.write ?? stdoutWriter);
  try {
    const status = await engine.showMigration(spec.target, spec.migrationName);
    // Another resource adopted it (a rename without an alias: the new resource's create ran
    // first), or it was never this one's: Pulumi forgets this resource, the migration goes on.
    if (status && !(await ownsMigration(spec, props)).owns) {
      write(notOwnedLine(spec, 'delete'));
      return;
    }
    if (status && !isFinal(status)) await cancel(spec, status, inputs, options, write);
    if (spec.mode === 'Online') {
      // Idempotent: also covers a slot left by a runner that crashed before recording it.
      write(`${spec.migrationName}: removing replication slots and publications on the source`);
      await engine.cleanupSource(spec);
    }
    if (inputs.dropTargetDatabasesOnDelete === true) await dropTargets(spec, status?.state ?? props.state, write);
    await engine.removeMigration(spec.target, spec.migrationName);
  } catch (error) {
    // the cause is not kept: its message may carry what redact() removed
    // eslint-disable-next-line preserve-caught-error
    throw new Error(redact(`delete: ${engine.errorMessage(error)}`, spec));
  }
}

async function cancel(
  spec: MigrationSpec,
  status: MigrationStatus,
  inputs: Props,
  options: OperationOptions,
  write: LineWriter,
): Promise<void> {
  write(`${spec.migrationName}: canceling (${status.state}/${status.subState})`);
  try {
    // a stopped runner's cancel is carried out here, with the source credentials of the inputs
    await engine.cancelMigration(spec.target, spec.migrationName, { spec });
  } catch (error) {
    if (!(engine.isPgferryError(error) && error.code === 'MIGRATION_FINISHED')) throw error;
  }
  // Run in a provider host that is gone (no runner recorded): restarted, it sees the recorded
  // cancel request, drops its slot and publication and ends Canceled.
  if (status.runner === undefined && status.runtime !== 'agents') {
    write(`${spec.migrationName}: no runner holds the migration; restarting it to carry out the cancel`);
    await resume(spec);
  }
  const timeouts = inputs.customTimeouts as Record<string, string | undefined> | undefined;
  await waitUntilSettled(spec, parseDuration(timeouts?.delete) ?? DEFAULT_DELETE_WAIT_MS, options, 'cancel');
}

/** dropTargetDatabasesOnDelete, except for a migration that has cut over unless this operation names it. */
async function dropTargets(spec: MigrationSpec, state: unknown, write: LineWriter): Promise<void> {
  const name = spec.migrationName;
  if (hasCutOver(state, spec.option) && !dropAllowedAfterCutover(name)) {
    write(
      `${name}: kept the target databases ${spec.databases.join(', ')}: the migration has cut over, so dropTargetDatabasesOnDelete applies only when ${DROP_AFTER_CUTOVER_ENV}=${name} is set for the command that deletes it`,
    );
    return;
  }
  write(`${name}: dropping the target databases ${spec.databases.join(', ')} that it created (dropTargetDatabasesOnDelete)`);
  // the engine drops only databases whose OIDs it recorded creating; this operation's opt-in covers a cut-over migration
  const { dropped, kept } = await engine.dropTargetDatabases(spec, { afterCutover: true });
  if (dropped.length > 0) write(`${name}: dropped ${dropped.join(', ')}`);
  for (const k of kept) write(`${name}: kept database ${engine.displayIdent(k.database)}: ${k.reason}`);
}

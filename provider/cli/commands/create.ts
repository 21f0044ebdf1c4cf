// `pgferry create` and `pgferry resume`: validate the file and flags before touching any server,
// then hand the migration to a detached runner, optionally waiting for its outcome.
import { PgferryError, resumeMigration, showMigration, startMigration, type MigrationSpec } from '../../engine';
import type { CliArgs } from '../args';
import { loadProperties } from '../files';
import { renderStatus, statusJson, writeJson, writeOut } from '../output';
import { specFromProperties } from '../properties';
import { registerServerSecrets } from '../secrets';
import { onTarget, propertyFlags } from '../target';
import { waitDone, waitExitCode, waitWithProgress } from '../wait';

async function specFromArgs(args: CliArgs): Promise<MigrationSpec> {
  const body = await loadProperties(args.properties!);
  const spec = specFromProperties(body, propertyFlags(args));
  registerServerSecrets(spec.source, spec.target);
  return spec;
}

/** After the runner started: print the status now, or wait for the outcome and print that. */
async function report(spec: MigrationSpec, args: CliArgs, history: boolean): Promise<number> {
  const status = await onTarget(spec.target, async () =>
    args.wait
      ? waitWithProgress(spec.target, spec.migrationName, waitDone('run', spec.mode, spec.option), { history })
      : showMigration(spec.target, spec.migrationName),
  );
  if (!status) {
    throw new PgferryError('MIGRATION_NOT_FOUND', `migration "${spec.migrationName}" was started but is not in the target's catalog`, {
      category: 'internal',
    });
  }
  if (args.output === 'json') writeJson(statusJson(status));
  else writeOut(renderStatus(status));
  return args.wait ? waitExitCode('run', status) : 0;
}

export async function createCommand(args: CliArgs): Promise<number> {
  const spec = await specFromArgs(args);
  // Registering and spawning talk only to the target; the runner reaches the source.
  await onTarget(spec.target, () => startMigration(spec));
  return report(spec, args, true);
}

export async function resumeCommand(args: CliArgs): Promise<number> {
  // A migration resumes as it was created: mode and option come from its record, so the file that
  // `create --mode online` was given resumes it unchanged (issue 14: it was refused as another spec).
  const body = await loadProperties(args.properties!);
  const target = specFromProperties(body, propertyFlags(args)).target;
  registerServerSecrets(target);
  const stored = await onTarget(target, () => showMigration(target, args.name!));
  const spec = specFromProperties(body, { ...propertyFlags(args), mode: stored?.mode, option: stored?.option });
  registerServerSecrets(spec.source, spec.target);
  await onTarget(spec.target, () => resumeMigration(spec));
  return report(spec, args, false);
}

// `pgferry create` and `pgferry resume`: validate the file and flags before touching any server,
// then hand the migration to a detached runner, optionally waiting for its outcome.
import {
  inputError,
  openControlCatalog,
  PgferryError,
  resumeMigration,
  showMigration,
  startMigration,
  type AzureContext,
  type MigrationSpec,
  setAzureContext,
} from '../../engine';
import { serverNameOf } from '../../azure/serverName';
import { isObject, specFromProperties, targetFromInputs } from '../input/body';
import { propertyFlags, type CliArgs } from '../input/parse';
import { info, warn } from '../log';
import { migrationResult, printResult } from '../result';
import { registerServerSecrets } from '../secrets';
import { describeTarget, onTarget } from '../target';
import { waitDone, waitExitCode, waitWithProgress } from '../wait';

function specFromArgs(args: CliArgs): { spec: MigrationSpec; body: unknown } {
  const body = args.body;
  const spec = specFromProperties(body, propertyFlags(args));
  refuseServerAsMigrationName(args, spec);
  registerServerSecrets(spec.source, spec.target, spec.pooler);
  describeTarget(args, spec.target);
  return { spec, body };
}

/**
 * `create --name SERVER` without --migration-name is az's older form: az before 2.86 read --name as
 * the server and named the migration with a new UUID (azure-cli's migration_create_func:
 * `migration_name = str(uuid.uuid4())`). pgferry reads --name alone as the migration (az 2.86+);
 * when it is the name of the target server itself, that reading is surely not what was meant.
 */
function refuseServerAsMigrationName(args: CliArgs, spec: MigrationSpec): void {
  if (args.nameFlag !== '--name' || args.server !== undefined || args.name === undefined) return;
  if (serverNameOf(spec.target.host).toLowerCase() !== args.name.toLowerCase()) return;
  throw inputError(
    'USAGE',
    '--name',
    `--name: "${args.name}" is the target server's name, not a migration's: give the migration's name with --migration-name (az before 2.86 named it with a new UUID; pgferry requires a name), or --server-name for the server`,
  );
}

/** A key of the Azure body's properties, matched case-insensitively as az matches it. */
function azureProperty(body: unknown, key: string): unknown {
  if (!isObject(body)) return undefined;
  const props = Object.entries(body).find(([k]) => k.toLowerCase() === 'properties')?.[1];
  if (!isObject(props)) return undefined;
  return Object.entries(props).find(([k]) => k.toLowerCase() === key.toLowerCase())?.[1];
}

/** What the az command line said that the engine does not act on, kept for `show`'s id and properties. */
async function recordAzureContext(args: CliArgs, spec: MigrationSpec, body: unknown): Promise<void> {
  const sourceType = azureProperty(body, 'sourceType');
  const runtime = azureProperty(body, 'migrationInstanceResourceId') ?? azureProperty(body, 'migrationRuntimeResourceId');
  if (typeof runtime === 'string') {
    warn(
      `migrationInstanceResourceId: recorded, not used: pgferry runs the migration on this machine (or on \`pgferry agent\` workers near the target with --runtime agents), not on an Azure runtime server`,
    );
  }
  const context: AzureContext = {
    ...(args.subscription ? { subscription: args.subscription } : {}),
    ...(args.resourceGroup ? { resourceGroup: args.resourceGroup } : {}),
    ...(args.server ? { server: args.server } : {}),
    ...(typeof sourceType === 'string' ? { sourceType } : {}),
    ...(typeof runtime === 'string' ? { migrationInstanceResourceId: runtime } : {}),
    ...(args.location ? { location: args.location } : {}),
    ...(args.tags ? { tags: args.tags } : {}),
    migrateRoles: spec.migrateRoles,
  };
  const store = openControlCatalog(spec.target);
  try {
    await setAzureContext(store, spec.migrationName, context);
    info(`recorded for ${spec.migrationName}: ${JSON.stringify(context)}`);
  } finally {
    await store.close();
  }
}

/** After the runner started: print the status now, or wait for the outcome and print that. */
async function report(spec: MigrationSpec, args: CliArgs, history: boolean): Promise<number> {
  const status = await onTarget(spec.target, async () =>
    args.wait
      ? waitWithProgress(spec.target, spec.migrationName, waitDone('run'), { history })
      : showMigration(spec.target, spec.migrationName),
  );
  if (!status) {
    throw new PgferryError('MIGRATION_NOT_FOUND', `migration "${spec.migrationName}" was started but is not in the target's catalog`, {
      category: 'internal',
    });
  }
  printResult(args, migrationResult(args, status, spec.target));
  return args.wait ? waitExitCode('run', status) : 0;
}

export async function createCommand(args: CliArgs): Promise<number> {
  const { spec, body } = specFromArgs(args);
  // Registering and spawning talk only to the target; the runner reaches the source.
  await onTarget(spec.target, async () => {
    await startMigration(spec);
    await recordAzureContext(args, spec, body);
  });
  return report(spec, args, true);
}

export async function resumeCommand(args: CliArgs): Promise<number> {
  // A migration resumes as it was created: mode and option come from its record, so the file that
  // `create --mode online` was given resumes it unchanged (issue 14: it was refused as another spec).
  // The target alone is read first: the whole spec cannot be checked before the record gives its
  // mode (an online-only field, fenceWriters or cutoverLagBudgetSeconds, was refused as offline).
  const body = args.body;
  const target = targetFromInputs(body, args.target);
  registerServerSecrets(target);
  const stored = await onTarget(target, () => showMigration(target, args.name!));
  const spec = specFromProperties(body, { ...propertyFlags(args), mode: stored?.mode, option: stored?.option });
  registerServerSecrets(spec.source, spec.target);
  await onTarget(spec.target, () => resumeMigration(spec));
  return report(spec, args, false);
}

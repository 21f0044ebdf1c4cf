// `pulumi refresh` (read) and `PgMigration.get(name, id)`: read the migration from the target's
// control catalog and report it. Read only reads: a runner found dead is reported (in `message`
// and a line), never restarted here; `pulumi up` restarts it.
import * as engine from '../engine';
import type { MigrationStatus } from '../engine';
import type { OperationOptions } from './drive';
import { staleRunnerMessage } from './failures';
import { inputsOf } from './inputs';
import { migrationOutputs } from './outputs';
import { resourceOwnerIn, withResourceOwner } from './ownership';
import { stdoutWriter } from './progress';
import { redactingWriter } from './redact';
import { MIGRATION_ID_FORMS, parseMigrationId, toMigrationSpec } from './inputSchema';
import { findTargetLogin, noLoginHint } from '../azure/targetLogin';
import { UNKNOWN_SUBSCRIPTION } from '../azure/shape';
import { withDefaults } from './defaults';

type Props = Record<string, unknown>;

/** Server fields `PgMigration.get` may pass to reach the target; host and port come from the id. */
const ACCESS_KEYS = ['user', 'password', 'sslMode', 'sslRootCert', 'maintenanceDatabase'] as const;

export async function read(id: string, props: Props, options: OperationOptions = {}): Promise<{ id: string; props: Props }> {
  if (props.migrationName === undefined) return readById(id, props);
  const inputs = inputsOf(props);
  const spec = toMigrationSpec(inputs);
  const status = await engine.showMigration(spec.target, spec.migrationName);
  // Gone from the target's catalog: an empty id tells Pulumi the resource no longer exists.
  if (!status) return { id: '', props: {} };
  // the resource's id stays as its state holds it: a refresh never makes it the owner
  const outs = migrationOutputs(withResourceOwner(inputs, resourceOwnerIn(props)), status);
  if (engine.runnerStopped(status) || status.waiting !== undefined) {
    const text = staleRunnerMessage(status);
    redactingWriter(spec, options.write ?? stdoutWriter)(text);
    outs.message = text;
  }
  return { id, props: outs };
}

/**
 * `PgMigration.get(name, id, opts, access)`: the id (`<target host>:<port>/<migrationName>`, or the
 * ARM id) says where the migration is; the inputs are rebuilt from the spec the catalog holds
 * (which has no secret), with the target credentials given to `get`.
 */
async function readById(id: string, props: Props): Promise<{ id: string; props: Props }> {
  const access = isRecord(props.target) ? props.target : {};
  const found = await migrationById(id, access);
  if (!found) return { id: '', props: {} };
  return { id, props: found.outputs };
}

/**
 * The migration an id names, as outputs, or undefined when the target's catalog has none. The
 * target's user: `access.user`, else the ARM id's server's PGFERRY_SERVER_HOSTS user, else PGUSER or
 * ~/.pgpass, as check finds it (azure/targetLogin.ts); its password: `access.password`, else
 * PGPASSWORD or ~/.pgpass, as for any libpq client.
 */
export async function migrationById(
  id: string,
  access: Props,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ outputs: Props; status: MigrationStatus } | undefined> {
  const parsed = parseMigrationId(id, env);
  if (!parsed) throw new Error(`id: "${id}" is not a migration id, ${MIGRATION_ID_FORMS}`);
  const target: Props = {
    host: parsed.host,
    port: parsed.port,
    ...dropUnset({ sslServerName: parsed.sslServerName, sslMode: parsed.sslMode }),
  };
  for (const key of ACCESS_KEYS) if (access[key] !== undefined && access[key] !== null) target[key] = access[key];
  if (target.user === undefined) {
    const database = typeof target.maintenanceDatabase === 'string' ? target.maintenanceDatabase : 'postgres';
    const login = findTargetLogin({ mappedUser: parsed.user, host: parsed.host, port: parsed.port, database }, env);
    if (!login) {
      throw new Error(
        `target.user: no login found for ${parsed.host}:${parsed.port}; give it (access.target.user), or ${noLoginHint('SERVER', parsed.host, parsed.port)}`,
      );
    }
    target.user = login.user;
  }
  const checked = engine.serverSpecSchema.safeParse(target);
  if (!checked.success) {
    const { field, message } = engine.describeIssue(checked.error.issues[0]!, 'target');
    throw new Error(`${field}: ${message}`);
  }
  const status = await engine.showMigration(checked.data, parsed.migrationName);
  if (!status) return undefined;
  // the ARM id's names, as azure-native's outputs would give them (its subscription but the
  // placeholder of none given), and azure-native's inputs the catalog recorded at create, with the
  // defaults check fills, as a refresh of the resource that created it gives them
  const recorded = status.azureContext ?? {};
  const azure = {
    subscriptionId: parsed.subscriptionId === UNKNOWN_SUBSCRIPTION ? undefined : parsed.subscriptionId,
    resourceGroupName: parsed.resourceGroupName,
    serverName: parsed.serverName,
    location: recorded.location,
    tags: recorded.tags,
    sourceType: recorded.sourceType,
    migrationInstanceResourceId: recorded.migrationInstanceResourceId,
    migrateRoles: recorded.migrateRoles,
    // online, whether the cutover was asked (azure-native's triggerCutover); offline, the default
    cutover: status.mode === 'Online' ? status.cutoverRequested === true : undefined,
  };
  const { password: _password, ...plainTarget } = target;
  void _password;
  // the password given to reach it is no output: state keeps it as the secret input it came in as
  const outputs = migrationOutputs(withDefaults({ ...inputsFromCatalog(status, plainTarget), ...dropUnset(azure) }), status);
  if (target.password !== undefined) outputs.target = { ...(outputs.target as Props), password: target.password };
  return { outputs, status };
}

function isRecord(value: unknown): value is Props {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The inputs a migration was created with, as far as the catalog keeps them (no passwords). */
function inputsFromCatalog(status: MigrationStatus, access: Props): Props {
  const spec = status.spec;
  return {
    ...spec,
    target: { ...(spec.target as Props), ...access },
  };
}

function dropUnset(value: Props): Props {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}

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
 * `PgMigration.get(name, id, { target })`: the id (`<target host>:<port>/<migrationName>`) says
 * where the migration is; the inputs are rebuilt from the spec the catalog holds (which has no
 * secret), with the target credentials given to `get`.
 */
async function readById(id: string, props: Props): Promise<{ id: string; props: Props }> {
  const parsed = parseMigrationId(id);
  if (!parsed) throw new Error(`id: "${id}" is not a migration id, ${MIGRATION_ID_FORMS}`);
  const access = (typeof props.target === 'object' && props.target !== null ? props.target : {}) as Props;
  const target: Props = { host: parsed.host, port: parsed.port, ...(parsed.user ? { user: parsed.user } : {}) };
  for (const key of ACCESS_KEYS) if (access[key] !== undefined && access[key] !== null) target[key] = access[key];
  const checked = engine.serverSpecSchema.safeParse(target);
  if (!checked.success) {
    const { field, message } = engine.describeIssue(checked.error.issues[0]!, 'target');
    throw new Error(`${field}: ${message}`);
  }
  const status = await engine.showMigration(checked.data, parsed.migrationName);
  if (!status) return { id: '', props: {} };
  const azure = { resourceGroupName: parsed.resourceGroupName, serverName: parsed.serverName };
  return { id, props: migrationOutputs({ ...inputsFromCatalog(status, target), ...dropUnset(azure) }, status) };
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

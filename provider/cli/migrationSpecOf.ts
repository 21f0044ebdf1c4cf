// The whole spec of an existing migration, for the commands that must reach its source too
// (verify, cancel with a stopped runner, fence lift, show's slot reading): from --properties, or
// from the migration's stored, secret-free spec. Without a body, PGPASSWORD is the target's
// password (the target had no other), and node-postgres would send it to the source when the spec
// names none: the source is given its own ~/.pgpass entry instead, and without one it is reached
// with no password at all, which a source that asks for none (trust, peer, a client certificate)
// accepts; a source that asks for one stops the command in one line naming the two ways to give it.
import {
  openClient,
  parseMigrationSpec,
  PasswordAsked,
  PgferryError,
  reachWithoutPassword,
  showMigration,
  type MigrationSpec,
  type MigrationStatus,
} from '../engine';
import { pgpassPassword, readPgpass } from '../azure/targetLogin';
import { specFromProperties } from './input/body';
import { propertyFlags, type CliArgs } from './input/parse';
import { registerSecret, registerServerSecrets } from './secrets';
import { onTarget, resolveTarget } from './target';

/**
 * The spec with the source's password: the body's, the source's own ~/.pgpass entry, or none where
 * the source asks for none. Without a body, `needsSource` false (a command that reaches the target
 * alone) lets the source through unasked, never reached, and never with the target's password.
 */
export async function migrationSpecOf(args: CliArgs, stored?: MigrationStatus, needsSource = true): Promise<MigrationSpec> {
  const spec = await givenOrStoredSpec(args, stored);
  const own = withSourcePassword(args, spec);
  if (own) return own;
  reachWithoutPassword(spec.source);
  if (!needsSource || (await sourceAsksNoPassword(spec))) return spec;
  // the fix, the two ways to give it, is the code's own (core/errorCodes.ts)
  throw new PgferryError('SOURCE_PASSWORD_REQUIRED', `migration "${spec.migrationName}": ${noSourcePassword(spec)}`, {
    category: 'input',
    field: '--properties',
  });
}

/** Why the source has no password, in the words `show` warns with and the other commands stop with. */
export function noSourcePassword(spec: MigrationSpec): string {
  const { host, port } = spec.source;
  return `the source ${host}:${port} asks for a password: PGPASSWORD is the target's, and ~/.pgpass has no entry for the source`;
}

/**
 * The spec to reach the source with: as given, or with the source's own password from the password
 * file when PGPASSWORD would stand for it; undefined when the source has none there, so that the
 * target's password is never sent to the source. Without PGPASSWORD, node-postgres reads the
 * password file itself, for the source's own host, port and user.
 */
function withSourcePassword(args: CliArgs, spec: MigrationSpec): MigrationSpec | undefined {
  if (args.body !== undefined || spec.source.password !== undefined || process.env.PGPASSWORD === undefined) return spec;
  const { source } = spec;
  const text = readPgpass(process.env);
  const password = text === undefined ? undefined : pgpassPassword(text, { ...source, database: source.maintenanceDatabase });
  if (password === undefined) return undefined;
  registerSecret(password);
  return { ...spec, source: { ...source, password } };
}

/**
 * Whether the source, reached with no password at all (reachWithoutPassword), lets this login in:
 * false only when it asks for a password; any other failure is the command's own to meet.
 */
async function sourceAsksNoPassword(spec: MigrationSpec): Promise<boolean> {
  try {
    const client = await openClient(spec.source, { applicationName: 'pgferry probe' });
    await client.end().catch(() => undefined);
    return true;
  } catch (error) {
    if (error instanceof PasswordAsked) return false;
    return true;
  }
}

/** The spec to reach the source with from `show`: as migrationSpecOf gives it, undefined where the source asks for a password. */
export async function sourceSpecForShow(args: CliArgs, spec: MigrationSpec): Promise<MigrationSpec | undefined> {
  const own = withSourcePassword(args, spec);
  if (own) return own;
  reachWithoutPassword(spec.source);
  return (await sourceAsksNoPassword(spec)) ? spec : undefined;
}

/** The spec from --properties, or the migration's stored one, its source without a password. */
export async function givenOrStoredSpec(args: CliArgs, stored?: MigrationStatus): Promise<MigrationSpec> {
  if (args.body !== undefined) {
    const spec = specFromProperties(args.body, propertyFlags(args));
    registerServerSecrets(spec.source, spec.target, spec.pooler);
    return spec;
  }
  const target = resolveTarget(args);
  const status = stored ?? (await onTarget(target, () => showMigration(target, args.name!)));
  if (!status) throw notFound(args.name!);
  try {
    return parseMigrationSpec({ ...status.spec, migrationName: status.name, target });
  } catch {
    throw new PgferryError(
      'STORED_SPEC_INCOMPLETE',
      `migration "${status.name}": its stored spec does not say enough to reach its source`,
      {
        category: 'input',
        field: '--properties',
        fix: 'give the migration body with --properties',
      },
    );
  }
}

export function notFound(name: string): PgferryError {
  return new PgferryError('MIGRATION_NOT_FOUND', `migration "${name}" not found on the target`, {
    category: 'input',
    field: 'name',
    fix: 'check the name with `pgferry list --filter all`',
  });
}

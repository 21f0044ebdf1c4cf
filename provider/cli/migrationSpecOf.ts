// The whole spec of an existing migration, for the commands that must reach its source too
// (verify, cancel with a stopped runner, show's slot reading): from --properties, or from the
// migration's stored, secret-free spec with passwords from PGPASSWORD or ~/.pgpass.
import { parseMigrationSpec, PgferryError, showMigration, type MigrationSpec, type MigrationStatus } from '../engine';
import { specFromProperties } from './input/body';
import { propertyFlags, type CliArgs } from './input/parse';
import { registerServerSecrets } from './secrets';
import { onTarget, resolveTarget } from './target';

export async function migrationSpecOf(args: CliArgs, stored?: MigrationStatus): Promise<MigrationSpec> {
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

// `pgferry verify`: row counts and checksums of every table, source vs target, now. The spec comes
// from --properties, or from the migration's stored (secret-free) spec plus PGPASSWORD/.pgpass.
import { parseMigrationSpec, PgferryError, showMigration, verifyMigration, type MigrationSpec } from '../../engine';
import type { CliArgs } from '../args';
import { loadProperties } from '../files';
import { renderVerification, writeJson, writeOut } from '../output';
import { specFromProperties } from '../properties';
import { registerServerSecrets } from '../secrets';
import { onTarget, propertyFlags, resolveTarget } from '../target';
import { notFound } from './show';

async function verifySpec(args: CliArgs): Promise<MigrationSpec> {
  if (args.properties !== undefined) {
    const spec = specFromProperties(await loadProperties(args.properties), propertyFlags(args));
    registerServerSecrets(spec.source, spec.target);
    return spec;
  }
  const target = await resolveTarget(args);
  const status = await onTarget(target, () => showMigration(target, args.name!));
  if (!status) throw notFound(args.name!);
  try {
    return parseMigrationSpec({ ...status.spec, migrationName: status.name, target });
  } catch {
    throw new PgferryError('STORED_SPEC_INCOMPLETE', `migration "${status.name}": its stored spec does not say enough to verify it`, {
      category: 'input',
      field: '--properties',
      fix: 'give the migration body with --properties',
    });
  }
}

export async function verifyCommand(args: CliArgs): Promise<number> {
  const spec = await verifySpec(args);
  const report = await verifyMigration(spec);
  if (args.output === 'json') writeJson(report);
  else writeOut(renderVerification(report));
  return report.ok ? 0 : 1;
}

// `pgferry show` and `pgferry list`: read the target's control catalog.
import { listMigrations, PgferryError, showMigration } from '../../engine';
import type { CliArgs } from '../args';
import { renderList, renderStatus, statusJson, writeJson, writeOut } from '../output';
import { onTarget, resolveTarget } from '../target';

export function notFound(name: string): PgferryError {
  return new PgferryError('MIGRATION_NOT_FOUND', `migration "${name}" not found on the target`, {
    category: 'input',
    field: 'name',
    fix: 'check the name with `pgferry list --filter all`',
  });
}

export async function showCommand(args: CliArgs): Promise<number> {
  const target = await resolveTarget(args);
  const status = await onTarget(target, () => showMigration(target, args.name!));
  if (!status) throw notFound(args.name!);
  if (args.output === 'json') writeJson(statusJson(status));
  else writeOut(renderStatus(status));
  return 0;
}

export async function listCommand(args: CliArgs): Promise<number> {
  const target = await resolveTarget(args);
  const statuses = await onTarget(target, () => listMigrations(target, args.filter));
  if (args.output === 'json') writeJson(statuses.map(statusJson));
  else writeOut(renderList(statuses));
  return 0;
}

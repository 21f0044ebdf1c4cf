// `pgferry show` and `pgferry list`: read the target's control catalog. `show` of an online
// migration also reads its slots on the source (retained WAL, active or not), so a stopped stream
// is visible before the source's disk fills, and what of its footprint is still to give back on
// either server (pendingFootprint); a source it cannot reach is said, not fatal. Without
// --properties the stored spec has no password, and node-postgres would send the source PGPASSWORD,
// which without a body is the target's (the target had no other): the source is read with its own
// ~/.pgpass entry instead, or with no password where it asks for none, or not at all, and one line
// says what it needs.
import {
  listMigrations,
  showMigration,
  withPendingFootprint,
  withSourceSlots,
  type MigrationSpec,
  type MigrationStatus,
} from '../../engine';
import type { CliArgs } from '../input/parse';
import { givenOrStoredSpec, noSourcePassword, notFound, sourceSpecForShow } from '../migrationSpecOf';
import { migrationListResult, migrationResult, printResult } from '../result';
import { onTarget, resolveTarget } from '../target';
import { warn } from '../log';

async function withSource(args: CliArgs, status: MigrationStatus): Promise<MigrationStatus> {
  if (status.mode !== 'Online') return status;
  let spec: MigrationSpec;
  try {
    spec = await givenOrStoredSpec(args, status);
  } catch {
    return status; // no usable source spec: the recorded figures stand
  }
  const streaming = status.databases.some((d) => d.names && d.state !== 'Succeeded');
  const withPassword = await sourceSpecForShow(args, spec);
  if (!withPassword) {
    if (streaming)
      warn(`the source's slots were not read: ${noSourcePassword(spec)}; add one, or give the migration body with --properties`);
    return status;
  }
  const slots = streaming ? await withSourceSlots(withPassword, status).catch(() => status) : status;
  return withPendingFootprint(withPassword, slots).catch(() => slots);
}

export async function showCommand(args: CliArgs): Promise<number> {
  // az's --level asks Azure for less (Summary) or as much (Default, Full) detail; pgferry has all of it at hand
  if (args.level === 'Summary') warn('--level Summary: pgferry prints the full details (Summary is not a shorter form here)');
  const target = resolveTarget(args);
  const recorded = await onTarget(target, () => showMigration(target, args.name!));
  if (!recorded) throw notFound(args.name!);
  const status = await withSource(args, recorded);
  printResult(args, migrationResult(args, status, target));
  return 0;
}

export async function listCommand(args: CliArgs): Promise<number> {
  const target = resolveTarget(args);
  const statuses = await onTarget(target, () => listMigrations(target, args.filter));
  printResult(args, migrationListResult(args, statuses, target));
  return 0;
}

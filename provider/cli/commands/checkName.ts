// `pgferry check-name-availability`: whether a migration name can be used on the target, answered
// as az answers it (nameAvailable, reason, message) from the target's control catalog.
import { MIGRATION_NAME_PATTERN, showMigration } from '../../engine';
import type { CliArgs } from '../input/parse';
import { nameAvailability } from '../../azure/shape';
import { printResult } from '../result';
import { onTarget, resolveTarget } from '../target';

const INVALID = 'must be 1-63 letters, digits or hyphens, not starting with a hyphen';

export async function checkNameCommand(args: CliArgs): Promise<number> {
  const name = args.name!;
  const target = resolveTarget(args);
  const invalid = MIGRATION_NAME_PATTERN.test(name) ? undefined : INVALID;
  const taken = invalid === undefined && (await onTarget(target, () => showMigration(target, name))) !== undefined;
  const answer = nameAvailability(name, taken, invalid);
  printResult(args, {
    value: answer,
    table: () => (answer.nameAvailable ? `${name}: available` : `${name}: not available (${answer.reason}): ${answer.message}`),
  });
  return 0;
}

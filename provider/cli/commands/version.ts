// `pgferry version` and `pgferry --version`: the package's version and the highest control-catalog
// schema version this build installs on a target.
import { CONTROL_SCHEMA_VERSION, PGFERRY_VERSION } from '../../engine';
import type { CliArgs } from '../input/parse';
import { printResult } from '../result';

export async function versionCommand(args: CliArgs): Promise<number> {
  const version = PGFERRY_VERSION;
  printResult(args, {
    value: { pgferry: version, controlSchemaVersion: CONTROL_SCHEMA_VERSION },
    table: () => `pgferry ${version} (control schema ${CONTROL_SCHEMA_VERSION})`,
  });
  return 0;
}

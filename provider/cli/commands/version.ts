// `pgferry version` and `pgferry --version`: the package's version and the highest control-catalog
// schema version this build installs on a target.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CONTROL_SCHEMA_VERSION } from '../../engine';
import type { CliArgs } from '../args';
import { printResult } from '../result';

/** pgferry's package.json, found upward from this file (it runs from dist/ or from the sources). */
export function packageVersion(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'pgferry' && pkg.version) return pkg.version;
    } catch {
      // no package.json here: look further up
    }
  }
  return 'unknown';
}

export async function versionCommand(args: CliArgs): Promise<number> {
  const version = packageVersion();
  printResult(args, {
    value: { pgferry: version, controlSchemaVersion: CONTROL_SCHEMA_VERSION },
    table: () => `pgferry ${version} (control schema ${CONTROL_SCHEMA_VERSION})`,
  });
  return 0;
}

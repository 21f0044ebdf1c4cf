// The dynamic provider Pulumi serializes into state: a thin shim whose every method loads the
// compiled pgferry operations module inside the provider host and forwards to it. It captures
// nothing but its own loader, so no credential and no live handle is ever serialized.
import type * as pulumi from '@pulumi/pulumi';
import type * as Operations from './operations';

/**
 * Finds the compiled operations module from the provider host, whose cwd is the Pulumi program's
 * directory: PGFERRY_DIST (a directory holding pgferry's compiled JavaScript), else the pgferry
 * package installed in the program, else the program being pgferry's own checkout (root program).
 * Runs inside the host: it may use only `require` and `process`, nothing captured.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- runs inside the provider host, where only require exists */
function loadOperations(): typeof Operations {
  const path = require('node:path') as typeof import('node:path');
  const relative = 'provider/resource/operations';
  const candidates: string[] = [];
  if (process.env.PGFERRY_DIST) candidates.push(path.resolve(process.env.PGFERRY_DIST, relative));
  candidates.push(`pgferry/dist/${relative}`);
  candidates.push(path.resolve('dist', relative));
  const tried: string[] = [];
  for (const candidate of candidates) {
    let resolved: string;
    try {
      resolved = require.resolve(candidate, { paths: [process.cwd()] });
    } catch {
      tried.push(candidate);
      continue;
    }
    return require(resolved) as typeof Operations;
  }
  throw new Error(
    `pgferry: cannot find its compiled engine from ${process.cwd()} (tried ${tried.join(', ')}); install pgferry in the Pulumi program's directory (npm install pgferry), run "npm run build" when the program is pgferry's own checkout, or set PGFERRY_DIST to the directory holding its compiled JavaScript`,
  );
}

/** Inputs and outputs as the SDK hands them over: property bags (operations.ts parses them). */
type Props = Record<string, unknown>;

/** The PgMigration provider: what `new PgMigration(...)` hands to the SDK to serialize. */
export const pgMigrationProvider: pulumi.dynamic.ResourceProvider = {
  async check(olds: Props, news: Props) {
    return loadOperations().check(olds, news);
  },
  async diff(id: string, olds: Props, news: Props) {
    return loadOperations().diff(id, olds, news);
  },
  async create(inputs: Props) {
    return loadOperations().create(inputs);
  },
  async read(id: string, props: Props) {
    return loadOperations().read(id, props);
  },
  async update(id: string, olds: Props, news: Props) {
    return loadOperations().update(id, olds, news);
  },
  async delete(id: string, props: Props) {
    await loadOperations().remove(id, props);
  },
};

// `pgferry verify`: row counts and checksums of every table, source vs target, now. The spec comes
// from --properties, or from the migration's stored (secret-free) spec, the target's password from
// PGPASSWORD or ~/.pgpass and the source's from its own ~/.pgpass entry (migrationSpecOf).
import { verifyMigration } from '../../engine';
import type { CliArgs } from '../input/parse';
import { migrationSpecOf } from '../migrationSpecOf';
import { renderVerification } from '../output';
import { printResult } from '../result';

export async function verifyCommand(args: CliArgs): Promise<number> {
  const spec = await migrationSpecOf(args);
  const report = await verifyMigration(spec);
  printResult(args, { value: report, table: () => renderVerification(report) });
  return report.ok ? 0 : 1;
}

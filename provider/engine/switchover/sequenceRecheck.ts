// The cutover's second look at sequences. Sequences are neither transactional nor streamed: the
// cutover copies their values once the last changes are applied, and a source that moves one on
// after that copy is not a wrong migration. A crash restart of the source hands out sequences up to
// 32 values past their last use (nextval logs ahead), and an application may call nextval without
// writing a row. So when the only differences the verification found are sequence values, they are
// copied once more and compared again; a missing sequence, an extra one the migration knows, a table that differs, or a
// sequence still moving after the second copy stops the cutover as before.
import { withSession } from '../connect/session';
import type { MigrationSpec } from '../input/migrationSpec';
import type { VerificationReport, VerificationTable } from '../core/model';
import { SEQUENCES_ROW, verificationReport, verifySequencesOf, type VerifyOptions } from '../verify/verifyTables';
import { compareSequences, readSequenceStates } from '../verify/sequenceCheck';
import { syncSequences, type MadeByMigration, type SequencesCopied } from './sequenceSync';

/**
 * Whether the database's sequences exist on both sides and only their values differ. A sequence the
 * target alone has is no value a copy changes: whether it is kept was the verification's to say.
 */
async function onlyValuesDiffer(spec: MigrationSpec, database: string): Promise<boolean> {
  const options = { database, purpose: 'cutover' };
  const [source, target] = await Promise.all([
    withSession(spec.source, options, readSequenceStates),
    withSession(spec.target, options, readSequenceStates),
  ]);
  const differences = compareSequences(source, target, false).filter((d) => d.kind !== 'extra');
  return differences.length > 0 && differences.every((d) => d.kind === 'differs');
}

/**
 * The report after copying sequence values again where they alone differ; the report as it was
 * when anything else differs. `onCopied` is told each database whose sequences were copied again;
 * `mine` tells the target's free-standing sequences that are the migration's, as the first copy did
 * (a DBA's under the source's name is left alone again, and the verification names it).
 */
export async function recheckMovedSequences(
  spec: MigrationSpec,
  report: VerificationReport,
  known: VerifyOptions['known'],
  onCopied: (database: string, copied: SequencesCopied) => void,
  mine: (database: string) => Promise<MadeByMigration | undefined> = async () => undefined,
): Promise<VerificationReport> {
  const mismatched = report.tables.filter((t) => !t.matches);
  if (mismatched.length === 0 || mismatched.some((t) => t.table !== SEQUENCES_ROW)) return report;
  for (const { database } of mismatched) if (!(await onlyValuesDiffer(spec, database))) return report;
  const again = new Map<string, VerificationTable>();
  for (const { database } of mismatched) {
    onCopied(database, await syncSequences(spec.source, spec.target, database, spec, await mine(database)));
    again.set(database, await verifySequencesOf(spec, database, known?.get(database)));
  }
  const tables = report.tables.map((t) => (t.table === SEQUENCES_ROW ? (again.get(t.database) ?? t) : t));
  return verificationReport(tables, report.leftOut ?? []);
}

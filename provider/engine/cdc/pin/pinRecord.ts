// Whether a table's recorded verification is the pinned one its change tracking counts from: only
// then may the cutover re-read just the changed keys (switchover/recheckPlan.ts), and only then may the
// background verifier leave the table alone (verify/background.ts). A cutover overwrites the record
// with how it checked the table; if that cutover then stops (a mismatch), the table must be pinned
// again, or the next cutover reads it whole.
import { formatLsn } from '../../core/lsn';
import type { TableChanges } from '../plan/changeTracker';
import type { TableVerificationRecord } from '../../control/tableVerification';

export function pinStillCurrent(entry: TableChanges | undefined, record: TableVerificationRecord | undefined): entry is TableChanges {
  return (
    entry !== undefined &&
    record !== undefined &&
    record.method === 'background' &&
    record.matches &&
    record.verifiedLsn === formatLsn(entry.since)
  );
}

// The online supervisor's handler of table resyncs (flow/supervisor.ts): `pgferry update --resync`
// requests, and the tables created on the source while streaming that the table watch recorded,
// each carried out while the other tables stream (flow/tableResync.ts). Called by the tick after
// its scan of the source's tables, and by the cutover handler before it hands off, so a table
// created until the cutover is on the target before the cutover verifies. A target or source
// restarting is ridden out: the requests stay pending for the next look. A table created under the
// name of one the source dropped waits until that drop is followed (`DROP TABLE t; CREATE TABLE t`).
import { isRetryable } from '../connect/sqlstate';
import type { Supervision } from './supervision';
import { carryOutTableResyncs } from './tableResync';

export async function resyncs(s: Supervision): Promise<void> {
  try {
    await carryOutTableResyncs(
      s.run,
      s.streams,
      (database) => s.stops.isStopped(database),
      (database, table) => s.tableDrops.waitsForName(database, table),
    );
  } catch (error) {
    if (!isRetryable(error)) throw error;
  }
}

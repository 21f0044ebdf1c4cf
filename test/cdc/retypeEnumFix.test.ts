// A column retyped on the source from one enum to another (the new type made in the same
// transaction, the values converted through their text) while changes stream, on a table the
// target holds a DBA's column of: the table cannot be copied again at a pin (the copy would empty
// the DBA's column), so the stream stops with the fix to make on the target. No cast exists
// between two enums, so an ALTER COLUMN ... TYPE without a USING is refused there ("cannot be cast
// automatically"); the printed fix carries one that goes through the value's text. The test runs
// the printed statement on the target as it is, resumes, and reads back: the column's type is the
// source's, the rows written after the retype are applied, the table's rows equal the source's
// (over the source's columns) and the DBA's column keeps its values.
import assert from 'node:assert/strict';
import { showMigration } from '../../provider/engine';
import { isFinalState } from '../../provider/engine/core/model';
import { endIfRunning, startPair, until, waitForStatus, type ServerPair } from '../support';
import { printedRetype, resumedAfterRetypeFix, RETYPE_SCHEMA, retypeBehindDbaColumn } from '../support/retypeStop';
import { eventsTold } from '../support/toldEvents';
import { followingMigration } from './harness';

const DB = 'retypefix';

describe('a column retyped from one enum to another, the table holding a DBA column on the target', function () {
  this.timeout(300_000);
  let pair: ServerPair | undefined;
  afterEach(async () => {
    await pair?.stop();
    pair = undefined;
  });

  it("the stop's printed fix runs on the target as printed; resumed, the rows equal the source's and the DBA's column keeps its values", async () => {
    const name = 'retype-enum-fix';
    const servers = (pair = await startPair(15, 15));
    const { spec, store, running } = await followingMigration(servers, name, DB, RETYPE_SCHEMA);
    const told = () => eventsTold(store, name, 20);
    try {
      await retypeBehindDbaColumn(servers, DB);
      const stopped = await waitForStatus(store, name, (s) => s.databases[0]?.applyStop !== undefined || isFinalState(s.state));
      const stop = stopped.databases[0]?.applyStop;
      assert.ok(stop, `${stopped.state}: ${stopped.message}\n  ${await told()}`);
      const statement = printedRetype(stop.fix);
      assert.match(statement, /USING "status"::text::public\.order_status$/);
      // the stop may come before the schema watch's next look has made the new type on the target
      await until(
        'the new type made on the target by the schema watch',
        async () => ((await servers.target.query(`SELECT to_regtype('public.order_status') AS t`, [], DB))[0]?.t ? true : undefined),
        60_000,
        500,
      );
      // the fix as printed, run on the target: PostgreSQL refuses it without a USING that converts
      await servers.target.query(statement, [], DB);
      await resumedAfterRetypeFix(servers, DB, spec, told);
      // the stop's record is cleared once the supervisor sees the stream applied past it
      await until(
        'the stop cleared',
        async () => ((await showMigration(spec.target, name))?.databases[0]?.applyStop === undefined ? true : undefined),
        60_000,
        500,
      );
    } finally {
      await endIfRunning(spec, running);
      await store.close();
    }
  });
});

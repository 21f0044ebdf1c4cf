// A column retyped on the source to an enum made in the same transaction, on a table the target
// holds a DBA's column of (so the table is not copied again at a pin): the stream stops with the
// fix, an ALTER COLUMN ... TYPE to the new type. The new type is made on the target by the schema
// watch at its next look, which may come after the apply meets the retype. Here the watch's first
// follow is held, so the apply reaches the retype first: the stop must not be told before the type
// is there, else its printed fix fails ("type does not exist"). The test runs the fix as printed the
// moment the stop is recorded (while the watch is still held, if the stop came then), resumes, and
// reads back: the column's type is the source's, the stream goes on, rows equal by md5.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { get } from '../../provider/engine/control/store';
import { endIfRunning, startPair, until, waitForStatus, type ServerPair } from '../support';
import { heldFile, holdsInThisProcess, isHeld } from '../support/holdPoints';
import { printedRetype, resumedAfterRetypeFix, RETYPE_SCHEMA, retypeBehindDbaColumn, retypedContents } from '../support/retypeStop';
import { eventsTold } from '../support/toldEvents';
import { followingMigration } from './harness';

const DB = 'retypeatstop';
const HELD_FOLLOW = `schema-watch-follow:${DB}`;

/** How long the test leaves the watch held, waiting to see whether the stop is told before the type is made. */
const HELD_MS = 20_000;

describe('a retype stop told before the schema watch made the new type', function () {
  this.timeout(360_000);
  const holds = holdsInThisProcess();
  let pair: ServerPair | undefined;
  afterEach(async () => {
    await pair?.stop();
    pair = undefined;
  });

  it("the stop's printed fix, run the moment the stop is recorded, works as printed; resumed, the stream goes on and the rows equal the source's by md5", async () => {
    const name = 'retype-fix-at-stop';
    const servers = (pair = await startPair(15, 15));
    // read by the watch, in this process, when it gets to its first follow
    const holdDir = await holds.arm(HELD_FOLLOW);
    const held = heldFile(HELD_FOLLOW, holdDir);
    const { spec, store, running } = await followingMigration(servers, name, DB, RETYPE_SCHEMA);
    const told = () => eventsTold(store, name, 20);
    const stopOf = async () => (await get(store, name))?.databases[0]?.applyStop;
    const contents = (side: 'source' | 'target') => retypedContents(servers[side], DB);
    try {
      await retypeBehindDbaColumn(servers, DB);
      await until(
        'the schema watch held at its first follow',
        async () => ((await isHeld(HELD_FOLLOW, holdDir)) ? true : undefined),
        120_000,
        200,
      );
      // the watch held, the new type is not on the target: a stop told now would print a fix that fails
      const early = await until('a stop told while the watch is held', stopOf, HELD_MS, 250).catch(() => undefined);
      let ranWhileHeld = false;
      if (early) {
        await servers.target.query(printedRetype(early.fix), [], DB);
        ranWhileHeld = true;
      }
      await fs.rm(held, { force: true });
      const stopped = await waitForStatus(store, name, (s) => s.databases[0]?.applyStop !== undefined);
      const statement = printedRetype(stopped.databases[0]!.applyStop!.fix);
      assert.match(statement, /TYPE public\.order_status USING "status"::text::public\.order_status$/);
      // the fix as printed, at once: the new type is there by the time the stop is told
      if (!ranWhileHeld) await servers.target.query(statement, [], DB);
      await resumedAfterRetypeFix(servers, DB, spec, told);
      assert.equal(await contents('target'), await contents('source'));
      // the stream goes on: a write after the resume is applied, and the stop is cleared
      await servers.source.query(`INSERT INTO t VALUES (1002, 'refunded', 1002)`, [], DB);
      await until(
        'the write after the resume applied, the stop cleared',
        async () => ((await contents('target')) === (await contents('source')) && (await stopOf()) === undefined ? true : undefined),
        120_000,
        500,
      );
    } finally {
      await fs.rm(held, { force: true });
      await endIfRunning(spec, running);
      await store.close();
    }
  });
});

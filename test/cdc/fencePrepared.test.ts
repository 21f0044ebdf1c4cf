// Issue 62, the writer fence's one gap it cannot close itself: a transaction prepared on the source
// before the fence (PREPARE TRANSACTION) that wrote a streamed table commits whatever the fence is
// (COMMIT PREPARED needs no writable transaction and fires no trigger again), so its write could land
// on the source after the cutover point and be lost. The fenced cutover must stop on it, naming its
// gid and the fix, lift the fence and stream on; once the application commits it, the cutover
// Succeeds with its row on the target. Read back from both servers: the source writable again after
// the stop, the prepared row on the target, every row equal.
import assert from 'node:assert/strict';
import { isFinalState, requestCutover, startMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { endIfRunning, pairSpec, serverSpec, startPair, until, waitForStatus, type ServerPair, waitingForCutover } from '../support';
import { askCutoverUntilAccepted, rowsOf } from './harness';

const DB = 'fence_prepared';
const NAME = 'fence-prepared';
const GID = 'app-order-7';

describe('the writer fence and a transaction prepared on the source (issue 62)', function () {
  this.timeout(300_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15, { max_prepared_transactions: '4' });
    await pair.source.query(`CREATE DATABASE ${DB}`);
    await pair.source.query(
      `CREATE TABLE items (id int PRIMARY KEY, v text NOT NULL); INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 500) g;
       CREATE TABLE other (id int PRIMARY KEY)`,
      [],
      DB,
    );
  });
  after(async () => {
    await pair?.source.query(`ROLLBACK PREPARED '${GID}'`, [], DB).catch(() => undefined);
    await pair?.stop();
  });

  it('stops the fenced cutover naming the gid and the fix, lifts the fence and streams on; committed, the cutover Succeeds with its row', async () => {
    const spec = pairSpec(pair, NAME, [DB], { mode: 'Online', option: 'Migrate', fenceWriters: true });
    const store = new CatalogConnection(serverSpec(pair.target));
    try {
      await startMigration(spec);
      await waitingForCutover(store, NAME);
      const app = await pair.source.connect(DB);
      try {
        await app.query('BEGIN');
        await app.query(`INSERT INTO items VALUES (1001, 'prepared before the fence')`);
        await app.query(`PREPARE TRANSACTION '${GID}'`);
      } finally {
        await app.end();
      }

      await requestCutover(spec.target, NAME);
      const stopped = await waitForStatus(
        store,
        NAME,
        (s) => isFinalState(s.state) || /^cutover rolled back/.test(s.message ?? ''),
        180_000,
      );
      assert.equal(stopped.state, 'WaitingForUserAction', stopped.message);
      assert.match(stopped.message ?? '', new RegExp(`prepared transaction\\(s\\) '${GID}'`));
      assert.match(stopped.message ?? '', new RegExp(`COMMIT PREPARED / ROLLBACK PREPARED '${GID}'`));
      // the fence lifted: the application writes on the source again, and the stream carries it
      await pair.source.query(`INSERT INTO items VALUES (1002, 'after the stop')`, [], DB);
      await until('the write after the stop on the target', async () => {
        const rows = await pair.target.query(`SELECT 1 FROM items WHERE id = 1002`, [], DB);
        return rows.length > 0 ? true : undefined;
      });

      await pair.source.query(`COMMIT PREPARED '${GID}'`, [], DB);
      await askCutoverUntilAccepted(spec);
      // the first stop's message stays until the next cutover says something else
      const done = await waitForStatus(
        store,
        NAME,
        (s) => isFinalState(s.state) || (/^cutover (stopped|rolled back)/.test(s.message ?? '') && s.message !== stopped.message),
        180_000,
      );
      assert.equal(done.state, 'Succeeded', done.message);
      const [{ v }] = (await pair.target.query<{ v: string }>(`SELECT v FROM items WHERE id = 1001`, [], DB)) as [{ v: string }];
      assert.equal(v, 'prepared before the fence');
      assert.deepEqual(await rowsOf(pair.target, DB, 'items'), await rowsOf(pair.source, DB, 'items'));
    } finally {
      await endIfRunning({ target: spec.target, migrationName: NAME }, Promise.resolve());
      await store.close();
    }
  });
});

// A source that goes away mid-copy (a maintenance window, a VPN down) must not end a migration: the
// copy waits for it, says so, and starts again once it answers, with every row. Before, the eighth
// failed try (about 91 s) marked the migration Failed and the user started over. That the policy has
// no count of tries that ends it is test/unit/retryPolicy.test.ts, where its waits are shortened;
// here a real outage of several tries, offline, where a try fails at once. The online copy, the
// cutover steps and the roles step retry under the same policy.
import assert from 'node:assert/strict';
import { parseMigrationSpec, runMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { CopyHold, serverSpec, startPair, until, type ServerPair } from '../support';
import { rowsOf } from '../cdc/harness';
import { events as catalogEvents, get } from '../../provider/engine/control/store';

/** The try the outage lasts until: it begins only after the back-off waits of every try before it. */
const TRIES_AWAY = 5;

/** The tries of the copy that its warnings name. */
const triesWarned = (events: readonly { message: string }[]): number[] =>
  events.flatMap((e) => /the copy of away is tried again \(try (\d+)/.exec(e.message)?.[1] ?? []).map(Number);

describe('safety: a source away during a copy', function () {
  this.timeout(300_000);
  let pair: ServerPair;
  let hold: CopyHold | undefined;
  before(async () => {
    pair = await startPair(15, 15);
    await pair.source.query('CREATE DATABASE away');
    await pair.source.query(
      `CREATE TABLE big (id int PRIMARY KEY, pad text); INSERT INTO big SELECT g, repeat('p', 100) FROM generate_series(1, 200000) g;`,
      [],
      'away',
    );
  });
  after(async () => {
    await hold?.close();
    await pair?.stop();
  });

  it('waits for the source, reports the tries, and copies again once it is back, every row', async () => {
    hold = await CopyHold.start(pair.target, /"big"/);
    const target = serverSpec(pair.target, { port: hold.port });
    const spec = parseMigrationSpec({
      migrationName: 'away',
      source: serverSpec(pair.source),
      target,
      databases: ['away'],
      option: 'Migrate',
      tableJobs: 1,
    });
    const store = new CatalogConnection(target);
    try {
      const running = runMigration(spec);
      await hold.whenHeld();
      await pair.source.crash();
      hold.release(); // the rows already sent reach the target, then the copy sees the source gone
      // the source stays away until that try is warned about (the warnings name some tries, not
      // each), counted from the catalog rather than timed: a loaded machine reaches it later
      const waiting = await until(
        `try ${TRIES_AWAY} of the copy warned about, the migration waiting`,
        async () => {
          const status = await get(store, 'away');
          const tries = triesWarned(await catalogEvents(store, 'away', 200));
          return status?.state !== 'InProgress' || Math.max(0, ...tries) >= TRIES_AWAY ? status : undefined;
        },
        180_000,
        500,
      );
      assert.equal(waiting?.state, 'InProgress', waiting?.message);
      await pair.source.start();
      const done = await running;
      assert.equal(done.state, 'Succeeded', done.message);
      assert.deepEqual(await rowsOf(pair.target, 'away', 'big'), await rowsOf(pair.source, 'away', 'big'));
    } finally {
      await store.close();
    }
  });
});

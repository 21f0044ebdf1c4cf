// A streamed table moved to another tablespace on the source after validation (ALTER TABLE ... SET
// TABLESPACE) changes no row, and the stream follows the table by its OID: nothing stops. But the
// target keeps every object in its database's default tablespace (validation's TABLESPACE_NOT_KEPT
// tells the placements it found), and a user who moved the table on purpose must hear that the
// target did not follow: one warning, read back from the migration's events (what `show` lists),
// names the table and the tablespace (cdc/prepare/tableWatch.ts, which compares each scan with the
// last: the move is made once a scan has read where the table is). The rows written after the move
// stream on, and the cutover succeeds with the rows equal and the target's table where it was.
import assert from 'node:assert/strict';
import { isFinalState, requestCutover, startMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { events, get } from '../../provider/engine/control/store';
import { createTablespace, endIfRunning, pairSpec, serverSpec, suiteServers, until, waitForStatus } from '../support';
import { rowsOf } from './harness';

const DB = 'spcmoved';
const MOVED = /^streamed table public\.t was moved to tablespace fast_disk on the source while streaming: its changes stream on/;

describe('online: a streamed table moved to another tablespace on the source', function () {
  this.timeout(300_000);
  const servers = suiteServers({
    setUp: async (pair) => {
      await createTablespace(pair.source, 'fast_disk');
      await pair.source.query(`CREATE DATABASE ${DB}`);
      await pair.source.query(
        `CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL); INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 1000) g`,
        [],
        DB,
      );
    },
  });

  it('one warning names the table and its new tablespace; the changes after the move stream on and the cutover succeeds, rows equal, the target table in its default tablespace', async () => {
    const { pair } = servers;
    const spec = pairSpec(pair, 'spc-moved', [DB], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true });
    const store = new CatalogConnection(serverSpec(pair.target));
    const warnings = async () => (await events(store, spec.migrationName, 200)).filter((e) => e.level === 'warning').map((e) => e.message);
    try {
      await startMigration(spec);
      const streaming = await waitForStatus(
        store,
        spec.migrationName,
        (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state),
      );
      assert.equal(streaming.subState, 'WaitingForCutoverTrigger', `${streaming.state}: ${streaming.message}`);

      // a table created now is found by the watch's scan: once it is followed, the watch has read where t is
      await pair.source.query(`CREATE TABLE marker (id int PRIMARY KEY)`, [], DB);
      await until(
        "the watch's scan to find the new table",
        async () =>
          (await events(store, spec.migrationName, 200)).some((e) =>
            /^followed public\.marker, created on the source while streaming/.test(e.message),
          )
            ? true
            : undefined,
        60_000,
      );
      await pair.source.query(`ALTER TABLE t SET TABLESPACE fast_disk`, [], DB);
      await pair.source.query(`INSERT INTO t SELECT g, 'after ' || g FROM generate_series(1001, 1500) g`, [], DB);
      await until('the move to be told', async () => ((await warnings()).some((w) => MOVED.test(w)) ? true : undefined), 60_000);
      await until(
        'the rows written after the move on the target',
        async () => {
          const [row] = await pair.target.query<{ n: number }>('SELECT count(*)::int AS n FROM public.t', [], DB);
          return row!.n === 1500 ? true : undefined;
        },
        60_000,
      );
      const told = (await warnings()).filter((w) => MOVED.test(w));
      assert.equal(told.length, 1, told.join('\n'));
      assert.match(
        told[0]!,
        /on the target it stays in the database's default tablespace \(ALTER TABLE public\.t SET TABLESPACE \.\.\. there/,
      );
      const now = await get(store, spec.migrationName);
      assert.equal(now?.subState, 'WaitingForCutoverTrigger', 'the stream was not stopped');

      await requestCutover(spec.target, spec.migrationName);
      const end = await waitForStatus(store, spec.migrationName, (s) => isFinalState(s.state), 180_000);
      assert.equal(end.state, 'Succeeded', end.message);
      assert.deepEqual(await rowsOf(pair.target, DB, 't'), await rowsOf(pair.source, DB, 't'));
      assert.deepEqual(
        await pair.target.query(`SELECT reltablespace::int AS ts FROM pg_class WHERE oid = 'public.t'::regclass`, [], DB),
        [{ ts: 0 }],
        "the target's table in its database's default tablespace",
      );
    } finally {
      await endIfRunning(spec, Promise.resolve());
      await store.close();
    }
  });
});

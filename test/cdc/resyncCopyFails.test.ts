// A table resync whose COPY into the target fails part-way (a DBA's CHECK constraint on the target
// refuses a row the source has) ends its sessions: the source's snapshot transaction, which holds
// the table against rewrites, must not stay open behind the COPY whose output nothing reads any
// more. Before the fix its ROLLBACK waited for good behind that COPY (seen under load in the
// gauntlet): the resync never ended, the session stayed idle in transaction, and the application's
// ALTER TABLE on the source waited behind its lock. A constraint's refusal is not tried again (the
// same rows meet it every time). Read back: the resync's recorded error and tries, the
// source's sessions, the application's DDL done, the target's rows.
import assert from 'node:assert/strict';
import { requestResync, runMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { tableResyncs } from '../../provider/engine/control/tableResyncs';
import { endIfRunning, pairSpec, serverSpec, suiteServers, until, waitForStatus } from '../support';

const DB = 'ledger';
const NAME = 'resync-copy-fails';
/** Enough rows that the source's COPY output outgrows the sockets' buffers before the target refuses. */
const ROWS = 300_000;

describe('a table resync whose COPY into the target fails part-way (issue 68)', function () {
  this.timeout(400_000);
  const servers = suiteServers({
    setUp: async (pair) => {
      await pair.source.query(`CREATE DATABASE ${DB}`);
      // the row the target will refuse comes first in the table's file, so the COPY fails at its start
      await pair.source.query(
        `CREATE TABLE big (id int PRIMARY KEY, v text NOT NULL);
         INSERT INTO big VALUES (0, 'refused on the target');
         INSERT INTO big SELECT g, repeat('x', 80) FROM generate_series(1, ${ROWS}) g;`,
        [],
        DB,
      );
    },
  });

  it('records the refusal after one try, leaves no source session in transaction, and the application’s ALTER TABLE goes through', async () => {
    const { pair } = servers;
    const spec = pairSpec(pair, NAME, [DB], { mode: 'Online', option: 'Migrate' });
    const store = new CatalogConnection(serverSpec(pair.target));
    const running = runMigration(spec);
    try {
      await waitForStatus(store, NAME, (s) => s.state === 'WaitingForUserAction' || s.state === 'Failed');
      // a DBA's constraint on the target, not checked against the rows already there
      await pair.target.query(`ALTER TABLE big ADD CONSTRAINT dba_no_refused CHECK (v <> 'refused on the target') NOT VALID`, [], DB);
      await requestResync(spec.target, NAME, 'public.big');
      const [request] = await until(
        'the resync of public.big to end',
        async () => {
          const done = (await tableResyncs(store, NAME)).filter((r) => r.table === 'public.big' && r.doneAt !== undefined);
          return done.length > 0 ? done : undefined;
        },
        180_000,
      );
      assert.match(request!.error ?? '', /dba_no_refused/, 'the refusal is recorded with the constraint that made it');
      // the same rows meet the same constraint on every try: the table is not copied again for nothing
      assert.equal(request!.attempts, 1, 'a constraint refusal ends the request at its first try');

      // the refused copy's sessions are ended as it is recorded; their backends go within moments (a
      // loaded machine may show one a little longer), and a session stuck in its transaction never
      // goes: waited for, bounded, the names of what is still open given on a timeout
      let seen: string[] = [];
      await until(
        'no pgferry session left in a transaction on the source',
        async () => {
          const open = await pair.source.query<{ app: string }>(
            `SELECT application_name AS app FROM pg_stat_activity WHERE datname = $1 AND state LIKE 'idle in transaction%' AND application_name LIKE 'pgferry%'`,
            [DB],
          );
          seen = open.map((r) => r.app);
          return open.length === 0 ? true : undefined;
        },
        30_000,
      ).catch((error: Error) => assert.fail(`${error.message}; still open: ${seen.join(', ')}`));
      // the application's DDL is not held behind the resync's lock
      await pair.source.query(`SET lock_timeout = '10s'; ALTER TABLE big ADD COLUMN note text`, [], DB);
      const [column] = await pair.source.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = 'public.big'::regclass AND attname = 'note'`,
        [],
        DB,
      );
      assert.equal(column!.n, 1);
      // the refused copy's transaction was rolled back: the target kept the rows it had
      const [rows] = await pair.target.query<{ n: number }>('SELECT count(*)::int AS n FROM big', [], DB);
      assert.equal(rows!.n, ROWS + 1);
    } finally {
      await endIfRunning(spec, running);
      await store.close();
    }
  });
});

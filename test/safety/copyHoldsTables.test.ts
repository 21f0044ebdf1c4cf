// Issue 12, "the copy holds what it copies": TRUNCATE is not MVCC-safe, so five small tables
// truncated on the source while a large one was copying used to arrive empty on the target, and
// the verification, reading the same snapshot, reported equal counts. The copy now takes ACCESS
// SHARE on every table before its snapshot: the TRUNCATE waits until the copy is done.
import assert from 'node:assert/strict';
import { runMigration } from '../../provider/engine';
import { CopyHold, pairSpec, suiteServers, until } from '../support';

const SMALL = ['s1', 's2', 's3', 's4', 's5'];

describe('safety: the copy holds the tables it copies', function () {
  this.timeout(300_000);
  const servers = suiteServers({
    setUp: async (pair) => {
      await pair.source.query('CREATE DATABASE held');
      await pair.source.query(
        `CREATE TABLE big (id int PRIMARY KEY, pad text);
         INSERT INTO big SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g;
         ${SMALL.map((t) => `CREATE TABLE ${t} (id int PRIMARY KEY); INSERT INTO ${t} SELECT generate_series(1, 100);`).join('\n')}`,
        [],
        'held',
      );
    },
  });

  it('offline: tables truncated on the source during the copy arrive with the rows of the copy snapshot', async () => {
    const { pair } = servers;
    const truncater = await pair.source.connect('held');
    // The copy of big is held mid-stream (through a proxy in front of the target) while the TRUNCATE comes.
    const hold = await CopyHold.start(pair.target, /"big"/);
    try {
      // one copy job: the small tables wait behind the large one
      const spec = pairSpec(pair, 'held-offline', ['held'], { option: 'Migrate', tableJobs: 1 });
      const running = runMigration({ ...spec, target: { ...spec.target, port: hold.port } });
      await hold.whenHeld();
      let truncatedAt = 0;
      const truncaterPid = (await truncater.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const truncating = truncater.query(`TRUNCATE ${SMALL.join(', ')}`).then(() => (truncatedAt = Date.now()));
      await until('the TRUNCATE to wait for a lock of the copy', async () => {
        const rows = await pair.source.query(`SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'`, [truncaterPid]);
        return rows.length > 0 ? true : undefined;
      });
      hold.release();
      const status = await running;
      const finishedAt = Date.now();
      assert.equal(status.state, 'Succeeded', status.message);
      assert.equal(status.verification?.ok, true);
      for (const t of SMALL) {
        const [row] = await pair.target.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${t}`, [], 'held');
        assert.equal(row!.n, 100, `${t} on the target`);
      }
      await truncating;
      // the TRUNCATE waited for the copy's locks: it committed only once the migration was done
      assert.ok(truncatedAt > 0 && truncatedAt <= finishedAt + 1000);
      const [after] = await pair.source.query<{ n: number }>(`SELECT count(*)::int AS n FROM s1`, [], 'held');
      assert.equal(after!.n, 0);
    } finally {
      await truncater.end();
      await hold.close();
    }
  });

  it('fails naming the session that holds a conflicting lock, once lockTimeoutSeconds has passed', async () => {
    const { pair } = servers;
    await pair.source.query(`INSERT INTO s1 SELECT generate_series(1, 10)`, [], 'held');
    const locker = await pair.source.connect('held');
    try {
      await locker.query(`SET application_name = 'nightly-maintenance'`);
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE s1 IN ACCESS EXCLUSIVE MODE');
      const [{ pid }] = (await locker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows as [{ pid: number }];
      // the locker holds until the finally below: a run that ended at all did not wait for it
      const status = await runMigration(
        pairSpec(pair, 'held-locked', ['held'], { option: 'Migrate', overwriteDbsInTarget: true, lockTimeoutSeconds: 1 }),
      );
      assert.equal(status.state, 'Failed');
      assert.match(status.message ?? '', new RegExp(`pid ${pid}\\b.*nightly-maintenance`));
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      await locker.end();
    }
    // nothing waits on the source once the migration gave up
    await until('no pgferry session left on the source', async () => {
      const rows = await pair.source.query(`SELECT 1 FROM pg_stat_activity WHERE application_name LIKE 'pgferry%'`);
      return rows.length === 0 ? true : undefined;
    });
  });
});

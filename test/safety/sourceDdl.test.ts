// Issue 18: DDL pgferry runs on the source never queues behind a long transaction for more than a
// short lock wait, so the application's queries never stall behind it for longer; after
// lockTimeoutSeconds it gives up naming the session that holds the table, and an online
// migration that gives up leaves the source as it was.
import assert from 'node:assert/strict';
import type pg from 'pg';
import { runMigration } from '../../provider/engine';
import { runSourceDdl, SOURCE_DDL_LOCK_TIMEOUT_MS } from '../../provider/engine/cdc/prepare/sourceDdl';
import { isPgferryError } from '../../provider/engine/core/errors';
import { pairSpec, suiteServers } from '../support';

const DB = 'busy';
/** How long runSourceDdl tries before it gives up, in this test. */
const PATIENCE_SECONDS = 8;
/**
 * Beyond pgferry's own lock wait, what the application may wait for its lock: pgferry's backend,
 * once its lock_timeout fires, must be scheduled to leave the lock queue, later on a loaded machine.
 */
const QUEUE_LEAVING_MARGIN_MS = 1000;
/**
 * Beyond the patience and one last lock wait, the time of runSourceDdl's round trips and of its
 * query naming the holder: each a few milliseconds on a quiet machine, many times that under load.
 */
const ROUND_TRIPS_MARGIN_MS = 10_000;

/**
 * Inserts in a loop until stopped; returns the slowest statement's time (printed, not judged: the
 * machine's load is in it) and every error. The server ends any insert that waits for a lock
 * longer than pgferry's short lock wait and a margin (lock_timeout): that error is the judgement.
 */
function application(client: pg.Client): { stop: () => Promise<{ slowestMs: number; errors: string[]; statements: number }> } {
  let stopped = false;
  const errors: string[] = [];
  let slowestMs = 0;
  let statements = 0;
  const loop = (async () => {
    await client.query(`SET lock_timeout = '${SOURCE_DDL_LOCK_TIMEOUT_MS + QUEUE_LEAVING_MARGIN_MS}ms'`);
    for (let i = 0; !stopped; i++) {
      const began = Date.now();
      try {
        await client.query('INSERT INTO nokey (id, v) VALUES ($1, 0)', [10_000 + i]);
        statements += 1;
      } catch (error) {
        errors.push((error as Error).message);
      }
      slowestMs = Math.max(slowestMs, Date.now() - began);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return { slowestMs, errors, statements };
    },
  };
}

describe('safety: pgferry DDL on the source waits briefly and names who holds a table', function () {
  this.timeout(300_000);
  const servers = suiteServers({
    databases: {
      [DB]: 'CREATE TABLE nokey (id int, v int); CREATE TABLE keyed (id int PRIMARY KEY)',
    },
  });

  it('retries with short lock waits while an application keeps writing, then names the blocking session', async () => {
    const { pair } = servers;
    const holder = await pair.source.connect(DB);
    const writer = await pair.source.connect(DB);
    const ddl = await pair.source.connect(DB);
    try {
      await holder.query(`SET application_name = 'nightly-report'`);
      await holder.query('BEGIN');
      await holder.query('SELECT count(*) FROM nokey');
      const [{ pid }] = (await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows as [{ pid: number }];
      const app = application(writer);
      const began = Date.now();
      const alter = {
        what: 'set REPLICA IDENTITY FULL on public.nokey',
        tables: [(await ddl.query<{ oid: string }>(`SELECT 'nokey'::regclass::oid::text AS oid`)).rows[0]!.oid],
        lock: 'AccessExclusiveLock' as const,
        statements: ['ALTER TABLE nokey REPLICA IDENTITY FULL'],
      };
      await assert.rejects(runSourceDdl(ddl, alter, { seconds: PATIENCE_SECONDS }), (error: unknown) => {
        assert.ok(isPgferryError(error) && error.code === 'SOURCE_DDL_BLOCKED', String(error));
        assert.match(error.message, new RegExp(`pid ${pid} \\(user \\S+, application "nightly-report", idle in transaction`));
        return true;
      });
      const waited = Date.now() - began;
      const seen = await app.stop();
      // the application never waited behind pgferry's lock request longer than its short lock wait:
      // the server would have ended that insert (lock_timeout)
      assert.deepEqual(seen.errors, []);
      // it wrote while pgferry tried: pgferry backs off at least three times before its deadline can
      // pass, queues nothing meanwhile, and each back-off is longer than an insert's round trip
      const [written] = await pair.source.query<{ n: number }>('SELECT count(*)::int AS n FROM nokey WHERE id >= 10000', [], DB);
      assert.equal(written!.n, seen.statements);
      assert.ok(seen.statements >= 3, `${seen.statements} statements`);
      // The lower bound: before its deadline can pass, its lock waits and back-offs, timers that a
      // loaded machine only lengthens, add up to more than this. The upper bound: it starts no
      // attempt past its patience, so at most one lock wait follows; a pgferry that waited for the
      // holder would wait until the test lets go, far past either.
      const longest = PATIENCE_SECONDS * 1000 + SOURCE_DDL_LOCK_TIMEOUT_MS + ROUND_TRIPS_MARGIN_MS;
      assert.ok(waited >= 4000 && waited < longest, `gave up after ${waited} ms`);
      console.log(`      (gave up after ${waited} ms; ${seen.statements} application statements, slowest ${seen.slowestMs} ms)`);
      await holder.query('COMMIT');
      await runSourceDdl(ddl, alter, { seconds: PATIENCE_SECONDS });
      const [row] = await pair.source.query<{ r: string }>(`SELECT relreplident::text AS r FROM pg_class WHERE relname = 'nokey'`, [], DB);
      assert.equal(row!.r, 'f');
      await pair.source.query('ALTER TABLE nokey REPLICA IDENTITY DEFAULT', [], DB);
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await Promise.all([holder.end(), writer.end(), ddl.end()]);
    }
  });

  it('an online migration that cannot set REPLICA IDENTITY FULL fails naming the session and leaves the source as it was', async () => {
    const { pair } = servers;
    const holder = await pair.source.connect(DB);
    try {
      await holder.query(`SET application_name = 'long-etl'`);
      await holder.query('BEGIN');
      await holder.query('SELECT count(*) FROM nokey');
      const [{ pid }] = (await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows as [{ pid: number }];
      const status = await runMigration(
        pairSpec(pair, 'busy-online', [DB], {
          mode: 'Online',
          option: 'Migrate',
          overwriteDbsInTarget: true,
          allowReplicaIdentityFull: true,
          lockTimeoutSeconds: 3,
        }),
      );
      assert.equal(status.state, 'Failed');
      assert.match(status.message ?? '', new RegExp(`REPLICA IDENTITY FULL on public\\.nokey.*pid ${pid}\\b.*long-etl`));
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
    }
    const [left] = await pair.source.query<{ pubs: number; slots: number; ident: string }>(
      `SELECT (SELECT count(*) FROM pg_publication)::int AS pubs, (SELECT count(*) FROM pg_replication_slots)::int AS slots,
              (SELECT relreplident::text FROM pg_class WHERE relname = 'nokey') AS ident`,
      [],
      DB,
    );
    assert.deepEqual(left, { pubs: 0, slots: 0, ident: 'd' });
  });
});

// The recorded position of the target against batches that never commit. A runner can die, and a
// COMMIT can fail, at any point of a batch; the position must then stay where the last committed
// batch left it, or the next runner skips the lost batch. Before the fix, the origin's
// pg_replication_origin_xact_setup ran as a statement of its own before COMMIT: a connection that
// ended after it (killed runner, failed COMMIT) armed the origin, and the transaction that drops
// the session's temporary tables on disconnect moved it past the lost batch.
import assert from 'node:assert/strict';
import pg from 'pg';
import { openAppliedPosition, type AppliedPosition, type PositionKey } from '../../provider/engine/cdc/apply/positionCommit';
import { StatementPipeline } from '../../provider/engine/cdc/apply/statementPipeline';
import { ident } from '../../provider/engine/connect/quote';
import { startCluster, uniqueName, until, type Cluster } from '../support';

const FIRST = 0x1_0000_0000n + 0x100n;
const LOST = 0x1_0000_0000n + 0xabcdefn;
const LOST_TEXT = '1/ABCDEF'; // LOST as pg_lsn text

describe('cdc: recorded position vs. batches that never commit (integration)', function () {
  this.timeout(120_000);
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({ major: 15, label: 'progress' });
  });
  after(async () => cluster?.stop());

  /** A database with a table whose duplicate keys are only refused at COMMIT, and one applier-like connection. */
  async function setup(): Promise<{ db: string; key: PositionKey }> {
    const db = uniqueName('progress').replace(/-/g, '_');
    await cluster.query(`CREATE DATABASE ${ident(db)}`);
    await cluster.query('CREATE TABLE t (x int UNIQUE DEFERRABLE INITIALLY DEFERRED)', [], db);
    return { db, key: { origin: `pgferry_test_${db}`, migration: 'm', database: db } };
  }

  /** A session in pg's pipeline mode, as the apply's target sessions are (statementPipeline.ts). */
  async function applySession(db: string): Promise<pg.Client> {
    const client = new pg.Client({
      host: cluster.host,
      port: cluster.port,
      user: cluster.user,
      password: cluster.password,
      database: db,
      pipeline: true,
    });
    await client.connect();
    return client;
  }

  /** BEGIN, the batch's statements, then its progress record and COMMIT, as the apply session sends them. */
  async function batch(
    client: pg.Client,
    progress: AppliedPosition,
    sql: string,
    lsn: bigint,
    options: { stopBeforeLast?: boolean } = {},
  ): Promise<void> {
    const pipeline = new StatementPipeline(client, 4);
    const fail = (e: unknown): Error => e as Error;
    await pipeline.send({ text: 'BEGIN' }, fail);
    // the session's staging tables are temporary: the connection drops them when it ends
    await pipeline.send({ text: 'CREATE TEMPORARY TABLE IF NOT EXISTS stage (x int) ON COMMIT DELETE ROWS' }, fail);
    await pipeline.send({ text: sql }, fail);
    const statements = progress.commitStatements(lsn, Date.now(), { insert: 0, update: 0, delete: 0 });
    if (options.stopBeforeLast) statements.pop();
    for (const statement of statements) await pipeline.send(statement, fail);
    await pipeline.idle();
  }

  async function recordedAfterDisconnect(db: string, key: PositionKey, preferTable: boolean, backendPid: number): Promise<bigint> {
    // the old backend must be gone: its exit is where a stale origin position would be committed
    await until(
      'the old backend to exit',
      async () => ((await cluster.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [backendPid])).length === 0 ? true : undefined),
      30_000,
      50,
    );
    const client = await cluster.connect(db);
    try {
      return await (await openAppliedPosition(client, key, preferTable)).read();
    } finally {
      await client.end();
    }
  }

  it('disarm() clears an origin position left set by a transaction that failed after its setup', async () => {
    // The server behaviour guarded against, then the guard: a position set in a transaction that
    // then failed is recorded by the commit that drops temporary tables at disconnect, unless the
    // session disarms it first.
    for (const disarm of [false, true]) {
      const { db, key } = await setup();
      const client = await applySession(db);
      const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const progress = await openAppliedPosition(client, key, false);
      await batch(client, progress, 'INSERT INTO t VALUES (1)', FIRST);
      await client.query('BEGIN');
      await client.query('INSERT INTO t VALUES (2)');
      await client.query('SELECT pg_replication_origin_xact_setup($1::pg_lsn, now())', [LOST_TEXT]);
      await assert.rejects(client.query('SELECT 1 / 0'), /division by zero/);
      if (disarm) await progress.disarm();
      await client.end();
      const recorded = await recordedAfterDisconnect(db, key, false, pid);
      assert.equal(
        recorded.toString(16),
        (disarm ? FIRST : LOST).toString(16),
        disarm ? 'disarmed' : "the server no longer records a failed transaction's position: revisit progress.ts",
      );
      assert.deepEqual(await cluster.query('SELECT x FROM t', [], db), [{ x: 1 }]);
    }
  });

  for (const preferTable of [false, true]) {
    const mode = preferTable ? 'table' : 'origin';

    it(`a COMMIT that fails leaves the position at the last committed batch (progress: ${mode})`, async () => {
      const { db, key } = await setup();
      const client = await applySession(db);
      const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const progress = await openAppliedPosition(client, key, preferTable);
      assert.equal(progress.mode, mode);
      await batch(client, progress, 'INSERT INTO t VALUES (1)', FIRST);
      await assert.rejects(batch(client, progress, 'INSERT INTO t VALUES (2), (2)', LOST), /duplicate key/);
      await client.end();
      assert.equal((await recordedAfterDisconnect(db, key, preferTable, pid)).toString(16), FIRST.toString(16));
      assert.deepEqual(await cluster.query('SELECT x FROM t', [], db), [{ x: 1 }]);
    });

    it(`a connection lost before COMMIT leaves the position at the last committed batch (progress: ${mode})`, async () => {
      const { db, key } = await setup();
      const client = await applySession(db);
      client.on('error', () => undefined);
      const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const progress = await openAppliedPosition(client, key, preferTable);
      await batch(client, progress, 'INSERT INTO t VALUES (1)', FIRST);
      // everything of the batch but its last statement, then the socket goes away as a SIGKILL would
      await batch(client, progress, 'INSERT INTO t VALUES (2)', LOST, { stopBeforeLast: true });
      (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
      assert.equal((await recordedAfterDisconnect(db, key, preferTable, pid)).toString(16), FIRST.toString(16));
      assert.deepEqual(await cluster.query('SELECT x FROM t', [], db), [{ x: 1 }]);
    });
  }
});

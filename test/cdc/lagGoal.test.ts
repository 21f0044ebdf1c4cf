// Issue 68 (a resumed cutover rolled back under load) and issue 64 (a pooled fall-back let on with
// a commit still to apply): the lag gate's probe, on a real server, with appliers standing where the
// gate must judge them. The probe holds each stream to a point it writes and flushes on the held
// server (switchover/flushedPoint.ts), not within a page header of the WAL's end, which a commit
// record fits in; and a stream whose walsender still reads the WAL before the stream's start (a
// runner just resumed) is waited for within the budget, not judged by a probe it cannot show progress in.
import assert from 'node:assert/strict';
import type { Applier, ApplyStats } from '../../provider/engine/cdc/apply/applier';
import { formatLsn, parseLsn } from '../../provider/engine/core/lsn';
import { ApplyRateMeter, CAUGHT_UP_BYTES, measureCatchUp, overBudget } from '../../provider/engine/switchover/lagGate';
import { serverSpec, startCluster, type Cluster } from '../support';

async function createItems(cluster: Cluster, db: string): Promise<void> {
  await cluster.query(`CREATE DATABASE ${db}`);
  await cluster.query(
    `CREATE TABLE items (id int PRIMARY KEY, v text NOT NULL); INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 1000) g`,
    [],
    db,
  );
}

/** An applier as the gate reads it, standing at `confirmed`, its walsender past it, and asked for nothing more. */
function standingApplier(confirmed: bigint): Applier {
  const stats: Pick<ApplyStats, 'appliedLsn' | 'confirmedLsn' | 'receivedLsn'> = {
    appliedLsn: 0n,
    confirmedLsn: confirmed,
    receivedLsn: confirmed,
  };
  return { stats: () => stats, requestPosition: () => undefined } as unknown as Applier;
}

/**
 * An applier just restarted at `start` whose walsender reads the WAL again from the slot's restart
 * point for `rereadMs`, reporting positions behind `start`, and then has everything applied.
 */
function restartedApplier(start: bigint, rereadMs: number): Applier {
  const rereadUntil = Date.now() + rereadMs;
  const everything = parseLsn('FFFF/0');
  const stats = (): Pick<ApplyStats, 'appliedLsn' | 'confirmedLsn' | 'receivedLsn'> =>
    Date.now() < rereadUntil
      ? { appliedLsn: start, confirmedLsn: start, receivedLsn: start - 4096n }
      : { appliedLsn: start, confirmedLsn: everything, receivedLsn: everything };
  return { stats, requestPosition: () => undefined } as unknown as Applier;
}

describe("the lag gate's probe on a real source (integration)", function () {
  this.timeout(120_000);
  let source: Cluster;

  before(async () => {
    source = await startCluster({ label: 'lag-goal' });
  });
  after(async () => {
    await source?.stop();
  });

  it('a stream standing just before a commit it has not applied is predicted over the budget, not caught up', async () => {
    const db = 'gate_short';
    await createItems(source, db);
    const client = await source.connect(db);
    let beforeCommit: bigint;
    try {
      await client.query('BEGIN');
      await client.query(`INSERT INTO items VALUES (5000, 'committed last')`);
      // what a walsender reports while the transaction's commit is still ahead of it
      const { rows } = await client.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
      beforeCommit = parseLsn(rows[0]!.lsn);
      await client.query('COMMIT');
    } finally {
      await client.end();
    }
    const [{ gap }] = await source.query<{ gap: string }>(`SELECT (pg_current_wal_insert_lsn() - $1::pg_lsn)::text AS gap`, [
      formatLsn(beforeCommit),
    ]);
    // the fixture: the commit lies ahead of the stream, and so few bytes ahead that by bytes alone
    // the stream counts as caught up (on a quiet server the commit record is all there is; the
    // server's own background writes may add some, never as much)
    assert.ok(
      Number(gap) > 0 && Number(gap) <= CAUGHT_UP_BYTES,
      `the commit is ahead of the stream, within what bytes alone count as caught up (${gap} bytes)`,
    );
    const catchUps = await measureCatchUp(
      serverSpec(source),
      [{ database: db, applier: standingApplier(beforeCommit) }],
      new ApplyRateMeter(),
      {
        probe: true,
        budgetSeconds: 5,
        goalPrefix: 'pgferry.gate.test',
      },
    );
    const over = overBudget(catchUps, 5);
    assert.ok(
      over,
      `the stream a commit short is over the budget: ${JSON.stringify(catchUps, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`,
    );
    assert.equal(over.seconds, Infinity);
    assert.ok(over.pendingBytes > 0);
  });

  it('a stream whose walsender still reads the WAL before its start is waited for, not judged by the probe', async () => {
    const db = 'gate_restarted';
    await createItems(source, db);
    const [{ lsn }] = await source.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
    // longer than the probe watches a stream that reports a position
    const applier = restartedApplier(parseLsn(lsn!), 5_000);
    const catchUps = await measureCatchUp(serverSpec(source), [{ database: db, applier }], new ApplyRateMeter(), {
      probe: true,
      budgetSeconds: 30,
      goalPrefix: 'pgferry.gate.test',
    });
    assert.equal(overBudget(catchUps, 30), undefined, JSON.stringify(catchUps));
    assert.equal(catchUps[0]!.pendingBytes, 0);
  });
});

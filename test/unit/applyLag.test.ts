// The latency figure (cdc/apply/applyLag.ts), read from pgoutput Begin messages as they arrive: a
// backlog waiting in the queue shows, a stalled target shows, and an applied stream reads 0.
import assert from 'node:assert/strict';
import { ApplyLag } from '../../provider/engine/cdc/apply/applyLag';

const PG_EPOCH_MS = 946_684_800_000;

/** A pgoutput Begin message (after 3 bytes of something else, as in a CopyData frame). */
function begin(commitLsn: bigint, commitMs: number): Buffer {
  const message = Buffer.alloc(3 + 21);
  message[3] = 0x42;
  message.writeBigUInt64BE(commitLsn, 4);
  message.writeBigInt64BE(BigInt(commitMs - PG_EPOCH_MS) * 1000n, 12);
  message.writeUInt32BE(7, 20);
  return message;
}

describe('unit: the apply latency figure', () => {
  const t0 = Date.parse('2026-11-23T07:00:00Z');

  it('reads 0 with nothing received, and 0 again once everything received is applied', () => {
    const lag = new ApplyLag();
    assert.equal(lag.seconds(), 0);
    lag.received(begin(100n, t0), 3);
    lag.appliedBefore(101n);
    assert.equal(lag.seconds(), 0);
  });

  it('shows a backlog in source time: the oldest unapplied transaction behind the newest received', () => {
    const lag = new ApplyLag();
    const now = Date.now();
    lag.received(begin(100n, t0), 3);
    lag.received(begin(200n, t0 + 20_000), 3);
    lag.received(begin(300n, t0 + 30_000), 3);
    assert.equal(lag.seconds(now), 30);
    lag.appliedBefore(250n); // the first two are applied
    assert.equal(lag.seconds(now), 0, 'only the newest is left: nothing is behind it, and it has just arrived');
    lag.appliedBefore(300n); // a commit LSN is below its own end: 300 is not applied yet
    assert.equal(lag.seconds(now), 0);
  });

  it('shows a stalled target: a transaction waiting since it arrived, with no clock compared with the source', () => {
    const lag = new ApplyLag();
    // the source's clock is a day off: it does not matter
    lag.received(begin(100n, t0 - 86_400_000), 3);
    const arrived = Date.now();
    assert.ok(lag.seconds(arrived + 12_000) >= 11.9 && lag.seconds(arrived + 12_000) <= 12.1);
  });

  it('ignores messages other than Begin, and forgets what a new session will receive again', () => {
    const lag = new ApplyLag();
    const insert = Buffer.from([0x49, 0, 0, 0, 1]);
    lag.received(insert, 0);
    assert.equal(lag.seconds(Date.now() + 5_000), 0);
    lag.received(begin(100n, t0), 3);
    lag.restart();
    assert.equal(lag.seconds(Date.now() + 5_000), 0);
  });

  it('keeps up with many transactions applied in between (compaction keeps the oldest right)', () => {
    const lag = new ApplyLag();
    for (let i = 1; i <= 10_000; i++) lag.received(begin(BigInt(i * 10), t0 + i), 3);
    lag.appliedBefore(BigInt(9_000 * 10 + 1)); // 9000 applied
    assert.equal(lag.seconds(Date.now()), (10_000 - 9_001) / 1000);
  });
});

// How often an apply session sends the source a status update: well inside the source's
// wal_sender_timeout, since a paused stream reads none of the walsender's keepalives.
import assert from 'node:assert/strict';
import { statusIntervalMs } from '../../provider/engine/cdc/receive/stream';

describe('the status update interval of a replication stream', () => {
  it('is a quarter of the source wal_sender_timeout, at most the usual interval', () => {
    assert.equal(statusIntervalMs(2_000), 500);
    assert.equal(statusIntervalMs(20_000), 5_000);
    assert.equal(statusIntervalMs(60_000), 10_000);
  });

  it('keeps the usual interval when the source never times a client out', () => {
    assert.equal(statusIntervalMs(0), 10_000);
    assert.equal(statusIntervalMs(Number.NaN), 10_000);
  });

  it('never sends more often than its floor, whatever the timeout', () => {
    assert.equal(statusIntervalMs(100), 200);
  });
});

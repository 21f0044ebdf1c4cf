import assert from 'node:assert/strict';
import { EventQueue } from '../../provider/engine/cdc/eventQueue';

describe('cdc/eventQueue (pure)', () => {
  it('asks the producer to pause above the budget and to resume below half of it', async () => {
    const calls: string[] = [];
    const q = new EventQueue<number>(100, () => calls.push('pause'), () => calls.push('resume'));
    for (let i = 0; i < 5; i++) q.push(i, 30);
    assert.deepEqual(calls, ['pause']); // 120 > 100 after the fourth push; once only
    assert.equal(await q.next(10), 0);
    assert.equal(await q.next(10), 1);
    assert.equal(await q.next(10), 2); // 60 held: not yet below half
    assert.deepEqual(calls, ['pause']);
    assert.equal(await q.next(10), 3); // 30 held
    assert.deepEqual(calls, ['pause', 'resume']);
    assert.equal(await q.next(10), 4);
    assert.equal(await q.next(10), undefined); // timeout with nothing queued
  });

  it('hands an item straight to a waiting consumer and wakes it with a failure', async () => {
    const q = new EventQueue<string>(100, () => undefined, () => undefined);
    const waiting = q.next(5_000);
    q.push('x', 10);
    assert.equal(await waiting, 'x');
    const failing = q.next(5_000);
    q.fail(new Error('stream ended'));
    await assert.rejects(failing, /stream ended/);
    await assert.rejects(q.next(10), /stream ended/);
  });

  it('keeps FIFO order across compaction', async () => {
    const q = new EventQueue<number>(1e9, () => undefined, () => undefined);
    for (let i = 0; i < 10_000; i++) q.push(i, 1);
    for (let i = 0; i < 10_000; i++) assert.equal(await q.next(10), i);
    assert.equal(q.length, 0);
    assert.equal(q.bytes, 0);
  });
});

import assert from 'node:assert/strict';
import { RecordQueue, type QueuedRecord } from '../../provider/engine/cdc/receive/recordQueue';

const payload = (text: string): Buffer => Buffer.from(text, 'utf8');
const read = (r: QueuedRecord | undefined): string =>
  r === undefined ? 'none' : r.kind === 'keepalive' ? `k${r.walEnd}` : r.bytes.toString('utf8', r.start, r.end);

describe('cdc/recordQueue (pure)', () => {
  it('keeps payloads and keepalives in order, copied out of the producer buffer', async () => {
    const q = new RecordQueue(
      1 << 20,
      () => undefined,
      () => undefined,
    );
    const reused = payload('first');
    q.pushXlog(reused);
    reused.write('XXXXX'); // pg's parser reuses its buffer: the queued record must not change
    q.pushKeepalive(42n);
    q.pushXlog(payload('second'));
    assert.equal(read(await q.next(10)), 'first');
    assert.equal(read(await q.next(10)), 'k42');
    assert.equal(read(await q.next(10)), 'second');
    assert.equal(read(await q.next(10)), 'none');
    assert.equal(q.isEmpty, true);
  });

  it('asks the producer to pause above the budget and to resume below half of it', async () => {
    const calls: string[] = [];
    const q = new RecordQueue(
      100,
      () => calls.push('pause'),
      () => calls.push('resume'),
    );
    for (let i = 0; i < 5; i++) q.pushXlog(Buffer.alloc(25, i)); // 30 bytes each with the header
    assert.deepEqual(calls, ['pause']); // 120 > 100 after the fourth; once only
    assert.equal(q.bytes, 150);
    await q.next(10);
    await q.next(10);
    await q.next(10); // 60 held: not yet below half
    assert.deepEqual(calls, ['pause']);
    await q.next(10); // 30 held
    assert.deepEqual(calls, ['pause', 'resume']);
  });

  it('a widened budget resumes a paused producer at once when below half of it, and pauses only above it', async () => {
    const calls: string[] = [];
    const q = new RecordQueue(
      50,
      () => calls.push('pause'),
      () => calls.push('resume'),
    );
    for (let i = 0; i < 3; i++) q.pushXlog(Buffer.alloc(25, i)); // 90 held, paused past 50
    assert.deepEqual(calls, ['pause']);
    q.setBudget(1000); // 90 < 500: resumed without a record taken
    assert.deepEqual(calls, ['pause', 'resume']);
    for (let i = 0; i < 20; i++) q.pushXlog(Buffer.alloc(25, i)); // 690 held: within the new budget
    assert.deepEqual(calls, ['pause', 'resume']);
    for (let i = 0; i < 11; i++) q.pushXlog(Buffer.alloc(25, i)); // 1020 held
    assert.deepEqual(calls, ['pause', 'resume', 'pause']);
    assert.equal(q.bytes, 1020);
  });

  it('hands a record straight to a waiting consumer and wakes it with a failure', async () => {
    const q = new RecordQueue(
      100,
      () => undefined,
      () => undefined,
    );
    const waiting = q.next(5_000);
    q.pushXlog(payload('x'));
    assert.equal(read(await waiting), 'x');
    const failing = q.next(5_000);
    q.fail(new Error('stream ended'));
    await assert.rejects(failing, /stream ended/);
    await assert.rejects(q.next(10), /stream ended/);
  });

  it('spans many chunks, takes payloads larger than a chunk, and reads a chunk while it grows', async () => {
    const q = new RecordQueue(
      1 << 30,
      () => undefined,
      () => undefined,
    );
    const big = Buffer.alloc(200 * 1024, 7);
    let pushed = 0;
    let taken = 0;
    for (let i = 0; i < 20_000; i++) {
      q.pushXlog(i % 5000 === 0 ? big : payload(`row ${i}`));
      pushed += 1;
      if (i % 3 === 0) {
        // interleave reading with writing: the reader catches up with the chunk being filled
        const r = await q.next(10);
        const want = taken % 5000 === 0 ? big.length : `row ${taken}`.length;
        assert.equal(r?.kind === 'xlog' ? r.end - r.start : -1, want);
        taken += 1;
      }
    }
    while (taken < pushed) {
      const r = await q.next(10);
      if (taken % 5000 !== 0) assert.equal(read(r), `row ${taken}`);
      taken += 1;
    }
    assert.equal(read(await q.next(10)), 'none');
    assert.equal(q.bytes, 0);
  });
});

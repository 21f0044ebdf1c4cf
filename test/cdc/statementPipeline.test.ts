// The apply's statement pipeline against a real server: how many statements may wait unfinished,
// bounded by their bytes, and what counts as in flight. The apply decodes its next batch only while
// send() returns at once; a bound of a few statements made it wait on every long UPDATE.
import assert from 'node:assert/strict';
import type pg from 'pg';
import { StatementPipeline } from '../../provider/engine/cdc/apply/statementPipeline';
import { startCluster, type Cluster } from '../support';

const fail = (e: unknown): Error => e as Error;

describe('cdc: statement pipeline bounds (integration)', function () {
  this.timeout(60_000);
  let cluster: Cluster;
  let client: pg.Client;
  before(async () => {
    cluster = await startCluster({ major: 15, label: 'pipeline' });
    client = await cluster.connect('postgres');
  });
  after(async () => {
    await client?.end();
    await cluster?.stop();
  });

  it('keeps sending while earlier statements run, up to its statement bound', async () => {
    const pipeline = new StatementPipeline(client, 8, 1024 * 1024);
    const finished: number[] = [];
    // the first holds the connection: every send after it must return without waiting for it
    await pipeline.send({ text: 'SELECT pg_sleep(0.5)' }, fail, () => finished.push(0));
    for (let i = 1; i < 8; i++) await pipeline.send({ text: `SELECT ${i}` }, fail, () => finished.push(i));
    assert.equal(pipeline.inFlight, 8);
    assert.equal(finished.length, 0);
    // the ninth is over the bound: send waits for the oldest
    await pipeline.send({ text: 'SELECT 8' }, fail, () => finished.push(8));
    assert.ok(finished.includes(0), 'the ninth send returned before the first statement finished');
    await pipeline.idle();
    assert.deepEqual(finished, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('waits for the oldest once the unfinished statements hold more bytes than its budget', async () => {
    const pipeline = new StatementPipeline(client, 64, 1000);
    const finished: string[] = [];
    const padded = (tag: string) => ({ text: `SELECT '${tag}', pg_sleep(0.2), '${'x'.repeat(600)}'` });
    await pipeline.send(padded('a'), fail, () => finished.push('a'));
    assert.equal(pipeline.inFlight, 1, 'one statement over the budget still goes, alone');
    await pipeline.send(padded('b'), fail, () => finished.push('b'));
    // a and b together pass 1000 bytes: b's send returned only once a had finished
    assert.deepEqual(finished, ['a']);
    assert.equal(pipeline.inFlight, 1);
    await pipeline.idle();
    assert.deepEqual(finished, ['a', 'b']);
  });

  it('counts finished statements out of flight without a later send or wait', async () => {
    const pipeline = new StatementPipeline(client, 64, 1024 * 1024);
    for (let i = 0; i < 5; i++) await pipeline.send({ text: `SELECT ${i}` }, fail);
    assert.ok(pipeline.inFlight > 0);
    // nothing awaits the pipeline here: only the statements' own completion lowers the count
    const deadline = Date.now() + 5_000;
    while (pipeline.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(pipeline.inFlight, 0, 'the apply flushes early only when the target has nothing in flight');
  });

  it('keeps the first failure and fails what was queued behind it', async () => {
    const pipeline = new StatementPipeline(client, 64, 1024 * 1024);
    const ran: number[] = [];
    await pipeline.send({ text: 'BEGIN' }, fail);
    await pipeline.send({ text: 'SELECT 1/0' }, (e) => new Error(`first: ${(e as Error).message}`));
    await pipeline
      .send(
        { text: 'SELECT 2' },
        (e) => new Error(`second: ${(e as Error).message}`),
        () => ran.push(2),
      )
      .catch(() => undefined);
    await assert.rejects(pipeline.idle(), /first: division by zero/);
    assert.deepEqual(ran, []);
    await client.query('ROLLBACK');
  });
});

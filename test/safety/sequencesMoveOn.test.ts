// Issue 14's campaign (seed 13936862): a source restarted during the cutover's sequence copy came
// back with its sequences up to 32 values ahead (nextval logs ahead of use), and the cutover's exact
// sequence check stopped a migration that had lost nothing. The cutover now copies sequence values
// once more when they alone differ, and compares again (cutover/sequenceRecheck.ts). Anything else
// that differs keeps stopping it, with the target's sequences left as they were.
import assert from 'node:assert/strict';
import { syncSequences } from '../../provider/engine/cutover/sequenceSync';
import { recheckMovedSequences } from '../../provider/engine/cutover/sequenceRecheck';
import { verifyDatabases } from '../../provider/engine/verify';
import { pairSpec, startPair, type ServerPair } from '../support';

const SCHEMA = `
CREATE TABLE orders (id serial PRIMARY KEY, item text);
CREATE SEQUENCE invoice_no START 1000 INCREMENT 5;
CREATE SEQUENCE "Odd ""name"" seq" INCREMENT -1 START -1;`;

async function nextValues(cluster: ServerPair['source']): Promise<string[]> {
  const rows = await cluster.query<{ v: string }>(
    `SELECT format('%s %s', sequencename, coalesce(last_value::text, 'not called')) AS v FROM pg_sequences ORDER BY 1`,
    [],
    'shop',
  );
  return rows.map((r) => r.v);
}

describe('cutover: sequences that moved on after they were copied (issue 14, seed 13936862)', function () {
  this.timeout(120_000);
  let pair: ServerPair;
  const spec = () => pairSpec(pair, 'seqmove', ['shop']);

  before(async () => {
    pair = await startPair();
    for (const cluster of [pair.source, pair.target]) {
      await cluster.query('CREATE DATABASE shop');
      await cluster.query(SCHEMA, [], 'shop');
    }
  });
  after(async () => pair?.stop());

  beforeEach(async () => {
    // as the cutover leaves them: rows applied, sequence values copied
    await pair.source.query(`TRUNCATE orders; INSERT INTO orders (item) SELECT 'i' || g FROM generate_series(1, 50) g`, [], 'shop');
    await pair.target.query(`TRUNCATE orders; INSERT INTO orders SELECT g, 'i' || g FROM generate_series(1, 50) g`, [], 'shop');
    await syncSequences(spec().source, spec().target, 'shop');
    assert.deepEqual(await nextValues(pair.target), await nextValues(pair.source));
  });

  it('a source sequence handed out after the copy (no row written) is copied again and the cutover verifies', async () => {
    await pair.source.query(`SELECT nextval('orders_id_seq') FROM generate_series(1, 32)`, [], 'shop');
    await pair.source.query(`SELECT nextval('invoice_no'), nextval('"Odd ""name"" seq"')`, [], 'shop');
    const verified = await verifyDatabases(spec(), { databases: ['shop'] });
    assert.equal(verified.ok, false, 'the first look must see the sequences that moved on');
    assert.match(verified.firstMismatch ?? '', /\(sequences\)/);

    const copied: string[] = [];
    const report = await recheckMovedSequences(spec(), verified, (database, count) => copied.push(`${database}:${count}`));
    assert.equal(report.ok, true, report.firstMismatch);
    assert.deepEqual(copied, ['shop:3']);
    assert.deepEqual(await nextValues(pair.target), await nextValues(pair.source));
    const [next] = await pair.target.query<{ id: string }>(`SELECT nextval('orders_id_seq')::text AS id`, [], 'shop');
    assert.equal(next!.id, '83', 'the target hands out the value after the 32 the source handed out');
  });

  it('a table that differs as well stops the cutover and leaves the target sequences as they were', async () => {
    await pair.source.query(`SELECT nextval('invoice_no')`, [], 'shop');
    await pair.target.query(`DELETE FROM orders WHERE id = 7`, [], 'shop');
    const before = await nextValues(pair.target);
    const verified = await verifyDatabases(spec(), { databases: ['shop'] });
    const report = await recheckMovedSequences(spec(), verified, () => assert.fail('nothing may be copied again'));
    assert.equal(report, verified);
    assert.equal(report.ok, false);
    assert.deepEqual(await nextValues(pair.target), before);
  });

  it('a sequence missing on the target stops the cutover and nothing is copied again', async () => {
    await pair.source.query(`CREATE SEQUENCE only_here; SELECT nextval('invoice_no')`, [], 'shop');
    try {
      const before = await nextValues(pair.target);
      const verified = await verifyDatabases(spec(), { databases: ['shop'] });
      const report = await recheckMovedSequences(spec(), verified, () => assert.fail('nothing may be copied again'));
      assert.equal(report, verified);
      assert.equal(report.ok, false);
      assert.match(report.firstMismatch ?? '', /\(sequences\).*\(and 1 more\)/);
      assert.deepEqual(await nextValues(pair.target), before);
    } finally {
      await pair.source.query('DROP SEQUENCE only_here', [], 'shop');
    }
  });
});

// `pgferry verify` catches what it exists for: after an offline migration it exits 0, and 1 with
// the difference named for each change made on the target alone (a row count, a table missing,
// a table only on the target, a large object's content, a sequence), 0 again once it is undone.
import assert from 'node:assert/strict';
import { readSequenceStates, targetBehindItsRows } from '../../provider/engine/verify/sequenceCheck';
import { startPair, type ServerPair } from '../support';
import { propertiesFile, runCli, PGFERRY_JSON } from './helpers';

interface Report {
  ok: boolean;
  tables: { table: string; matches: boolean; reason?: string; sourceRows: number; targetRows: number }[];
  firstMismatch?: string;
}

describe('pgferry verify finds every kind of difference', function () {
  this.timeout(300_000);
  let pair: ServerPair;
  let file: string;
  const target = (sql: string) => pair.target.query(sql, [], 'ledger');

  before(async () => {
    pair = await startPair();
    await pair.source.query('CREATE DATABASE ledger');
    await pair.source.query(
      `CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL);
       INSERT INTO orders (item) SELECT 'item ' || g FROM generate_series(1, 2000) g;
       CREATE TABLE notes (k int PRIMARY KEY, body text);
       INSERT INTO notes SELECT g, md5(g::text) FROM generate_series(1, 30) g;
       CREATE SEQUENCE invoice_no START 1000;
       SELECT nextval('invoice_no'), nextval('invoice_no');
       SELECT lo_from_bytea(424242, 'the original large object');`,
      [],
      'ledger',
    );
    file = propertiesFile({
      source: { host: pair.source.host, port: pair.source.port, user: 'postgres', password: pair.source.password },
      target: { host: pair.target.host, port: pair.target.port, user: 'postgres', password: pair.target.password },
      databases: ['ledger'],
    });
    const created = await runCli(['create', '--name', 'ledger-offline', '--properties', file, '--wait', ...PGFERRY_JSON], {}, 240_000);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(JSON.parse(created.stdout).state, 'Succeeded');
  });
  after(async () => pair?.stop());

  const verify = async (): Promise<{ code: number | null; report: Report }> => {
    const result = await runCli(['verify', '--name', 'ledger-offline', '--properties', file, '--output', 'json']);
    assert.equal(result.stderr, '');
    return { code: result.code, report: JSON.parse(result.stdout) as Report };
  };

  /** Verify exits 1, and the only mismatch is `name`, for `reason`. */
  const assertCaught = async (name: string, reason: RegExp) => {
    const { code, report } = await verify();
    assert.equal(code, 1, JSON.stringify(report));
    assert.equal(report.ok, false);
    const bad = report.tables.filter((t) => !t.matches);
    assert.deepEqual(
      bad.map((t) => t.table),
      [name],
      JSON.stringify(bad),
    );
    assert.match(bad[0]!.reason ?? '', reason);
    assert.match(report.firstMismatch ?? '', new RegExp(`database ledger table ${name.replace(/[().]/g, '\\$&')}: `));
  };

  const assertEqual = async () => {
    const { code, report } = await verify();
    assert.equal(code, 0, JSON.stringify(report.tables.filter((t) => !t.matches)));
    assert.equal(report.ok, true);
    assert.deepEqual(report.tables.map((t) => t.table).sort(), ['(large objects)', '(sequences)', 'public.notes', 'public.orders']);
  };

  it('exits 0 when the target equals the source', async () => {
    await assertEqual();
  });

  it('exits 1 on a row count difference', async () => {
    await target(`DELETE FROM orders WHERE id = 1999`);
    await assertCaught('public.orders', /row count differs: source 2000, target 1999/);
    await target(`INSERT INTO orders VALUES (1999, 'item 1999')`);
    await assertEqual();
  });

  it('exits 1 on a changed value with the same row count', async () => {
    await target(`UPDATE orders SET item = 'item x' WHERE id = 7`);
    await assertCaught('public.orders', /content checksum differs/);
    await target(`UPDATE orders SET item = 'item 7' WHERE id = 7`);
    await assertEqual();
  });

  it('exits 1 on a table missing on the target', async () => {
    await target(`DROP TABLE notes`);
    await assertCaught('public.notes', /cannot read the table on the target/);
    await target(
      `CREATE TABLE notes (k int PRIMARY KEY, body text); INSERT INTO notes SELECT g, md5(g::text) FROM generate_series(1, 30) g`,
    );
    await assertEqual();
  });

  it('exits 1 on a table that is only on the target', async () => {
    await target(`CREATE TABLE stray (id int); INSERT INTO stray VALUES (1), (2)`);
    await assertCaught('public.stray', /only on the target/);
    const { report } = await verify();
    assert.deepEqual(
      report.tables.filter((t) => t.table === 'public.stray').map((t) => [t.sourceRows, t.targetRows]),
      [[0, 2]],
    );
    await target(`DROP TABLE stray`);
    await assertEqual();
  });

  it('exits 1 on a large object changed in place, and on one more large object', async () => {
    await target(`SELECT lo_put(424242, 4, 'ORIGINAL'::bytea)`);
    await assertCaught('(large objects)', /content checksum differs/);
    await target(`SELECT lo_put(424242, 4, 'original'::bytea)`);
    await assertEqual();
    await target(`SELECT lo_from_bytea(424243, 'one more')`);
    await assertCaught('(large objects)', /row count differs: source 1, target 2/);
    await target(`SELECT lo_unlink(424243)`);
    await assertEqual();
  });

  it('exits 1 on a sequence with another value, one missing and one only on the target', async () => {
    await target(`SELECT setval('invoice_no', 1000, false)`);
    await assertCaught('(sequences)', /sequence public\.invoice_no differs: next value 1002 on the source, 1000 on the target/);
    await target(`SELECT setval('invoice_no', 1001)`);
    await assertEqual();
    await target(`ALTER SEQUENCE invoice_no RENAME TO invoice_number`);
    await assertCaught('(sequences)', /sequence public\.invoice_no is missing on the target \(and 1 more\)/);
    await target(`ALTER SEQUENCE invoice_number RENAME TO invoice_no`);
    await target(`CREATE SEQUENCE stray_seq`);
    await assertCaught('(sequences)', /sequence public\.stray_seq is only on the target/);
    await target(`DROP SEQUENCE stray_seq`);
    await assertEqual();
  });

  it("an offline run's own verification: a sequence behind the rows it feeds is named even when the source moved on", async () => {
    await pair.target.query('CREATE DATABASE behind');
    const client = await pair.target.connect('behind');
    try {
      await client.query(
        `CREATE TABLE t (id serial PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 50); SELECT setval('t_id_seq', 1, false)`,
      );
      const [state] = await readSequenceStates(client);
      assert.equal(state!.next, 1n);
      assert.equal(
        await targetBehindItsRows(client, state!),
        'sequence public.t_id_seq would hand out 1 on the target, which public.t.id already holds up to 50',
      );
      await client.query(`SELECT setval('t_id_seq', 50)`);
      const [fixed] = await readSequenceStates(client);
      assert.equal(await targetBehindItsRows(client, fixed!), undefined);
    } finally {
      await client.end();
    }
  });
});

// The lab's AdventureWorks sample, loaded into a real server: the tables, keys and rows the Azure
// lab counts, the same every time, from the one script the demo and the lab VM both load.
import assert from 'node:assert/strict';
import {
  ADVENTUREWORKS_DEPARTMENTS,
  ADVENTUREWORKS_FOREIGN_KEY_COUNT,
  ADVENTUREWORKS_READINESS_SQL,
  ADVENTUREWORKS_READY_ANSWER,
  ADVENTUREWORKS_SCHEMAS,
  ADVENTUREWORKS_SQL,
  ADVENTUREWORKS_TABLE_COUNT,
} from '../../provider/demo/adventureworks/script';
import { startCluster, type Cluster } from '../support';

const IN_SCHEMAS = `n.nspname IN (${ADVENTUREWORKS_SCHEMAS.map((s) => `'${s}'`).join(', ')})`;

describe('the lab AdventureWorks sample', function () {
  this.timeout(120_000);
  let server: Cluster;
  before(async () => {
    server = await startCluster({ major: 15, label: 'aw' });
    for (const db of ['aw1', 'aw2']) {
      await server.query(`CREATE DATABASE ${db}`);
      await server.query(ADVENTUREWORKS_SQL, [], db);
    }
  });
  after(() => server?.stop());

  it('has the 68 tables of the five AdventureWorks schemas, each with a primary key', async () => {
    assert.equal(ADVENTUREWORKS_TABLE_COUNT, 68);
    const rows = await server.query<{ schema: string; tables: number; with_pk: number }>(
      `SELECT n.nspname AS schema, count(*)::int AS tables,
              count(*) FILTER (WHERE EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p'))::int AS with_pk
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND ${IN_SCHEMAS} GROUP BY 1 ORDER BY 1`,
      [],
      'aw1',
    );
    assert.deepEqual(
      rows.map((r) => [r.schema, r.tables, r.with_pk]),
      [
        ['humanresources', 6, 6],
        ['person', 13, 13],
        ['production', 25, 25],
        ['purchasing', 5, 5],
        ['sales', 19, 19],
      ],
    );
    const [{ fks }] = await server.query<{ fks: number }>(
      `SELECT count(*)::int AS fks FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace WHERE k.contype = 'f' AND k.convalidated AND ${IN_SCHEMAS}`,
      [],
      'aw1',
    );
    assert.equal(fks, ADVENTUREWORKS_FOREIGN_KEY_COUNT);
  });

  it('holds the 16 departments of AdventureWorks and answers the readiness query with the lab counts', async () => {
    const departments = await server.query<{ departmentid: number; name: string; groupname: string }>(
      'SELECT departmentid, name, groupname FROM humanresources.department ORDER BY departmentid',
      [],
      'aw1',
    );
    assert.deepEqual(
      departments.map((d) => [d.name, d.groupname]),
      ADVENTUREWORKS_DEPARTMENTS.map(([name, group]) => [name, group]),
    );
    assert.equal(departments[15]!.departmentid, 16);
    const [{ ready }] = await server.query<{ ready: string }>(ADVENTUREWORKS_READINESS_SQL, [], 'aw1');
    assert.equal(ready, ADVENTUREWORKS_READY_ANSWER);
    assert.equal(ready, 'tables=68 departments=16');
  });

  it('moves the serial sequences past the loaded ids and accepts the tutorial insert of department 17', async () => {
    const [{ next }] = await server.query<{ next: string }>(
      `SELECT nextval(pg_get_serial_sequence('sales.salesorderheader', 'salesorderid'))::text AS next`,
      [],
      'aw2',
    );
    assert.equal(next, '46659', 'the order after the 3,000 loaded (43659-46658)');
    await server.query(`INSERT INTO humanresources.department VALUES (17, 'Logistics', 'Inventory Management', DEFAULT)`, [], 'aw2');
    const [{ ready }] = await server.query<{ ready: string }>(ADVENTUREWORKS_READINESS_SQL, [], 'aw2');
    assert.equal(ready, ADVENTUREWORKS_READY_ANSWER);
  });

  it('loads the same rows every time', async () => {
    const digest = async (db: string) => {
      const tables = await server.query<{ t: string }>(
        `SELECT format('%I.%I', n.nspname, c.relname) AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind = 'r' AND ${IN_SCHEMAS} AND c.relname <> 'department' ORDER BY 1`,
        [],
        db,
      );
      const sums: string[] = [];
      for (const { t } of tables) {
        const [{ sum }] = await server.query<{ sum: string }>(
          `SELECT md5(string_agg(x::text, '|' ORDER BY x::text)) AS sum FROM ${t} x`,
          [],
          db,
        );
        sums.push(`${t}:${sum}`);
      }
      return sums;
    };
    assert.deepEqual(await digest('aw1'), await digest('aw2'));
  });
});

// Filters against real servers: what is left out is absent from the target's schema, data,
// publication and verification; schema-only and data-only tables; a moved table's foreign key to a
// left-out one refused before either server changes.
import assert from 'node:assert/strict';
import { runMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { runValidation } from '../../provider/engine/validate/runValidation';
import { pairSpec, startPair, waitForStatus, type ServerPair } from '../support';
import { expectCode } from '../validate/helpers';
import { requestCutover } from '../../provider/engine/control/migrationRequests';

const SHOP = `
CREATE SCHEMA sales; CREATE SCHEMA audit; CREATE SCHEMA "Archive";
CREATE TABLE sales.orders (id serial PRIMARY KEY, item text NOT NULL);
CREATE TABLE sales.lines (id int PRIMARY KEY, order_id int NOT NULL REFERENCES sales.orders, qty int);
CREATE TABLE sales.tmp_scratch (x int);
CREATE TABLE sales.notes (id int PRIMARY KEY, body text);
CREATE TABLE sales.staging (id int PRIMARY KEY, v text);
CREATE INDEX staging_v ON sales.staging (v);
CREATE VIEW sales.order_view AS SELECT id, item FROM sales.orders;
CREATE TABLE audit.log (id bigserial PRIMARY KEY, msg text);
CREATE FUNCTION audit.touch() RETURNS int LANGUAGE sql AS 'SELECT 1';
CREATE TABLE "Archive"."Old" (id int);
INSERT INTO sales.orders (item) SELECT 'item ' || g FROM generate_series(1, 300) g;
INSERT INTO sales.lines SELECT g, 1 + g % 300, g % 5 FROM generate_series(1, 900) g;
INSERT INTO sales.tmp_scratch SELECT g FROM generate_series(1, 10) g;
INSERT INTO sales.notes SELECT g, 'n' FROM generate_series(1, 20) g;
INSERT INTO sales.staging SELECT g, 'v' || g FROM generate_series(1, 40) g;
INSERT INTO audit.log (msg) SELECT 'm' || g FROM generate_series(1, 30) g;
INSERT INTO "Archive"."Old" SELECT g FROM generate_series(1, 5) g;`;

const FILTERS = {
  excludeSchemas: ['audit', '"Archive"'],
  excludeTables: ['sales.tmp_*'],
  schemaOnlyTables: ['sales.notes'],
  dataOnlyTables: ['sales.staging'],
};

const count = async (pair: ServerPair, side: 'source' | 'target', db: string, sql: string): Promise<number> =>
  Number((await pair[side].query<{ n: string }>(`SELECT (${sql})::int8::text AS n`, [], db))[0]!.n);

describe('filters: choosing the schemas and tables that move (integration)', function () {
  this.timeout(400_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
    for (const db of ['shop', 'live', 'fk']) {
      await pair.source.query(`CREATE DATABASE ${db}`);
      await pair.source.query(SHOP, [], db);
    }
  });
  after(async () => pair?.stop());

  it('offline: left-out schemas and tables are absent, schema-only tables empty, data-only tables without keys, verification clean', async () => {
    const status = await runMigration(pairSpec(pair, 'filters-offline', ['shop'], { tableJobs: 2, indexJobs: 2, ...FILTERS }));
    assert.equal(status.state, 'Succeeded', status.message);
    assert.equal(status.verification?.ok, true, status.verification?.firstMismatch);
    const compared = status.verification!.tables.map((t) => t.table).sort();
    assert.deepEqual(compared, ['(sequences)', 'sales.lines', 'sales.orders', 'sales.staging']);
    assert.equal(status.databases[0]!.tables.total, 3);

    const t = (sql: string) => count(pair, 'target', 'shop', sql);
    assert.equal(await t(`SELECT count(*) FROM sales.orders`), 300);
    assert.equal(await t(`SELECT count(*) FROM sales.lines`), 900);
    assert.equal(await t(`SELECT count(*) FROM sales.order_view`), 300);
    assert.equal(await t(`SELECT count(*) FROM sales.notes`), 0);
    assert.equal(await t(`SELECT count(*) FROM sales.staging`), 40);
    // data only: the rows, without the primary key and index the source has
    assert.equal(await t(`SELECT count(*) FROM pg_index WHERE indrelid = 'sales.staging'::regclass`), 0);
    assert.equal(await t(`SELECT count(*) FROM pg_constraint WHERE conrelid = 'sales.notes'::regclass AND contype = 'p'`), 1);
    assert.equal(await t(`SELECT count(*) FROM pg_class WHERE oid = to_regclass('sales.tmp_scratch')`), 0);
    assert.equal(await t(`SELECT count(*) FROM pg_namespace WHERE nspname IN ('audit', 'Archive')`), 0);
    assert.equal(await t(`SELECT count(*) FROM pg_proc WHERE proname = 'touch'`), 0);
    assert.equal(await t(`SELECT count(*) FROM pg_class WHERE relname = 'log_id_seq'`), 0);
    // the moved serial's sequence continues after the copied rows
    assert.equal(await t(`SELECT last_value FROM sales.orders_id_seq`), 300);
  });

  it("validation refuses a moved table's foreign key to a left-out table, naming both, and changes neither server", async () => {
    const spec = pairSpec(pair, 'filters-fk', ['fk'], { excludeTables: ['sales.orders', 'sales.order_view'] });
    const results = await runValidation(spec);
    const [fk] = expectCode(results, 'FILTER_FOREIGN_KEY_LEFT_OUT', 'Failed');
    assert.match(fk!.message, /sales\.lines/);
    assert.match(fk!.message, /sales\.orders/);
    assert.ok(fk!.fix);

    const status = await runMigration(spec);
    assert.equal(status.state, 'ValidationFailed');
    assert.equal(await count(pair, 'target', 'postgres', `SELECT count(*) FROM pg_database WHERE datname = 'fk'`), 0);
    assert.equal(await count(pair, 'source', 'fk', `SELECT count(*) FROM pg_publication`), 0);
    assert.equal(await count(pair, 'source', 'fk', `SELECT count(*) FROM sales.orders`), 300);
  });

  it('validation refuses a view on a left-out table, and warns about a pattern that matches nothing', async () => {
    const results = await runValidation(
      pairSpec(pair, 'filters-view', ['fk'], { excludeTables: ['sales.orders', 'sales.lines', 'sales.nothing_*'] }),
    );
    const [view] = expectCode(results, 'FILTER_DEPENDENCY_LEFT_OUT', 'Failed');
    assert.match(view!.message, /sales\.order_view/);
    const [nothing] = expectCode(results, 'FILTER_MATCHES_NOTHING', 'Warning');
    assert.match(nothing!.message, /sales\.nothing_\*/);
  });

  it('online: the publication lists only what moves; a writer on a left-out table produces nothing on the target', async () => {
    const spec = pairSpec(pair, 'filters-online', ['live'], {
      mode: 'Online',
      tableJobs: 2,
      excludeSchemas: ['audit', '"Archive"'],
      excludeTables: ['sales.tmp_*'],
      schemaOnlyTables: ['sales.notes'],
    });
    const store = new CatalogConnection(spec.target);
    try {
      const running = runMigration(spec);
      const waiting = await waitForStatus(store, 'filters-online', (s) => s.state === 'WaitingForUserAction' || s.state === 'Failed');
      assert.equal(waiting.state, 'WaitingForUserAction', waiting.message);
      const published = await pair.source.query<{ t: string }>(
        `SELECT schemaname || '.' || tablename AS t FROM pg_publication_tables ORDER BY 1`,
        [],
        'live',
      );
      assert.deepEqual(
        published.map((r) => r.t),
        ['sales.lines', 'sales.orders', 'sales.staging'],
      );
      await pair.source.query(
        `INSERT INTO audit.log (msg) VALUES ('left out');
         INSERT INTO sales.tmp_scratch VALUES (99);
         INSERT INTO sales.notes VALUES (999, 'schema only');
         INSERT INTO sales.orders (item) VALUES ('streamed');`,
        [],
        'live',
      );
      await waitForStatus(store, 'filters-online', (s) => (s.databases[0]?.inserts ?? 0) >= 1);
      await requestCutover(store, 'filters-online');
      const done = await running;
      assert.equal(done.state, 'Succeeded', done.message);
      assert.equal(done.verification?.ok, true, done.verification?.firstMismatch);
      assert.equal(done.databases[0]!.inserts, 1);
      const t = (sql: string) => count(pair, 'target', 'live', sql);
      assert.equal(await t(`SELECT count(*) FROM sales.orders WHERE item = 'streamed'`), 1);
      assert.equal(await t(`SELECT count(*) FROM sales.notes`), 0);
      assert.equal(await t(`SELECT count(*) FROM pg_namespace WHERE nspname = 'audit'`), 0);
      assert.equal(await t(`SELECT count(*) FROM pg_class WHERE oid = to_regclass('sales.tmp_scratch')`), 0);
    } finally {
      await store.close();
    }
  });
});

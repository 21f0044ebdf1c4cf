// Control migration 33: the rows an older pgferry keyed by a table's printed name (copy progress,
// verifications, copy items, the copy plan's partitioned parents) are keyed by the table's schema
// and name once the catalog is upgraded, so a migration it started and this one resumes keeps them.
// The printed text is read back both as the builds before quoting wrote it (schema.name as is) and
// as the quoting builds did ("Orders", U&"..." escapes).
import assert from 'node:assert/strict';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { copiedParents, loadCopyPlan } from '../../provider/engine/control/copyItems';
import { tables } from '../../provider/engine/control/store';
import { forgetTableVerifications, tableVerifications } from '../../provider/engine/control/tableVerification';
import { qualifiedKey } from '../../provider/engine/core/names';
import { serverSpec, startCluster, type Cluster } from '../support';
import { olderCatalogSql } from '../support/olderCatalog';

/** The catalog as a pgferry that knew versions up to 31 left it, with rows keyed by printed names. */
async function olderCatalog(cluster: Cluster, database: string): Promise<void> {
  await cluster.query(
    `${olderCatalogSql(31)}
     INSERT INTO pgferry.migration (name, mode, option, spec, state, sub_state, instance)
       VALUES ('resumed', 'Online', 'Migrate', '{}', 'InProgress', 'WaitingForCutoverTrigger', 'abc');
     INSERT INTO pgferry.migration_database (migration, database, ordinal, state, copy_plan)
       VALUES ('resumed', 'shop', 0, 'WaitingForCutoverTrigger',
               '{"snapshotXmin": "1", "schemaSignature": "s", "partitionedParents": [{"oid": "16390", "name": "public.Events"}, {"oid": "16391", "name": "x.y.z"}]}');
     INSERT INTO pgferry.migration_table (migration, database, table_name, state, rows) VALUES
       ('resumed', 'shop', 'public.orders', 'Completed', 1),
       ('resumed', 'shop', 'public.Orders', 'Completed', 2),
       ('resumed', 'shop', 'my schema.line items', 'Completed', 3),
       ('resumed', 'shop', 'a.b.c', 'Completed', 4);
     INSERT INTO pgferry.table_verification (migration, database, table_name, method, verified_lsn, source_rows, target_rows, matches) VALUES
       ('resumed', 'shop', 'public.orders', 'background', '0/10', 1, 1, true),
       ('resumed', 'shop', 'public.Orders', 'background', '0/10', 2, 2, true),
       ('resumed', 'shop', 'public."Orders"', 'background', '0/20', 2, 2, true),
       ('resumed', 'shop', 'sales."Big ""one"""', 'background', '0/10', 5, 5, true),
       ('resumed', 'shop', 'U&"we\\000Aird\\\\".t', 'background', '0/10', 6, 6, true),
       ('resumed', 'shop', 'a.b.c', 'background', '0/10', 4, 4, true);
     INSERT INTO pgferry.copy_item (migration, database, item, table_oid, table_name, relfilenode, state, rows) VALUES
       ('resumed', 'shop', '16384', 16384, 'public.Orders', 1, 'done', 2),
       ('resumed', 'shop', '16385', 16385, 'my schema.line items', 1, 'done', 3),
       ('resumed', 'shop', '16386', 16386, 'public."Orders"', 1, 'pending', NULL);`,
    [],
    database,
  );
}

describe('control catalog: rows keyed by printed names, upgraded', function () {
  this.timeout(120_000);
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({ label: 'printed-names' });
    await cluster.query('CREATE DATABASE catalog_old');
  });
  after(async () => cluster?.stop());

  it('reads each printed name back into its schema and name: progress rows, items and parents kept, an uncertain or twice-claimed verification dropped, no helper left', async () => {
    await olderCatalog(cluster, 'catalog_old');
    const store = new CatalogConnection(serverSpec(cluster, { maintenanceDatabase: 'catalog_old' }));
    try {
      await store.install();
      const helpers = await cluster.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_proc WHERE pronamespace = 'pgferry'::regnamespace`,
        [],
        'catalog_old',
      );
      assert.deepEqual(helpers, [{ n: 0 }], 'the upgrade leaves no function of its own behind');
      const progress = await cluster.query<{ schema_name: string; table_name: string; rows: string }>(
        `SELECT schema_name, table_name, rows::text FROM pgferry.migration_table ORDER BY rows`,
        [],
        'catalog_old',
      );
      assert.deepEqual(progress, [
        { schema_name: 'public', table_name: 'orders', rows: '1' },
        { schema_name: 'public', table_name: 'Orders', rows: '2' },
        { schema_name: 'my schema', table_name: 'line items', rows: '3' },
        // two dots: which one ends the schema is not known; the first is taken (a progress row only)
        { schema_name: 'a', table_name: 'b.c', rows: '4' },
      ]);
      assert.deepEqual(
        (await tables(store, 'resumed', { includeQueued: true })).map((t) => `${t.table} ${t.rows}`).sort(),
        ['a."b.c" 4', '"my schema"."line items" 3', 'public."Orders" 2', 'public.orders 1'].sort(),
      );

      const verified = await tableVerifications(store, 'resumed');
      assert.deepEqual(
        verified.map((v) => [v.relation.schema, v.relation.name, v.sourceRows]),
        [
          ['public', 'orders', 1],
          ['sales', 'Big "one"', 5],
          ['we\nird\\', 't', 6],
        ],
      );
      assert.deepEqual(
        verified.map((v) => v.table),
        ['public.orders', 'sales."Big ""one"""', 'U&"we\\000Aird\\\\".t'],
      );
      await forgetTableVerifications(store, 'resumed', 'shop', [{ schema: 'sales', name: 'Big "one"' }]);
      assert.deepEqual(
        (await tableVerifications(store, 'resumed')).map((v) => v.table),
        ['public.orders', 'U&"we\\000Aird\\\\".t'],
      );

      const plan = await loadCopyPlan(store, 'resumed', 'shop');
      assert.deepEqual(
        plan?.items.map((i) => [i.item, i.tableSchema, i.tableName, i.state]),
        [
          ['16384', 'public', 'Orders', 'done'],
          ['16385', 'my schema', 'line items', 'done'],
          ['16386', 'public', 'Orders', 'pending'],
        ],
      );
      assert.deepEqual(plan?.plan.partitionedParents, [
        { oid: '16390', schema: 'public', name: 'Events' },
        { oid: '16391', name: 'x.y.z' },
      ]);
      assert.deepEqual([...(await copiedParents(store, 'resumed', 'shop'))], [['16390', qualifiedKey('public', 'Events')]]);
    } finally {
      await store.close();
    }
  });
});

// Sequelize 6.37.8's changeColumn to an ENUM it names anew, run on the source while changes stream
// and an app writes the table: in one implicit transaction (one simple query), a DO block that
// makes the type, then ALTER COLUMN ... TYPE to it with a USING cast (statements as Sequelize's
// postgres query generator prints them: changeColumnQuery and pgEnum). The apply meets the retype
// at the table's relation message, before the schema watch has made the type on the target; it
// used to stop the stream (`type ... does not exist`) until the watch's next look. It is held for
// the watch as an added column of a new enum is (cdc/apply/watchWait.ts): the table's rows equal by
// md5 on both servers, the target's column of the enum with the source's labels, no stream stop
// recorded, and the cutover Succeeds.
import assert from 'node:assert/strict';
import type pg from 'pg';
import { onTarget, ormMigrationMidStream, tableContents, type Cluster, type ServerPair } from '../support';

const DB = 'sequelizeapp';
const ORDERS = 1_000;
const STATES = ['new', 'paid', 'shipped'];

/**
 * `queryInterface.changeColumn('orders', 'state', { type: DataTypes.ENUM('new', 'paid', 'shipped'),
 * allowNull: false })`, as Sequelize 6.37.8 prints it: one string, so one implicit transaction.
 */
const CHANGE_COLUMN =
  `ALTER TABLE "orders" ALTER COLUMN "state" SET NOT NULL;` +
  `ALTER TABLE "orders" ALTER COLUMN "state" DROP DEFAULT;` +
  `DO 'BEGIN CREATE TYPE "public"."enum_orders_state" AS ENUM(''new'', ''paid'', ''shipped''); EXCEPTION WHEN duplicate_object THEN null; END';` +
  `ALTER TABLE "orders" ALTER COLUMN "state" TYPE "enum_orders_state" USING ("state"::"public"."enum_orders_state");`;

async function loadSource(pair: ServerPair): Promise<void> {
  await pair.source.query(`CREATE DATABASE ${DB}`);
  await pair.source.query(
    `CREATE TABLE orders (id integer PRIMARY KEY, amount integer NOT NULL, state text NOT NULL DEFAULT 'new');
     INSERT INTO orders SELECT g, g % 97, (ARRAY['new', 'paid', 'shipped'])[1 + g % 3] FROM generate_series(1, ${ORDERS}) g;`,
    [],
    DB,
  );
}

/** The app: an order added, another one's amount and state changed (a state the enum takes). */
async function writeOne(c: pg.Client, n: number): Promise<unknown> {
  await c.query(`INSERT INTO orders (id, amount, state) VALUES ($1, $2, 'new')`, [ORDERS + n, n % 89]);
  return c.query(`UPDATE orders SET amount = amount + 1, state = $2 WHERE id = $1`, [1 + ((n * 7919) % ORDERS), STATES[n % 3]]);
}

/** The state column's type and, when an enum, its labels in order. */
async function stateType(cluster: Cluster): Promise<string> {
  const [row] = await cluster.query<{ t: string; l: string | null }>(
    `SELECT format_type(a.atttypid, a.atttypmod) AS t,
            (SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = a.atttypid) AS l
       FROM pg_attribute a WHERE a.attrelid = 'public.orders'::regclass AND a.attname = 'state'`,
    [],
    DB,
  );
  return `${row!.t} (${row!.l ?? 'not an enum'})`;
}

describe("Sequelize's changeColumn to a new ENUM while streaming (the type made in the retype's transaction)", function () {
  this.timeout(300_000);

  for (const kind of ['superuser', 'managed'] as const)
    onTarget(
      kind,
      `${kind} target: orders equal by md5, the target column of the enum with the source labels, no stream stop, Succeeded`,
      async ({ pair, target }) => {
        await loadSource(pair);
        await ormMigrationMidStream(pair, target, {
          name: 'sequelize-retype-enum',
          db: DB,
          table: 'orders',
          sql: CHANGE_COLUMN,
          write: writeOne,
          check: async () => {
            assert.equal(await stateType(pair.source), 'enum_orders_state (new,paid,shipped)');
            assert.equal(await stateType(pair.target), await stateType(pair.source));
          },
        });
        assert.equal(await tableContents(pair.target, DB, 'orders'), await tableContents(pair.source, DB, 'orders'));
      },
    );
});

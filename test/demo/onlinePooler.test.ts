// The demo's online part as `npm run demo` runs it on its own servers: a real PgBouncer in front of
// the source, a shop writing through it on one connection while the sample streams, the cutover
// through the pooler; then what the servers hold, read back: each cart the shop committed on the
// target once, and the shop's one connection still working, on the target. Without PgBouncer, the
// one line that says so and the cutover with the writer fence instead.
import assert from 'node:assert/strict';
import { ADVENTUREWORKS_DATABASE, ADVENTUREWORKS_SQL } from '../../provider/demo/adventureworks/script';
import { POOLED_CART_PREFIX } from '../../provider/demo/pooledApp';
import { inspectMachine } from '../../provider/demo/prerequisites';
import { demoCutover, onlineMigration, type DemoCutover } from '../../provider/demo/runDemo';
import { startOwnServers, type DemoServers } from '../../provider/demo/servers';
import { stopAllClusters } from '../../provider/localpg/cluster';

describe('pgferry demo: the online part cuts over through a PgBouncer', function () {
  this.timeout(600_000);
  let servers: DemoServers;
  let cutover: DemoCutover | undefined;
  const printed: string[] = [];

  before(async () => {
    servers = await startOwnServers();
    await servers.source.query(`CREATE DATABASE ${ADVENTUREWORKS_DATABASE}`);
    await servers.source.query(ADVENTUREWORKS_SQL, [], ADVENTUREWORKS_DATABASE);
  });
  after(async () => {
    if (cutover?.way === 'pooler') await cutover.shop.close();
    await stopAllClusters();
  });

  it("puts every cart the shop committed through the pooler on the target once, and the shop's connection then runs on the target", async () => {
    const machine = await inspectMachine();
    assert.ok(machine.pgbouncer, 'Debian pgbouncer is installed (scripts/ensure-deps.mjs)');
    cutover = await demoCutover(servers, machine, (line) => printed.push(line));
    assert.equal(cutover.way, 'pooler', printed.join('\n'));
    const shop = cutover.way === 'pooler' ? cutover.shop : assert.fail('no pooler');

    const ok = await onlineMigration(servers, 'onlinepooled', (line) => printed.push(line), cutover);
    assert.ok(ok, printed.join('\n'));
    assert.deepEqual(shop.errors, []);
    assert.ok(shop.committed.length >= 20, `the shop wrote while streaming: ${shop.committed.length}`);

    const carts = await servers.target.query<{ cart: string; n: number }>(
      'SELECT shoppingcartid AS cart, count(*)::int AS n FROM sales.shoppingcartitem WHERE shoppingcartid LIKE $1 GROUP BY 1 ORDER BY 1',
      [`${POOLED_CART_PREFIX}%`],
      ADVENTUREWORKS_DATABASE,
    );
    assert.deepEqual(
      carts,
      [...shop.committed].sort().map((cart) => ({ cart, n: 1 })),
      'each committed cart on the target once, no other',
    );

    // the same connection, opened before the cutover, goes on: on the target, writing there
    const [{ product }] = await servers.target.query<{ product: number }>(
      'SELECT min(productid) AS product FROM production.product',
      [],
      ADVENTUREWORKS_DATABASE,
    );
    const { rows } = await shop.client.query<{ port: number; id: number }>(
      `INSERT INTO sales.shoppingcartitem (shoppingcartid, productid) VALUES ('after-cutover', $1)
       RETURNING inet_server_port() AS port, shoppingcartitemid AS id`,
      [product],
    );
    assert.equal(Number(rows[0]!.port), Number(servers.target.input.port));
    const after = await servers.target.query<{ cart: string }>(
      'SELECT shoppingcartid AS cart FROM sales.shoppingcartitem WHERE shoppingcartitemid = $1',
      [rows[0]!.id],
      ADVENTUREWORKS_DATABASE,
    );
    assert.deepEqual(after, [{ cart: 'after-cutover' }]);
    assert.deepEqual(
      await servers.source.query(
        "SELECT 1 FROM sales.shoppingcartitem WHERE shoppingcartid = 'after-cutover'",
        [],
        ADVENTUREWORKS_DATABASE,
      ),
      [],
      'not on the old source',
    );

    const said = printed.join('\n');
    assert.match(
      said,
      /application: \d+ carts written through the pooler on one connection, no error; its connection kept and now on the target/,
    );
    assert.match(
      said,
      /cutover through the pooler: the application's statements waited \d+\.\d\d s in PgBouncer's pause, then ran on the target/,
    );
    assert.doesNotMatch(said, /demo-shop-pw|demo-pooler-admin-pw|postgres-test-pw/);
  });
});

describe('pgferry demo: the online part without PgBouncer fences the writers instead', function () {
  this.timeout(600_000);
  let servers: DemoServers;

  before(async () => {
    servers = await startOwnServers();
    await servers.source.query(`CREATE DATABASE ${ADVENTUREWORKS_DATABASE}`);
    await servers.source.query(ADVENTUREWORKS_SQL, [], ADVENTUREWORKS_DATABASE);
  });
  after(() => stopAllClusters());

  it('says what is missing in one line, cuts over with the fence, and the streamed row is on the target while the source refuses a write', async () => {
    const printed: string[] = [];
    const machine = { ...(await inspectMachine()), pgbouncer: false, isRoot: false, apt: true };
    const cutover = await demoCutover(servers, machine, (line) => printed.push(line));
    assert.deepEqual(cutover, { way: 'fence' });
    assert.deepEqual(printed, [
      'note: no PgBouncer at /usr/sbin/pgbouncer (sudo apt-get install -y pgbouncer (npm run demo installs it itself as root)): the online part cuts over with the writer fence instead of through a pooler',
    ]);
    assert.ok(await onlineMigration(servers, 'onlinefenced', (line) => printed.push(line), cutover), printed.join('\n'));
    assert.match(printed.join('\n'), /cutover: with the writer fence/);
    const rows = await servers.target.query(
      'SELECT name FROM humanresources.department WHERE departmentid = 17',
      [],
      ADVENTUREWORKS_DATABASE,
    );
    assert.deepEqual(rows, [{ name: 'Logistics' }]);
    await assert.rejects(
      servers.source.query(`INSERT INTO humanresources.department VALUES (18, 'Late', 'Write', DEFAULT)`, [], ADVENTUREWORKS_DATABASE),
      /read-only transaction/,
    );
  });
});

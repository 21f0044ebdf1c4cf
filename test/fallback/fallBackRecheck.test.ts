// Issue 50: the fall-back's verification reads again only what the reverse stream changed since the
// cutover (the cutover verified both servers equal where the window opened): a table the new
// server wrote is compared by its count and the keys written, one it never wrote by its count. The
// scenarios read both servers back: a row changed on the old source behind the fence, at a key the
// new server also wrote, stops the fall-back with the table named (a recheck that skipped the keys
// would let it pass), and once it is put right the fall-back ends with every row equal.
import assert from 'node:assert/strict';
import { fallBackSettled, isFinalState, requestCutover, requestFallBack, startMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { events, get } from '../../provider/engine/control/store';
import { fallbackWindows } from '../../provider/engine/control/fallbackWindows';
import { pairSpec, startPair, until, waitForStatus, type ServerPair } from '../support';
import { rowsOf } from '../cdc/harness';

const TABLES = ['items', 'quiet'] as const;

const SETUP = `
CREATE TABLE items (id serial PRIMARY KEY, v text NOT NULL);
CREATE TABLE quiet (k int PRIMARY KEY, note text);
INSERT INTO items (v) SELECT 'v' || g FROM generate_series(1, 500) g;
INSERT INTO quiet SELECT g, 'n' || g FROM generate_series(1, 200) g;
CREATE MATERIALIZED VIEW item_stats AS SELECT count(*) AS n, max(id) AS top FROM items;`;

async function sameOnBoth(pair: ServerPair, db: string): Promise<boolean> {
  for (const table of TABLES) {
    const [old, now] = await Promise.all([rowsOf(pair.source, db, table), rowsOf(pair.target, db, table)]);
    if (JSON.stringify(old) !== JSON.stringify(now)) return false;
  }
  return true;
}

/** An online migration of `db` cut over with a window; the application then writes items on the new server. */
async function cutOverAndWrite(pair: ServerPair, store: CatalogConnection, name: string, db: string) {
  await pair.source.query(`CREATE DATABASE ${db}`);
  await pair.source.query(SETUP, [], db);
  const spec = pairSpec(pair, name, [db], { mode: 'Online', option: 'Migrate', fenceWriters: true, fallbackWindow: '1h' });
  await startMigration(spec);
  await waitForStatus(store, name, (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state));
  await requestCutover(spec.target, name);
  const cutOver = await waitForStatus(store, name, (s) => isFinalState(s.state));
  assert.equal(cutOver.state, 'Succeeded', cutOver.message);
  await until('the window open', async () => ((await fallbackWindows(store, name))[0]?.state === 'Open' ? true : undefined));
  await pair.target.query(`UPDATE items SET v = v || '-u' WHERE id % 7 = 0`, [], db);
  await pair.target.query(`INSERT INTO items (v) SELECT 'new' || g FROM generate_series(1, 100) g`, [], db);
  await pair.target.query(`DELETE FROM items WHERE id % 11 = 0`, [], db);
  await until('the old source has every write', async () => ((await sameOnBoth(pair, db)) ? true : undefined), 120_000);
  return spec;
}

/** Asks for the fall-back and waits until it settles: fell back, or stopped with the stream going on. */
async function fallBackOnce(store: CatalogConnection, target: Parameters<typeof requestFallBack>[0], name: string) {
  await requestFallBack(target, name);
  return until(
    'the fall-back settles',
    async () => {
      const s = await get(store, name);
      return s && fallBackSettled(s) ? s : undefined;
    },
    300_000,
  );
}

async function verificationEvents(store: CatalogConnection, name: string): Promise<string[]> {
  return (await events(store, name, 200)).map((e) => e.message).filter((m) => /^fall-back: schema and|^fall-back stopped/.test(m));
}

describe('fall-back: the verification reads again what the reverse stream changed (integration)', function () {
  this.timeout(600_000);
  let pair: ServerPair;
  let store: CatalogConnection;

  before(async () => {
    pair = await startPair();
    store = new CatalogConnection(pairSpec(pair, 'x', ['x']).target);
  });
  after(async () => {
    await store?.close();
    await pair?.stop();
  });

  it('compares the written table by its keys and count, the quiet one by its count, and refreshes a view', async () => {
    const name = 'recheck-keys';
    const db = 'recheck_keys';
    const spec = await cutOverAndWrite(pair, store, name, db);
    // the application refreshes its view on the new server: nothing streams a REFRESH
    await pair.target.query('REFRESH MATERIALIZED VIEW item_stats', [], db);
    const settled = await fallBackOnce(store, spec.target, name);
    assert.equal(settled.databases[0]!.fallback!.state, 'FellBack', settled.databases[0]!.fallback!.message);
    for (const table of TABLES) assert.deepEqual(await rowsOf(pair.source, db, table), await rowsOf(pair.target, db, table), table);
    const view = 'SELECT n, top FROM item_stats';
    assert.deepEqual(await pair.source.query(view, [], db), await pair.target.query(view, [], db), 'the view refreshed on the old source');
    const [told] = await verificationEvents(store, name);
    assert.match(told ?? '', /2 table\(s\) compared, .* \(read whole 0, changed keys 1, count only 1\)/);
  });

  it('stops on a row changed behind the fence at a key the new server wrote, then falls back once it is put right', async () => {
    const name = 'recheck-tampered';
    const db = 'recheck_tampered';
    const spec = await cutOverAndWrite(pair, store, name, db);
    // behind the fence (as an administrator can, in a session named as pgferry's): the count stays, only the key's row differs
    await pair.source.query(
      `SET application_name = 'pgferry admin'; BEGIN READ WRITE; UPDATE items SET v = 'tampered' WHERE id = 14; COMMIT`,
      [],
      db,
    );
    const stopped = await fallBackOnce(store, spec.target, name);
    assert.notEqual(stopped.databases[0]!.fallback!.state, 'FellBack');
    assert.match((await verificationEvents(store, name)).join('\n'), /fall-back stopped: verification failed: .*items/);
    await pair.source.query(
      `SET application_name = 'pgferry admin'; BEGIN READ WRITE; UPDATE items SET v = 'v14-u' WHERE id = 14; COMMIT`,
      [],
      db,
    );
    await until('the reverse stream applies again', async () =>
      (await fallbackWindows(store, name))[0]?.state === 'Open' ? true : undefined,
    );
    const settled = await fallBackOnce(store, spec.target, name);
    assert.equal(settled.databases[0]!.fallback!.state, 'FellBack', settled.databases[0]!.fallback!.message);
    for (const table of TABLES) assert.deepEqual(await rowsOf(pair.source, db, table), await rowsOf(pair.target, db, table), table);
    // the reverse applier started again after the stop: it cannot tell what changed, so it reads every table whole
    assert.match(
      (await verificationEvents(store, name)).join('\n'),
      /2 table\(s\) compared, .* \(read whole 2, changed keys 0, count only 0\)/,
    );
  });
});

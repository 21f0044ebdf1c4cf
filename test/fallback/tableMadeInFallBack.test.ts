// A session that turns read-only off makes a table on the new server during a fall-back, after the
// fall-back read the tables of the window, and writes rows there: the fence's trigger is on tables,
// and CREATE TABLE is no write it can refuse. The fall-back must not pass its point of no return so
// (the rows would be on the new server alone): it reads the window's tables again last, and stops
// naming the table, the old source unchanged (the carried rows taken back). Asked again, it names the
// CREATE TABLE for the old source; once the user made it there, the rows are carried. And a window's
// table named in unicode with a trailing space, its column of a domain over an array: the printed
// CREATE TABLE runs on the old source as printed.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requestFallBack } from '../../provider/engine';
import {
  cutOverWithWindow,
  fallBackSettles,
  fallBackStopped,
  NOTES_SETUP,
  serverSpec,
  until,
  windowRows,
  suiteServers,
  writeReadWrite,
} from '../support';
import { fallbackWindows } from '../../provider/engine/control/fallbackWindows';
import { heldFile, isHeld, withHoldArmed } from '../support/holdPoints';

const DB = 'made_in_fallback';
const ORDERS = 'CREATE TABLE orders_new (id int PRIMARY KEY, item text)';
const LATE = 'CREATE TABLE late_orders (id int PRIMARY KEY, item text)';

describe('fallback window: a table made and filled during the fall-back, after it read the tables of the window (integration)', function () {
  this.timeout(900_000);
  const servers = suiteServers();

  it('stops the fall-back naming the late table, its rows on the new server alone and nothing left on the old source; once made there, carried', async () => {
    const { pair, store } = servers;
    const name = 'made-in-fallback';
    const carried = `fallback-carried:${DB}`;
    const holdDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pgferry-made-in-fallback-'));
    try {
      await withHoldArmed(carried, holdDir, () => cutOverWithWindow(pair, store, name, DB, NOTES_SETUP));
      // a table of the window the old source has too: the fall-back carries its rows, then holds
      await pair.target.query(`${ORDERS}; INSERT INTO orders_new SELECT g, 'item ' || g FROM generate_series(1, 30) g`, [], DB);
      await writeReadWrite(pair.source, DB, ORDERS);
      await requestFallBack(serverSpec(pair.target), name);
      await until('the runner held after the carry', async () => ((await isHeld(carried, holdDir)) ? true : undefined), 300_000);
      // the new server is fenced: a session that turns read-only off makes a table there and fills it
      await writeReadWrite(pair.target, DB, `${LATE}; INSERT INTO late_orders SELECT g, 'late ' || g FROM generate_series(1, 10) g`);
      await fs.rm(heldFile(carried, holdDir));

      const settled = await fallBackSettles(store, name);
      const [window] = await fallbackWindows(store, name);
      assert.equal(window!.state, 'Open', `${settled.databases[0]!.fallback!.state}: ${window!.message}`);
      const message = window!.message ?? '';
      assert.ok(!message.includes('\n'), `one line: ${message}`);
      assert.match(
        message,
        /^fall-back stopped: table ("public"\."late_orders"|public\.late_orders) of the new server was made or written during the fall-back/,
      );
      assert.equal((await windowRows(pair.target, DB, 'late_orders'))?.length, 10, "the late table's rows kept on the new server");
      assert.equal(await windowRows(pair.source, DB, 'late_orders'), undefined, 'the old source has no late table');
      assert.deepEqual(await windowRows(pair.source, DB, 'orders_new'), [], 'the carried rows taken back from the old source');

      // asked again, the fall-back names the late table's CREATE TABLE; once made on the old source, its rows are carried
      await requestFallBack(serverSpec(pair.target), name);
      await fallBackSettles(store, name);
      const [again] = await fallbackWindows(store, name);
      assert.equal(again!.state, 'Open', again!.message);
      assert.match(again!.message ?? '', /late_orders.*CREATE TABLE/);
      await writeReadWrite(pair.source, DB, LATE);
      // (a hold point holds once per runner: this fall-back goes through)
      await requestFallBack(serverSpec(pair.target), name);
      const fellBack = await fallBackSettles(store, name);
      assert.equal(fellBack.databases[0]!.fallback!.state, 'FellBack', fellBack.databases[0]!.fallback!.message);
      for (const table of ['orders_new', 'late_orders'])
        assert.deepEqual(
          await windowRows(pair.source, DB, table),
          await windowRows(pair.target, DB, table),
          `${table} alike on both servers`,
        );
      assert.equal((await windowRows(pair.source, DB, 'late_orders'))?.length, 10);
    } finally {
      await fs.rm(holdDir, { recursive: true, force: true });
    }
  });

  it("a window's table named in unicode with a trailing space, a serial key and a column of the source's domain over an array: the printed CREATE TABLE runs as printed, its rows carried alike", async () => {
    const { pair, store } = servers;
    const name = 'made-in-window-named';
    const db = 'made_in_window_named';
    const table = '"public"."Bestellungen "';
    const rows = async (side: 'source' | 'target') =>
      (await pair[side].query<{ r: string }>(`SELECT t::text AS r FROM ${table} AS t ORDER BY 1`, [], db)).map((r) => r.r);
    await cutOverWithWindow(pair, store, name, db, `${NOTES_SETUP} CREATE DOMAIN "Schlagwörter " AS text[];`);
    await pair.target.query(
      `CREATE TABLE ${table} (id serial PRIMARY KEY, "Wörter " "Schlagwörter ", "größe " numeric(6,2) DEFAULT 1.5);
       INSERT INTO ${table} ("Wörter ") SELECT ARRAY['a b', 'ä' || g, NULL] FROM generate_series(1, 20) g`,
      [],
      db,
    );
    const message = await fallBackStopped(servers, name);
    const fix = /fix on the old source: (.*?); then fall back again/.exec(message)?.[1];
    assert.ok(fix?.includes(`CREATE TABLE ${table} (`), message);
    await writeReadWrite(pair.source, db, fix!);
    await requestFallBack(serverSpec(pair.target), name);
    const fellBack = await fallBackSettles(store, name);
    assert.equal(fellBack.databases[0]!.fallback!.state, 'FellBack', fellBack.databases[0]!.fallback!.message);
    assert.equal((await rows('source')).length, 20);
    assert.deepEqual(await rows('source'), await rows('target'), 'every row on the old source, each once');
    const [drawn] = await pair.source.query<{ id: number }>(`INSERT INTO ${table} DEFAULT VALUES RETURNING id`, [], db);
    assert.ok(drawn!.id > 20, `the old source drew ${drawn!.id}, after the carried keys`);
  });
});

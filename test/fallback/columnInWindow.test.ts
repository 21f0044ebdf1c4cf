// A column the application adds on the new server during a fallback window, and writes: the reverse
// stream leaves it out (it is the new server's own, not the migration's), so its values are only on
// the new server. A fall-back must not pass its point of no return so: it stops, the window Open
// again with a one-line message naming the column and the statement for the old source, and the
// old source unchanged (no column, its rows as they were). Once the column is made there and its
// values written again on the new server, the fall-back ends and the old source holds every value,
// read back on both servers.
import assert from 'node:assert/strict';
import { requestFallBack } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { fallbackWindows } from '../../provider/engine/control/fallbackWindows';
import { cutOverWithWindow, fallBackSettles, serverSpec, startPair, until, type ServerPair } from '../support';

const SETUP = `
CREATE TABLE notes (id int PRIMARY KEY, v text);
INSERT INTO notes SELECT g, 'before' FROM generate_series(1, 50) g;`;

/** Each row of notes on one server as text, the column `extra` included where the server has it. */
async function notes(pair: ServerPair, side: 'source' | 'target', db: string): Promise<string[]> {
  const rows = await pair[side].query<{ r: string }>('SELECT n::text AS r FROM notes AS n ORDER BY id', [], db);
  return rows.map((r) => r.r);
}

async function columnsOf(pair: ServerPair, side: 'source' | 'target', db: string): Promise<string> {
  const rows = await pair[side].query<{ c: string }>(
    "SELECT string_agg(attname, ',' ORDER BY attnum) AS c FROM pg_attribute WHERE attrelid = 'notes'::regclass AND attnum > 0 AND NOT attisdropped",
    [],
    db,
  );
  return rows[0]!.c;
}

describe('fallback window: a column added and written on the new server', function () {
  this.timeout(900_000);
  let pair: ServerPair;
  let store: CatalogConnection;
  before(async () => {
    pair = await startPair();
    store = new CatalogConnection(serverSpec(pair.target));
  });
  after(async () => {
    await store?.close();
    await pair?.stop();
  });

  it('a fall-back stops before its point of no return naming the column and ADD COLUMN for the old source, the old source unchanged; once made there and written again while the application writes the table, the old source holds every value', async () => {
    const name = 'column-window';
    const db = 'column_window';
    await cutOverWithWindow(pair, store, name, db, SETUP);

    // the application's new column, written on new rows and old ones
    await pair.target.query('ALTER TABLE notes ADD COLUMN extra text', [], db);
    await pair.target.query("INSERT INTO notes VALUES (101, 'in the window', 'x101'), (102, 'in the window', 'x102')", [], db);
    await pair.target.query("UPDATE notes SET extra = 'y' || id WHERE id <= 3", [], db);
    await until(
      'the rows on the old source',
      async () => ((await pair.source.query('SELECT 1 FROM notes WHERE id = 102', [], db)).length === 1 ? true : undefined),
      180_000,
    );
    const oldBefore = await notes(pair, 'source', db);

    await requestFallBack(serverSpec(pair.target), name);
    const settled = await fallBackSettles(store, name);
    const [window] = await fallbackWindows(store, name);
    const oldAfter = await notes(pair, 'source', db);
    const withValues = (await notes(pair, 'target', db)).filter((r) => /,x10\d\)$|,y\d\)$/.test(r));
    assert.equal(withValues.length, 5, 'the new server holds the values');
    assert.equal(
      window!.state,
      'Open',
      `the fall-back did not pass its point of no return (${settled.databases[0]!.fallback!.state}: ${window!.message ?? ''}); ` +
        `old source: columns ${await columnsOf(pair, 'source', db)}, ${oldAfter.length} rows, e.g. ${oldAfter[0]}`,
    );
    const message = window!.message ?? '';
    assert.ok(!message.includes('\n'), `one line: ${message}`);
    assert.match(message, /^fall-back stopped: /);
    assert.ok(message.includes('column "public"."notes"."extra"') || message.includes('column public.notes.extra'), message);
    assert.ok(message.includes('ALTER TABLE "public"."notes" ADD COLUMN "extra" text'), message);
    assert.equal(await columnsOf(pair, 'source', db), 'id,v', "the old source's columns unchanged");
    assert.deepEqual(oldAfter, oldBefore, "the old source's rows unchanged");

    // the application goes on writing the table, so the reverse stream, tried again after the
    // stop, reads the table (without the column) before the fix is made
    await pair.target.query("INSERT INTO notes VALUES (103, 'after the stop', 'x103')", [], db);
    await until(
      'the row written after the stop on the old source',
      async () => ((await pair.source.query('SELECT 1 FROM notes WHERE id = 103', [], db)).length === 1 ? true : undefined),
      180_000,
    );

    // the fix: the column made on the old source, its values written again on the new server
    const admin = await pair.source.connect(db);
    try {
      await admin.query('BEGIN READ WRITE; ALTER TABLE notes ADD COLUMN extra text; COMMIT');
    } finally {
      await admin.end();
    }
    await pair.target.query('UPDATE notes SET extra = extra WHERE extra IS NOT NULL', [], db);
    await pair.target.query("INSERT INTO notes VALUES (104, 'after the fix', 'x104')", [], db);
    await until(
      'the values on the old source',
      async () =>
        (await pair.source.query("SELECT 1 FROM notes WHERE extra IN ('x102', 'x103', 'x104')", [], db)).length === 3 ? true : undefined,
      180_000,
    );
    await requestFallBack(serverSpec(pair.target), name);
    const fellBack = await fallBackSettles(store, name);
    assert.equal(fellBack.databases[0]!.fallback!.state, 'FellBack', fellBack.databases[0]!.fallback!.message);
    assert.deepEqual(await notes(pair, 'source', db), await notes(pair, 'target', db), 'every value on the old source');
    assert.equal((await notes(pair, 'source', db)).filter((r) => /,x10\d\)$|,y\d\)$/.test(r)).length, 7);
  });
});

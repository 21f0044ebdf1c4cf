// A column the application adds on the new server during a fallback window, and writes: the reverse
// stream leaves it out (it is the new server's own, not the migration's), so its values are only on
// the new server. A fall-back must not pass its point of no return so: it stops, the window Open
// again with a one-line message naming the column and the statement for the old source, and the
// old source unchanged (no column, its rows as they were). Once the column is made there and its
// values written again on the new server, the fall-back ends and the old source holds every value,
// read back on both servers.
import assert from 'node:assert/strict';
import type { Cluster } from '../../provider/localpg/cluster';
import {
  cutOverWithWindow,
  fallBackStopped,
  fellBackAlike,
  NOTES_SETUP,
  onOldSource,
  windowRows,
  suiteServers,
  writeReadWrite,
} from '../support';

async function columnsOf(cluster: Cluster, db: string): Promise<string> {
  const rows = await cluster.query<{ c: string }>(
    "SELECT string_agg(attname, ',' ORDER BY attnum) AS c FROM pg_attribute WHERE attrelid = 'notes'::regclass AND attnum > 0 AND NOT attisdropped",
    [],
    db,
  );
  return rows[0]!.c;
}

describe('fallback window: a column added and written on the new server', function () {
  this.timeout(900_000);
  const servers = suiteServers();

  it('a fall-back stops before its point of no return naming the column and ADD COLUMN for the old source, the old source unchanged; once made there and written again while the application writes the table, the old source holds every value', async () => {
    const { pair, store } = servers;
    const name = 'column-window';
    const db = 'column_window';
    /** Each row of notes on one server as text, the column `extra` included where the server has it. */
    const notes = async (side: 'source' | 'target') => (await windowRows(pair[side], db, 'notes'))!;
    await cutOverWithWindow(pair, store, name, db, NOTES_SETUP);

    // the application's new column, written on new rows and old ones
    await pair.target.query('ALTER TABLE notes ADD COLUMN extra text', [], db);
    await pair.target.query("INSERT INTO notes VALUES (101, 'in the window', 'x101'), (102, 'in the window', 'x102')", [], db);
    await pair.target.query("UPDATE notes SET extra = 'y' || id WHERE id <= 3", [], db);
    await onOldSource(pair, db, 'the rows on the old source', 'SELECT 1 FROM notes WHERE id = 102');
    const oldBefore = await notes('source');

    const message = await fallBackStopped(servers, name, async () => {
      const oldAfter = await notes('source');
      return `old source: columns ${await columnsOf(pair.source, db)}, ${oldAfter.length} rows, e.g. ${oldAfter[0]}`;
    });
    const withValues = (await notes('target')).filter((r) => /,x10\d\)$|,y\d\)$/.test(r));
    assert.equal(withValues.length, 5, 'the new server holds the values');
    assert.ok(message.includes('column "public"."notes"."extra"') || message.includes('column public.notes.extra'), message);
    assert.ok(message.includes('ALTER TABLE "public"."notes" ADD COLUMN "extra" text'), message);
    assert.equal(await columnsOf(pair.source, db), 'id,v', "the old source's columns unchanged");
    assert.deepEqual(await notes('source'), oldBefore, "the old source's rows unchanged");

    // the application goes on writing the table, so the reverse stream, tried again after the
    // stop, reads the table (without the column) before the fix is made
    await pair.target.query("INSERT INTO notes VALUES (103, 'after the stop', 'x103')", [], db);
    await onOldSource(pair, db, 'the row written after the stop on the old source', 'SELECT 1 FROM notes WHERE id = 103');

    // the fix: the column made on the old source, its values written again on the new server
    await writeReadWrite(pair.source, db, 'ALTER TABLE notes ADD COLUMN extra text');
    await pair.target.query('UPDATE notes SET extra = extra WHERE extra IS NOT NULL', [], db);
    await pair.target.query("INSERT INTO notes VALUES (104, 'after the fix', 'x104')", [], db);
    await onOldSource(pair, db, 'the values on the old source', "SELECT 1 FROM notes WHERE extra IN ('x102', 'x103', 'x104')", 3);
    const fellBack = await fellBackAlike(servers, name, db, 'notes');
    assert.equal(fellBack.filter((r) => /,x10\d\)$|,y\d\)$/.test(r)).length, 7);
  });
});

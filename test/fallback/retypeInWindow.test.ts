// A column the application retypes on the new server during a fallback window to a type it made
// there for it (CREATE TYPE, then ALTER COLUMN ... TYPE ... USING): the old source cannot derive the
// values, so the reverse stream stops with the statement to make there. No schema watch runs back,
// so the old source lacks the new type: the printed fix must make it first, read from the new
// server's catalog, or it fails as printed. The test runs the printed statements on the old source
// as printed, lets the stream apply again by itself, and reads the rows back on both servers.
import assert from 'node:assert/strict';
import {
  cutOverWithWindow,
  onOldSource,
  until,
  windowIs,
  suiteServers,
  writeReadWrite,
  type ServerPair,
  stoppedWindowMessage,
} from '../support';

const SETUP = `
CREATE TYPE old_status AS ENUM ('new', 'paid', 'shipped');
CREATE TABLE t (id int PRIMARY KEY, status old_status NOT NULL, n int NOT NULL);
INSERT INTO t SELECT g, (ARRAY['new', 'paid', 'shipped'])[1 + g % 3]::old_status, g FROM generate_series(1, 100) g;`;

/** Every row of t on one server, as text, by key. */
async function rowsOfT(pair: ServerPair, side: 'source' | 'target', db: string): Promise<string[]> {
  return (await pair[side].query<{ r: string }>('SELECT t::text AS r FROM t ORDER BY id', [], db)).map((r) => r.r);
}

describe('fallback window: a column retyped on the new server to a type made there', function () {
  this.timeout(900_000);
  const servers = suiteServers();

  /** The window Stopped; returns the statements its one-line message prints for the old source. */
  async function printedFix(name: string): Promise<string> {
    const message = await stoppedWindowMessage(servers.store, name);
    const statements = /make the same change on the old source \((.*) as on the new server\) and resume/.exec(message)?.[1];
    assert.ok(statements, message);
    return statements;
  }

  it("the reverse stop's printed fix makes the new enum and domain on the old source first; run there as printed, the stream applies again and the rows read back equal", async () => {
    const { pair, store } = servers;
    const name = 'retype-window';
    const db = 'retype_window';
    await cutOverWithWindow(pair, store, name, db, SETUP);
    // a write the reverse stream applies first in the old shape, so that the retype changes its relation message
    await pair.target.query('UPDATE t SET n = 1001 WHERE id = 1', [], db);
    await onOldSource(pair, db, 'the write before the retype on the old source', 'SELECT 1 FROM t WHERE id = 1 AND n = 1001');

    await pair.target.query(
      `BEGIN;
       CREATE TYPE order_status AS ENUM ('new', 'paid', 'shipped', 'it''s refunded');
       ALTER TABLE t ALTER COLUMN status TYPE order_status USING status::text::order_status;
       COMMIT;
       INSERT INTO t VALUES (1000, 'it''s refunded', 1000)`,
      [],
      db,
    );
    const enumFix = await printedFix(name);
    assert.match(enumFix, /^CREATE TYPE "public"\."order_status" AS ENUM \('new', 'paid', 'shipped', 'it''s refunded'\); ALTER TABLE /);
    await writeReadWrite(pair.source, db, enumFix);
    await until('the reverse stream applies again', windowIs(store, name, 'Open'), 240_000);
    await until('the old source has the rows', async () =>
      JSON.stringify(await rowsOfT(pair, 'source', db)) === JSON.stringify(await rowsOfT(pair, 'target', db)) ? true : undefined,
    );

    await pair.target.query(
      `BEGIN;
       CREATE DOMAIN "Qty" AS int DEFAULT 1 NOT NULL CONSTRAINT qty_positive CHECK (VALUE > 0);
       ALTER TABLE t ALTER COLUMN n TYPE "Qty" USING n::"Qty";
       COMMIT;
       INSERT INTO t VALUES (1001, 'paid', 7)`,
      [],
      db,
    );
    const domainFix = await printedFix(name);
    assert.match(
      domainFix,
      /^CREATE DOMAIN "public"\."Qty" AS integer DEFAULT 1 NOT NULL CONSTRAINT "qty_positive" CHECK \(\(VALUE > 0\)\); ALTER TABLE /,
    );
    await writeReadWrite(pair.source, db, domainFix);
    await until('the reverse stream applies again', windowIs(store, name, 'Open'), 240_000);
    await until('the old source has the rows', async () =>
      JSON.stringify(await rowsOfT(pair, 'source', db)) === JSON.stringify(await rowsOfT(pair, 'target', db)) ? true : undefined,
    );
    const rows = await rowsOfT(pair, 'source', db);
    assert.equal(rows.length, 102);
    assert.ok(rows.includes(`(1000,"it's refunded",1000)`), rows.slice(-3).join(' '));
    assert.ok(rows.includes('(1001,paid,7)'), rows.slice(-3).join(' '));
  });
});

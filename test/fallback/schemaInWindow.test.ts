// The application upgrades its schema on the new server during a fallback window. A domain's
// constraint dropped there and then a row it allowed, or an enum label added there and then a row
// using it: the old source refuses the row. The reverse stream must neither skip nor duplicate it,
// nor stall without a word: it stops, the window Stopped with a one-line message naming the change
// to make on the old source (the statement itself), and once the DBA has made it there, the stream
// applies again by itself and every row of the window reaches the old source, once, read back on
// both servers. A column added there is the new server's own: its rows still arrive, without it, and
// a fall-back stops while it holds values the old source lacks, naming it; once it is made on the old
// source and its values written again, the fall-back brings the old source level with the new server.
import assert from 'node:assert/strict';
import { requestFallBack } from '../../provider/engine';
import {
  cutOverWithWindow,
  fallBackSettles,
  fallBackStopped,
  onOldSource,
  serverSpec,
  until,
  windowIs,
  suiteServers,
  writeReadWrite,
  type ServerPair,
  stoppedWindowMessage,
} from '../support';
import { rowsOf } from '../cdc/harness';

const SETUP = `
CREATE DOMAIN positive AS int CONSTRAINT positive_only CHECK (VALUE > 0);
CREATE TYPE mood AS ENUM ('sad', 'ok');
CREATE TABLE notes (id int PRIMARY KEY, amount positive, m mood, v text);
INSERT INTO notes SELECT g, g, 'ok', 'before' FROM generate_series(1, 100) g;`;

describe('fallback window: schema changes on the new server', function () {
  this.timeout(900_000);
  const servers = suiteServers();
  const open = (name: string) => windowIs(servers.store, name, 'Open');

  /** The window Stopped, its message one line that holds `fix`; returns that message. */
  async function stoppedNaming(name: string, fix: string): Promise<string> {
    const message = await stoppedWindowMessage(servers.store, name);
    assert.ok(message.startsWith('the reverse stream stopped: '), message);
    assert.ok(message.includes('; fix on the old source, where it applies: '), message);
    assert.ok(message.split('; fix on the old source, where it applies: ')[1]!.includes(fix), message);
    return message;
  }

  async function sameNotes(pair: ServerPair, db: string): Promise<boolean> {
    const [old, now] = await Promise.all([rowsOf(pair.source, db, 'notes'), rowsOf(pair.target, db, 'notes')]);
    return old.length === now.length && old.every((r, i) => r === now[i]);
  }

  it('a domain constraint dropped and an enum label added on the new server: the reverse stream stops naming the statement for the old source, and once made there every row of the window reaches it once', async () => {
    const { pair, store } = servers;
    const name = 'schema-window';
    const db = 'schema_window';
    await cutOverWithWindow(pair, store, name, db, SETUP);

    // the domain's constraint dropped on the new server, then a row it would have refused
    await pair.target.query('ALTER DOMAIN positive DROP CONSTRAINT positive_only', [], db);
    await pair.target.query("INSERT INTO notes VALUES (1001, -5, 'ok', 'negative in the window')", [], db);
    await pair.target.query("INSERT INTO notes VALUES (1002, 7, 'sad', 'after it')", [], db);
    await stoppedNaming(name, 'ALTER DOMAIN "public"."positive" DROP CONSTRAINT "positive_only"');
    const held = await pair.source.query<{ n: string }>('SELECT count(*)::text AS n FROM notes WHERE id > 1000', [], db);
    assert.equal(held[0]!.n, '0', 'nothing past the refused row applied out of order');
    await writeReadWrite(pair.source, db, 'ALTER DOMAIN positive DROP CONSTRAINT positive_only');
    await until('the reverse stream applies again', open(name), 240_000);
    await until('the old source has the rows', async () => ((await sameNotes(pair, db)) ? true : undefined), 120_000);

    // an enum label added on the new server, then a row using it
    await pair.target.query("ALTER TYPE mood ADD VALUE 'happy'", [], db);
    await pair.target.query("INSERT INTO notes VALUES (1003, 3, 'happy', 'a new label')", [], db);
    await pair.target.query("UPDATE notes SET m = 'happy' WHERE id <= 5", [], db);
    await stoppedNaming(name, "ALTER TYPE public.mood ADD VALUE 'happy'");
    await writeReadWrite(pair.source, db, "ALTER TYPE mood ADD VALUE 'happy'");
    await until('the reverse stream applies again', open(name), 240_000);
    await until('the old source has the rows', async () => ((await sameNotes(pair, db)) ? true : undefined), 120_000);
    const old = await pair.source.query<{ id: number; amount: number; m: string }>(
      'SELECT id, amount, m::text AS m FROM notes WHERE id > 1000 OR m = $1 ORDER BY id',
      ['happy'],
      db,
    );
    assert.deepEqual(
      old.map((r) => `${r.id}:${r.amount}:${r.m}`),
      ['1:1:happy', '2:2:happy', '3:3:happy', '4:4:happy', '5:5:happy', '1001:-5:ok', '1002:7:sad', '1003:3:happy'],
      'each row of the window once on the old source',
    );

    // a column added on the new server: the rows written with it still reach the old source, once
    await pair.target.query('ALTER TABLE notes ADD COLUMN extra text', [], db);
    await pair.target.query("INSERT INTO notes VALUES (1004, -1, 'happy', 'last', 'x')", [], db);
    await onOldSource(pair, db, 'the row written with the new column on the old source', 'SELECT 1 FROM notes WHERE id = 1004');
    const columns =
      "SELECT string_agg(attname, ',' ORDER BY attnum) AS c FROM pg_attribute WHERE attrelid = 'notes'::regclass AND attnum > 0 AND NOT attisdropped";
    // a column the migration does not know is the new server's own: left out of the reverse stream, not made on the old source
    assert.equal((await pair.source.query<{ c: string }>(columns, [], db))[0]!.c, 'id,amount,m,v', "the old source's columns");

    // a fall-back stops while the column holds a value the old source would lose, naming it
    assert.match(
      await fallBackStopped(servers, name),
      /^fall-back stopped: column public\.notes\.extra of the new server holds values .*ALTER TABLE "public"\."notes" ADD COLUMN "extra" text;/,
    );
    assert.equal((await pair.source.query<{ c: string }>(columns, [], db))[0]!.c, 'id,amount,m,v', "the old source's columns unchanged");

    // made on the old source and written again on the new server, a fall-back brings the old source level with it
    await writeReadWrite(pair.source, db, 'ALTER TABLE notes ADD COLUMN extra text');
    await pair.target.query('UPDATE notes SET extra = extra WHERE extra IS NOT NULL', [], db);
    await until('the old source has the rows', async () => ((await sameNotes(pair, db)) ? true : undefined), 120_000);
    const whole = 'SELECT n::text AS r FROM notes AS n ORDER BY id';
    const written = (await pair.target.query<{ r: string }>(whole, [], db)).map((r) => r.r);
    await requestFallBack(serverSpec(pair.target), name);
    const settled = await fallBackSettles(store, name);
    assert.equal(settled.databases[0]!.fallback!.state, 'FellBack', settled.databases[0]!.fallback!.message);
    const old2 = (await pair.source.query<{ r: string }>(whole, [], db)).map((r) => r.r);
    assert.deepEqual(old2, written, 'every row of the window on the old source, once, the new column with its value');
    assert.ok(old2.includes('(1004,-1,happy,last,x)'), 'the value written in the new column');
  });
});

// A table the application makes on the new server during a fallback window, and writes: the reverse
// publication lists only the migration's tables, so its rows are only on the new server. A fall-back
// must not pass its point of no return so: it stops, the window Open again with a one-line message
// naming the table and the CREATE TABLE for the old source, the old source unchanged. Once the user
// made it there, the fall-back carries its rows inside its hold (the new server fenced) and compares
// them (and takes them back if it stops later). A table made in the window with no rows, and a
// DBA's own table made on the target before the cutover, never stop it: both stay on the new server alone.
// What the carry wrote is recorded first and taken back alone (footprint/windowCarry.ts): a
// bystander's rows written there since stay, a runner killed after the carry resumes with every row
// once, and the sequence of a carried table's column moves forward with its rows.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requestFallBack, resumeMigration } from '../../provider/engine';
import { fallbackWindows } from '../../provider/engine/control/fallbackWindows';
import { get } from '../../provider/engine/control/store';
import {
  cutOverWithWindow,
  fallBackSettles,
  fallBackStopped,
  fellBackAlike,
  NOTES_SETUP,
  onOldSource,
  serverSpec,
  until,
  windowRows,
  suiteServers,
  writeReadWrite,
  type ServerPair,
  type WindowOpenOptions,
  type SuiteServers,
} from '../support';
import { heldFile, isHeld, withHoldArmed } from '../support/holdPoints';

/**
 * The fix for the filled column of the new server that stopped a fall-back: the column made on the
 * old source, its values carried by the reverse stream (the UPDATE), `more` written on the new
 * server meanwhile; returns once the value is on the old source.
 */
async function columnFixed(pair: ServerPair, db: string, more: string): Promise<void> {
  await writeReadWrite(pair.source, db, 'ALTER TABLE notes ADD COLUMN extra text');
  await pair.target.query(`UPDATE notes SET extra = extra WHERE extra IS NOT NULL; ${more}`, [], db);
  await onOldSource(pair, db, 'the value on the old source', "SELECT 1 FROM notes WHERE extra = 'x'");
}

/** A sequence's last value on one server. */
async function lastValue(pair: ServerPair, side: 'source' | 'target', db: string, sequence: string): Promise<string> {
  const [row] = await pair[side].query<{ v: string }>(`SELECT last_value::text AS v FROM ${sequence}`, [], db);
  return row!.v;
}

/**
 * Cut over with a window, then the application's table orders_new made on the new server with the
 * key column `key` (an identity or a serial) and 30 rows written there by its default.
 */
async function ordersMadeInWindow(
  servers: SuiteServers,
  name: string,
  db: string,
  key: string,
  options?: WindowOpenOptions,
): Promise<void> {
  const { pair, store } = servers;
  await cutOverWithWindow(pair, store, name, db, NOTES_SETUP, options);
  await pair.target.query(`CREATE TABLE orders_new (id ${key} PRIMARY KEY, item text)`, [], db);
  await pair.target.query("INSERT INTO orders_new (item) SELECT 'item ' || g FROM generate_series(1, 30) g", [], db);
}

/** An insert into `table` on the old source with its key's default draws a key after `last`, the new server's last. */
async function drawsAfterCarried(pair: ServerPair, db: string, table = 'orders_new', last = 30): Promise<void> {
  const [drawn] = await pair.source.query<{ id: string }>(
    `INSERT INTO ${table} (item) VALUES ('back on the old source') RETURNING id::text AS id`,
    [],
    db,
  );
  assert.ok(Number(drawn!.id) > last, `the old source drew ${drawn!.id}, after the new server's last key ${last}`);
}

/** A bystander writes into the old source's table between the carry and the stop: its rows stay, the carried ones go. */
async function bystanderKept(servers: SuiteServers): Promise<void> {
  const { pair, store } = servers;
  const name = 'table-window-bystander';
  const db = 'table_window_bystander';
  const point = `fallback-carried:${db}`;
  const holdDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pgferry-carry-held-'));
  try {
    await withHoldArmed(point, holdDir, () => cutOverWithWindow(pair, store, name, db, NOTES_SETUP));
    await pair.target.query('CREATE TABLE tags (id int PRIMARY KEY, tag text)', [], db);
    await pair.target.query("INSERT INTO tags SELECT g, 'tag ' || g FROM generate_series(1, 10) g", [], db);
    await writeReadWrite(pair.source, db, 'CREATE TABLE tags (id int PRIMARY KEY, tag text)');
    // a column of the new server alone, filled: the fall-back stops after the carry
    await pair.target.query('ALTER TABLE notes ADD COLUMN extra text', [], db);
    await pair.target.query("UPDATE notes SET extra = 'x' WHERE id = 1", [], db);

    await requestFallBack(serverSpec(pair.target), name);
    await until('the runner held after the carry', async () => ((await isHeld(point, holdDir)) ? true : undefined), 300_000);
    assert.equal((await windowRows(pair.source, db, 'tags'))?.length, 10, 'the carry committed');
    // a bystander on the old source (the window's table is not streamed: no fence trigger on it)
    await writeReadWrite(pair.source, db, "INSERT INTO tags VALUES (100, 'bystander'); UPDATE tags SET tag = 'edited' WHERE id = 2");
    await fs.rm(heldFile(point, holdDir));

    await fallBackSettles(store, name);
    const [window] = await fallbackWindows(store, name);
    assert.equal(window!.state, 'Open', window!.message);
    assert.match(window!.message ?? '', /^fall-back stopped: column /);
    assert.deepEqual(
      await windowRows(pair.source, db, 'tags'),
      ['(100,bystander)', '(2,edited)'],
      "the bystander's rows kept, the carried ones gone",
    );
    assert.equal((await windowRows(pair.target, db, 'tags'))?.length, 10, 'the new server unchanged');
  } finally {
    await fs.rm(holdDir, { recursive: true, force: true });
  }
}

/** The runner killed after the carry (at the sequences, before the point of no return) and resumed. */
async function killedAfterCarry(servers: SuiteServers): Promise<void> {
  const { pair, store } = servers;
  const name = 'table-window-killed';
  const db = 'table_window_killed';
  process.env.PGFERRY_FAILPOINTS = `fallback-sequences:${db}`;
  let spec;
  try {
    spec = await cutOverWithWindow(pair, store, name, db, NOTES_SETUP);
  } finally {
    delete process.env.PGFERRY_FAILPOINTS;
  }
  // no key: a row carried twice would be there twice
  await pair.target.query('CREATE TABLE events_new (id int, what text)', [], db);
  await pair.target.query("INSERT INTO events_new SELECT g, 'event ' || g FROM generate_series(1, 10) g", [], db);
  await writeReadWrite(pair.source, db, 'CREATE TABLE events_new (id int, what text)');
  await pair.target.query('ALTER TABLE notes ADD COLUMN extra text', [], db);
  await pair.target.query("UPDATE notes SET extra = 'x' WHERE id = 1", [], db);

  await requestFallBack(serverSpec(pair.target), name);
  await until(
    'the runner killed after the carry',
    async () => ((await get(store, name))?.runner?.alive === false ? true : undefined),
    300_000,
  );
  assert.equal((await windowRows(pair.source, db, 'events_new'))?.length, 10, 'the carry committed before the kill');
  await resumeMigration(spec);
  await fallBackSettles(store, name);
  const [window] = await fallbackWindows(store, name);
  assert.equal(window!.state, 'Open', window!.message);
  assert.match(window!.message ?? '', /^fall-back stopped: column /);
  assert.deepEqual(await windowRows(pair.source, db, 'events_new'), [], 'the carried rows taken back: the table empty as the user made it');

  await columnFixed(pair, db, "INSERT INTO events_new VALUES (11, 'meanwhile')");
  assert.equal((await fellBackAlike(servers, name, db, 'events_new')).length, 11);
}

/** A window's table outside the filters, with an identity column: its sequence carried with its rows. */
async function sequenceCarried(servers: SuiteServers): Promise<void> {
  const name = 'table-window-sequence';
  const db = 'table_window_sequence';
  // the migration's tables named: the application's new table is outside them, and so is its sequence's name
  await ordersMadeInWindow(servers, name, db, 'bigint GENERATED BY DEFAULT AS IDENTITY', { spec: { includeTables: ['public.notes'] } });
  await writeReadWrite(
    servers.pair.source,
    db,
    'CREATE TABLE orders_new (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, item text)',
  );

  assert.equal((await fellBackAlike(servers, name, db, 'orders_new')).length, 30);
  await drawsAfterCarried(servers.pair, db);
}

/**
 * A window's table with a serial column, made on the old source by the statement the stop prints:
 * the statement runs there as printed (its sequence made first), and the fall-back carries the rows
 * with the sequence's value.
 */
async function serialAsPrinted(servers: SuiteServers): Promise<void> {
  const name = 'table-window-serial';
  const db = 'table_window_serial';
  await ordersMadeInWindow(servers, name, db, 'serial');

  const message = await fallBackStopped(servers, name);
  const fix = /fix on the old source: (.*?); then fall back again/.exec(message)?.[1];
  assert.ok(fix?.includes('CREATE TABLE "public"."orders_new" ('), message);
  await writeReadWrite(servers.pair.source, db, fix!);

  assert.equal((await fellBackAlike(servers, name, db, 'orders_new')).length, 30);
  await drawsAfterCarried(servers.pair, db);
}

/**
 * A window's table whose identity sequence has another name on the old source (the user named it
 * there): paired by the table and the column, the verification passes and the carry moves it.
 */
async function identityRenamed(servers: SuiteServers): Promise<void> {
  const name = 'table-window-renamed';
  const db = 'table_window_renamed';
  await ordersMadeInWindow(servers, name, db, 'bigint GENERATED BY DEFAULT AS IDENTITY');
  await writeReadWrite(
    servers.pair.source,
    db,
    'CREATE TABLE orders_new (id bigint GENERATED BY DEFAULT AS IDENTITY (SEQUENCE NAME public.orders_new_ids) PRIMARY KEY, item text)',
  );

  assert.equal((await fellBackAlike(servers, name, db, 'orders_new')).length, 30);
  assert.equal(
    await lastValue(servers.pair, 'source', db, 'public.orders_new_ids'),
    '30',
    "the old source's own sequence moved with the rows",
  );
  await drawsAfterCarried(servers.pair, db);
}

/**
 * An old source's sequence of the same name as the new server's, not the migration's: a bystander
 * made it there in the window, and the user's table took another name for its own. A fall-back
 * never sets it, whatever it ends in.
 */
async function bystanderSequenceKept(servers: SuiteServers): Promise<void> {
  const { pair, store } = servers;
  const name = 'table-window-seq-bystander';
  const db = 'table_window_seq_bystander';
  await ordersMadeInWindow(servers, name, db, 'serial');
  await writeReadWrite(pair.source, db, "CREATE SEQUENCE public.orders_new_id_seq; SELECT setval('public.orders_new_id_seq', 7)");
  // serial: the name taken, PostgreSQL names the table's own sequence orders_new_id_seq1
  await writeReadWrite(pair.source, db, 'CREATE TABLE orders_new (id serial PRIMARY KEY, item text)');

  await requestFallBack(serverSpec(pair.target), name);
  const settled = await fallBackSettles(store, name);
  const said = settled.databases[0]!.fallback!.message ?? '';
  assert.equal(
    await lastValue(pair, 'source', db, 'public.orders_new_id_seq'),
    '7',
    `the bystander's sequence left at its value (${said})`,
  );
  assert.equal(await lastValue(pair, 'target', db, 'public.orders_new_id_seq'), '30', "the new server's unchanged");
}

/** Falls back once, stopped on a table the old source lacks, the window Open again; returns the fix the stop prints. */
async function printedFix(servers: SuiteServers, name: string): Promise<string> {
  const message = await fallBackStopped(servers, name);
  const fix = /fix on the old source: (.*?); then fall back again/.exec(message)?.[1];
  assert.ok(fix, message);
  return fix;
}

/**
 * A window's table whose key's default draws from a free-standing sequence made in the window too:
 * the printed fix makes that sequence on the old source first, and the carry moves it past the
 * carried keys.
 */
async function freeStandingAsPrinted(servers: SuiteServers): Promise<void> {
  const { pair, store } = servers;
  const name = 'table-window-free-seq';
  const db = 'table_window_free_seq';
  await cutOverWithWindow(pair, store, name, db, NOTES_SETUP);
  await pair.target.query(
    `CREATE SEQUENCE invoice_no START 1000 INCREMENT 5;
     CREATE TABLE invoices (id bigint DEFAULT nextval('invoice_no') PRIMARY KEY, item text);
     INSERT INTO invoices (item) SELECT 'item ' || g FROM generate_series(1, 30) g`,
    [],
    db,
  );
  const fix = await printedFix(servers, name);
  assert.ok(fix.startsWith('CREATE SEQUENCE "public"."invoice_no" AS bigint INCREMENT BY 5 '), fix);
  await writeReadWrite(pair.source, db, fix);

  assert.equal((await fellBackAlike(servers, name, db, 'invoices')).length, 30);
  assert.equal(await lastValue(pair, 'source', db, 'public.invoice_no'), '1145', 'the sequence moved past the carried keys');
  await drawsAfterCarried(pair, db, 'invoices', 1145);
}

/**
 * A window's serial table whose sequence's name the old source gives to another object (a table
 * outside the migration's filters, so the new server has no such name): the printed fix makes the
 * table's sequence under a free name, its default naming it, and the fall-back pairs it by its
 * column; the other object is untouched, and the sequence moves past the carried keys.
 */
async function serialNameTakenAsPrinted(servers: SuiteServers): Promise<void> {
  const { pair, store } = servers;
  const name = 'table-window-seq-taken';
  const db = 'table_window_seq_taken';
  const setup = `${NOTES_SETUP} CREATE TABLE orders_new_id_seq (id int PRIMARY KEY, note text); INSERT INTO orders_new_id_seq VALUES (7, 'kept');`;
  await cutOverWithWindow(pair, store, name, db, setup, { spec: { excludeTables: ['public.orders_new_id_seq'] } });
  await pair.target.query('CREATE TABLE orders_new (id serial PRIMARY KEY, item text)', [], db);
  await pair.target.query("INSERT INTO orders_new (item) SELECT 'item ' || g FROM generate_series(1, 30) g", [], db);
  const fix = await printedFix(servers, name);
  assert.ok(fix.startsWith('CREATE SEQUENCE "public"."orders_new_id_seq1" AS integer '), fix);
  await writeReadWrite(pair.source, db, fix);

  assert.equal((await fellBackAlike(servers, name, db, 'orders_new')).length, 30);
  assert.deepEqual(await windowRows(pair.source, db, 'orders_new_id_seq'), ['(7,kept)'], 'the other object untouched');
  assert.equal(await lastValue(pair, 'source', db, 'public.orders_new_id_seq1'), '30', "the table's moved past the carried keys");
  await drawsAfterCarried(pair, db);
}

/**
 * serialNameTakenAsPrinted with a key column named with a keyword (`order`): the fall-back's schema
 * check pairs its sequence by the column as pg_depend names it, not by a printed name.
 */
async function keywordSerialNameTaken(servers: SuiteServers): Promise<void> {
  const { pair, store } = servers;
  const name = 'table-window-seq-keyword';
  const db = 'table_window_seq_keyword';
  const setup = `${NOTES_SETUP} CREATE TABLE orders_new_order_seq (id int PRIMARY KEY, note text); INSERT INTO orders_new_order_seq VALUES (7, 'kept');`;
  await cutOverWithWindow(pair, store, name, db, setup, { spec: { excludeTables: ['public.orders_new_order_seq'] } });
  await pair.target.query('CREATE TABLE orders_new ("order" serial PRIMARY KEY, item text)', [], db);
  await pair.target.query("INSERT INTO orders_new (item) SELECT 'item ' || g FROM generate_series(1, 30) g", [], db);
  const fix = await printedFix(servers, name);
  assert.ok(fix.startsWith('CREATE SEQUENCE "public"."orders_new_order_seq1" AS integer '), fix);
  await writeReadWrite(pair.source, db, fix);

  assert.equal((await fellBackAlike(servers, name, db, 'orders_new')).length, 30);
  assert.deepEqual(await windowRows(pair.source, db, 'orders_new_order_seq'), ['(7,kept)'], 'the other table untouched');
  assert.equal(await lastValue(pair, 'source', db, 'public.orders_new_order_seq1'), '30', "the table's moved past the carried keys");
}

/**
 * A window's table whose key's default draws from two free-standing sequences made in the window
 * (odd, but legal): the printed fix makes both on the old source, and the carry moves each past the
 * values the new server drew, not only a default's one sequence.
 */
async function twoSequencesAsPrinted(servers: SuiteServers): Promise<void> {
  const { pair, store } = servers;
  const name = 'table-window-two-seqs';
  const db = 'table_window_two_seqs';
  await cutOverWithWindow(pair, store, name, db, NOTES_SETUP);
  await pair.target.query(
    `CREATE SEQUENCE batch_no START 500; CREATE SEQUENCE line_no START 1 INCREMENT 2;
     CREATE TABLE lines (id bigint DEFAULT nextval('batch_no') * 1000 + nextval('line_no') PRIMARY KEY, item text);
     INSERT INTO lines (item) SELECT 'item ' || g FROM generate_series(1, 30) g`,
    [],
    db,
  );
  const fix = await printedFix(servers, name);
  assert.ok(fix.includes('CREATE SEQUENCE "public"."batch_no"') && fix.includes('CREATE SEQUENCE "public"."line_no"'), fix);
  await writeReadWrite(pair.source, db, fix);

  assert.equal((await fellBackAlike(servers, name, db, 'lines')).length, 30);
  assert.equal(await lastValue(pair, 'source', db, 'public.batch_no'), '529', 'the first sequence moved past the carried keys');
  assert.equal(await lastValue(pair, 'source', db, 'public.line_no'), '59', 'the second sequence moved past the carried keys');
  await drawsAfterCarried(pair, db, 'lines', 529_059);
}

describe('fallback window: a table made and written on the new server', function () {
  this.timeout(900_000);
  const servers = suiteServers();

  it('a fall-back stops before its point of no return naming the table and CREATE TABLE for the old source, the old source unchanged; once made there, the fall-back carries its rows, an empty table and a DBA table of before the cutover kept on the new server', async () => {
    const { pair, store } = servers;
    const name = 'table-window';
    const db = 'table_window';
    await cutOverWithWindow(pair, store, name, db, NOTES_SETUP, {
      // a DBA's own table on the target, made before the cutover: not pgferry's, never carried, never a stop
      whileStreaming: () =>
        writeReadWrite(
          pair.target,
          db,
          "CREATE TABLE dba_own (k int PRIMARY KEY, note text); INSERT INTO dba_own VALUES (1, 'mine'), (2, 'mine')",
        ),
    });

    // the application's new tables: one written, one left empty; and a write the reverse stream carries
    await pair.target.query('CREATE TABLE orders_new (id int PRIMARY KEY, item text NOT NULL, qty int DEFAULT 1)', [], db);
    await pair.target.query("INSERT INTO orders_new SELECT g, 'item ' || g, g FROM generate_series(1, 20) g", [], db);
    await pair.target.query('CREATE TABLE empty_new (id int)', [], db);
    await pair.target.query("INSERT INTO notes VALUES (101, 'in the window')", [], db);
    await onOldSource(pair, db, 'the window write on the old source', 'SELECT 1 FROM notes WHERE id = 101');
    const notesBefore = await windowRows(pair.source, db, 'notes');

    const message = await fallBackStopped(
      servers,
      name,
      async () => `old source: orders_new ${JSON.stringify(await windowRows(pair.source, db, 'orders_new'))}`,
    );
    assert.equal((await windowRows(pair.target, db, 'orders_new'))?.length, 20, 'the new server holds the rows');
    assert.match(message, /^fall-back stopped: table ("public"\."orders_new"|public\.orders_new) /);
    assert.ok(!message.includes('empty_new') && !message.includes('dba_own'), `only the written table of the window: ${message}`);
    const create = /fix on the old source: (CREATE TABLE .*?); then fall back again/.exec(message)?.[1];
    assert.ok(create?.startsWith('CREATE TABLE "public"."orders_new" ('), message);
    assert.equal(await windowRows(pair.source, db, 'orders_new'), undefined, 'no table made on the old source');
    assert.deepEqual(await windowRows(pair.source, db, 'notes'), notesBefore, "the old source's rows unchanged");

    // the fix the message gives, made on the old source; the application writes on meanwhile
    await writeReadWrite(pair.source, db, create!);
    await pair.target.query("INSERT INTO orders_new (id, item) SELECT g, 'late ' || g FROM generate_series(21, 25) g", [], db);
    await pair.target.query("UPDATE orders_new SET item = 'changed' WHERE id = 3", [], db);
    await pair.target.query('DELETE FROM orders_new WHERE id = 4', [], db);

    const carried = await fellBackAlike(servers, name, db, 'orders_new');
    assert.equal(carried.length, 24);
    assert.ok(carried.includes('(3,changed,3)') && carried.includes('(25,"late 25",1)'), JSON.stringify(carried));
    assert.deepEqual(await windowRows(pair.source, db, 'notes'), await windowRows(pair.target, db, 'notes'), 'the migrated table alike');
    assert.equal(await windowRows(pair.source, db, 'empty_new'), undefined, 'the empty table kept on the new server alone');
    assert.equal(await windowRows(pair.source, db, 'dba_own'), undefined, "the DBA's table kept on the new server alone");
    assert.deepEqual(await windowRows(pair.target, db, 'dba_own'), ['(1,mine)', '(2,mine)']);
  });

  it('a fall-back that carried a table and then stops (on a filled column of the new server) empties it again on the old source; the next fall-back carries every row, those written meanwhile too', async () => {
    const { pair, store } = servers;
    const name = 'table-window-undo';
    const db = 'table_window_undo';
    await cutOverWithWindow(pair, store, name, db, NOTES_SETUP);
    await pair.target.query('CREATE TABLE tags (id int PRIMARY KEY, tag text)', [], db);
    await pair.target.query("INSERT INTO tags SELECT g, 'tag ' || g FROM generate_series(1, 10) g", [], db);
    // the user made the table on the old source already; a column of the new server alone, filled, stops the fall-back after the carry
    await writeReadWrite(pair.source, db, 'CREATE TABLE tags (id int PRIMARY KEY, tag text)');
    await pair.target.query('ALTER TABLE notes ADD COLUMN extra text', [], db);
    await pair.target.query("UPDATE notes SET extra = 'x' WHERE id = 1", [], db);

    assert.match(await fallBackStopped(servers, name), /^fall-back stopped: column /);
    assert.deepEqual(await windowRows(pair.source, db, 'tags'), [], 'the carried rows taken back: the table empty as the user made it');

    await columnFixed(pair, db, "INSERT INTO tags VALUES (11, 'meanwhile')");
    assert.equal((await fellBackAlike(servers, name, db, 'tags')).length, 11);
  });

  it("a fall-back that stops after its carry takes back only the carried rows: a row a bystander inserted into the old source's table after the carry, and a carried row it updated, stay there", () =>
    bystanderKept(servers));

  it('a runner killed after the carry and resumed takes the carried rows back when it stops, and the next fall-back carries every row once', () =>
    killedAfterCarry(servers));

  it("the sequence of a carried table's identity column moves forward on the old source with its rows, the table outside the migration's filters: an insert there with the default draws a key the new server has not used", () =>
    sequenceCarried(servers));

  it("a serial column's table made on the old source with the statement the stop prints (its sequence made first) is carried: the fall-back passes, and an insert there with the default draws a key after the carried ones", () =>
    serialAsPrinted(servers));

  it("a window's table whose identity sequence has another name on the old source passes the fall-back's verification, that sequence moved past the carried keys", () =>
    identityRenamed(servers));

  it("an old source's sequence of the same name as the new server's that is not the migration's (a bystander's) keeps its value through a fall-back", () =>
    bystanderSequenceKept(servers));

  it('a table whose default draws from a free-standing sequence made in the window is made on the old source by the printed fix (the sequence made first), carried, and the sequence moved past the carried keys', () =>
    freeStandingAsPrinted(servers));

  it("a serial table whose sequence's name another object holds on the old source (a table outside the filters) is made there by the printed fix under a free name: the fall-back pairs it by its column and carries the rows, the other table untouched, the sequence past the carried keys", () =>
    serialNameTakenAsPrinted(servers));

  it("a serial column named order whose sequence's name a table outside the filters holds on the old source is made there by the printed fix under a free name: the fall-back pairs it by its column and passes, the other table untouched, the sequence past the carried keys", () =>
    keywordSerialNameTaken(servers));

  it('a table whose default draws from two free-standing sequences made in the window is made on the old source by the printed fix, carried, and each sequence moved past the carried keys', () =>
    twoSequencesAsPrinted(servers));
});

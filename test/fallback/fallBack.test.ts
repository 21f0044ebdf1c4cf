// Issue 50 (fall-back): an online migration cut over with a fallback window; the application moves
// to the new server and writes there (inserts, updates, deletes, new sequence values, a transaction
// over several tables, a TRUNCATE); the runner is SIGKILLed and resumed; the reverse stream stops
// on an error and a fall-back is refused until it streams again; then `update --fall-back`. The
// old source must hold every write exactly once (both servers' rows read back and compared, each
// insert counted), the application must insert on the old source again with no key collision (the
// sequences moved back, never lower), the target stays fenced and the reverse slot, publication and
// origin are gone. Each refusal is one line and changes nothing: no window, offline, stopped,
// twice. The same on a managed-like target. Issue 62: a large object the application makes on the
// new server (as the target user) is on the old source after the fall-back, byte for byte; a DBA's
// index and table made on the new server in the window are kept there, named, not carried back, and
// stop nothing. A filled column made there (the reverse stream leaves it out of the rows it writes)
// stops the fall-back before its point of no return, naming it and the statements to run; once they
// have run, its values are on the old source too.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  isFinalState,
  PgferryError,
  requestCutover,
  requestFallBack,
  resumeMigration,
  runMigration,
  showMigration,
  startMigration,
  type MigrationStatus,
} from '../../provider/engine';
import type { CatalogConnection } from '../../provider/engine/control/connection';
import { events, get } from '../../provider/engine/control/store';
import { fallbackWindows } from '../../provider/engine/control/fallbackWindows';
import { reverseStreamNamesOf } from '../../provider/engine/core/names';
import type { ServerSpec } from '../../provider/engine/input/migrationSpec';
import { fallBackSettles, pairSpec, serverSpec, suiteServers, until, waitForStatus, writeBehindFence, type ServerPair } from '../support';
import { cutOverWithWindow } from '../support/windowOpen';
import { killRunner, runnerExits } from '../support/wait';
import { countOn as count, onManagedWindowPair, rowsOnBoth, shopAlike, shopSetup, SHOP_TABLES } from '../support/windowShop';
import { heldFile, isHeld, withHoldArmed } from '../support/holdPoints';
import { update } from '../../provider/resource/operations';
import { rowsOf } from '../cdc/harness';
import { renderStatus } from '../../provider/cli/output';

const SETUP = shopSetup({ items: 200, orders: 100, scratch: 50, tickets: 10 });

/** What the application does on the new server once it has moved there. */
const APPLICATION_WRITES = [
  "INSERT INTO items (v) SELECT 'new' || g FROM generate_series(1, 300) g",
  "UPDATE items SET v = v || '-updated' WHERE id % 7 = 0",
  'DELETE FROM orders WHERE id % 5 = 0',
  'DELETE FROM items WHERE id BETWEEN 190 AND 200 AND id NOT IN (SELECT item FROM orders)',
  // one transaction over two tables
  `BEGIN; INSERT INTO items (v) VALUES ('in a transaction'); INSERT INTO orders (item, qty) VALUES (currval('items_id_seq'), 42);
   UPDATE orders SET qty = qty + 1 WHERE item < 10; COMMIT`,
  'INSERT INTO orders (item, qty) SELECT id, 7 FROM items WHERE id > 200 AND id % 3 = 0',
  // new sequence values, handed out on the new server alone
  "SELECT nextval('tickets') FROM generate_series(1, 25)",
  'TRUNCATE scratch',
  "INSERT INTO scratch VALUES (1, 'after the truncate'), (2, 'again')",
];

/** Whether the shop is alike on both servers over the old source's columns (a DBA's column on the new server alone is not carried back). */
const sameOnBoth = (pair: ServerPair, db: string): Promise<boolean> => shopAlike(pair, db, 'oldSource');

/**
 * A fall-back refused in one line, naming why; nothing of the windows changes. `underWay`: the
 * runner is taking the fall-back meanwhile, so its state and start may move; nothing else may.
 */
async function refused(target: ServerSpec, store: CatalogConnection, name: string, why: RegExp, underWay = false): Promise<void> {
  const windows = async () =>
    JSON.stringify(
      (await fallbackWindows(store, name)).map((w) => (underWay ? { ...w, state: undefined, fallBackStartedAt: undefined } : w)),
    );
  const before = await windows();
  await assert.rejects(requestFallBack(target, name), (error: unknown) => {
    assert.ok(error instanceof PgferryError);
    assert.equal(error.code, 'FALLBACK_REFUSED');
    assert.ok(!error.message.includes('\n'), 'one line');
    assert.match(error.message, new RegExp(`^--fall-back: migration "${name}" cannot fall back: `));
    assert.match(error.message, why);
    return true;
  });
  assert.equal(await windows(), before, 'a refusal changes nothing');
}

/**
 * A DBA's index, empty table and filled NOT NULL column on the new server in the window: not the
 * migration's. The table holds no row: one made in the window with rows stops the fall-back until
 * it is made on the old source (test/fallback/tableInWindow.test.ts).
 */
async function dbaWorkOnNewServer(pair: ServerPair, db: string): Promise<void> {
  await pair.target.query(
    `CREATE INDEX dba_items_v ON items (v); CREATE TABLE dba_watch (id int PRIMARY KEY, seen text);
     ALTER TABLE scratch ADD COLUMN dba_note text; UPDATE scratch SET dba_note = 'checked ' || k;
     ALTER TABLE scratch ALTER COLUMN dba_note SET DEFAULT 'unchecked', ALTER COLUMN dba_note SET NOT NULL`,
    [],
    db,
  );
}

/**
 * The DBA's filled column stops the fall-back before its point of no return, named with the statement
 * for the old source, which is unchanged; made there and its values written again on the new server,
 * the reverse stream carries them.
 */
async function dbaColumnCarried(pair: ServerPair, store: CatalogConnection, name: string, db: string): Promise<void> {
  await fallBackSettles(store, name);
  const [stopped] = await fallbackWindows(store, name);
  assert.equal(stopped!.state, 'Open', stopped!.message);
  assert.match(
    stopped!.message ?? '',
    /^fall-back stopped: column public\.scratch\.dba_note of the new server holds values .*fix on the old source: ALTER TABLE "public"\."scratch" ADD COLUMN "dba_note" text DEFAULT 'unchecked'::text NOT NULL; then on the new server: UPDATE "public"\."scratch" SET "dba_note" = "dba_note" WHERE "dba_note" IS NOT NULL,/,
  );
  const columns = `SELECT attname FROM pg_attribute WHERE attrelid = 'scratch'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`;
  assert.deepEqual(await pair.source.query(columns, [], db), [{ attname: 'k' }, { attname: 'note' }], 'the old source unchanged');
  await writeBehindFence(pair.source, db, "ALTER TABLE scratch ADD COLUMN dba_note text DEFAULT 'unchecked' NOT NULL");
  await pair.target.query('UPDATE scratch SET dba_note = dba_note WHERE dba_note IS NOT NULL', [], db);
  await until('the old source has the values', async () => ((await sameOnBoth(pair, db)) ? true : undefined), 120_000);
}

/** The DBA's index and table after the fall-back: kept on the new server, named, neither a difference nor carried back; the column carried back with its values. */
async function dbaWorkKept(pair: ServerPair, store: CatalogConnection, name: string, db: string): Promise<void> {
  assert.deepEqual(
    await pair.target.query(
      `SELECT (SELECT indexdef FROM pg_indexes WHERE indexname = 'dba_items_v') AS idx, (SELECT string_agg(seen, ',') FROM dba_watch) AS watch`,
      [],
      db,
    ),
    [{ idx: 'CREATE INDEX dba_items_v ON public.items USING btree (v)', watch: null }],
  );
  assert.equal((await pair.source.query(`SELECT to_regclass('dba_watch') AS t`, [], db))[0]!.t, null, 'not carried back');
  // the column kept with its values on the new server, and carried back with them
  assert.deepEqual(await pair.target.query(`SELECT k, note, dba_note FROM scratch WHERE k < 100 ORDER BY k`, [], db), [
    { k: 2, note: 'after the DBA', dba_note: 'checked 2' },
    { k: 3, note: 'in the window', dba_note: 'unchecked' },
  ]);
  assert.deepEqual(
    await pair.source.query(
      `SELECT attname FROM pg_attribute WHERE attrelid = 'scratch'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
      [],
      db,
    ),
    [{ attname: 'k' }, { attname: 'note' }, { attname: 'dba_note' }],
    "the DBA's column made on the old source",
  );
  assert.deepEqual(await pair.source.query(`SELECT k, note, dba_note FROM scratch WHERE k < 100 ORDER BY k`, [], db), [
    { k: 2, note: 'after the DBA', dba_note: 'checked 2' },
    { k: 3, note: 'in the window', dba_note: 'unchecked' },
  ]);
  assert.ok(
    (await events(store, name, 200)).some(
      (e) =>
        /^fall-back: on the new server only, made there alone .*kept there/.test(e.message) &&
        /dba_items_v/.test(e.message) &&
        /dba_watch/.test(e.message),
    ),
    'the fall-back names what it kept',
  );
}

/**
 * The reverse stream stops on an error the user can fix: a row written on the old source behind the
 * fence (as an administrator can: a superuser turns the fence's trigger off for one transaction) takes the key the application then inserts on the new server. A
 * fall-back is refused while it is stopped; the row removed, the stream applies again by itself.
 */
async function stopAndFix(pair: ServerPair, store: CatalogConnection, target: ServerSpec, name: string, db: string): Promise<void> {
  await writeBehindFence(pair.source, db, "INSERT INTO scratch VALUES (100, 'only on the old source')");
  await pair.target.query("INSERT INTO scratch VALUES (100, 'from the new server')", [], db);
  await until('the reverse stream stopped', async () => ((await fallbackWindows(store, name))[0]?.state === 'Stopped' ? true : undefined));
  await refused(target, store, name, /the reverse stream of .+ is stopped on an error \(the reverse stream stopped: .*scratch/);
  await writeBehindFence(pair.source, db, 'DELETE FROM scratch WHERE k = 100');
  await until(
    'the reverse stream applies again',
    async () => ((await fallbackWindows(store, name))[0]?.state === 'Open' ? true : undefined),
    120_000,
  );
}

async function fallBackScenario(
  pair: ServerPair,
  store: CatalogConnection,
  name: string,
  db: string,
  options: { target?: ServerSpec; stop?: boolean } = {},
): Promise<void> {
  const spec = await cutOverWithWindow(pair, store, name, db, SETUP, {
    spec: options.target ? { target: options.target } : {},
    whileStreaming: (streaming) => refused(streaming.target, store, name, /it has no fallback window \(WaitingForUserAction; /),
  });
  const { instance } = (await get(store, name))!;
  const ticketsAtCutover = await count(pair, 'source', db, 'SELECT last_value AS n FROM tickets');

  // the application on the new server
  for (const sql of APPLICATION_WRITES) await pair.target.query(sql, [], db);
  // a large object, made as the target user (a managed target's admin reads what it owns)
  await pair.target.query(
    `BEGIN; SET LOCAL ROLE "${spec.target.user}"; SELECT lo_from_bytea(0, convert_to(repeat('made on the new server ', 500), 'UTF8')); COMMIT`,
    [],
    db,
  );
  await until('the old source has every write', async () => ((await sameOnBoth(pair, db)) ? true : undefined), 120_000);

  // the runner SIGKILLed: what is written meanwhile waits in the reverse slot, applied once on resume
  await killRunner(store, name);
  await pair.target.query("INSERT INTO items (v) SELECT 'while dead' || g FROM generate_series(1, 50) g", [], db);
  await pair.target.query("UPDATE scratch SET note = 'late' WHERE k = 2", [], db);
  await pair.target.query("SELECT nextval('tickets') FROM generate_series(1, 5)", [], db);
  await resumeMigration(spec);
  await until(
    'the old source has the writes made while the runner was dead',
    async () => ((await sameOnBoth(pair, db)) ? true : undefined),
    120_000,
  );

  if (options.stop) await stopAndFix(pair, store, spec.target, name, db);

  await dbaWorkOnNewServer(pair, db);

  // the last writes, right before the fall-back: the drain must bring them over
  await pair.target.query(
    "BEGIN; INSERT INTO items (v) VALUES ('last'); INSERT INTO orders (item, qty) VALUES (currval('items_id_seq'), 1); DELETE FROM scratch WHERE k = 1; " +
      "UPDATE scratch SET note = 'after the DBA' WHERE k = 2; INSERT INTO scratch VALUES (3, 'in the window'); COMMIT",
    [],
    db,
  );
  await requestFallBack(spec.target, name);
  await refused(spec.target, store, name, /a fall-back is asked already and under way/, true);
  await dbaColumnCarried(pair, store, name, db);
  await requestFallBack(spec.target, name);
  const settled = await fallBackSettles(store, name);
  const fallback = settled.databases[0]!.fallback!;
  assert.equal(fallback.state, 'FellBack', fallback.message);
  assert.equal(settled.state, 'Succeeded');
  assert.ok(fallback.downtimeSeconds !== undefined && fallback.downtimeSeconds > 0, 'the downtime is reported');
  assert.match(renderStatus(settled), /fell back at .* \(downtime .*\): the old source is the primary again, the target stays fenced/);
  assert.ok(
    (await events(store, name, 200)).some((e) =>
      /^fall-back of .+ completed in [\d.]+ s \(fence .*drain .*sequences .*verification .*release/.test(e.message),
    ),
  );

  await dbaWorkKept(pair, store, name, db);

  // every write on the old source exactly once: both servers read back, table by table
  for (const table of SHOP_TABLES) {
    const [old, now] = await rowsOnBoth(pair, db, table, 'oldSource');
    assert.deepEqual(old, now, `${table} differs`);
  }
  assert.equal(await count(pair, 'source', db, "SELECT count(*) AS n FROM items WHERE v LIKE 'new%'"), 300, 'each insert once');
  assert.equal(
    await count(pair, 'source', db, "SELECT count(*) AS n FROM items WHERE v LIKE 'while dead%'"),
    50,
    'each insert made while the runner was dead, once',
  );
  assert.equal(await count(pair, 'source', db, "SELECT count(*) AS n FROM items WHERE v = 'last'"), 1, 'the last write, drained');
  const objects = 'SELECT oid::int8 AS oid, md5(lo_get(oid)) AS h FROM pg_largeobject_metadata ORDER BY 1';
  const back = await pair.source.query(objects, [], db);
  assert.equal(back.length, 1, 'the large object made on the new server is on the old source');
  assert.deepEqual(back, await pair.target.query(objects, [], db), 'its bytes equal');

  // the application is back on the old source: it writes, and draws no key or value twice
  const maxItem = await count(pair, 'target', db, 'SELECT max(id) AS n FROM items');
  const maxOrder = await count(pair, 'target', db, 'SELECT max(id) AS n FROM orders');
  const item = await count(pair, 'source', db, "INSERT INTO items (v) VALUES ('back on the old source') RETURNING id AS n");
  assert.ok(item > maxItem, `items id ${item} after the new server's ${maxItem}`);
  const order = await count(pair, 'source', db, `INSERT INTO orders (item, qty) VALUES (${item}, 1) RETURNING id AS n`);
  assert.ok(order > maxOrder, `orders id ${order} after the new server's ${maxOrder}`);
  const ticket = await count(pair, 'source', db, "SELECT nextval('tickets') AS n");
  assert.equal(ticket, 10 + 25 + 5 + 1, `tickets go on after the new server's values (at cutover ${ticketsAtCutover})`);

  // the target stays fenced; the reverse stream is given back
  await assert.rejects(pair.target.query("INSERT INTO items (v) VALUES ('on the fenced new server')", [], db), /read-only/);
  const names = reverseStreamNamesOf(name, db, instance);
  assert.equal(
    (await pair.target.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [names.slot])).length,
    0,
    'reverse slot dropped',
  );
  assert.equal(
    (await pair.target.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [names.publication], db)).length,
    0,
    'reverse publication dropped',
  );
  assert.equal(
    (await pair.source.query('SELECT 1 FROM pg_replication_origin WHERE roname = $1', [names.origin])).length,
    0,
    'reverse origin dropped',
  );
  // the ledger: the old source's fence given back, the target's kept
  const ledger = await store.query<{ change: string; undone: boolean; kept: boolean }>(
    `SELECT change, undone_at IS NOT NULL AS undone, kept_at IS NOT NULL AS kept FROM pgferry.footprint
      WHERE migration = $1 AND change IN ('writerFence', 'targetFence') ORDER BY change`,
    [name],
  );
  assert.deepEqual(ledger, [
    { change: 'targetFence', undone: false, kept: true },
    { change: 'writerFence', undone: true, kept: false },
  ]);
  await refused(spec.target, store, name, /it fell back already/);
  await runnerExits(store, name);
}

/** The sessions a fall-back's hold keeps open ahead and still idle on one server, in `db` or in any database. */
async function aheadOfHold(server: ServerPair['source'], db?: string): Promise<number> {
  const rows = await server.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'pgferry fall-back ahead' AND ($1::text IS NULL OR datname = $1)`,
    [db ?? null],
  );
  return rows[0]!.n;
}

/** Until no session opened ahead of a fall-back's hold is left on either server. */
async function noneAhead(pair: ServerPair, when: string): Promise<void> {
  await until(`no session opened ahead left ${when}`, async () => {
    const left = (await aheadOfHold(pair.source)) + (await aheadOfHold(pair.target));
    return left === 0 ? true : undefined;
  });
}

/**
 * Without a pooler, the runner held past the new server's fence (`fallback-held`), the old source's
 * table locked and a write behind the new server's fence waiting there for the reverse stream: the
 * drain is bounded by the lag budget, the fall-back stops in one line naming the lock's session,
 * the new server's fence lifted and the window Open; `show` gave the new server's fence while it
 * was on. The lock let go, the write reaches the old source and the fall-back asked again
 * completes, `show` giving the new server's fence kept and no fence on the old source. While it is
 * held, sessions opened ahead of the hold wait in the database on both servers; none is left once
 * the fall-back stops, nor once it completes.
 */
async function lateDrainStops(pair: ServerPair, store: CatalogConnection, holdDir: string): Promise<void> {
  const name = 'fb-late';
  const db = 'fb_late';
  const point = `fallback-held:${db}`;
  await pair.source.query(`CREATE DATABASE ${db}`);
  await pair.source.query(
    'CREATE TABLE items (id int PRIMARY KEY, note text); INSERT INTO items SELECT g, NULL FROM generate_series(1, 20) g',
    [],
    db,
  );
  const spec = pairSpec(pair, name, [db], {
    mode: 'Online',
    option: 'Migrate',
    fenceWriters: true,
    fallbackWindow: '1h',
    cutoverLagBudgetSeconds: 5,
  });
  await withHoldArmed(point, holdDir, () => startMigration(spec));
  await waitForStatus(store, name, (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state));
  await requestCutover(spec.target, name);
  const cutOver = await waitForStatus(store, name, (s) => isFinalState(s.state));
  assert.equal(cutOver.state, 'Succeeded', cutOver.message);
  await until('the window open', async () => ((await fallbackWindows(store, name))[0]?.state === 'Open' ? true : undefined));

  await requestFallBack(spec.target, name);
  await until('the fall-back held past the fence', async () => ((await isHeld(point, holdDir)) ? true : undefined), 120_000);
  const held = (await showMigration(spec.target, name))!.databases[0]!;
  assert.equal(held.targetFence?.kept, false, JSON.stringify(held));
  assert.match(held.targetFence!.lift, /^ALTER DATABASE "?fb_late"? RESET default_transaction_read_only$/);
  assert.equal(held.writerFence?.kept, true, "the old source's fence kept since the cutover");
  for (const [side, server] of [
    ['old source', pair.source],
    ['new server', pair.target],
  ] as const)
    await until(`sessions opened ahead of the hold on the ${side}`, async () => ((await aheadOfHold(server, db)) > 0 ? true : undefined));
  const lock = await pair.source.connect(db);
  try {
    await lock.query('BEGIN READ WRITE');
    await lock.query('LOCK TABLE items IN ACCESS EXCLUSIVE MODE');
    const holder = (await lock.query<{ pid: number }>('SELECT pg_catalog.pg_backend_pid() AS pid')).rows[0]!.pid;
    await writeBehindFence(pair.target, db, "UPDATE items SET note = 'late' WHERE id = 6");
    await fs.rm(heldFile(point, holdDir));
    const stopped = await fallBackSettles(store, name);
    const window = stopped.databases[0]!.fallback!;
    assert.equal(window.state, 'Open', window.message);
    const said = (await events(store, name, 500)).map((e) => e.message).filter((m) => m.startsWith('fall-back stopped: '));
    assert.equal(said.length, 1, said.join('\n'));
    assert.match(
      said[0]!,
      new RegExp(
        `^fall-back stopped: the reverse stream of ${db} did not reach the fall-back point within the lag budget of 5 s \\(cutoverLagBudgetSeconds\\): session pid ${holder} \\(user [^,]+, application "[^"]*", idle in transaction, transaction open for \\d+ s\\) in ${db} holds a lock its apply waits for on the old source \\(end that transaction: COMMIT or ROLLBACK in it, or SELECT pg_terminate_backend\\(${holder}\\) on the old source\\); the reverse stream goes on, ask again once the cause is fixed$`,
      ),
    );
    // the new server's fence lifted: the applications write there again
    await pair.target.query("INSERT INTO items VALUES (21, 'after the stop')", [], db);
    assert.equal((await showMigration(spec.target, name))!.databases[0]!.targetFence, undefined, 'no fence on the new server');
    await noneAhead(pair, 'once the fall-back stopped');
  } finally {
    await lock.query('ROLLBACK').catch(() => undefined);
    await lock.end();
  }
  await until('the late writes on the old source, the window open', async () => {
    const rows = await pair.source.query<{ id: number; note: string | null }>(
      'SELECT id, note FROM items WHERE id IN (6, 21) ORDER BY id',
      [],
      db,
    );
    const open = (await fallbackWindows(store, name))[0]?.state === 'Open';
    return rows.length === 2 && rows[0]!.note === 'late' && open ? true : undefined;
  });
  await requestFallBack(spec.target, name);
  const done = (await fallBackSettles(store, name)).databases[0]!;
  assert.equal(done.fallback!.state, 'FellBack', done.fallback!.message);
  const [old, now] = await Promise.all(
    [pair.source, pair.target].map(async (c) =>
      (await c.query<{ r: string }>('SELECT ROW(id, note)::text AS r FROM items ORDER BY id', [], db)).map((r) => r.r),
    ),
  );
  assert.deepEqual(old, now, 'the old source holds what the new server holds');
  const shown = (await showMigration(spec.target, name))!.databases[0]!;
  assert.equal(shown.targetFence?.kept, true, "the new server's fence kept");
  assert.equal(shown.writerFence, undefined, "the old source's fence lifted");
  await noneAhead(pair, 'once the fall-back completed');
  assert.match(
    renderStatus({ ...cutOver, databases: [shown] }),
    /fb_late: writers fenced on the target since .*: kept after the fall-back, so no write is lost on the new server/,
  );
  await runnerExits(store, name);
}

describe('fall-back: the old source the primary again (integration)', function () {
  this.timeout(900_000);
  const servers = suiteServers();

  it('refuses a fall-back of an offline migration in one line', async () => {
    const { pair, store } = servers;
    await pair.source.query('CREATE DATABASE fb_offline');
    await pair.source.query('CREATE TABLE t (k int PRIMARY KEY); INSERT INTO t VALUES (1)', [], 'fb_offline');
    const done: MigrationStatus = await runMigration(pairSpec(pair, 'fb-offline', ['fb_offline'], { mode: 'Offline', option: 'Migrate' }));
    assert.equal(done.state, 'Succeeded', done.message);
    await refused(
      pairSpec(pair, 'x', ['x']).target,
      store,
      'fb-offline',
      /it is Offline, and only an online cutover with fallbackWindow opens a window/,
    );
  });

  it('brings every write made on the new server back to the old source exactly once, through a killed runner and a stopped stream', () =>
    fallBackScenario(servers.pair, servers.store, 'fb-back', 'fb_back', { stop: true }));

  it("falls back through PgMigration's fallBack: true, as pulumi up applies it, and does nothing more the next time", async () => {
    const { pair, store } = servers;
    const db = 'fb_pulumi';
    const inputs = {
      migrationName: 'fb-pulumi',
      source: serverSpec(pair.source),
      target: serverSpec(pair.target),
      databases: [db],
      mode: 'Online',
      option: 'Migrate',
      fenceWriters: true,
      fallbackWindow: '1h',
    };
    const spec = await cutOverWithWindow(pair, store, inputs.migrationName, db, 'CREATE TABLE t (k serial PRIMARY KEY, v text)');
    await pair.target.query("INSERT INTO t (v) SELECT 'p' || g FROM generate_series(1, 40) g", [], db);
    const olds = { ...inputs, cutover: true };
    const lines: string[] = [];
    const first = await update('id', olds, { ...olds, fallBack: true }, { write: (l) => lines.push(l), intervalMs: 200 });
    assert.ok(
      lines.some((l) => l.endsWith('fall-back requested')),
      lines.join('\n'),
    );
    assert.equal((await fallbackWindows(store, spec.migrationName))[0]?.state, 'FellBack');
    assert.deepEqual(await rowsOf(pair.source, db, 't'), await rowsOf(pair.target, db, 't'));
    assert.equal(first.outs.state, 'Succeeded');
    // the next up with the same inputs asks nothing again
    lines.length = 0;
    await update('id', { ...olds, fallBack: true }, { ...olds, fallBack: true }, { write: (l) => lines.push(l), intervalMs: 200 });
    assert.ok(!lines.some((l) => l.includes('fall-back requested')), lines.join('\n'));
    await runnerExits(store, spec.migrationName);
  });

  it("without a pooler, a drain the old source's lock holds up stops the fall-back at the lag budget in one line naming the lock's session, the new server's fence lifted and the window open; show gives the target's fence on, then kept once it falls back; sessions opened ahead of the hold wait on both servers while it is held, none left after", async () => {
    const holdDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pgferry-fallback-held-'));
    try {
      await lateDrainStops(servers.pair, servers.store, holdDir);
    } finally {
      await fs.rm(holdDir, { recursive: true, force: true });
    }
  });

  it('does the same with a managed-like target (no superuser; the admin may replicate, as on Azure)', () =>
    onManagedWindowPair((managed, managedStore, target) =>
      fallBackScenario(managed, managedStore, 'fb-managed', 'fb_managed', { target }),
    ));
});

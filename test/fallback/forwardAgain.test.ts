// Issue 50 (fall-back), its last step: after a fall-back asked with --resume-forward, the forward
// stream starts again from the fall-back point without a new copy, and a second cutover moves the
// application to the new server again. An online migration cut over with a window; the application
// writes on the new server; the fall-back, its runner SIGKILLed at a new step (the forward slot
// made, its point not recorded; or the switch back to streaming made) and resumed; a close refused
// while it is under way; the application writes on the old source again (no key drawn twice) while
// the target stays fenced and follows it; the second cutover. Both servers' rows read back equal
// after each phase, each insert counted once. The same on a managed-like target.
import assert from 'node:assert/strict';
import {
  closeFallbackWindow,
  isFinalState,
  PgferryError,
  requestCutover,
  requestFallBack,
  resumeMigration,
  startMigration,
} from '../../provider/engine';
import type { CatalogConnection } from '../../provider/engine/control/connection';
import { get } from '../../provider/engine/control/store';
import { fallbackWindows } from '../../provider/engine/control/fallbackWindows';
import { streamNamesOf } from '../../provider/engine/core/names';
import type { MigrationSpec, ServerSpec } from '../../provider/engine/input/migrationSpec';
import { pairSpec, runnerExits, serverSpec, until, waitForStatus, suiteServers, type ServerPair } from '../support';
import { assertTablesAlike, countOn as count, onManagedWindowPair, shopAlike, shopSetup, SHOP_TABLES } from '../support/windowShop';
import { renderStatus } from '../../provider/cli/output';
import { update } from '../../provider/resource/operations';

const SETUP = shopSetup({ items: 100, orders: 50, scratch: 20, tickets: 0 });

/** The application's writes, on whichever server is the primary; `tag` marks its inserts. */
function applicationWrites(tag: string): string[] {
  return [
    `INSERT INTO items (v) SELECT '${tag}' || g FROM generate_series(1, 40) g`,
    `UPDATE items SET v = v || '-${tag}' WHERE id % 9 = 0`,
    'DELETE FROM orders WHERE id % 11 = 0',
    `BEGIN; INSERT INTO items (v) VALUES ('${tag}-tx'); INSERT INTO orders (item, qty) VALUES (currval('items_id_seq'), 3); COMMIT`,
    "SELECT nextval('tickets') FROM generate_series(1, 5)",
    `INSERT INTO scratch SELECT max(k) + 1, '${tag}' FROM scratch`,
  ];
}

type Side = 'source' | 'target';

/** Each insert of `tag` once, on both servers. */
async function insertedOnce(pair: ServerPair, db: string, tag: string): Promise<void> {
  for (const side of ['source', 'target'] as const) {
    assert.equal(
      await count(pair, side, db, `SELECT count(*) AS n FROM items WHERE v LIKE '${tag}_%' AND v NOT LIKE '${tag}-tx%'`),
      40,
      `${tag} on the ${side}`,
    );
    assert.equal(await count(pair, side, db, `SELECT count(*) AS n FROM items WHERE v LIKE '${tag}-tx%'`), 1, `${tag}-tx on the ${side}`);
  }
}

/** The application inserts on `side`: its new keys are past every key the other server holds. */
async function insertsWithoutCollision(pair: ServerPair, side: Side, db: string): Promise<void> {
  const other: Side = side === 'source' ? 'target' : 'source';
  const maxItem = await count(pair, other, db, 'SELECT max(id) AS n FROM items');
  const maxOrder = await count(pair, other, db, 'SELECT max(id) AS n FROM orders');
  const ticket = await count(pair, other, db, 'SELECT last_value AS n FROM tickets');
  const item = await count(pair, side, db, `INSERT INTO items (v) VALUES ('on the ${side}') RETURNING id AS n`);
  assert.ok(item > maxItem, `items id ${item} after the ${other}'s ${maxItem}`);
  const order = await count(pair, side, db, `INSERT INTO orders (item, qty) VALUES (${item}, 1) RETURNING id AS n`);
  assert.ok(order > maxOrder, `orders id ${order} after the ${other}'s ${maxOrder}`);
  assert.ok((await count(pair, side, db, "SELECT nextval('tickets') AS n")) > ticket, 'tickets go on');
}

async function fenced(pair: ServerPair, side: Side, db: string): Promise<boolean> {
  try {
    await pair[side].query("INSERT INTO scratch VALUES (-1, 'fenced?')", [], db);
  } catch (error) {
    if (/read-only/.test(String(error))) return true;
    throw error;
  }
  await pair[side].query('DELETE FROM scratch WHERE k = -1', [], db);
  return false;
}

/** Online migration, first cutover with a window, the application on the new server. */
async function firstCutover(pair: ServerPair, store: CatalogConnection, spec: MigrationSpec, db: string, killAt: string): Promise<void> {
  const name = spec.migrationName;
  // the runner started here does the fall-back: armed to die at the new step
  process.env.PGFERRY_FAILPOINTS = `${killAt}:${db}`;
  try {
    await startMigration(spec);
  } finally {
    delete process.env.PGFERRY_FAILPOINTS;
  }
  await waitForStatus(store, name, (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state));
  for (const sql of applicationWrites('first')) await pair.source.query(sql, [], db);
  // the window asked by the spec, or by this cutover's request alone (then the second cutover has none)
  await requestCutover(spec.target, name, undefined, spec.fallbackWindow ? {} : { fallbackWindow: '1h' });
  const cutOver = await waitForStatus(store, name, (s) => isFinalState(s.state));
  assert.equal(cutOver.state, 'Succeeded', cutOver.message);
  await until('the window open', async () => ((await fallbackWindows(store, name))[0]?.state === 'Open' ? true : undefined));
  for (const sql of applicationWrites('new')) await pair.target.query(sql, [], db);
  await until('the old source has every write', async () => ((await shopAlike(pair, db)) ? true : undefined), 120_000);
}

/** A close asked while the fall-back is: refused in one line, no close recorded (the runner changes the rest meanwhile). */
async function closeRefused(store: CatalogConnection, target: ServerSpec, name: string): Promise<void> {
  await assert.rejects(closeFallbackWindow(target, name), (error: unknown) => {
    assert.ok(error instanceof PgferryError);
    assert.equal(error.code, 'FALLBACK_REFUSED');
    assert.ok(!error.message.includes('\n'), 'one line');
    assert.match(error.message, /^--close-fallback: migration ".+" cannot close its fallback window: a fall-back is asked or under way/);
    return true;
  });
  const windows = await fallbackWindows(store, name);
  assert.ok(windows.length > 0 && windows.every((w) => !w.closeRequested && w.state !== 'Closed'), 'a refusal closes nothing');
}

/** The fall-back with the forward stream again; its runner dies at `killAt` and is resumed. */
async function fallBackForward(pair: ServerPair, store: CatalogConnection, spec: MigrationSpec, db: string, killAt: string): Promise<void> {
  const name = spec.migrationName;
  await pair.target.query("BEGIN; INSERT INTO items (v) VALUES ('last'); DELETE FROM scratch WHERE k = 1; COMMIT", [], db);
  await requestFallBack(spec.target, name, { resumeForward: true });
  await closeRefused(store, spec.target, name);
  await until(
    'the runner killed at the new step',
    async () => ((await get(store, name))?.runner?.alive === false ? true : undefined),
    300_000,
  );
  const slot = streamNamesOf(name, db, (await get(store, name))!.instance).slot;
  assert.equal((await pair.source.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot])).length, 1, 'forward slot made');
  if (killAt === 'fallback-forward-slot') assert.equal((await fallbackWindows(store, name))[0]?.state, 'FallingBack');
  await resumeMigration(spec);
  const streaming = await waitForStatus(store, name, (s) => s.subState === 'WaitingForCutoverTrigger' || s.state === 'Failed', 300_000);
  assert.equal(streaming.state, 'WaitingForUserAction', streaming.message);
  const fallback = streaming.databases[0]!.fallback!;
  assert.equal(fallback.state, 'FellBack', fallback.message);
  assert.ok(fallback.forwardLsn, 'the forward point is recorded');
  assert.match(renderStatus(streaming), /the target stays fenced and follows it again from /);
  await assertTablesAlike(pair, db, SHOP_TABLES, 'after the fall-back');
  assert.equal(await count(pair, 'source', db, "SELECT count(*) AS n FROM items WHERE v = 'last'"), 1, 'the last write, drained once');
  assert.equal((await pair.source.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot])).length, 1, 'one forward slot');
}

/** The application back on the old source; the target fenced for it and following. */
async function forwardAgain(pair: ServerPair, db: string): Promise<void> {
  assert.equal(await fenced(pair, 'source', db), false, 'the old source takes writes');
  await insertsWithoutCollision(pair, 'source', db);
  for (const sql of applicationWrites('again')) await pair.source.query(sql, [], db);
  assert.equal(await fenced(pair, 'target', db), true, 'the target stays fenced for the applications');
  await until('the target has every write made on the old source', async () => ((await shopAlike(pair, db)) ? true : undefined), 120_000);
  for (const tag of ['first', 'new', 'again']) await insertedOnce(pair, db, tag);
}

/**
 * PgMigration's inputs of the first cutover and the fall-back (cutover: true, fallBack: true): the
 * next `pulumi up` cuts nothing over again while the migration streams forward.
 */
async function pulumiHoldsIt(pair: ServerPair, store: CatalogConnection, spec: MigrationSpec, db: string): Promise<void> {
  const inputs = {
    migrationName: spec.migrationName,
    source: serverSpec(pair.source),
    target: serverSpec(pair.target),
    databases: [db],
    mode: 'Online',
    option: 'Migrate',
    fenceWriters: true,
    fallbackWindow: '1h',
    cutover: true,
    fallBack: true,
  };
  const lines: string[] = [];
  await update('id', inputs, inputs, { write: (l) => lines.push(l), intervalMs: 200 });
  assert.ok(!lines.some((l) => /cutover|fall-back requested/.test(l)), lines.join('\n'));
  const after = (await get(store, spec.migrationName))!;
  assert.equal(after.subState, 'WaitingForCutoverTrigger', 'still streaming forward, not cut over again');
  assert.equal(await fenced(pair, 'target', db), true);
}

/** The second cutover, with the spec's window again: the application on the new server, the old source following. */
async function secondCutover(pair: ServerPair, store: CatalogConnection, spec: MigrationSpec, db: string): Promise<void> {
  const name = spec.migrationName;
  await pair.source.query("INSERT INTO items (v) VALUES ('before the second cutover')", [], db);
  await requestCutover(spec.target, name);
  const done = await waitForStatus(store, name, (s) => isFinalState(s.state), 300_000);
  assert.equal(done.state, 'Succeeded', done.message);
  await assertTablesAlike(pair, db, SHOP_TABLES, 'after the second cutover');
  assert.equal(await count(pair, 'target', db, "SELECT count(*) AS n FROM items WHERE v = 'before the second cutover'"), 1);
  assert.equal(await fenced(pair, 'target', db), false, "the second cutover lifted the target's fence");
  assert.equal(await fenced(pair, 'source', db), true, 'the old source is fenced again');
  await insertsWithoutCollision(pair, 'target', db);
  const slot = streamNamesOf(name, db, done.instance).slot;
  assert.equal(
    (await pair.source.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot])).length,
    0,
    'forward slot dropped',
  );
  const ledger = await store.query<{ change: string; undone: boolean; kept: boolean }>(
    `SELECT change, undone_at IS NOT NULL AS undone, kept_at IS NOT NULL AS kept FROM pgferry.footprint
      WHERE migration = $1 AND change IN ('writerFence', 'targetFence') ORDER BY change`,
    [name],
  );
  assert.deepEqual(ledger, [
    { change: 'targetFence', undone: true, kept: false },
    { change: 'writerFence', undone: false, kept: true },
  ]);
  if (spec.fallbackWindow) {
    // a new window: the old source follows the new server again
    await until('the new window open', async () => ((await fallbackWindows(store, name))[0]?.state === 'Open' ? true : undefined));
    await until('the old source follows again', async () => ((await shopAlike(pair, db)) ? true : undefined), 120_000);
    await closeFallbackWindow(spec.target, name);
  } else {
    // no window this time: the fall-back's record closes, and nothing follows the new server
    const record = (await fallbackWindows(store, name))[0]!;
    assert.equal(record.state, 'Closed');
    assert.match(record.message ?? '', /^fell back at .*, then cut over again without a window$/);
  }
  await runnerExits(store, name, 120_000);
}

/** `target`: a managed-like one, whose first window is asked by the cutover request alone. */
async function scenario(pair: ServerPair, store: CatalogConnection, name: string, db: string, killAt: string, target?: ServerSpec) {
  await pair.source.query(`CREATE DATABASE ${db}`);
  await pair.source.query(SETUP, [], db);
  const spec = pairSpec(pair, name, [db], {
    mode: 'Online',
    option: 'Migrate',
    fenceWriters: true,
    ...(target ? { target } : { fallbackWindow: '1h' }),
  });
  await firstCutover(pair, store, spec, db, killAt);
  await fallBackForward(pair, store, spec, db, killAt);
  await forwardAgain(pair, db);
  if (!target) await pulumiHoldsIt(pair, store, spec, db);
  await secondCutover(pair, store, spec, db);
}

describe('fall-back, then the forward stream again and a second cutover (integration)', function () {
  this.timeout(900_000);
  const servers = suiteServers();

  it('streams forward again from the fall-back point and cuts over again, the runner killed once the forward slot is made', () =>
    scenario(servers.pair, servers.store, 'fa-slot', 'fa_slot', 'fallback-forward-slot'));

  it('does the same on a managed-like target, the runner killed once switched back to streaming, the second cutover without a window', () =>
    onManagedWindowPair((managed, managedStore, target) =>
      scenario(managed, managedStore, 'fa-managed', 'fa_managed', 'fallback-forward-reopened', target),
    ));
});

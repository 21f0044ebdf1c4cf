// Issue 50 (fall-back), the reverse stream: an online migration cut over with a fallback window
// keeps the old source up to date with what the application writes on the new server (inserts,
// updates, deletes, new sequence values, a transaction over several tables, a TRUNCATE), applied by
// the same engine as the forward stream, while the old source stays fenced for everyone else; the
// runner SIGKILLed in the window and resumed applies what was written meanwhile exactly once; the
// old source's rows are read back and compared with the target's, table by table. Closing the
// window drops the reverse slot, publication and origin, and the old source keeps its fence. The
// same on a managed-like target. A reverse stream stopped on an error the user can fix keeps its
// stop through a killed runner, read back from the catalog, and applies again once fixed.
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
import { reverseStreamNamesOf } from '../../provider/engine/core/names';
import {
  cutOverWithWindow,
  killRunner,
  pairSpec,
  runnerExits,
  until,
  waitForStatus,
  suiteServers,
  writeBehindFence,
  type ServerPair,
} from '../support';
import type { ServerSpec } from '../../provider/engine/input/migrationSpec';
import { onManagedWindowPair, rowsOnBoth, shopAlike, shopSetup, SHOP_TABLES } from '../support/windowShop';
import { renderList, renderStatus } from '../../provider/cli/output';
import { consoleServer } from '../../provider/console/server';
import { CatalogWatch } from '../../provider/console/watch';
import type { FallbackView } from '../../provider/console/view';
import { read as readResource } from '../../provider/resource/read';
import type { FallbackStatus, MigrationSpec } from '../../provider/engine';

const SETUP = shopSetup({ items: 200, orders: 100, scratch: 50 });

/** What the application does on the new server once it has moved there. */
const APPLICATION_WRITES = [
  "INSERT INTO items (v) SELECT 'new' || g FROM generate_series(1, 300) g",
  "UPDATE items SET v = v || '-updated' WHERE id % 7 = 0",
  'DELETE FROM orders WHERE id % 5 = 0',
  'DELETE FROM items WHERE id BETWEEN 190 AND 200 AND id NOT IN (SELECT item FROM orders)',
  // one transaction over two tables
  `BEGIN; INSERT INTO items (v) VALUES ('in a transaction'); INSERT INTO orders (item, qty) VALUES (currval('items_id_seq'), 42);
   UPDATE orders SET qty = qty + 1 WHERE item < 10; COMMIT`,
  'TRUNCATE scratch',
  "INSERT INTO scratch VALUES (1, 'after the truncate'), (2, 'again')",
];

/** A close refused in one line, naming why, the window's record unchanged. */
async function refused(spec: { target: Parameters<typeof closeFallbackWindow>[0]; migrationName: string }, why: string): Promise<void> {
  await assert.rejects(closeFallbackWindow(spec.target, spec.migrationName), (error: unknown) => {
    assert.ok(error instanceof PgferryError);
    assert.equal(error.code, 'FALLBACK_WINDOW_NONE');
    assert.equal(error.message, `--close-fallback: migration "${spec.migrationName}" has no open fallback window: ${why}`);
    return true;
  });
}

/**
 * The window as `list`, the console and PgMigration's outputs show it, each read back from the
 * catalog the runner writes: its state and end, the reverse lag, pending bytes and retained WAL.
 */
async function windowShownEverywhere(spec: MigrationSpec, store: CatalogConnection): Promise<void> {
  const recorded = (await get(store, spec.migrationName))!.databases[0]!.fallback!;
  // list: the state, when the window ends, the lag, pending bytes and the WAL retained on the target
  const listed = renderList([(await get(store, spec.migrationName))!]);
  const figures = `Open until ${recorded.endsAt.replace(/\./g, '\\.')}, lag [^,]+, -?\\d+ \\w+ pending, \\d+ \\w+ retained`;
  assert.match(listed, new RegExp(figures));
  // the console: what its page sends the browser, through its own server and reader
  const watch = new CatalogWatch(spec.target, 60_000, (e) => String(e));
  await watch.start();
  const app = consoleServer({ target: spec.target, watch, access: { token: 't0ken', loopback: true, port: 8080, scheme: 'http' } });
  try {
    const reply = await app.inject({ method: 'GET', url: `/api/migrations/${spec.migrationName}`, headers: { host: '127.0.0.1:8080' } });
    assert.equal(reply.statusCode, 200, reply.body);
    const page = reply.json<{ page: { databases: { fallback?: FallbackView }[]; actions: { fallBack: { allowed: boolean } } } }>().page;
    const shown = page.databases[0]!.fallback!;
    assert.equal(shown.state, 'Open');
    assert.equal(shown.endsAt, recorded.endsAt);
    for (const figure of ['latencySeconds', 'pendingBytes', 'retainedBytes'] as const) {
      assert.equal(typeof shown[figure], 'number', `the console's ${figure}`);
    }
    assert.equal(page.actions.fallBack.allowed, true, 'Fall back is on while the window is open');
  } finally {
    await app.close();
    await watch.stop();
  }
  // PgMigration's outputs, as `pulumi refresh` reads them
  const props = {
    migrationName: spec.migrationName,
    source: spec.source,
    target: spec.target,
    databases: [...spec.databases],
    mode: 'Online',
  };
  const read = await readResource(`${spec.target.host}:${spec.target.port}/${spec.migrationName}`, props, { write: () => undefined });
  const output = (read.props.databaseDetails as { fallback?: FallbackStatus }[])[0]!.fallback!;
  assert.equal(output.state, 'Open');
  assert.equal(output.endsAt, recorded.endsAt);
  for (const figure of ['latencySeconds', 'pendingBytes', 'retainedBytes'] as const) {
    assert.equal(typeof output[figure], 'number', `the output's ${figure}`);
  }
}

/**
 * A resumed runner's reverse stream stops on an error the user can fix: a row written on the old
 * source behind the fence (a superuser turning the fence's trigger off for one transaction) takes the key
 * the application then inserts on the new server. The migration stays Succeeded, the window Stopped
 * names the cause; the row removed, the stream applies again by itself and the write reaches the old
 * source once.
 */
async function stoppedAfterResume(pair: ServerPair, store: CatalogConnection, name: string, db: string): Promise<void> {
  await writeBehindFence(pair.source, db, "INSERT INTO scratch VALUES (100, 'only on the old source')");
  await pair.target.query("INSERT INTO scratch VALUES (100, 'from the new server')", [], db);
  const stopped = await until('the reverse stream stopped', async () => {
    const s = await get(store, name);
    return s?.databases[0]?.fallback?.state === 'Stopped' || s?.state !== 'Succeeded' ? s : undefined;
  });
  assert.equal(stopped.state, 'Succeeded', `the migration stays Succeeded: ${stopped.message}`);
  assert.equal(stopped.databases[0]?.fallback?.state, 'Stopped');
  assert.match(stopped.databases[0]!.fallback!.message ?? '', /^the reverse stream stopped: .*scratch/);
  // once the runner has tried the stream again by itself (after its wait, counted on the stop):
  // still Succeeded and the runner streaming back
  const [first] = await fallbackWindows(store, name);
  await until(
    'the runner to try the reverse stream again by itself',
    async () => (((await fallbackWindows(store, name))[0]?.stop?.attempts ?? 0) > (first?.stop?.attempts ?? 0) ? true : undefined),
    120_000,
  );
  const later = (await get(store, name))!;
  assert.equal(later.state, 'Succeeded', later.message);
  assert.equal(later.runner?.alive, true, 'the resumed runner stays to try the stream again');
  await writeBehindFence(pair.source, db, 'DELETE FROM scratch WHERE k = 100');
  await until(
    'the reverse stream applies again',
    async () => ((await fallbackWindows(store, name))[0]?.state === 'Open' ? true : undefined),
    120_000,
  );
  await until('the old source has the write', async () => ((await shopAlike(pair, db)) ? true : undefined), 120_000);
  assert.deepEqual(await pair.source.query('SELECT k, note FROM scratch WHERE k = 100', [], db), [{ k: 100, note: 'from the new server' }]);
  assert.equal((await get(store, name))?.state, 'Succeeded');
}

/**
 * A reverse stream stopped on an error the user can fix outlives its runner, as a forward stream's
 * stop does: SIGKILLed while the window is Stopped, the resumed runner finds the stop's record
 * (cause, since) and counts its own failed try on it; once the row in the way is removed,
 * `pgferry resume` tries it again at once and the old source ends equal to the new server, each
 * write once.
 */
async function stopOutlivesRunner(pair: ServerPair, store: CatalogConnection, name: string, db: string): Promise<void> {
  await pair.source.query(`CREATE DATABASE ${db}`);
  await pair.source.query(SETUP, [], db);
  const spec = pairSpec(pair, name, [db], { mode: 'Online', option: 'Migrate', fenceWriters: true, fallbackWindow: '1h' });
  await startMigration(spec);
  await waitForStatus(store, name, (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state));
  await requestCutover(spec.target, name);
  // the window is Open before the migration is Succeeded (the cutover opens it before its release)
  const cutOver = await waitForStatus(store, name, (s) => isFinalState(s.state));
  assert.deepEqual([cutOver.state, cutOver.databases[0]?.fallback?.state], ['Succeeded', 'Open'], cutOver.message);

  // a row written on the old source behind the fence takes the key the new server then inserts
  await writeBehindFence(pair.source, db, "INSERT INTO scratch VALUES (100, 'only on the old source')");
  await pair.target.query("INSERT INTO scratch VALUES (100, 'from the new server')", [], db);
  await pair.target.query("INSERT INTO items (v) SELECT 'behind the stop' || g FROM generate_series(1, 20) g", [], db);
  const first = await until('the reverse stream stopped', async () => {
    const [w] = await fallbackWindows(store, name);
    return w?.state === 'Stopped' && w.stop ? w : undefined;
  });
  const stop = first.stop!;
  assert.equal(stop.sqlState, '23505', stop.error);
  assert.match(stop.table ?? '', /scratch/);
  assert.match(first.message ?? '', /^the reverse stream stopped: .*scratch.*; fix on the old source, where it applies: /);

  await killRunner(store, name);
  await resumeMigration(spec);
  // the resumed runner tried the stream at once, stopped on the same row, and counted that try on the same stop
  const again = await until('the resumed runner counts its try', async () => {
    const [w] = await fallbackWindows(store, name);
    return w?.stop && w.stop.attempts > stop.attempts ? w : undefined;
  });
  assert.equal(again.state, 'Stopped');
  assert.equal(again.stop!.since, stop.since, 'the stop is the one recorded before the kill');
  assert.equal(again.stop!.sqlState, '23505');
  assert.equal(again.stoppedLsn, first.stoppedLsn);
  assert.equal((await get(store, name))?.state, 'Succeeded');

  // the fix, then resume: the live runner tries the stream at once instead of after its wait
  await writeBehindFence(pair.source, db, 'DELETE FROM scratch WHERE k = 100');
  await resumeMigration(spec);
  const open = await until('the reverse stream applies again', async () => {
    const [w] = await fallbackWindows(store, name);
    return w?.state === 'Open' ? w : undefined;
  });
  assert.equal(open.stop, undefined, 'the stop is cleared');
  // what `show` prints of the window says it applies again, and since when it had stopped
  assert.match(open.message ?? '', /^the reverse stream applies again \(it had stopped \d+ time\(s\) since [^)]+\)$/);
  await until('the old source has every write', async () => ((await shopAlike(pair, db)) ? true : undefined), 120_000);
  assert.deepEqual(await pair.source.query('SELECT k, note FROM scratch WHERE k = 100', [], db), [{ k: 100, note: 'from the new server' }]);
  const behind = await pair.source.query<{ n: string }>("SELECT count(*)::text AS n FROM items WHERE v LIKE 'behind the stop%'", [], db);
  assert.equal(behind[0]!.n, '20', 'each write made behind the stop, once');

  await closeFallbackWindow(spec.target, name);
  await until('the window closed', async () => ((await fallbackWindows(store, name))[0]?.state === 'Closed' ? true : undefined));
  await runnerExits(store, name);
}

/**
 * The scenario on one pair: an online migration cut over with a window, the application on the new
 * server, the runner SIGKILLed and resumed, the window closed. `target`: a managed-like target user.
 */
async function reverseScenario(
  pair: ServerPair,
  store: CatalogConnection,
  name: string,
  db: string,
  { target, stop = false }: { target?: ServerSpec; stop?: boolean } = {},
): Promise<void> {
  const spec = await cutOverWithWindow(pair, store, name, db, SETUP, {
    spec: target ? { target } : {},
    whileStreaming: (streaming) =>
      refused(streaming, 'it has none (WaitingForUserAction; a window is opened by a cutover with fallbackWindow)'),
  });
  const windows = await fallbackWindows(store, spec.migrationName);
  assert.deepEqual(
    windows.map((w) => [w.database, w.state]),
    [[db, 'Open']],
  );
  const names = reverseStreamNamesOf(spec.migrationName, db, (await get(store, spec.migrationName))!.instance);
  const slots = await pair.target.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [names.slot]);
  assert.equal(slots.length, 1, 'the reverse slot is on the target');

  // the application moves to the new server; the old source refuses it (the fence stays)
  await assert.rejects(pair.source.query("INSERT INTO items (v) VALUES ('on the old source')", [], db), /read-only/);
  for (const sql of APPLICATION_WRITES) await pair.target.query(sql, [], db);
  // sequences move on the target; the old source gets them at fall-back, not through the stream
  await until('the old source has every write', async () => ((await shopAlike(pair, db)) ? true : undefined), 120_000);
  for (const table of SHOP_TABLES) {
    const [old, now] = await rowsOnBoth(pair, db, table);
    assert.deepEqual(old, now, `${table} differs`);
  }
  const counts = await pair.source.query<{ n: string }>("SELECT count(*)::text AS n FROM items WHERE v LIKE 'new%'", [], db);
  assert.equal(counts[0]!.n, '300', 'each insert once');
  // show: the window, the reverse lag, and the WAL the reverse slot keeps on the target
  const shown = await until('the reverse figures', async () => {
    const f = (await get(store, spec.migrationName))?.databases[0]?.fallback;
    return f?.retainedBytes !== undefined && f.pendingBytes !== undefined ? f : undefined;
  });
  assert.equal(shown.state, 'Open');
  assert.ok(Date.parse(shown.endsAt) > Date.now() + 50 * 60_000, `the window ends in about an hour: ${shown.endsAt}`);
  assert.ok(shown.retainedBytes! >= 0 && shown.latencySeconds !== undefined);
  assert.match(renderStatus((await get(store, spec.migrationName))!), /fallback window Open until .*of WAL retained on the target/);
  await windowShownEverywhere(spec, store);

  // the runner SIGKILLed in the window: what the application writes meanwhile waits in the
  // reverse slot, and the resumed runner applies it once, from the position the old source committed
  const running = await get(store, spec.migrationName);
  assert.equal(running?.runner?.alive, true, 'the runner streams back after Succeeded');
  await killRunner(store, spec.migrationName);
  await pair.target.query("INSERT INTO items (v) SELECT 'while dead' || g FROM generate_series(1, 50) g", [], db);
  await pair.target.query("UPDATE scratch SET note = 'late' WHERE k = 2", [], db);
  await resumeMigration(spec);
  await until('the old source has every write again', async () => ((await shopAlike(pair, db)) ? true : undefined), 120_000);
  const dead = await pair.source.query<{ n: string }>("SELECT count(*)::text AS n FROM items WHERE v LIKE 'while dead%'", [], db);
  assert.equal(dead[0]!.n, '50', 'each insert made while the runner was dead, once');
  assert.equal(
    (await pair.source.query<{ n: string }>("SELECT count(*)::text AS n FROM items WHERE v LIKE 'new%'", [], db))[0]!.n,
    '300',
    'nothing applied twice by the resumed runner',
  );

  if (stop) await stoppedAfterResume(pair, store, spec.migrationName, db);

  await closeFallbackWindow(spec.target, spec.migrationName);
  await until('the window closed', async () => {
    const [w] = await fallbackWindows(store, spec.migrationName);
    return w?.state === 'Closed' ? w : undefined;
  });
  const left = await pair.target.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [names.slot]);
  assert.equal(left.length, 0, 'the reverse slot is dropped');
  const publications = await pair.target.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [names.publication], db);
  assert.equal(publications.length, 0, 'the reverse publication is dropped');
  const origins = await pair.source.query('SELECT 1 FROM pg_replication_origin WHERE roname = $1', [names.origin]);
  assert.equal(origins.length, 0, 'the reverse origin is dropped');
  await assert.rejects(pair.source.query("INSERT INTO items (v) VALUES ('still fenced')", [], db), /read-only/);
  await refused(spec, 'its window is closed already');
  // a closed window has no fall-back: the old source has not followed the target since
  await assert.rejects(requestFallBack(spec.target, spec.migrationName), (error: unknown) => {
    assert.ok(error instanceof PgferryError && error.code === 'FALLBACK_REFUSED');
    assert.equal(
      error.message,
      `--fall-back: migration "${spec.migrationName}" cannot fall back: its fallback window is closed, and the old source has not followed the target since`,
    );
    return true;
  });
  assert.equal((await get(store, spec.migrationName))?.databases[0]?.fallback?.state, 'Closed');
  await runnerExits(store, spec.migrationName);
}

describe('fall-back: the reverse stream (integration)', function () {
  this.timeout(600_000);
  const servers = suiteServers();

  it('applies what the application writes on the new server to the fenced old source, exactly once, until the window closes, the migration Succeeded through a stop after resume', () =>
    reverseScenario(servers.pair, servers.store, 'fb-shop', 'fb_shop', { stop: true }));

  it('does the same with a managed-like target (no superuser; the admin may replicate, as on Azure)', () =>
    onManagedWindowPair((managed, managedStore, target) => reverseScenario(managed, managedStore, 'fb-managed', 'fb_managed', { target })));

  it("keeps a reverse stream stopped through a killed runner, its cause and since read back, then applies again at resume once fixed, the window's message saying so, the old source equal", () =>
    stopOutlivesRunner(servers.pair, servers.store, 'fb-stop', 'fb_stop'));
});

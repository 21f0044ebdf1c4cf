// The web console driven in headless Chromium (Debian's chromium, through playwright-core) against
// a real target's catalog: the grid lists an offline and an online migration; the online page's
// counters move while a writer runs; Cutover is off before changes stream and cuts over after;
// Cancel cancels; requests without the token, or from another origin, are refused; a cutover through
// a real PgBouncer shows the pooler's pause among its steps, and `pgferry show` prints it; the
// confirmation of a migration run in the test's own process (no runner) names its window and fence.
// Each outcome is read back from the catalog and the servers, not from what the page says it did.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import http from 'node:http';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startConsole, type RunningConsole } from '../../provider/console/command';
import { CatalogConnection } from '../../provider/engine/control/connection';
import {
  cancelMigration,
  requestDataMigrationStart,
  requestFallBack,
  resumeMigration,
  runMigration,
  showMigration,
  startMigration,
  type MigrationStatus,
} from '../../provider/engine';
import { reverseStreamNamesOf } from '../../provider/engine/core/names';
import type { MigrationSpec } from '../../provider/engine/input/migrationSpec';
import { pairSpec, requirePrerequisite, serverSpec, startPair, startSourceWriter, until, type ServerPair } from '../support';
import { events } from '../../provider/engine/control/store';
import { poolerInputOf, startPgBouncer, type PgBouncer } from '../support/pgbouncer';
import { PooledWriter } from '../support/pooledWriter';
import { chartAgreesWithCounters } from '../support/consoleChart';
import { runCli } from '../cli/helpers';

const CHROMIUM = '/usr/bin/chromium';
const TABLE = `CREATE TABLE items (id int PRIMARY KEY, note text NOT NULL);
               INSERT INTO items SELECT g, 'n' || g FROM generate_series(1, 300) g;`;

function online(pair: ServerPair, name: string, db: string, extra: Record<string, unknown> = {}): MigrationSpec {
  return pairSpec(pair, name, [db], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true, ...extra });
}

/** A counter of a database's card on the migration page, as a number. */
async function counterOf(page: Page, database: string, field: string): Promise<number> {
  const text = await page.locator(`[data-database="${database}"] [data-field="${field}"]`).textContent();
  return Number((text ?? '').replace(/[^\d]/g, ''));
}

/** The HTTP status of a GET naming another Host (what a page under a rebound DNS name sends). */
function statusWithHost(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers: { host } }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      })
      .on('error', reject);
  });
}

/**
 * The console's doors: an action without the token, or with it from another origin, or any request
 * naming another host on the loopback, is refused and requests nothing; bound off the loopback, a
 * read needs the token too, and what it returns names no server, user or password.
 */
async function refusesStrangers(pair: ServerPair, consoleRun: RunningConsole, name: string): Promise<void> {
  const base = new URL(consoleRun.url).origin;
  const cutover = `${base}/api/migrations/${name}/cutover`;
  assert.equal((await fetch(cutover, { method: 'POST', headers: { origin: base } })).status, 401);
  const foreign = await fetch(cutover, {
    method: 'POST',
    headers: { origin: 'http://evil.example', 'x-pgferry-token': consoleRun.token },
  });
  assert.equal(foreign.status, 403);
  assert.equal(await statusWithHost(`${base}/api/migrations`, 'evil.example'), 403);
  assert.equal((await showMigration(serverSpec(pair.target), name))!.cutoverRequested ?? false, false);
}

/** The chart's samples are the catalog's, recorded by the runner at most one every 5 s per database. */
async function chartSamplesBounded(pair: ServerPair, migration: string, database: string): Promise<void> {
  // three samples at least, so the gaps are checked twice (and the screenshot's chart has a line)
  const samples = await until(
    'three chart samples in the catalog',
    async () => {
      const rows = await pair.target.query<{ at: Date }>(
        `SELECT at FROM pgferry.stream_sample WHERE migration = $1 AND database = $2 ORDER BY at`,
        [migration, database],
      );
      return rows.length >= 3 ? rows : undefined;
    },
    30_000,
    500,
  );
  for (let i = 1; i < samples.length; i++) {
    const gap = samples[i]!.at.getTime() - samples[i - 1]!.at.getTime();
    assert.ok(gap >= 4_900, `two samples ${gap} ms apart`);
  }
}

/** Waits until a migration's cutover ends, Succeeded or Failed; returns its status then. */
function cutoverEnded(pair: ServerPair, name: string): Promise<MigrationStatus> {
  return until(
    `the cutover of ${name}`,
    async () => {
      const s = await showMigration(serverSpec(pair.target), name);
      return s && (s.state === 'Succeeded' || s.state === 'Failed') ? s : undefined;
    },
    180_000,
  );
}

/**
 * Close window, pressed after a confirmation that says what it ends: the window Closed in the
 * catalog, the reverse slot dropped on the target, the old source still read-only (the cutover's
 * fence stays), and Fall back off, saying what the engine says when asked.
 */
async function closesWindow(pair: ServerPair, page: Page, migration: string): Promise<void> {
  const state = page.locator('[data-database="beta"] [data-field="fallback-state"]');
  await until('the window Open on the page', async () => ((await state.textContent()) === 'Open' ? true : undefined), 60_000);
  await page.getByRole('button', { name: 'Close window' }).click();
  const dialog = page.getByRole('dialog');
  assert.match((await dialog.textContent()) ?? '', /falling back is no longer possible/);
  await dialog.getByRole('button', { name: 'Close the fallback window' }).click();
  await dialog.waitFor({ state: 'hidden' });
  const closed = await until(
    'the window closed',
    async () => {
      const s = await showMigration(serverSpec(pair.target), migration);
      return s?.databases[0]?.fallback?.state === 'Closed' ? s : undefined;
    },
    60_000,
  );
  const slot = reverseStreamNamesOf(migration, 'beta', closed.instance).slot;
  assert.deepEqual(await pair.target.query('SELECT slot_name FROM pg_replication_slots WHERE slot_name = $1', [slot]), []);
  await assert.rejects(pair.source.query("INSERT INTO items VALUES (-1, 'fenced?')", [], 'beta'), /read-only/);
  await until('the page says Closed', async () => ((await state.textContent()) === 'Closed' ? true : undefined), 30_000);
  const refused = await requestFallBack(serverSpec(pair.target), migration).then(
    () => assert.fail('the engine accepted a fall-back after the close'),
    (error: Error) => /cannot fall back: (.+)$/.exec(error.message)?.[1],
  );
  assert.equal(await page.getByRole('button', { name: 'Fall back' }).isDisabled(), true);
  assert.equal(await page.locator('#action-note [data-why="fallback"]').textContent(), `Fall back: ${refused}. `);
}

/** The page's events are the catalog's last 25, newest first (read again until both agree). */
async function eventsAsCatalog(page: Page, pair: ServerPair, migration: string): Promise<void> {
  const store = new CatalogConnection(serverSpec(pair.target));
  try {
    await until(
      'the events of the page and the catalog to agree',
      async () => {
        const catalog = (await events(store, migration, 25)).reverse().map((e) => e.message);
        const shown = await page.locator('#events tbody tr td:nth-child(4)').allTextContents();
        return catalog.length > 0 && JSON.stringify(shown) === JSON.stringify(catalog) ? true : undefined;
      },
      20_000,
    );
  } finally {
    await store.close();
  }
}

/** The cutover steps a database's card shows, as `step=state`. */
function stepsShown(page: Page, database: string): Promise<string[]> {
  return page
    .locator(`[data-steps="${database}"] li`)
    .evaluateAll((lis) => lis.map((li) => `${li.getAttribute('data-step')}=${li.getAttribute('data-state')}`));
}

const APP = { user: 'app', password: 'app-through-the-pooler' };
const POOLED = 'epsilon';

/** Where PgBouncer sends the pooled database now, and whether it is paused (its admin console). */
async function pooledAt(pooler: PgBouncer): Promise<{ port: number; paused: number }> {
  const rows = await pooler.admin<{ name: string; port: number; paused: number }>('SHOW DATABASES');
  const row = rows.find((r) => r.name === POOLED)!;
  return { port: Number(row.port), paused: Number(row.paused) };
}

/**
 * The cutover through PgBouncer from the button, the runner killed once the pooler points at the
 * target and before it is resumed (failpoint cutover-pooler-reloaded), then resumed: the
 * confirmation says the applications pause and no window opens; the page shows the pooler paused
 * and switched to the target, its resume under way, as the ledger and PgBouncer itself have it,
 * then every step done; every write the application made through PgBouncer is on the target.
 */
async function cutsOverThroughPooler(pair: ServerPair, page: Page, pooler: PgBouncer, spec: MigrationSpec): Promise<void> {
  const name = spec.migrationName;
  await page.goto(`${page.url().split('#')[0]}#/m/${name}`);
  await until('Cutover on', async () => ((await page.locator('#cutover').isEnabled()) ? true : undefined), 120_000);
  // roles travel without their passwords: PgBouncer logs in to the target with the application's
  await pair.target.query(`ALTER ROLE ${APP.user} PASSWORD '${APP.password}'`);
  const writer = new PooledWriter(await pooler.connect(POOLED, APP.user, APP.password), 1);
  try {
    await writer.more(5);
    await page.locator('#cutover').click();
    const dialog = page.getByRole('dialog');
    const words = (await dialog.textContent()) ?? '';
    await dialog.getByRole('button', { name: 'Cut over' }).click();
    await dialog.waitFor({ state: 'hidden' });
    // the confirmation said what this cutover does: the applications wait, no way back opens
    assert.match(words, /connected through the pooler \(PgBouncer\) pause instead of getting errors/);
    assert.match(words, /opens no fallback window/);
    const killed = await until(
      'the runner killed with the pooler switched to the target',
      async () => {
        const s = await showMigration(serverSpec(pair.target), name);
        return s?.runner?.alive === false && s.databases[0]?.poolerPause?.state === 'switched' ? s : undefined;
      },
      180_000,
    );
    assert.deepEqual(killed.databases[0]!.poolerPause!.poolerDatabases, [POOLED]);
    assert.deepEqual(await pooledAt(pooler), { port: pair.target.port, paused: 1 }, 'PgBouncer points at the target, still paused');
    const steps = ['pooler paused', 'drain and sequences', 'verification', 'pooler switched to the target', 'pooler resumed', 'release'];
    const switched = steps.map((step, i) => `${step}=${i < 4 ? 'done' : i === 4 ? 'now' : 'next'}`);
    await until('the page showing the pooler switched, not resumed', async () =>
      (await stepsShown(page, POOLED)).join() === switched.join() ? true : undefined,
    );
    await resumeMigration(spec);
    const done = await cutoverEnded(pair, name);
    assert.equal(done.state, 'Succeeded', done.message);
    assert.equal(done.databases[0]!.poolerPause?.state, 'resumed');
    const allDone = switched.map((s) => s.replace(/=.*/, '=done'));
    await until('every step done on the page', async () => ((await stepsShown(page, POOLED)).join() === allDone.join() ? true : undefined));
    await writer.more(10); // the same connection, through PgBouncer, now on the target
  } finally {
    await writer.stop();
  }
  assert.deepEqual(writer.errors, [], 'the application saw no error');
  assert.deepEqual(await pooledAt(pooler), { port: pair.target.port, paused: 0 });
  await showPrintsPause(pair, name);
  const onTarget = await pair.target.query<{ n: number }>('SELECT n FROM writes ORDER BY n', [], POOLED);
  assert.deepEqual(
    onTarget.map((r) => r.n),
    [...writer.committed].sort((a, b) => a - b),
    'every write made through PgBouncer, before, during and after the cutover, is on the target once',
  );
}

/** The plain `pgferry show` prints the pooler's pause as the ledger recorded it: resumed on the target. */
async function showPrintsPause(pair: ServerPair, name: string): Promise<void> {
  const status = await showMigration(serverSpec(pair.target), name);
  const pause = status!.databases[0]!.poolerPause!;
  const flags = ['--target-host', pair.target.host, '--target-port', String(pair.target.port), '--target-user', pair.target.user];
  const shown = await runCli(['show', '--name', name, ...flags], { PGPASSWORD: pair.target.password });
  assert.equal(shown.code, 0, shown.stderr);
  const line = `  ${POOLED}: pooler (PgBouncer) database ${POOLED} resumed on the target (paused at ${pause.pausedAt}, switched at ${pause.switchedAt})`;
  assert.ok(shown.stdout.split('\n').includes(line), shown.stdout);
}

/**
 * A migration run in the test's own process has no runner to record its cutover's plan: the
 * confirmation names the window and the fence from the spec the catalog keeps, and Back requests nothing.
 */
async function confirmsPlanRunHere(pair: ServerPair, page: Page, name: string): Promise<void> {
  const status = await until(
    'the migration run here to stream',
    async () => {
      const s = await showMigration(serverSpec(pair.target), name);
      return s?.subState === 'WaitingForCutoverTrigger' ? s : undefined;
    },
    120_000,
  );
  assert.equal(status.runner, undefined, 'no runner: it runs in this process');
  const [row] = await pair.target.query<{ plan: unknown }>(`SELECT spec->'cutoverPlan' AS plan FROM pgferry.migration WHERE name = $1`, [
    name,
  ]);
  assert.deepEqual(row!.plan, { fallbackWindow: '2h', fenceWriters: true, pooler: false });
  await page.goto(`${page.url().split('#')[0]}#/m/${name}`);
  await until('Cutover on', async () => ((await page.locator('#cutover').isEnabled()) ? true : undefined), 60_000);
  await page.locator('#cutover').click();
  const dialog = page.getByRole('dialog');
  const words = (await dialog.textContent()) ?? '';
  await dialog.getByRole('button', { name: 'Back' }).click();
  await dialog.waitFor({ state: 'hidden' });
  assert.match(words, /It opens a fallback window of 2h: /);
  assert.match(words, /The source is fenced first/);
  assert.doesNotMatch(words, /A migration created with fallbackWindow opens its window then/);
  assert.equal((await showMigration(serverSpec(pair.target), name))!.cutoverRequested ?? false, false, 'Back requested no cutover');
}

/**
 * The cutover from the button, after a confirmation naming what it does: the target holds the
 * source's rows, the writer's among them, and the page's events are the catalog's.
 */
async function cutsOverWithWindow(pair: ServerPair, page: Page, streaming: string): Promise<void> {
  await chartAgreesWithCounters(page, 'beta');
  await page.getByRole('button', { name: 'Cutover' }).click();
  const dialog = page.getByRole('dialog');
  const words = (await dialog.textContent()) ?? '';
  assert.match(words, /drains the last changes/);
  // what this migration's runner will do: fence the source, open its one-hour window
  assert.match(words, /The source is fenced first: its sessions are ended and its writes refused/);
  assert.match(words, /It opens a fallback window of 1h: /);
  await dialog.getByRole('button', { name: 'Cut over' }).click();
  await dialog.waitFor({ state: 'hidden' });
  const done = await cutoverEnded(pair, streaming);
  assert.equal(done.state, 'Succeeded', done.message);
  const items = 'SELECT id, note FROM items ORDER BY id';
  const source = await pair.source.query(items, [], 'beta');
  assert.ok(source.length > 300, "the writer's rows are on the source");
  assert.deepEqual(await pair.target.query(items, [], 'beta'), source);
  await until('the page shows Succeeded', async () =>
    (await page.locator('#summary').textContent())?.includes('Succeeded') ? true : undefined,
  );
  assert.equal(await page.getByRole('button', { name: 'Cutover' }).isDisabled(), true);
  await eventsAsCatalog(page, pair, streaming);
}

/**
 * An application's database behind the user's PgBouncer and its migration, streaming soon: its
 * runner is killed once the pooler points at the target, before its resume, so the page shows that
 * step as the cutover records it.
 */
async function pooledMigration(pair: ServerPair): Promise<{ pooler: PgBouncer; spec: MigrationSpec }> {
  await pair.source.query(`CREATE ROLE ${APP.user} LOGIN PASSWORD '${APP.password}'`);
  await pair.source.query(`CREATE DATABASE ${POOLED}`);
  await pair.source.query(
    `CREATE TABLE writes (n int PRIMARY KEY, at_port int NOT NULL); GRANT SELECT, INSERT ON writes TO ${APP.user};`,
    [],
    POOLED,
  );
  const pooler = await startPgBouncer({
    databases: { [POOLED]: { host: pair.source.host, port: pair.source.port } },
    users: { [APP.user]: APP.password },
  });
  const spec = online(pair, 'console-pooler', POOLED, { pooler: poolerInputOf(pooler) });
  process.env.PGFERRY_FAILPOINTS = `cutover-pooler-reloaded:${POOLED}`;
  try {
    await startMigration(spec);
  } finally {
    delete process.env.PGFERRY_FAILPOINTS;
  }
  return { pooler, spec };
}

describe('pgferry console (headless Chromium)', function () {
  this.timeout(300_000);
  let pair: ServerPair;
  let consoleRun: RunningConsole;
  let browser: Browser;
  let page: Page;
  let pooler: PgBouncer;
  let pooledSpec: MigrationSpec;
  const streaming = 'console-online';
  const canceled = 'console-cancel';
  const runHere = 'console-here';
  let runningHere: Promise<MigrationStatus> | undefined;

  before(async function () {
    requirePrerequisite(this, existsSync(CHROMIUM), `Debian's chromium at ${CHROMIUM} (apt-get install chromium)`);
    pair = await startPair();
    for (const db of ['alpha', 'beta', 'gamma', 'delta']) {
      await pair.source.query(`CREATE DATABASE ${db}`);
      await pair.source.query(TABLE, [], db);
    }
    const offline = await runMigration(pairSpec(pair, 'console-offline', ['alpha'], { overwriteDbsInTarget: true }));
    assert.equal(offline.state, 'Succeeded', offline.message);
    // waits in WaitingForDataMigrationScheduling until started: a migration not streaming yet, for certain
    // with a fallback window (and the fence it needs): the cutover opens one, Close window closes it
    await startMigration(online(pair, streaming, 'beta', { startDataMigration: false, fenceWriters: true, fallbackWindow: '1h' }));
    await startMigration(online(pair, canceled, 'gamma'));
    // in this process, as the library's runMigration runs it: no runner records its plan
    runningHere = runMigration(online(pair, runHere, 'delta', { fenceWriters: true, fallbackWindow: '2h' }));
    runningHere.catch(() => undefined);
    ({ pooler, spec: pooledSpec } = await pooledMigration(pair));
    consoleRun = await startConsole({ target: serverSpec(pair.target), port: 0, intervalMs: 500 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(consoleRun.url);
  });
  after(async () => {
    if (runningHere) {
      await cancelMigration(serverSpec(pair.target), runHere).catch(() => undefined);
      await runningHere.catch(() => undefined);
    }
    await browser?.close();
    await consoleRun?.close();
    await pooler?.stop();
    await pair?.stop();
  });

  it('lists the offline and the online migrations in the grid, All and Active', async () => {
    await page.getByLabel('All').check();
    for (const name of ['console-offline', streaming, canceled]) await page.locator(`tr[data-name="${name}"]`).waitFor();
    const row = (name: string) => page.locator(`tr[data-name="${name}"] td`).allTextContents();
    assert.deepEqual((await row('console-offline')).slice(0, 4), ['Offline', 'Succeeded', 'Completed', 'alpha']);
    assert.equal((await row(streaming))[0], 'Online');
    await page.getByLabel('Active').check();
    await page.locator('tr[data-name="console-offline"]').waitFor({ state: 'detached' });
    assert.equal(await page.locator(`tr[data-name="${streaming}"]`).count(), 1);
    // the token left the address bar once read: a screenshot or a shared link does not carry it
    assert.doesNotMatch(page.url(), /token/);
  });

  it('keeps Cutover off before changes stream, with the reason', async () => {
    await page.locator(`tr[data-name="${streaming}"] a`).click();
    await page.getByRole('heading', { name: streaming }).waitFor();
    await until('the page of a migration waiting to start', async () =>
      (await page.locator('#summary').textContent())?.includes('WaitingForDataMigrationScheduling') ? true : undefined,
    );
    assert.equal(await page.getByRole('button', { name: 'Cutover' }).isDisabled(), true);
    assert.match((await page.locator('#action-note').textContent()) ?? '', /Cutover: allowed once changes stream/);
    assert.equal(await page.getByRole('button', { name: 'Fall back' }).isDisabled(), true);
  });

  it('shows the change counters moving while a writer runs on the source', async () => {
    await requestDataMigrationStart(serverSpec(pair.target), streaming);
    await until(
      'the Cutover button enabled once changes stream',
      async () => ((await page.getByRole('button', { name: 'Cutover' }).isEnabled()) ? true : undefined),
      120_000,
    );
    const writer = startSourceWriter(pair.source, 'beta', (c, n) => c.query(`INSERT INTO items VALUES ($1, 'live')`, [1000 + n]));
    await writer.connected;
    const first = await until(
      'inserts on the page',
      async () => ((await counterOf(page, 'beta', 'inserts')) > 0 ? counterOf(page, 'beta', 'inserts') : undefined),
      60_000,
    );
    const later = await until(
      'more inserts on the page',
      async () => ((await counterOf(page, 'beta', 'inserts')) > first ? counterOf(page, 'beta', 'inserts') : undefined),
      60_000,
    );
    await chartAgreesWithCounters(page, 'beta');
    const committed = await writer.stop();
    assert.ok(later <= committed, `the page shows ${later} inserts, the writer committed ${committed}`);
    // the page's figure is the catalog's: read back, at least as far as the page went
    const status = await showMigration(serverSpec(pair.target), streaming);
    assert.ok(status!.databases[0]!.inserts >= later);
    await chartSamplesBounded(pair, streaming, 'beta');
    await until('the chart of the streaming database', async () =>
      (await page.locator('[data-chart="beta"] canvas').count()) > 0 ? true : undefined,
    );
  });

  it('refuses an action without the token or from another origin, and a read naming another host; no cutover is requested', async () =>
    refusesStrangers(pair, consoleRun, streaming));

  it("cuts over from the Cutover button after a confirmation naming the fence and the one-hour window: the target holds the source rows, the events are the catalog's", () =>
    cutsOverWithWindow(pair, page, streaming));

  it("closes the window from the Close window button: the reverse slot gone from the target, the old source still fenced, Fall back off with the engine's words", () =>
    closesWindow(pair, page, streaming));

  it('cancels from the Cancel button', async () => {
    await page.goto(`${new URL(consoleRun.url).origin}/#/m/${canceled}`);
    await until(
      'Cancel enabled',
      async () => ((await page.getByRole('button', { name: 'Cancel migration' }).isEnabled()) ? true : undefined),
      120_000,
    );
    await page.getByRole('button', { name: 'Cancel migration' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel the migration' }).click();
    const done = await until(
      'the cancel',
      async () => {
        const s = await showMigration(serverSpec(pair.target), canceled);
        return s && (s.state === 'Canceled' || s.state === 'Failed' || s.state === 'Succeeded') ? s : undefined;
      },
      120_000,
    );
    assert.equal(done.state, 'Canceled', done.message);
  });

  it('cuts over through PgBouncer from the button: the confirmation says the applications pause and no window opens; the page shows the pooler paused, switched to the target and resumed as recorded, as `pgferry show` prints it; every write made through PgBouncer is on the target, rows read back', () =>
    cutsOverThroughPooler(pair, page, pooler, pooledSpec));

  it("names the 2h window and the fence in the cutover confirmation of a migration run in the caller's process, from the spec the catalog keeps; Back requests nothing", () =>
    confirmsPlanRunHere(pair, page, runHere));

  it('fits a narrow window without sideways scrolling of the page', async () => {
    await page.setViewportSize({ width: 390, height: 800 });
    await page.goto(`${new URL(consoleRun.url).origin}/#/m/${streaming}`);
    await page.getByRole('heading', { name: streaming }).waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `the page is ${overflow} px wider than the window`);
  });
});

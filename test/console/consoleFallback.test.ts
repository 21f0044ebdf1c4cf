// The console through a migration's life after its cutover (issue 67), driven in headless Chromium
// against real servers: an online migration with a fallback window, its buttons off with the
// engine's own refusals before the cutover; the cutover through the button, its steps and the
// window on the page; the window's figures moving while the application writes on the new server,
// as the catalog records them; Resume forward through the button (the old source holds every write,
// the target follows it); Cut over again; a reverse stream stopped and fixed; Fall back through the
// button, with the screenshot the README shows. Each outcome is read back from the servers (rows, not counts) and the catalog.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page, type Response } from 'playwright-core';
import { startConsole, type RunningConsole } from '../../provider/console/command';
import {
  closeFallbackWindow,
  isPgferryError,
  requestFallBack,
  showMigration,
  startMigration,
  type MigrationStatus,
} from '../../provider/engine';
import type { Cluster } from '../../provider/localpg/cluster';
import {
  pairSpec,
  requirePrerequisite,
  serverSpec,
  startPair,
  startSourceWriter,
  until,
  writeBehindFence,
  type ServerPair,
} from '../support';
import { chartAgreesWithCounters, WINDOW_CHART } from '../support/consoleChart';
import { runCli } from '../cli/helpers';

const CHROMIUM = '/usr/bin/chromium';
const DB = 'delta';
const NAME = 'console-window';
const SETUP = `CREATE TABLE items (id int PRIMARY KEY, note text NOT NULL);
               INSERT INTO items SELECT g, 'n' || g FROM generate_series(1, 300) g;`;

/** Every row of items, in key order: what each server holds, compared whole. */
async function rows(server: Cluster): Promise<string[]> {
  const read = await server.query<{ id: number; note: string }>('SELECT id, note FROM items ORDER BY id', [], DB);
  return read.map((r) => `${r.id}:${r.note}`);
}

/** Waits until the old source holds exactly the new server's rows; returns them. */
async function sameRows(pair: ServerPair, what: string): Promise<string[]> {
  return until(
    what,
    async () => {
      const [source, target] = await Promise.all([rows(pair.source), rows(pair.target)]);
      return JSON.stringify(source) === JSON.stringify(target) ? source : undefined;
    },
    120_000,
    300,
  );
}

async function status(pair: ServerPair): Promise<MigrationStatus> {
  return (await showMigration(serverSpec(pair.target), NAME))!;
}

/** The words after "cannot fall back: " (or after the migration's name for a close) of the engine's own refusal. */
async function refusalOf(request: () => Promise<unknown>, after: RegExp): Promise<string> {
  try {
    await request();
  } catch (error) {
    assert.ok(isPgferryError(error), String(error));
    const why = after.exec(error.message)?.[1];
    assert.ok(why, error.message);
    return why;
  }
  assert.fail('the engine accepted the request');
}

async function buttonOff(page: Page, id: string): Promise<string> {
  assert.equal(await page.locator(`#${id}`).isDisabled(), true, `${id} is off`);
  return (await page.locator(`#action-note [data-why="${id}"]`).textContent()) ?? '';
}

async function clickThrough(page: Page, id: string, confirmation: RegExp, go: string): Promise<void> {
  await until('the button on', async () => ((await page.locator(`#${id}`).isEnabled()) ? true : undefined), 60_000);
  await page.locator(`#${id}`).click();
  const dialog = page.getByRole('dialog');
  assert.match((await dialog.textContent()) ?? '', confirmation);
  await dialog.getByRole('button', { name: go }).click();
  await dialog.waitFor({ state: 'hidden' });
}

function field(page: Page, name: string) {
  return page.locator(`[data-database="${DB}"] [data-field="${name}"]`);
}

/** Before the cutover: the window's buttons off, each with the engine's own refusal; the refusals change nothing. */
async function offBeforeCutover(pair: ServerPair, page: Page): Promise<void> {
  await until('Cutover on', async () => ((await page.locator('#cutover').isEnabled()) ? true : undefined), 120_000);
  const target = serverSpec(pair.target);
  const fallBack = await refusalOf(() => requestFallBack(target, NAME), /cannot fall back: (.+)$/);
  const close = await refusalOf(() => closeFallbackWindow(target, NAME), /^--close-fallback: migration "[^"]+" (.+)$/);
  assert.match(fallBack, /it has no fallback window/);
  assert.equal(await buttonOff(page, 'fallback'), `Fall back: ${fallBack}. `);
  assert.equal(await buttonOff(page, 'resume-forward'), `Resume forward: ${fallBack}. `);
  assert.equal(await buttonOff(page, 'close-window'), `Close window: ${close}. `);
  // the refusals changed nothing: no window, no fall-back asked
  assert.equal((await status(pair)).databases[0]!.fallback, undefined);
}

/** The cutover through the button: its steps, the rows, the window on the page and the buttons it turns on. */
async function cutOverWithWindow(pair: ServerPair, page: Page): Promise<void> {
  await pair.source.query("INSERT INTO items VALUES (1001, 'before the cutover')", [], DB);
  await clickThrough(page, 'cutover', /It opens a fallback window of 1h: /, 'Cut over');
  const done = await until(
    'the cutover',
    async () => {
      const s = await status(pair);
      return s.state === 'Succeeded' || s.state === 'Failed' ? s : undefined;
    },
    180_000,
  );
  assert.equal(done.state, 'Succeeded', done.message);
  const source = await rows(pair.source);
  assert.ok(source.includes('1001:before the cutover'));
  assert.deepEqual(await rows(pair.target), source);
  // the window is Open before the release marks the database Succeeded: a page refreshed between
  // the two shows the window with the release still under way, so both are awaited together
  const allDone = ['fence=done', 'drain and sequences=done', 'verification=done', 'release=done'];
  const stepsShown = () =>
    page
      .locator(`[data-steps="${DB}"] li`)
      .evaluateAll((lis) => lis.map((li) => `${li.getAttribute('data-step')}=${li.getAttribute('data-state')}`));
  await until(
    'the window Open and every cutover step done on the page',
    async () =>
      (await field(page, 'fallback-state').textContent()) === 'Open' && (await stepsShown()).join() === allDone.join() ? true : undefined,
    60_000,
  );
  assert.deepEqual(await stepsShown(), allDone);
  await until('the page says Succeeded', async () =>
    (await page.locator('#summary').textContent())?.includes('Succeeded') ? true : undefined,
  );
  assert.match(await buttonOff(page, 'cutover'), /^Cutover: the migration is Succeeded/);
  for (const id of ['fallback', 'resume-forward', 'close-window']) assert.equal(await page.locator(`#${id}`).isEnabled(), true, `${id} on`);
}

/**
 * Waits until the page shows figures the console read from the catalog after `since()` (a time,
 * undefined until it is known): the page's figures are then ones a watch of the catalog begun by
 * then can have seen. The console reads the catalog one reading after another and stamps each when
 * it ends, so of the readings the page is sent that end after `since()`, the second began after it;
 * by the third, the page has drawn the second.
 */
async function pageReadsAfter(page: Page, since: () => number | undefined): Promise<void> {
  const readings = new Set<number>();
  const path = `/api/migrations/${encodeURIComponent(NAME)}`;
  const sent = (response: Response) => {
    if (new URL(response.url()).pathname !== path) return;
    response.json().then(
      (body: { readAt?: string }) => void (body.readAt && readings.add(Date.parse(body.readAt))),
      () => undefined,
    );
  };
  const after = () => [...readings].filter((t) => t > (since() ?? Infinity));
  page.on('response', sent);
  try {
    await until(
      () => {
        const start = since();
        const seen = [...readings].map((t) => new Date(t).toISOString().slice(11, 23));
        return `three readings sent to the page ended after the catalog watch's first look (${start === undefined ? 'not made yet' : `ended ${new Date(start).toISOString().slice(11, 23)}`}); readings sent: ${seen.join(', ') || 'none'}`;
      },
      async () => (after().length >= 3 ? true : undefined),
      60_000,
    );
  } finally {
    page.off('response', sent);
  }
}

/** The window's figures while the application writes on the new server: moving, each one the catalog recorded. */
async function figuresMoving(pair: ServerPair, page: Page): Promise<void> {
  const recorded = { retained: new Set<string>(), pending: new Set<string>() };
  let watching = true;
  let firstLookEnded: number | undefined;
  // one session for the whole watch: a new connection per look, on a loaded machine, could take
  // longer than a figure stays in the catalog, and the page would show one the watch never read
  const watcher = await pair.target.connect();
  const catalog = (async () => {
    try {
      while (watching) {
        const { rows } = await watcher.query<{ retained: string | null; pending: string | null }>(
          'SELECT retained_bytes::text AS retained, pending_bytes::text AS pending FROM pgferry.fallback_window WHERE migration = $1',
          [NAME],
        );
        firstLookEnded ??= Date.now();
        const [w] = rows;
        if (w?.retained) recorded.retained.add(w.retained);
        if (w?.pending) recorded.pending.add(w.pending);
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await watcher.end();
    }
  })();
  await pageReadsAfter(page, () => firstLookEnded);
  const writer = startSourceWriter(pair.target, DB, async (c, n) => {
    await c.query(`INSERT INTO items VALUES ($1, 'on the new server')`, [10_000 + n]);
    await c.query(`UPDATE items SET note = note || '+' WHERE id = $1`, [n]);
  });
  await writer.connected;
  const shown = { retained: new Set<string>(), pending: new Set<string>() };
  try {
    await until(
      'the window figures moving on the page',
      async () => {
        const retained = await field(page, 'fallback-retained').getAttribute('data-value');
        const pending = await field(page, 'fallback-pending').getAttribute('data-value');
        if (retained) shown.retained.add(retained);
        if (pending) shown.pending.add(pending);
        return shown.retained.size >= 3 ? true : undefined;
      },
      90_000,
      500,
    );
    await chartAgreesWithCounters(page, DB, WINDOW_CHART);
  } finally {
    await writer.stop();
    watching = false;
    await catalog;
  }
  for (const v of shown.retained)
    assert.ok(recorded.retained.has(v), `the page's ${v} bytes retained, never recorded (${[...recorded.retained].join(', ')})`);
  for (const v of shown.pending) assert.ok(recorded.pending.has(v), `the page's ${v} bytes pending, never recorded`);
  const both = await sameRows(pair, 'the old source holding every write of the new server');
  assert.ok(both.includes('10001:on the new server'));
  await chartAgreesWithCounters(page, DB, WINDOW_CHART);
  // the chart's samples are the reverse stream's, recorded in the catalog apart from the forward stream's
  const [samples] = await pair.target.query<{ n: string }>(
    "SELECT count(*)::text AS n FROM pgferry.stream_sample WHERE migration = $1 AND database = $2 AND direction = 'reverse'",
    [NAME, DB],
  );
  assert.ok(Number(samples!.n) >= 1, 'reverse samples in the catalog');
}

/** Resume forward through the button: every row on the old source, the target following it, Cut over again offered. */
async function resumeForward(pair: ServerPair, page: Page): Promise<void> {
  await pair.target.query("INSERT INTO items VALUES (1002, 'last write before the fall-back')", [], DB);
  const before = await rows(pair.target);
  await clickThrough(page, 'resume-forward', /follows the old source again/, 'Fall back and follow the old source');
  const streaming = await until(
    'streaming forward again',
    async () => {
      const s = await status(pair);
      return s.subState === 'WaitingForCutoverTrigger' || s.state === 'Failed' ? s : undefined;
    },
    300_000,
  );
  assert.equal(streaming.state, 'WaitingForUserAction', streaming.message);
  assert.equal(streaming.databases[0]!.fallback?.state, 'FellBack');
  assert.deepEqual(await rows(pair.source), before, 'the old source holds every row the new server held');
  // the application on the old source again; the fenced target follows it
  await pair.source.query("INSERT INTO items VALUES (1003, 'on the old source again')", [], DB);
  const again = await sameRows(pair, 'the target following the old source');
  assert.ok(again.includes('1003:on the old source again'));
  await until('Cut over again on', async () =>
    (await page.locator('#cutover').textContent()) === 'Cut over again' && (await page.locator('#cutover').isEnabled()) ? true : undefined,
  );
  const fallBack = await refusalOf(() => requestFallBack(serverSpec(pair.target), NAME), /cannot fall back: (.+)$/);
  assert.match(fallBack, /^it fell back already/);
  assert.equal(await buttonOff(page, 'fallback'), `Fall back: ${fallBack}. `);
}

/** Cut over again through the button: Succeeded, counted twice, a new window Open. */
async function cutOverAgain(pair: ServerPair, page: Page): Promise<void> {
  await clickThrough(page, 'cutover', /cuts over again after a fall-back/, 'Cut over again');
  const done = await until(
    'the second cutover',
    async () => {
      const s = await status(pair);
      return (s.state === 'Succeeded' && s.databases[0]!.fallback?.state === 'Open') || s.state === 'Failed' ? s : undefined;
    },
    300_000,
  );
  assert.equal(done.state, 'Succeeded', done.message);
  assert.equal(done.databases[0]!.cutovers, 2);
  assert.deepEqual(await rows(pair.target), await rows(pair.source));
  await until(
    'the new window Open on the page',
    async () => ((await field(page, 'fallback-state').textContent()) === 'Open' ? true : undefined),
    60_000,
  );
}

/**
 * A reverse stream stopped on an error the user can fix (a row written on the old source behind
 * the fence, by a superuser turning the fence's trigger off for one transaction, takes the key the application then inserts on the
 * new server): the page shows the engine's stop message as it is, its error and the fix it names, Fall back and Resume forward off
 * with the engine's words; the row removed, the stream applies again by itself and the page says
 * Open.
 */
async function stoppedAndFixed(pair: ServerPair, page: Page): Promise<void> {
  await writeBehindFence(pair.source, DB, `INSERT INTO items VALUES (30000, 'only on the old source')`);
  await pair.target.query("INSERT INTO items VALUES (30000, 'from the new server')", [], DB);
  await until(
    'the page says Stopped',
    async () => ((await field(page, 'fallback-state').textContent()) === 'Stopped' ? true : undefined),
    60_000,
  );
  const recorded = (await status(pair)).databases[0]!.fallback!;
  assert.equal(recorded.state, 'Stopped');
  const stop = (await field(page, 'fallback-stop').textContent()) ?? '';
  // the engine's own words, with the precise fix they name, and no generic fix after them
  assert.equal(stop, recorded.message, "the page's stop is the catalog's message");
  assert.match(stop, /; fix on the old source, where it applies: .+; it is tried again by itself/);
  const why = await refusalOf(() => requestFallBack(serverSpec(pair.target), NAME), /cannot fall back: (.+)$/);
  assert.match(why, /is stopped on an error/);
  assert.equal(await buttonOff(page, 'fallback'), `Fall back: ${why}. `);
  assert.equal(await buttonOff(page, 'resume-forward'), `Resume forward: ${why}. `);
  await writeBehindFence(pair.source, DB, `DELETE FROM items WHERE id = 30000`);
  await until(
    'the page says Open again',
    async () => ((await field(page, 'fallback-state').textContent()) === 'Open' ? true : undefined),
    120_000,
  );
  assert.ok((await rows(pair.source)).includes('30000:from the new server'), "the new server's row applied on the old source");
}

/** Fall back through the button while the window streams (the README's screenshot), then every button off with its reason. */
async function fallBack(pair: ServerPair, page: Page): Promise<void> {
  const writer = startSourceWriter(pair.target, DB, async (c, n) => {
    await c.query(`INSERT INTO items VALUES ($1, 'in the second window')`, [20_000 + n]);
    await c.query('DELETE FROM items WHERE id = $1', [300 - n]);
  });
  await writer.connected;
  await until(
    'reverse figures on the page',
    async () => ((await field(page, 'fallback-retained').getAttribute('data-value')) ? true : undefined),
    60_000,
  );
  // the README's screenshot: the window streaming back while the application writes, Fall back on
  const shot = process.env.PGFERRY_CONSOLE_SCREENSHOT ?? path.join(mkdtempSync(path.join(os.tmpdir(), 'pgferry-console-')), 'console.png');
  await page.locator(`[data-fallback="${DB}"]`).scrollIntoViewIfNeeded();
  await page.screenshot({ path: shot, fullPage: false });
  await writer.stop();
  await sameRows(pair, 'the old source following the new server');
  const before = await rows(pair.target);
  await clickThrough(page, 'fallback', /the old source is the primary again/, 'Fall back to the old source');
  const fell = await until(
    'the fall-back',
    async () => {
      const s = await status(pair);
      const f = s.databases[0]!.fallback;
      return f?.state === 'FellBack' || s.state === 'Failed' ? s : undefined;
    },
    300_000,
  );
  assert.equal(fell.state, 'Succeeded', fell.message);
  const source = await rows(pair.source);
  assert.deepEqual(source, before, 'the old source holds every row of the new server');
  assert.ok(source.includes('20001:in the second window') && !source.includes('299:n299'));
  // the old source takes writes again
  await pair.source.query("INSERT INTO items VALUES (1004, 'the old source is the primary')", [], DB);
  await until(
    'the page says it fell back',
    async () => ((await field(page, 'fallback-state').textContent()) === 'FellBack' ? true : undefined),
    60_000,
  );
  assert.equal(
    await page.locator('#cutover').textContent(),
    'Cutover',
    'no second cutover offered: it fell back without the forward stream',
  );
  const fallBack = await refusalOf(() => requestFallBack(serverSpec(pair.target), NAME), /cannot fall back: (.+)$/);
  const close = await refusalOf(() => closeFallbackWindow(serverSpec(pair.target), NAME), /^--close-fallback: migration "[^"]+" (.+)$/);
  assert.equal(await buttonOff(page, 'fallback'), `Fall back: ${fallBack}. `);
  assert.equal(await buttonOff(page, 'resume-forward'), `Resume forward: ${fallBack}. `);
  assert.equal(await buttonOff(page, 'close-window'), `Close window: ${close}. `);
  assert.match(await buttonOff(page, 'cutover'), /the migration is Succeeded/);
  await targetFenceShown(pair, page);
}

/**
 * After the fall-back the new server stays fenced: the page shows the target's fence in the very
 * line `pgferry show` prints for it, and the target's database is read-only for new transactions.
 */
async function targetFenceShown(pair: ServerPair, page: Page): Promise<void> {
  const fence = page.locator(`[data-database="${DB}"] [data-fence="target"]`);
  const line = await until(
    'the target fence on the page',
    async () => ((await fence.count()) === 1 ? await fence.textContent() : undefined),
    60_000,
  );
  assert.match(line ?? '', /^writers fenced on the target since .+: kept after the fall-back/);
  const flags = ['--target-host', pair.target.host, '--target-port', String(pair.target.port), '--target-user', pair.target.user];
  const shown = await runCli(['show', '--name', NAME, ...flags], { PGPASSWORD: pair.target.password });
  assert.equal(shown.code, 0, shown.stderr);
  assert.ok(shown.stdout.split('\n').includes(`  ${DB}: ${line}`), `show prints the page's line "${line}":\n${shown.stdout}`);
  const [setting] = await pair.target.query<{ on: string }>(`SELECT current_setting('default_transaction_read_only') AS on`, [], DB);
  assert.equal(setting!.on, 'on', "the target's database read-only for new transactions");
}

describe('pgferry console: the fallback window (headless Chromium)', function () {
  this.timeout(600_000);
  let pair: ServerPair;
  let consoleRun: RunningConsole;
  let browser: Browser;
  let page: Page;

  before(async function () {
    requirePrerequisite(this, existsSync(CHROMIUM), `Debian's chromium at ${CHROMIUM} (apt-get install chromium)`);
    pair = await startPair();
    await pair.source.query(`CREATE DATABASE ${DB}`);
    await pair.source.query(SETUP, [], DB);
    await startMigration(
      pairSpec(pair, NAME, [DB], {
        mode: 'Online',
        option: 'Migrate',
        overwriteDbsInTarget: true,
        fenceWriters: true,
        fallbackWindow: '1h',
      }),
    );
    consoleRun = await startConsole({ target: serverSpec(pair.target), port: 0, intervalMs: 500 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(consoleRun.url);
    await page.goto(`${new URL(consoleRun.url).origin}/#/m/${NAME}`);
  });
  after(async () => {
    await browser?.close();
    await consoleRun?.close();
    await pair?.stop();
  });

  it("keeps Fall back, Resume forward and Close window off before the cutover with the engine's refusals, Cutover on once changes stream", () =>
    offBeforeCutover(pair, page));

  it('cuts over through the button: the steps done, the target holding the source rows, the window Open on the page', () =>
    cutOverWithWindow(pair, page));

  it("shows the window's figures moving while an application writes on the new server, each a figure the catalog recorded, the window's chart ending on the counters beside it", () =>
    figuresMoving(pair, page));

  it('resumes forward through the button: the old source holds every write (rows read back), the target follows it, Cut over again offered', () =>
    resumeForward(pair, page));

  it('cuts over again through the button, a new window opening', () => cutOverAgain(pair, page));

  it("shows a reverse stream stopped on an error in the engine's words with the fix they name, Fall back and Resume forward off with the engine's words, Open again once fixed", () =>
    stoppedAndFixed(pair, page));

  it("falls back through the button: the old source holds every write the application made on the new server, rows read back; then every button off with its reason, the target's fence shown as show prints it", () =>
    fallBack(pair, page));
});

// The progress view of --wait: plain lines only when something changes; on a terminal a block of
// bars redrawn in place, with percent, rate and ETA per database and loading table, fitted to the
// terminal's width by display width; online a line per database with latency, pending bytes and an
// ETA to caught-up. The figures come from a pure model fed with samples.
import assert from 'node:assert/strict';
import stringWidth from 'string-width';
import { fitWidth, renderLine } from '../../provider/cli/liveProgress';
import { ProgressView } from '../../provider/cli/progress';
import { catchUp, copyRatio, databaseCopy, etaSeconds, RateMeter, tableFraction } from '../../provider/engine/core/progress';
import type { TableProgress } from '../../provider/cli/tableProgress';
import type { DatabaseDetails, MigrationStatus } from '../../provider/engine';

function fakeStream(columns = 100, isTTY = false): { stream: NodeJS.WriteStream; text: () => string } {
  let out = '';
  const write = (chunk: string, cb?: unknown) => {
    out += chunk;
    if (typeof cb === 'function') cb();
    return true;
  };
  const stream = { columns, rows: 40, isTTY, write } as unknown as NodeJS.WriteStream;
  return { stream, text: () => out };
}

function db(over: Partial<DatabaseDetails> = {}): DatabaseDetails {
  return {
    database: 'sales',
    state: 'InProgress',
    tables: { total: 3, queued: 2, loading: 1, completed: 0, errored: 0 },
    rowsCopied: 0,
    bytesCopied: 0,
    inserts: 0,
    updates: 0,
    deletes: 0,
    ...over,
  };
}

function status(databases: DatabaseDetails[], over: Partial<MigrationStatus> = {}): MigrationStatus {
  return {
    name: 'm1',
    state: 'InProgress',
    subState: 'MigratingData',
    mode: 'Offline',
    option: 'Migrate',
    createdAt: '',
    validation: [],
    databases,
    spec: {},
    ...over,
  };
}

const table = (over: Partial<TableProgress>): TableProgress => ({
  database: 'sales',
  table: 'public.t',
  state: 'Queued',
  rows: 0,
  bytes: 0,
  parts: 1,
  partsDone: 0,
  ...over,
});

describe('cli progress view', () => {
  describe('the model', modelTests);

  describe('plain lines off a terminal', plainTests);

  describe('on a terminal', terminalTests);
});

function modelTests(): void {
  it('estimates a loading table by its recorded size, scaled by what finished tables moved per byte on disk', () => {
    const done = table({ table: 'a', state: 'Completed', bytes: 500, sizeBytes: 1000 });
    assert.equal(copyRatio([done]), 0.5);
    assert.equal(copyRatio([table({ state: 'Completed', bytes: 1, sizeBytes: 8192 })]), 0.25, 'clamped: a few rows in one page');
    assert.equal(copyRatio([]), 1);
    const loading = table({ table: 'b', state: 'Loading', bytes: 250, sizeBytes: 1000 });
    assert.equal(tableFraction(loading, 0.5), 0.5);
    assert.equal(tableFraction({ ...loading, bytes: 10_000 }, 0.5), 0.99, 'never done before it is');
    assert.equal(tableFraction({ ...loading, sizeBytes: undefined }, 1), undefined);
  });

  it("weighs a database's tables by size, queued ones included, and counts bytes in flight", () => {
    const tables = [
      table({ table: 'a', state: 'Completed', bytes: 1000, sizeBytes: 1000 }),
      table({ table: 'b', state: 'Loading', bytes: 1000, sizeBytes: 4000 }),
      table({ table: 'c', state: 'Queued', sizeBytes: 5000 }),
      table({ database: 'other', table: 'x', state: 'Queued', sizeBytes: 1e9 }),
    ];
    const copy = databaseCopy(db({ bytesCopied: 1000, tables: { total: 3, queued: 1, loading: 1, completed: 1, errored: 0 } }), tables);
    assert.equal(copy.totalSize, 10_000);
    assert.equal(copy.doneSize, 2000);
    assert.equal(copy.fraction, 0.2);
    assert.equal(copy.movedBytes, 2000);
    assert.equal(
      databaseCopy(db({ tables: { total: 4, queued: 3, loading: 0, completed: 1, errored: 0 } }), []).fraction,
      0.25,
      'no sizes: by tables',
    );
    const done = databaseCopy(db({ bytesCopied: 9000, tables: { total: 3, queued: 0, loading: 0, completed: 3, errored: 0 } }), tables);
    assert.deepEqual([done.fraction, done.movedBytes], [1, 9000], 'a table list a poll behind the status counts nothing twice');
  });

  it('smooths a rate over polls and turns it into an ETA', () => {
    const meter = new RateMeter();
    assert.equal(meter.sample(0, 0), undefined);
    assert.equal(meter.sample(100, 1000), 100);
    assert.equal(meter.sample(100, 1500), 100, 'unchanged and soon after: the rate stands');
    assert.equal(meter.sample(400, 2000), 200, 'half the last rate, half the new one');
    assert.equal(etaSeconds(500, 250), 2);
    assert.equal(etaSeconds(500, 0), undefined);
    assert.equal(etaSeconds(0, undefined), 0);
  });

  it('says whether a stream is caught up, draining with an ETA, or falling behind', () => {
    assert.deepEqual(catchUp(1000, -5), { kind: 'caught-up' });
    assert.deepEqual(catchUp(10 * 1024 * 1024, -1024 * 1024), { kind: 'draining', bytesPerSecond: 1024 * 1024, etaSeconds: 10 });
    assert.deepEqual(catchUp(10 * 1024 * 1024, 2048), { kind: 'falling-behind', bytesPerSecond: 2048 });
    assert.deepEqual(catchUp(undefined, undefined), { kind: 'unknown' });
  });
}

function plainTests(): void {
  it('prints plain lines only when state or table counts change', () => {
    const { stream, text } = fakeStream();
    const view = new ProgressView(stream, false);
    view.update(status([db()]));
    const first = text().split('\n').filter(Boolean).length;
    assert.equal(first, 2, text());
    view.update(status([db()]));
    assert.equal(text().split('\n').filter(Boolean).length, first, 'nothing changed, nothing printed');
    view.update(status([db({ rowsCopied: 10 })]));
    assert.equal(text().split('\n').filter(Boolean).length, first, 'counter-only changes wait for the interval');
    view.update(status([db({ tables: { total: 3, queued: 1, loading: 1, completed: 1, errored: 0 }, rowsCopied: 500 })]));
    assert.match(text(), /m1\/sales: InProgress, tables 1\/3, 500 rows/);
    const tables: TableProgress[] = [table({ table: 'public.a', state: 'Completed', rows: 500, bytes: 4096, partsDone: 1 })];
    view.update(status([db({ tables: { total: 3, queued: 1, loading: 1, completed: 1, errored: 0 }, rowsCopied: 500 })]), tables);
    assert.match(text(), /table public\.a copied \(500 rows, 4096 bytes\)/);
    view.update(status([db({ state: 'Succeeded' })], { state: 'Succeeded', subState: 'Completed' }));
    assert.match(text(), /m1: Succeeded \/ Completed/);
    assert.doesNotMatch(text(), /\x1b\[/, 'no escape sequences off a terminal');
  });

  it('adds the percent of the copy by size to a database line', () => {
    const { stream, text } = fakeStream();
    const view = new ProgressView(stream, false);
    const tables = [table({ table: 'a', state: 'Completed', bytes: 100, sizeBytes: 100 }), table({ table: 'b', sizeBytes: 300 })];
    view.update(status([db({ tables: { total: 2, queued: 1, loading: 0, completed: 1, errored: 0 }, bytesCopied: 100 })]), tables);
    assert.match(text(), /m1\/sales: InProgress, tables 1\/2, 0 rows, 100 bytes \(25%\)/);
  });
}

function terminalTests(): void {
  it('draws bars with percent and figures, then redraws the block in place', () => {
    const { stream, text } = fakeStream(100, true);
    const view = new ProgressView(stream, true);
    const loading = [
      table({ table: 'public.orders', state: 'Loading', rows: 1000, bytes: 2_000_000, parts: 4, partsDone: 1, sizeBytes: 8_000_000 }),
      table({ table: 'public.items', sizeBytes: 2_000_000 }),
    ];
    try {
      view.update(status([db()]), loading);
      assert.match(text(), /sales {2}\[#+-+\] {2}20% {2}ETA - {2}0\/3 tables {2}1953 kB/);
      assert.match(text(), / {4}public\.orders {2}\[#+-+\] {2}25% {2}ETA - {2}1953 kB {2}parts 1\/4/);
      view.update(status([db({ rowsCopied: 100 })]), loading);
      assert.match(text(), /\x1b\[2A\x1b\[1G/, 'moves up over the lines drawn before');
    } finally {
      view.close();
    }
    assert.match(text(), /\x1b\[\?25h/, 'shows the cursor again');
  });

  it('shows online databases streaming, with latency, pending bytes and an ETA to caught-up', () => {
    const { stream, text } = fakeStream(140, true);
    let now = 1_000_000;
    const view = new ProgressView(stream, true, () => now);
    const online = (pendingBytes: number) =>
      status(
        [
          db({
            state: 'WaitingForCutoverTrigger',
            tables: { total: 1, queued: 0, loading: 0, completed: 1, errored: 0 },
            inserts: 3,
            latencySeconds: 2.5,
            pendingBytes,
          }),
        ],
        {
          mode: 'Online',
          state: 'WaitingForUserAction',
          subState: 'WaitingForCutoverTrigger',
        },
      );
    try {
      view.update(online(40 * 1024 * 1024));
      assert.match(text(), /sales {2}streaming {2}\+3 ~0 -0 {2}latency 2\.5 s {2}pending 40 MB/);
      now += 2500;
      view.update(online(20 * 1024 * 1024));
      assert.match(text(), /pending 20 MB {2}caught up in \d/);
    } finally {
      view.close();
    }
  });

  it('fits every line to the terminal by display width, wide characters and narrow terminals included', () => {
    const label = 'public.販売注文明細_with_a_very_long_name_that_goes_on';
    for (const width of [20, 40, 60, 100]) {
      for (const line of [
        { indent: 4, label, fraction: 0.42, figures: '1953 kB  parts 1/4  ETA 12 s' },
        { indent: 2, label: '売上', figures: 'streaming  latency 0.4 s  pending 12 kB  caught up' },
      ]) {
        const text = renderLine(line, width);
        assert.ok(stringWidth(text) <= width - 1, `${width}: "${text}" is ${stringWidth(text)} columns`);
      }
    }
    assert.match(renderLine({ indent: 4, label, fraction: 0.42, figures: 'ETA 12 s' }, 100), /販売注文明細.*\[#+-+\] {2}42%/);
    assert.equal(fitWidth('販売注文', 5), '販売…');
    assert.equal(fitWidth('abc', 5), 'abc');
  });
}

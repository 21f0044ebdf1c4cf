// The progress view: plain lines only when something changes; on a terminal one block redrawn
// in place, with loading tables and their counters.
import assert from 'node:assert/strict';
import { ProgressView } from '../../provider/cli/progress';
import type { TableProgress } from '../../provider/cli/tableProgress';
import type { DatabaseDetails, MigrationStatus } from '../../provider/engine';

function fakeStream(): { stream: NodeJS.WriteStream; text: () => string } {
  let out = '';
  const stream = { columns: 100, write: (chunk: string) => ((out += chunk), true) } as unknown as NodeJS.WriteStream;
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

describe('cli progress view', () => {
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
    const tables: TableProgress[] = [
      { database: 'sales', table: 'public.a', state: 'Completed', rows: 500, bytes: 4096, parts: 1, partsDone: 1 },
    ];
    view.update(status([db({ tables: { total: 3, queued: 1, loading: 1, completed: 1, errored: 0 }, rowsCopied: 500 })]), tables);
    assert.match(text(), /table public\.a copied \(500 rows, 4096 bytes\)/);
    view.update(status([db({ state: 'Succeeded' })], { state: 'Succeeded', subState: 'Completed' }));
    assert.match(text(), /m1: Succeeded \/ Completed/);
    assert.doesNotMatch(text(), /\x1b\[/, 'no escape sequences off a terminal');
  });

  it('redraws one block in place on a terminal, with loading tables', () => {
    const { stream, text } = fakeStream();
    const view = new ProgressView(stream, true);
    const loading: TableProgress[] = [
      { database: 'sales', table: 'public.orders', state: 'Loading', rows: 1000, bytes: 2_000_000, parts: 4, partsDone: 1 },
    ];
    view.update(status([db()]), loading);
    assert.doesNotMatch(text(), /\x1b\[\d+F/);
    view.update(status([db({ rowsCopied: 100 })]), loading);
    assert.match(text(), /\x1b\[3F\x1b\[J/, 'moves up over the 3 lines drawn before');
    assert.match(text(), /public\.orders {2}1,000 rows {2}1953 kB {2}parts 1\/4/);
  });
});

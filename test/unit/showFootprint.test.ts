// `pgferry show` prints what of the footprint is still to give back, per database and change, with
// the statements that would give it back, or why a change could not be read (a source it cannot reach);
// and the pooler's pause at a cutover, where the pooled applications' queries are.
import assert from 'node:assert/strict';
import { renderStatus } from '../../provider/cli/output';
import type { DatabaseDetails, MigrationStatus, PoolerPause } from '../../provider/engine';

/** A migration of one database, `sales`, with these states and the database's own fields. */
function salesStatus(
  state: MigrationStatus['state'],
  subState: MigrationStatus['subState'],
  own: Partial<DatabaseDetails>,
): MigrationStatus {
  const nothingMoved = { rowsCopied: 0, bytesCopied: 0, inserts: 0, updates: 0, deletes: 0 };
  const sales = { database: 'sales', state, tables: { total: 1, queued: 0, loading: 0, completed: 1, errored: 0 }, ...nothingMoved };
  const common = { name: 'm1', mode: 'Online', option: 'Migrate', createdAt: '', validation: [], spec: {} } as const;
  return { ...common, state, subState, databases: [{ ...sales, ...own } as DatabaseDetails] };
}

describe("show: the pooler's pause", () => {
  it('prints one line per database saying where the pooled queries are: paused, switched, resumed on the target or on the source', () => {
    const at = { poolerDatabases: ['sales', 'sales_ro'], pausedAt: '2026-11-28T07:00:00Z', switchedAt: '2026-11-28T07:00:02Z' };
    const line = (state: PoolerPause['state']) =>
      renderStatus(salesStatus('InProgress', 'CompletingMigration', { poolerPause: { ...at, state } }))
        .split('\n')
        .find((l) => l.startsWith('  sales: pooler'));
    assert.match(line('paused')!, /databases sales, sales_ro paused since 2026-11-28T07:00:00Z: the applications' queries wait/);
    assert.match(line('switched')!, /switched to the target at 2026-11-28T07:00:02Z, still paused/);
    assert.match(line('resumed')!, /resumed on the target \(paused at 2026-11-28T07:00:00Z, switched at 2026-11-28T07:00:02Z\)/);
    assert.match(line('resumedOnSource')!, /resumed on the source after the cutover was rolled back/);
  });
});

describe('show: the pending footprint', () => {
  it('prints each change still to give back with its statements, or why it could not be read', () => {
    const status = salesStatus('Canceled', 'Completed', {
      pendingFootprint: [
        { change: 'writerFence', pending: ['ALTER DATABASE "sales" RESET default_transaction_read_only'] },
        { change: 'slotAndPublication', pending: [], error: 'connection refused' },
      ],
    });
    const lines = renderStatus(status).split('\n');
    assert.ok(
      lines.includes('  sales: still to give back (writerFence): ALTER DATABASE "sales" RESET default_transaction_read_only'),
      lines.join('\n'),
    );
    assert.ok(lines.includes('  sales: still to give back (slotAndPublication): could not read: connection refused'), lines.join('\n'));
  });
});

// `pgferry show` prints what of the footprint is still to give back, per database and change, with
// the statements that would give it back, or why a change could not be read (a source it cannot reach).
import assert from 'node:assert/strict';
import { renderStatus } from '../../provider/cli/output';
import type { MigrationStatus } from '../../provider/engine';

describe('show: the pending footprint', () => {
  it('prints each change still to give back with its statements, or why it could not be read', () => {
    const status: MigrationStatus = {
      name: 'm1',
      state: 'Canceled',
      subState: 'Completed',
      mode: 'Online',
      option: 'Migrate',
      createdAt: '',
      validation: [],
      spec: {},
      databases: [
        {
          database: 'sales',
          state: 'Canceled',
          tables: { total: 1, queued: 0, loading: 0, completed: 1, errored: 0 },
          rowsCopied: 0,
          bytesCopied: 0,
          inserts: 0,
          updates: 0,
          deletes: 0,
          pendingFootprint: [
            { change: 'writerFence', pending: ['ALTER DATABASE "sales" RESET default_transaction_read_only'] },
            { change: 'slotAndPublication', pending: [], error: 'connection refused' },
          ],
        },
      ],
    };
    const lines = renderStatus(status).split('\n');
    assert.ok(
      lines.includes('  sales: still to give back (writerFence): ALTER DATABASE "sales" RESET default_transaction_read_only'),
      lines.join('\n'),
    );
    assert.ok(lines.includes('  sales: still to give back (slotAndPublication): could not read: connection refused'), lines.join('\n'));
  });
});

// Progress lines for `pulumi up`: one line per useful event; status lines with per-database
// tables, rows and CDC latency, printed on change and otherwise rarely.
import assert from 'node:assert/strict';
import type { MigrationStatus } from '../../provider/engine';
import { formatStatus, statusPrinter } from '../../provider/resource/progress';

const status = (overrides: Partial<MigrationStatus> = {}): MigrationStatus => ({
  name: 'm',
  state: 'WaitingForUserAction',
  subState: 'WaitingForCutoverTrigger',
  mode: 'Online',
  option: 'ValidateAndMigrate',
  createdAt: '2026-01-01T00:00:00Z',
  validation: [],
  databases: [
    {
      database: 'shop',
      state: 'WaitingForCutoverTrigger',
      tables: { total: 3, queued: 0, loading: 0, completed: 3, errored: 0 },
      rowsCopied: 2550,
      bytesCopied: 1,
      inserts: 2,
      updates: 10,
      deletes: 1,
      latencySeconds: 0.4,
      pendingBytes: 128,
    },
  ],
  spec: {},
  ...overrides,
});

describe('resource progress lines', () => {
  it('summarises a status per database, with CDC counters for online migrations', () => {
    assert.equal(
      formatStatus(status()),
      'm: WaitingForUserAction/WaitingForCutoverTrigger — shop tables 3/3 rows 2550 applied +2/~10/-1 latency 0.4 s pending 128 B',
    );
  });

  it('shows how far a database copy is, by the progress model the CLI uses', () => {
    const copying = status({ state: 'InProgress', subState: 'MigratingData', mode: 'Offline' });
    const d = {
      ...copying.databases[0]!,
      state: 'InProgress' as const,
      tables: { total: 4, queued: 1, loading: 1, completed: 2, errored: 0 },
    };
    assert.equal(formatStatus({ ...copying, databases: [d] }), 'm: InProgress/MigratingData — shop tables 2/4 rows 2550 (50%)');
  });

  it('prints a status only when it changes (or after a quiet period)', () => {
    const lines: string[] = [];
    const print = statusPrinter((l) => lines.push(l), 60_000);
    print(status());
    print(status());
    print(status({ state: 'Succeeded', subState: 'Completed' }));
    assert.equal(lines.length, 2);
  });
});

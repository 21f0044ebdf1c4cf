// `pgferry show` prints what of the footprint is still to give back, per database and change, with
// the statements that would give it back, or why a change could not be read (a source it cannot reach);
// and the pooler's pause at a cutover and at a fall-back, where the pooled applications' queries are.
import assert from 'node:assert/strict';
import { renderStatus } from '../../provider/cli/output';
import type { DatabaseDetails, MigrationStatus, PoolerPause } from '../../provider/engine';
import { poolerPausesOf } from '../../provider/engine/footprint/poolerPause';

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

describe("show: the pooler's pause at the fall-back", () => {
  it('prints where the pooled queries are at the fall-back, paused, pointed back, or resumed on the old source or the new server with the time paused', () => {
    const at = { poolerDatabases: ['sales'], pausedAt: '2026-11-28T09:00:00Z', switchedAt: '2026-11-28T09:00:01Z' };
    const resumed = { resumedAt: '2026-11-28T09:00:02Z', pauseSeconds: 2 };
    const line = (p: PoolerPause) =>
      renderStatus(salesStatus('Succeeded', 'Completed', { poolerPauseBack: p }))
        .split('\n')
        .find((l) => l.startsWith('  sales: fall-back: pooler'));
    assert.match(
      line({ ...at, state: 'paused' })!,
      /database sales paused since 2026-11-28T09:00:00Z: the applications' queries wait until the fall-back resumes it/,
    );
    assert.match(line({ ...at, state: 'switched' })!, /pointed back at the old source at 2026-11-28T09:00:01Z, still paused/);
    assert.match(
      line({ ...at, ...resumed, state: 'resumed', resumedOn: 'source' })!,
      /resumed on the old source \(paused at 2026-11-28T09:00:00Z, pointed back at 2026-11-28T09:00:01Z, resumed at 2026-11-28T09:00:02Z after 2(\.0)? ?s paused\)/,
    );
    assert.match(
      line({ ...at, ...resumed, state: 'resumedOnSource', resumedOn: 'target' })!,
      /resumed on the new server after the fall-back stopped/,
    );
  });

  it("shapes the fall-back's rows as the cutover's: resumed where its RESUME noted, with the seconds from PAUSE to RESUME, whatever the row became after", () => {
    const row = (
      change: 'poolerPause' | 'poolerPauseBack',
      detail: Record<string, unknown>,
      marks: { undone?: boolean; kept?: boolean },
    ) => ({
      change,
      database: 'sales',
      object: 'sales',
      undo: {},
      detail,
      madeAt: new Date('2026-11-28T09:00:00.000Z'),
      undone: marks.undone === true,
      kept: marks.kept === true,
    });
    const rows = [
      // the cutover's row, given back by the fall-back long after its own RESUME on the target
      row(
        'poolerPause',
        { switchedAt: '2026-11-28T09:00:01.000Z', resumedAt: '2026-11-28T09:00:01.500Z', resumedOn: 'target' },
        { undone: true },
      ),
      row(
        'poolerPauseBack',
        { switchedAt: '2026-11-28T09:00:02.000Z', resumedAt: '2026-11-28T09:00:03.250Z', resumedOn: 'source' },
        { kept: true },
      ),
    ];
    assert.deepEqual(poolerPausesOf(rows).get('sales'), {
      state: 'resumed',
      poolerDatabases: ['sales'],
      pausedAt: '2026-11-28T09:00:00.000Z',
      switchedAt: '2026-11-28T09:00:01.000Z',
      resumedAt: '2026-11-28T09:00:01.500Z',
      resumedOn: 'target',
      pauseSeconds: 1.5,
    });
    assert.deepEqual(poolerPausesOf(rows, 'poolerPauseBack').get('sales'), {
      state: 'resumed',
      poolerDatabases: ['sales'],
      pausedAt: '2026-11-28T09:00:00.000Z',
      switchedAt: '2026-11-28T09:00:02.000Z',
      resumedAt: '2026-11-28T09:00:03.250Z',
      resumedOn: 'source',
      pauseSeconds: 3.25,
    });
    const stopped = [row('poolerPauseBack', { resumedAt: '2026-11-28T09:00:04.000Z', resumedOn: 'target' }, { undone: true })];
    assert.deepEqual(
      {
        state: poolerPausesOf(stopped, 'poolerPauseBack').get('sales')?.state,
        on: poolerPausesOf(stopped, 'poolerPauseBack').get('sales')?.resumedOn,
      },
      { state: 'resumedOnSource', on: 'target' },
    );
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

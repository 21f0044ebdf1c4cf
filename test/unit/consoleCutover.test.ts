// What the console says of a cutover before and while it runs (provider/console/view.ts): the
// confirmation names the fallback window the runner's spec opens (or that none opens) and, with a
// pooler, that the applications pause instead of getting errors; the steps show the pooler's pause
// as the footprint ledger records it (footprint/poolerPause.ts poolerPausesOf), in the cutover's order.
import assert from 'node:assert/strict';
import { migrationPage } from '../../provider/console/view';
import type { CutoverPlan, DatabaseDetails, MigrationStatus } from '../../provider/engine';
import { poolerPausesOf } from '../../provider/engine/footprint/poolerPause';
import type { LedgerEntry } from '../../provider/engine/footprint/ledger';

const ONE_TABLE = { total: 1, queued: 0, loading: 0, completed: 1, errored: 0 };
const NOTHING_MOVED = { rowsCopied: 0, bytesCopied: 0, inserts: 0, updates: 0, deletes: 0 };

function statusWith(plan: CutoverPlan | undefined, database: Partial<DatabaseDetails> = {}, extra: Partial<MigrationStatus> = {}) {
  return {
    name: 'm1',
    state: 'WaitingForUserAction',
    subState: 'WaitingForCutoverTrigger',
    mode: 'Online',
    option: 'Migrate',
    createdAt: '',
    validation: [],
    spec: {},
    ...(plan ? { cutoverPlan: plan } : {}),
    databases: [{ database: 'shop', state: 'InProgress', tables: ONE_TABLE, ...NOTHING_MOVED, ...database }],
    ...extra,
  } as MigrationStatus;
}

const confirmation = (plan: CutoverPlan | undefined) => migrationPage(statusWith(plan), [], new Map()).actions.cutover.effect;

function pauseRow(detail: Record<string, unknown>, marks: { undone?: boolean; kept?: boolean } = {}): LedgerEntry<unknown> {
  return {
    change: 'poolerPause',
    database: 'shop',
    object: 'shop',
    undo: { host: '10.0.0.4', port: '5432' },
    detail,
    madeAt: new Date('2026-11-28T07:00:00.000Z'),
    undone: marks.undone === true,
    kept: marks.kept === true,
  };
}

describe('console: what a cutover will do and its steps', () => {
  it('the confirmation names the fallback window the cutover opens, with its length, and the fence', () => {
    const words = confirmation({ fallbackWindow: '24h', fenceWriters: true, pooler: false });
    assert.match(words, /It opens a fallback window of 24h: until it ends, or you fall back or close it/);
    assert.match(words, /The source is fenced first/);
    assert.doesNotMatch(words, /pooler/);
  });

  it('the confirmation says that no window opens, and with a pooler that the applications pause instead of getting errors', () => {
    const words = confirmation({ fenceWriters: false, pooler: true });
    assert.match(words, /It opens no fallback window: once cut over there is no falling back/);
    assert.match(words, /connected through the pooler \(PgBouncer\) pause instead of getting errors: their statements wait/);
    assert.doesNotMatch(confirmation({ fenceWriters: false, pooler: false }), /pooler|fenced first/);
  });

  it('the confirmation without a runner that said its plan names no length it does not know', () => {
    const words = confirmation(undefined);
    assert.match(words, /A migration created with fallbackWindow opens its window then/);
    assert.doesNotMatch(words, /opens no fallback window|pause instead/);
  });

  it("reads the pooler's pause from the ledger: paused, switched once its lines point at the target, resumed once kept, given back on the source", () => {
    const state = (row: LedgerEntry<unknown>) => poolerPausesOf([row]).get('shop')?.state;
    assert.equal(state(pauseRow({})), 'paused');
    assert.equal(state(pauseRow({ switchedAt: '2026-11-28T07:00:05.000Z' })), 'switched');
    assert.equal(state(pauseRow({ switchedAt: '2026-11-28T07:00:05.000Z' }, { kept: true })), 'resumed');
    assert.equal(state(pauseRow({}, { undone: true })), 'resumedOnSource');
    // another change's rows are not the pooler's
    assert.equal(poolerPausesOf([{ ...pauseRow({}), change: 'writerFence' }]).size, 0);
    assert.deepEqual(poolerPausesOf([pauseRow({ switchedAt: '2026-11-28T07:00:05.000Z' })]).get('shop'), {
      state: 'switched',
      poolerDatabases: ['shop'],
      pausedAt: '2026-11-28T07:00:00.000Z',
      switchedAt: '2026-11-28T07:00:05.000Z',
    });
  });

  it("shows the pooler's pause among the cutover's steps in the order the cutover takes them", () => {
    const steps = (database: Partial<DatabaseDetails>) =>
      migrationPage(
        statusWith({ fenceWriters: false, pooler: true }, database, { cutoverRequested: true }),
        [],
        new Map(),
      ).databases[0]!.cutoverSteps!.map((s) => `${s.step}=${s.state}`);
    const pause = (state: 'paused' | 'switched' | 'resumed' | 'resumedOnSource') => ({
      poolerPause: { state, poolerDatabases: ['shop'], pausedAt: '2026-11-28T07:00:00.000Z' },
    });
    assert.deepEqual(steps({}), ['drain and sequences=now', 'verification=next', 'release=next']);
    assert.deepEqual(steps(pause('paused')), [
      'pooler paused=done',
      'drain and sequences=now',
      'verification=next',
      'pooler switched to the target=next',
      'pooler resumed=next',
      'release=next',
    ]);
    // past the point of no return, killed before RESUME: everything up to the switch done
    const switched = steps({ ...pause('switched'), cutoverStep: 'released' });
    assert.deepEqual(
      switched.slice(0, 4).map((x) => x.split('=')[1]),
      ['done', 'done', 'done', 'done'],
    );
    assert.deepEqual(switched.slice(3), ['pooler switched to the target=done', 'pooler resumed=now', 'release=next']);
    assert.deepEqual(
      steps({ ...pause('resumed'), cutoverStep: 'released', state: 'Succeeded' }).every((s) => s.endsWith('=done')),
      true,
    );
    // a pause a roll-back gave back, the cutover asked again: the pause is to come again
    assert.equal(steps(pause('resumedOnSource'))[0], 'pooler paused=now');
  });
});

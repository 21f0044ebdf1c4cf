// The transitions of a fallback window at one look of the reverse supervisor (flow/afterCutover.ts
// WINDOW), read from the window as the catalog has it and its reverse stream alone (pure): which
// event moves it, to which state, and where the stream goes on with nothing to do but its figures.
// And the runner's course past a cutover (LIFE): a step that throws there never ends the run on an
// error, whether the runner cut over itself or was resumed at the window, since the orchestrator
// would record a Succeeded migration as Failed.
import assert from 'node:assert/strict';
import type { CatalogConnection } from '../../provider/engine/control/connection';
import type { FallbackWindow } from '../../provider/engine/control/fallbackWindows';
import type { FallbackRun, ReverseStream } from '../../provider/engine/flow/fallBackStep';
import { followLife, windowTransition } from '../../provider/engine/flow/afterCutover';
import type { MigrationSpec } from '../../provider/engine/input/migrationSpec';

const NOW = Date.parse('2026-11-28T04:00:00Z');

function windowOf(state: FallbackWindow['state'], more: Partial<FallbackWindow> = {}): FallbackWindow {
  return {
    database: 'db',
    state,
    openedAt: new Date(NOW - 3_600_000),
    endsAt: new Date(NOW + 3_600_000),
    closeRequested: false,
    fallBackRequested: false,
    fallBackReleased: false,
    forwardAgain: false,
    forwardReopened: false,
    ...more,
  };
}

/** A reverse stream as the supervisor holds it: started `agoMs` before now, applied up to `applied`. */
function streamOf(more: Partial<ReverseStream> = {}, agoMs = 1000, applied = 0x100n): ReverseStream {
  const applier = { stats: () => ({ appliedLsn: applied, confirmedLsn: 0n }) } as unknown as ReverseStream['applier'];
  return { database: 'db', applier, startedAt: NOW - agoMs, done: Promise.resolve('stopped'), ...more };
}

/** The event and the state it moves to, or 'streams on'. */
function taken(window: FallbackWindow, stream: ReverseStream): string {
  const t = windowTransition(window, stream, NOW);
  return t === undefined ? 'streams on' : `${t.event} -> ${t.to}`;
}

describe('a fallback window at one look (flow/afterCutover.ts)', () => {
  it('streams on while Open and nothing is asked; a window falling back only has its figures recorded', () => {
    assert.equal(taken(windowOf('Open'), streamOf()), 'streams on');
    assert.equal(taken(windowOf('FallingBack'), streamOf({ ended: 'stopped' })), 'streams on');
  });

  it('closes when asked or when the window passes, from every live state, the ask first', () => {
    for (const state of ['Open', 'Stopped', 'FallingBack'] as const) {
      assert.equal(taken(windowOf(state, { closeRequested: true }), streamOf()), 'close asked -> Closed');
      assert.equal(taken(windowOf(state, { endsAt: new Date(NOW) }), streamOf({ ended: new Error('x') })), 'the window passes -> Closed');
    }
    assert.equal(taken(windowOf('Open', { closeRequested: true, endsAt: new Date(NOW - 1) }), streamOf()), 'close asked -> Closed');
  });

  it('stops an Open window whose stream ended, then tries it again when its wait is over', () => {
    assert.equal(taken(windowOf('Open'), streamOf({ ended: new Error('duplicate key') })), 'the reverse stream stopped -> Stopped');
    assert.equal(taken(windowOf('Stopped'), streamOf({ ended: new Error('again') })), 'the stream tried again stopped -> Stopped');
    assert.equal(taken(windowOf('Stopped'), streamOf({ ended: new Error('x'), retryAt: NOW + 1 })), 'its try is not due yet -> Stopped');
    assert.equal(taken(windowOf('Stopped'), streamOf({ ended: new Error('x'), retryAt: NOW })), 'its try is due -> Stopped');
  });

  it('is Open again once the stream tried again applies past its stop, or runs ten seconds without failing', () => {
    const stopped = windowOf('Stopped', { stoppedLsn: '0/100' });
    assert.equal(taken(stopped, streamOf({}, 1000, 0x100n)), 'streams on');
    assert.equal(taken(stopped, streamOf({}, 1000, 0x101n)), 'the reverse stream recovered -> Open');
    assert.equal(taken(windowOf('Stopped'), streamOf({}, 10_000)), 'the reverse stream recovered -> Open');
    assert.equal(windowTransition(stopped, streamOf({}, 10_000), NOW)?.figures, true);
  });
});

describe('a fallback window at each step of a fall-back (flow/afterCutover.ts WINDOW, by the fall-back)', () => {
  const course = { began: NOW, clock: { done: () => undefined, steps: () => '' } };
  const step = (window: FallbackWindow, stream: ReverseStream): string => {
    const t = windowTransition(window, stream, NOW, 'fall-back');
    return t === undefined ? 'none' : `${t.event} -> ${t.to}`;
  };

  it('begins FallingBack from Open or a fall-back under way, then FellBack once released or Open again when it stopped', () => {
    assert.equal(step(windowOf('Open', { fallBackRequested: true }), streamOf()), 'fall-back asked -> FallingBack');
    assert.equal(step(windowOf('FallingBack', { fallBackReleased: true }), streamOf()), 'fall-back asked -> FallingBack');
    assert.equal(
      step(windowOf('FallingBack'), streamOf({ fallBack: { ...course, end: 'released' } })),
      'the old source released -> FellBack',
    );
    assert.equal(
      step(windowOf('FallingBack'), streamOf({ fallBack: { ...course, end: { error: new Error('verification failed') } } })),
      'the fall-back stopped before anything irreversible -> Open',
    );
    assert.equal(step(windowOf('Stopped'), streamOf()), 'none');
  });

  it('is never taken at a look: the fall-back moves the windows only at its hand-off', () => {
    assert.equal(taken(windowOf('Open', { fallBackRequested: true }), streamOf()), 'streams on');
    assert.equal(taken(windowOf('FallingBack'), streamOf({ fallBack: { ...course, end: 'released' } })), 'streams on');
  });
});

describe('the life after cutover of a resumed runner (flow/afterCutover.ts LIFE)', () => {
  it('ends with a warning that names the fix, never an error, when the window step fails past the cutover', async () => {
    // the catalog refuses the windows' read with an error no retry gets past
    const refusal = Object.assign(new Error('permission denied for table fallback_window'), { code: '42501', severity: 'ERROR' });
    const store = { query: () => Promise.reject(refusal) } as unknown as CatalogConnection;
    const warnings: string[] = [];
    const run: FallbackRun = {
      spec: { migrationName: 'm' } as MigrationSpec,
      store,
      instance: undefined,
      signal: new AbortController().signal,
      onProgress: () => undefined,
      warn: async (message) => void warnings.push(message),
    };
    const streamForward = () => Promise.reject(new Error('a resumed runner past the cutover does not stream forward'));
    await followLife('WindowOpen', { streamForward }, run);
    assert.deepEqual(warnings, [
      'the reverse stream stopped: permission denied for table fallback_window; the fallback window stays open with its slot: fix the cause, then pgferry resume (docs/fallback.md)',
    ]);
  });
});

// The transitions of a fallback window at one look of the reverse supervisor (flow/afterCutover.ts
// WINDOW), read from the window as the catalog has it and its reverse stream alone (pure): which
// event moves it, to which state, and where the stream goes on with nothing to do but its figures.
// A fall-back past its point of no return (fall_back_released) is never stopped: a step that fails
// there is tried again after the back-off, whatever the window's end. And the runner's course past a
// cutover (LIFE): a step that throws there never ends the run on an error, whether the runner cut
// over itself or was resumed at the window, since the orchestrator would record a Succeeded
// migration as Failed; it keeps following the windows, and reads them again while the catalog is away.
import assert from 'node:assert/strict';
import type { CatalogConnection } from '../../provider/engine/control/connection';
import type { FallbackWindow } from '../../provider/engine/control/fallbackWindows';
import { fallBackAgain, type ReverseStream } from '../../provider/engine/flow/fallBackStep';
import type { SwitchoverRun } from '../../provider/engine/run/migrationRun';
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
  return { database: 'db', applier, startedAt: NOW - agoMs, requestsSeen: 0, done: Promise.resolve('stopped'), ...more };
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

  it('never closes a window whose fall-back is past its point of no return when the window passes: the fall-back finishes', () => {
    const released = windowOf('FallingBack', { fallBackRequested: true, fallBackReleased: true, endsAt: new Date(NOW - 1) });
    assert.equal(taken(released, streamOf({ ended: 'cutover' })), 'streams on');
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

  it('never lifts the fence past the point of no return: a failed release or completion stays FallingBack and is tried again when due', () => {
    const failed = { error: new Error('the release failed') };
    const released = { ...course, released: true, end: failed };
    const past = 'a step past the point of no return failed -> FallingBack';
    const due = 'its try past the point of no return is due -> FallingBack';
    // recorded by this runner's course, or read from the catalog (a resumed runner)
    assert.equal(step(windowOf('FallingBack'), streamOf({ fallBack: released })), past);
    assert.equal(step(windowOf('FallingBack', { fallBackReleased: true }), streamOf({ fallBack: { ...course, end: failed } })), past);
    // the completion failed after it recorded FellBack: recorded whole again
    assert.equal(
      step(windowOf('FellBack', { fallBackReleased: true }), streamOf({ fallBack: { ...released, oldSourceReleased: true } })),
      past,
    );
    assert.equal(step(windowOf('FallingBack'), streamOf({ fallBack: { ...released, tries: 1, retryAt: NOW + 1 } })), 'none');
    assert.equal(step(windowOf('FallingBack'), streamOf({ fallBack: { ...released, tries: 1, retryAt: NOW } })), due);
    assert.equal(
      step(windowOf('FellBack', { fallBackReleased: true }), streamOf({ fallBack: { ...released, tries: 3, retryAt: NOW } })),
      due,
    );
    // before the point of no return the same error stops the fall-back
    assert.equal(
      step(windowOf('FallingBack'), streamOf({ fallBack: { ...course, end: failed } })),
      'the fall-back stopped before anything irreversible -> Open',
    );
  });

  it('past the point of no return with nothing failed: the forward stream made again when asked, then the old source released', () => {
    const verified = { ...course, released: true };
    const forward = 'past the point of no return, the forward stream asked again -> FallingBack';
    const release = 'past the point of no return -> FallingBack';
    assert.equal(step(windowOf('FallingBack', { forwardAgain: true }), streamOf({ fallBack: verified })), forward);
    assert.equal(
      step(windowOf('FallingBack', { forwardAgain: true }), streamOf({ fallBack: { ...verified, forward: '0/5000' } })),
      release,
    );
    assert.equal(step(windowOf('FallingBack', { fallBackReleased: true }), streamOf({ fallBack: verified })), release);
    // released: only the completion is left
    assert.equal(
      step(windowOf('FallingBack'), streamOf({ fallBack: { ...verified, oldSourceReleased: true, end: 'released' } })),
      'the old source released -> FellBack',
    );
  });

  it('goes on at the row where a step past the point of no return failed once its try is due, past it by the catalog alone too', () => {
    const failed = { error: new Error('the release failed') };
    const due = { ...course, end: failed, tries: 1, retryAt: NOW };
    const window = windowOf('FallingBack', { fallBackReleased: true, forwardAgain: true });
    const stream = streamOf({ fallBack: due });
    assert.equal(step(window, stream), 'its try past the point of no return is due -> FallingBack');
    fallBackAgain(stream);
    assert.equal(step(window, stream), 'past the point of no return, the forward stream asked again -> FallingBack');
    const made = streamOf({ fallBack: { ...due, released: true, forward: '0/5000' } });
    fallBackAgain(made);
    assert.equal(step(window, made), 'past the point of no return -> FallingBack');
    const completion = streamOf({ fallBack: { ...due, released: true, oldSourceReleased: true } });
    fallBackAgain(completion);
    assert.equal(step(window, completion), 'the old source released -> FellBack');
  });

  it('is never taken at a look: the fall-back moves the windows only at its hand-off', () => {
    assert.equal(taken(windowOf('Open', { fallBackRequested: true }), streamOf()), 'streams on');
    assert.equal(
      taken(windowOf('FallingBack', { forwardAgain: true }), streamOf({ fallBack: { ...course, released: true } })),
      'streams on',
    );
    assert.equal(taken(windowOf('FallingBack'), streamOf({ fallBack: { ...course, end: 'released' } })), 'streams on');
  });
});

describe('the life after cutover of a resumed runner (flow/afterCutover.ts LIFE)', () => {
  const streamForward = () => Promise.reject(new Error('a resumed runner past the cutover does not stream forward'));

  function runOf(store: CatalogConnection, stop: AbortController, warnings: string[]): SwitchoverRun {
    return {
      spec: { migrationName: 'm' } as MigrationSpec,
      store,
      instance: undefined,
      signal: stop.signal,
      onProgress: () => undefined,
      warn: async (message) => void warnings.push(message),
    };
  }

  it('keeps following the windows after the window step fails, with a warning that names the fix, never an error, until the run is stopped', async () => {
    // the catalog refuses the windows' read with an error no retry gets past; the run is stopped at its second read
    const refusal = Object.assign(new Error('permission denied for table fallback_window'), { code: '42501', severity: 'ERROR' });
    const stop = new AbortController();
    let reads = 0;
    const query = () => {
      if (++reads === 2) stop.abort();
      return Promise.reject(refusal);
    };
    const store = { query, tableExists: query } as unknown as CatalogConnection;
    const warnings: string[] = [];
    await followLife('WindowOpen', { streamForward }, runOf(store, stop, warnings));
    assert.equal(reads, 2, 'the windows read again after the back-off');
    assert.deepEqual(warnings, [
      'the reverse stream stopped: permission denied for table fallback_window; the runner tries again by itself in 5 s, then at doubling intervals up to 5 min, the fallback window open with its slot meanwhile: fix the cause (docs/fallback.md)',
    ]);
  });

  it('reads the windows again while the catalog is away when it resumes, then goes on to the end of its course', async () => {
    // the first read meets a target restarting; the catalog then answers with no window live
    const away = Object.assign(new Error('the database system is starting up'), { code: '57P03', severity: 'FATAL' });
    const asked: string[] = [];
    const store = {
      install: async () => undefined,
      catalogExists: async () => false,
      // no catalog: every read of a migration is none (control/connection.ts)
      ifCatalog: async <T>(_read: () => Promise<T>, none: T) => none,
      query: async (sql: string) => {
        asked.push(sql.includes('to_regclass') ? 'windows' : 'other');
        if (asked.length === 1) throw away;
        return sql.includes('to_regclass') ? [{ ok: true }] : [];
      },
      // the catalog's own look at the windows' table (control/connection.ts), asked as a statement here
      async tableExists(this: CatalogConnection, table: string) {
        return (await this.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [table]))[0]?.ok ?? false;
      },
    } as unknown as CatalogConnection;
    const warnings: string[] = [];
    await followLife('WindowOpen', { streamForward }, runOf(store, new AbortController(), warnings));
    assert.deepEqual(asked.slice(0, 3), ['windows', 'windows', 'other'], 'read again, then the rest of the course');
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0]!,
      /^fallback window: reading the windows is tried again \(try 2, \d+ s after it first failed\): the database system is starting up/,
    );
  });
});

// The fault campaign's bystander (faults/bystander.ts), its pure parts: which kinds a trial can
// draw (the read-write client only where the cutover fences, window moments only in a fallback
// trial), a share of 0 drawing none, the same seed drawing the same, and the harm named from what
// the bystander made against what a server holds at the end: intact, dropped, changed, lost, added.
import assert from 'node:assert/strict';
import {
  BYSTANDER_KINDS,
  bystanderExcludedTables,
  bystanderHarm,
  bystanderKindsNamed,
  drawBystanders,
  type BystanderDraw,
  type BystanderSnapshot,
} from '../../faults/bystander';
import { makeRng, trialSeed } from '../../faults/rng';

const seeds = Array.from({ length: 200 }, (_, i) => trialSeed(62, i));

describe('fault campaign bystander', () => {
  it('draws one to three distinct kinds per trial, the read-write client only in fenced trials and window moments only in fallback trials', () => {
    const seen = new Set<string>();
    for (const seed of seeds) {
      for (const ctx of [
        { fenced: false, fallback: false },
        { fenced: true, fallback: false },
        { fenced: true, fallback: true },
      ]) {
        const draws = drawBystanders(makeRng(seed).fork('bystander'), ctx, 1);
        assert.ok(draws.length >= 1 && draws.length <= 3, `${draws.length} kinds`);
        assert.equal(new Set(draws.map((d) => d.kind)).size, draws.length, 'distinct kinds');
        for (const d of draws) {
          seen.add(`${d.kind}@${d.moment}`);
          if (d.kind === 'read-write-writer') assert.ok(ctx.fenced, 'the read-write client without a fence');
          if (d.moment === 'window') assert.ok(ctx.fallback, 'a window moment outside a fallback trial');
          assert.ok(d.delayMs >= 0 && d.delayMs <= 6000, `delay ${d.delayMs}`);
        }
      }
    }
    for (const kind of BYSTANDER_KINDS)
      assert.ok(
        [...seen].some((s) => s.startsWith(`${kind}@`)),
        `${kind} never drawn`,
      );
    for (const moment of ['before', 'streaming', 'cutover', 'window'])
      assert.ok(
        [...seen].some((s) => s.endsWith(`@${moment}`)),
        `${moment} never drawn`,
      );
  });

  it('replays a seed exactly, draws none at share 0 or with never, and the kinds named otherwise', () => {
    const ctx = { fenced: true, fallback: true };
    for (const seed of seeds.slice(0, 20)) {
      assert.deepEqual(drawBystanders(makeRng(seed), ctx, 1), drawBystanders(makeRng(seed), ctx, 1));
      assert.deepEqual(drawBystanders(makeRng(seed), ctx, 0), []);
      assert.deepEqual(drawBystanders(makeRng(seed), ctx, 1, 'never'), []);
    }
    const named = drawBystanders(makeRng(1), { fenced: false, fallback: false }, 0, 'dba-column,read-write-writer');
    assert.deepEqual(
      named.map((d) => d.kind),
      ['dba-column'],
      'a named kind that does not apply (no fence) is left out',
    );
    assert.throws(() => bystanderKindsNamed('dba-column,nope'), /--bystander: .*got "nope"/);
    assert.deepEqual(bystanderExcludedTables(named), []);
    assert.deepEqual(bystanderExcludedTables(drawBystanders(makeRng(1), ctx, 0, 'source-fk-table')), ['bystander_refs']);
  });

  it('draws the window TRUNCATE of the foreign key table in fallback trials except those whose fault is at a fall-back step, the rest of each draw the same', () => {
    let fkDraws = 0;
    for (const seed of seeds) {
      const window = drawBystanders(makeRng(seed).fork('bystander'), { fenced: true, fallback: true }, 1);
      const fallsBack = drawBystanders(makeRng(seed).fork('bystander'), { fenced: true, fallback: true, fallsBack: true }, 1);
      const forward = drawBystanders(makeRng(seed).fork('bystander'), { fenced: true, fallback: false }, 1);
      assert.deepEqual(
        fallsBack.map((d) => ({ ...d, truncatesInWindow: undefined, fixesFallBackStop: undefined })),
        window.map((d) => ({ ...d, truncatesInWindow: undefined, fixesFallBackStop: undefined })),
        `seed ${seed}: the same kinds, moments, delays, variants and databases`,
      );
      for (const d of window) assert.equal(d.truncatesInWindow, d.kind === 'source-fk-table', `seed ${seed}: ${d.kind} in a window`);
      for (const d of [...fallsBack, ...forward]) assert.equal(d.truncatesInWindow, false, `seed ${seed}: ${d.kind} truncates`);
      fkDraws += window.filter((d) => d.kind === 'source-fk-table').length;
    }
    assert.ok(fkDraws > 0, 'the foreign key table never drawn');
    const named = drawBystanders(makeRng(1), { fenced: false, fallback: true, fallsBack: true }, 0, 'source-fk-table');
    assert.deepEqual(
      named.map((d) => [d.kind, d.truncatesInWindow]),
      [['source-fk-table', false]],
      'named, it is still made, without the TRUNCATE',
    );
  });

  it("has the DBA answer the fall-back's stop on their column or table with its printed fix only in trials whose fault is at a fall-back step, the rest of each draw the same", () => {
    const answering = new Set(['dba-column', 'dba-table']);
    let answered = 0;
    for (const seed of seeds) {
      const draw = (ctx: { fenced: boolean; fallback: boolean; fallsBack?: boolean }) =>
        drawBystanders(makeRng(seed).fork('bystander'), ctx, 1);
      const window = draw({ fenced: true, fallback: true });
      const fallsBack = draw({ fenced: true, fallback: true, fallsBack: true });
      const forward = draw({ fenced: true, fallback: false });
      const drawn = (d: BystanderDraw) => [d.kind, d.moment, d.delayMs, d.variant, d.database];
      assert.deepEqual(fallsBack.map(drawn), window.map(drawn), `seed ${seed}: the same kinds, moments, delays, variants and databases`);
      for (const d of fallsBack) assert.equal(d.fixesFallBackStop, answering.has(d.kind), `seed ${seed}: ${d.kind} at a fall-back step`);
      for (const d of [...window, ...forward]) assert.equal(d.fixesFallBackStop, false, `seed ${seed}: ${d.kind} elsewhere`);
      answered += fallsBack.filter((d) => d.fixesFallBackStop).length;
    }
    assert.ok(answered > 0, "the DBA's column or table never drawn in a trial at a fall-back step");
    const named = drawBystanders(makeRng(1), { fenced: true, fallback: true, fallsBack: true }, 0, 'dba-column,dba-table,dba-index');
    assert.deepEqual(
      named.map((d) => [d.kind, d.fixesFallBackStop]),
      [
        ['dba-column', true],
        ['dba-table', true],
        ['dba-index', false],
      ],
      'named, the same',
    );
  });

  it('names what was harmed: an object dropped or changed, rows lost, changed or added; nothing when intact', () => {
    const made: BystanderSnapshot = {
      objects: { 'column public.docs.bystander_note': 'text', 'index public.bystander_plain_idx': 'CREATE INDEX ...' },
      rowsLabel: 'values of public.docs.bystander_note',
      rows: { 1: 'a', 2: 'b', 3: 'c' },
    };
    assert.deepEqual(bystanderHarm(made, made), []);
    const harm = bystanderHarm(made, {
      objects: { 'column public.docs.bystander_note': 'integer' },
      rowsLabel: made.rowsLabel,
      rows: { 1: 'a', 2: 'x', 4: 'd' },
    });
    assert.deepEqual(harm, [
      'changed: column public.docs.bystander_note (made as "text", now "integer")',
      'dropped: index public.bystander_plain_idx',
      'lost: 1 of 3 values of public.docs.bystander_note (keys 3)',
      'changed: 1 of 3 values of public.docs.bystander_note (keys 2)',
      'added: 1 values of public.docs.bystander_note it did not write (keys 4)',
    ]);
  });
});

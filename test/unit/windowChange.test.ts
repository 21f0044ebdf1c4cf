// The fault campaign's window change (faults/windowChange.ts), its draw: a trial whose fault is at a
// step of the fall-back answers the stop on the change with its printed fix (closing the windows,
// it would never reach its step), every other trial as drawn, and every seed draws the same kinds
// and delays as before; the fix read out of a stop's message (faults/printedFix.ts); and who answers
// a stop on an object of the new server (faults/fallbackTrial.ts): the user who answers `fix` runs
// the printed fix at every phase, the DBA's objects in it too.
import assert from 'node:assert/strict';
import { printedFix, stoppedOnNewServerObject, stoppedOnReverseStream } from '../../faults/printedFix';
import { makeRng, trialSeed } from '../../faults/rng';
import { stopAnswerer } from '../../faults/fallbackTrial';
import { drawWindowChange } from '../../faults/windowChange';

const seeds = Array.from({ length: 200 }, (_, i) => trialSeed(63, i));

describe('fault campaign window change', () => {
  it('answers fix in trials whose fault is at a fall-back step, as drawn elsewhere (both answers drawn), the kinds and delays the same', () => {
    const answers = new Set<string>();
    for (const seed of seeds) {
      const draw = (fallsBack?: boolean) =>
        drawWindowChange(makeRng(seed).fork('window change'), { fallback: true, ...(fallsBack === undefined ? {} : { fallsBack }) }, 1);
      const window = draw();
      const notFallingBack = draw(false);
      const fallsBack = draw(true);
      assert.ok(window && fallsBack, `seed ${seed}: a change at share 1`);
      assert.deepEqual(notFallingBack, window, `seed ${seed}: fallsBack false draws as before`);
      assert.deepEqual({ ...fallsBack, answer: window.answer }, window, `seed ${seed}: the same kinds and delay`);
      assert.equal(fallsBack.answer, 'fix', `seed ${seed}: answered at a fall-back step`);
      answers.add(window.answer);
    }
    assert.deepEqual([...answers].sort(), ['close', 'fix'], 'both answers drawn where the fault is not at a fall-back step');
  });

  it('keeps a forced answer and draws nothing outside a fallback window or the share', () => {
    const rng = () => makeRng(7).fork('window change');
    assert.equal(drawWindowChange(rng(), { fallback: true, fallsBack: true }, 1, undefined, 'close')?.answer, 'close');
    assert.equal(drawWindowChange(rng(), { fallback: true, fallsBack: true }, 1, 'table', 'fix')?.kinds.join(), 'table,table');
    assert.equal(drawWindowChange(rng(), { fallback: false, fallsBack: false }, 1), undefined);
    assert.equal(drawWindowChange(rng(), { fallback: true, fallsBack: true }, 0), undefined);
    assert.equal(drawWindowChange(rng(), { fallback: true, fallsBack: true }, 1, 'never'), undefined);
  });

  it("reads the printed fix of a column's stop (old source, then new server) and of one table's stop or several tables'", () => {
    const column =
      'fall-back stopped: column public.docs.bystander_note of the new server holds values the old source has no column for (made on the new server alone, the reverse stream leaves it out): ' +
      'a fall-back would leave them behind; fix on the old source: ALTER TABLE "public"."docs" ADD COLUMN "bystander_note" integer DEFAULT 7 NOT NULL; ' +
      'then on the new server: UPDATE "public"."docs" SET "bystander_note" = "bystander_note" WHERE "bystander_note" IS NOT NULL, so the reverse stream carries its values';
    assert.ok(stoppedOnNewServerObject(column));
    assert.deepEqual(printedFix(column), {
      oldSource: 'ALTER TABLE "public"."docs" ADD COLUMN "bystander_note" integer DEFAULT 7 NOT NULL',
      newServer: 'UPDATE "public"."docs" SET "bystander_note" = "bystander_note" WHERE "bystander_note" IS NOT NULL',
    });
    const table =
      'fall-back stopped: table public.bystander_jobs of the new server, made there in the fallback window, holds rows the old source has no table for: ' +
      'fix on the old source: CREATE TABLE "public"."bystander_jobs" ("id" integer NOT NULL, "payload" text NOT NULL); ALTER TABLE "public"."bystander_jobs" ADD PRIMARY KEY ("id"); then fall back again: pgferry update --fall-back';
    assert.ok(stoppedOnNewServerObject(table));
    assert.deepEqual(printedFix(table), {
      oldSource:
        'CREATE TABLE "public"."bystander_jobs" ("id" integer NOT NULL, "payload" text NOT NULL); ALTER TABLE "public"."bystander_jobs" ADD PRIMARY KEY ("id")',
    });
    const tables =
      'fall-back stopped: tables public.app_events, public.bystander_jobs of the new server, made there in the fallback window, hold rows the old source has no table for: ' +
      'fix on the old source: CREATE TABLE "public"."app_events" ("id" integer NOT NULL); CREATE TABLE "public"."bystander_jobs" ("id" integer NOT NULL); then fall back again: the fall-back carries the rows';
    assert.ok(stoppedOnNewServerObject(tables), "several tables, the application's and the DBA's");
    assert.deepEqual(printedFix(tables), {
      oldSource:
        'CREATE TABLE "public"."app_events" ("id" integer NOT NULL); CREATE TABLE "public"."bystander_jobs" ("id" integer NOT NULL)',
    });
    assert.equal(stoppedOnNewServerObject('the reverse stream stopped: TRUNCATE of public.notes refused'), false);
    const reverse =
      'fall-back stopped: the reverse stream of ft_b stopped before the fall-back point: TRUNCATE of public.notes refused: table public.bystander_refs, which the stream does not write, references public.notes by a foreign key';
    assert.ok(stoppedOnReverseStream(reverse), 'a fall-back stopped on its reverse stream');
    assert.equal(stoppedOnNewServerObject(reverse), false);
    assert.equal(stoppedOnReverseStream('fall-back stopped: column public.docs.app_channel text is on the new server'), false);
  });

  it("runs the printed fix of a stop naming the DBA's column beside the application's when the user answers fix, at any phase; closes when the user answers close", () => {
    // campaign seed 2702's trial #6 (reverse-stream phase): the DBA's column and the release's in one stop
    const both =
      'fall-back stopped: column public.docs.bystander_note, public.docs.app_channel of the new server holds values the old source has no column for: ' +
      'fix on the old source: ALTER TABLE "public"."docs" ADD COLUMN "bystander_note" integer DEFAULT 7 NOT NULL; ALTER TABLE "public"."docs" ADD COLUMN "app_channel" text; ' +
      'then on the new server: UPDATE "public"."docs" SET "app_channel" = "app_channel" WHERE "app_channel" IS NOT NULL, so the reverse stream carries its values';
    const dbaAlone =
      'fall-back stopped: table public.bystander_jobs of the new server, made there in the fallback window: fix on the old source: CREATE TABLE x; then fall back again';
    const releaseAlone =
      'fall-back stopped: table public.app_events of the new server: fix on the old source: CREATE TABLE y; then fall back again';
    const release = (fixes: boolean) => ({ fixes, names: (m: string) => m.includes('app_channel') || m.includes('app_events') });
    // not at a step of the fall-back: the DBA does not fix theirs
    assert.equal(stopAnswerer(both, { dbaFixes: false, release: release(true) }), 'release', 'the user answering fix runs the whole fix');
    assert.equal(
      stopAnswerer(dbaAlone, { dbaFixes: false, release: release(true) }),
      'dba',
      "the user answering fix runs the DBA's alone too",
    );
    assert.equal(stopAnswerer(releaseAlone, { dbaFixes: false, release: release(true) }), 'release');
    assert.equal(stopAnswerer(both, { dbaFixes: false, release: release(false) }), 'close', 'the user answering close');
    assert.equal(stopAnswerer(releaseAlone, { dbaFixes: false, release: release(false) }), 'close');
    assert.equal(stopAnswerer(dbaAlone, { dbaFixes: false, release: release(false) }), 'close');
    assert.equal(stopAnswerer(dbaAlone, { dbaFixes: false }), 'close', 'no release, no answer drawn: the user closes');
    // at a step of the fall-back the DBA fixes theirs
    assert.equal(stopAnswerer(dbaAlone, { dbaFixes: true }), 'dba');
    assert.equal(stopAnswerer(both, { dbaFixes: true, release: release(true) }), 'release');
    assert.equal(stopAnswerer(releaseAlone, { dbaFixes: true }), 'none', "nobody made the release's table");
  });
});

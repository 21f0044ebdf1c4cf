// The fault campaign's summary (faults/report.ts), pure: a trial that stopped safely because the
// user closed its fallback windows ends Succeeded with no message of its own, so the summary's
// "stopped safely with:" line and the trial's detail print why the windows were closed instead; a
// trial whose phase never came says how its migration ended instead.
import assert from 'node:assert/strict';
import type { TrialResult } from '../../faults/outcome';
import { summarize, summaryLines, trialDetail } from '../../faults/report';

const CLOSED = 'the reverse stream of shop stopped on a bystander object: the user closed the windows';

function stopped(overrides: Partial<TrialResult>): TrialResult {
  return {
    ...{ index: 1, seed: 7, fault: 'sigkill', faultKind: 'sigkill', phase: 'fallback-open#1' },
    ...{ fired: true, faulted: true, outcome: 'stopped-safely', reasons: [], totalMs: 9_000, resumes: 0, judgements: [] },
    ...{ lostRows: 0, extraRows: 0, changedRows: 0, rowsCompared: 0, actions: [] },
    ...overrides,
  };
}

describe('fault campaign: the summary of trials that stopped safely', () => {
  it('prints why the fallback windows were closed for a trial that stopped so, and the message for another', () => {
    const windows = stopped({ finalState: 'Succeeded', fallback: { requests: 0, fellBack: false, closed: CLOSED, downtimeSeconds: [] } });
    const fixable = stopped({ index: 2, finalState: 'Failed', message: 'stream stopped: fix the column type' });
    const lines = summaryLines(summarize([windows, fixable], 60));
    const at = lines.indexOf('stopped safely with:');
    assert.ok(at >= 0, lines.join('\n'));
    assert.deepEqual(lines.slice(at + 1, at + 3), [
      `  Succeeded: fallback windows closed: ${CLOSED}`,
      '  Failed: stream stopped: fix the column type',
    ]);
    assert.deepEqual(trialDetail(windows, 'replay'), [`      state Succeeded: fallback windows closed: ${CLOSED}`]);
  });

  it("says how a not-reached trial's migration ended, with the user's cancel when they gave up before the phase came", () => {
    const canceled = stopped({
      outcome: 'not-reached',
      fired: false,
      faulted: false,
      finalState: 'Canceled',
      schemaChange: { name: 'add-column-volatile', at: [300], made: true, fixesRun: [], canceled: 'the stream stopped on a column' },
    });
    assert.deepEqual(trialDetail(canceled, 'replay'), [
      '      the phase was never reached (ended Canceled: the user canceled, the stream stopped on a column); not counted',
    ]);
    const succeeded = stopped({ outcome: 'not-reached', fired: false, faulted: false, finalState: 'Succeeded' });
    assert.deepEqual(trialDetail(succeeded, 'replay'), ['      the phase was never reached (ended Succeeded); not counted']);
  });
});

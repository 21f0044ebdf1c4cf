// A runner that loses its lease starts a successor (runner/successor.ts); a line of successors
// that lose the lease again and again within the window stops at the limit instead of looping.
import assert from 'node:assert/strict';
import { SUCCESSIONS_AT_MOST, SUCCESSION_WINDOW_MS, nextSuccession, tooManySuccessions } from '../../provider/engine/runner/successor';

describe('unit: the successor of a runner that lost its lease', () => {
  it('a first successor carries its predecessor, the cause and one loss, and runs', () => {
    const first = nextSuccession(41, 'terminating connection due to administrator command', undefined, 1_000);
    assert.deepEqual(first, { predecessorPid: 41, cause: 'terminating connection due to administrator command', losses: [1_000] });
    assert.equal(tooManySuccessions(first), false);
  });

  it('the successor past the limit within the window stops; the ones before it run', () => {
    let succession = nextSuccession(1, 'ended', undefined, 0);
    const runs: boolean[] = [!tooManySuccessions(succession)];
    for (let i = 2; i <= SUCCESSIONS_AT_MOST + 1; i++) {
      succession = nextSuccession(i, 'ended', succession, i * 1_000);
      runs.push(!tooManySuccessions(succession));
    }
    assert.deepEqual(runs, [...Array<boolean>(SUCCESSIONS_AT_MOST).fill(true), false]);
  });

  it('losses older than the window are forgotten: a lease lost now and then never stops the line', () => {
    let succession = nextSuccession(1, 'ended', undefined, 0);
    for (let i = 1; i <= SUCCESSIONS_AT_MOST * 3; i++) {
      succession = nextSuccession(i, 'ended', succession, i * SUCCESSION_WINDOW_MS);
      assert.equal(tooManySuccessions(succession), false, `loss ${i}`);
    }
    assert.equal(succession.losses.length, 1);
  });
});

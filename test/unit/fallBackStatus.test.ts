// What a fall-back's status says (docs/fallback.md): `show`'s line per database for each state of
// the window, and when `update --fall-back --wait` (and PgMigration) stop waiting: every window
// fell back, or the fall-back stopped (asked no more, its message saying why), or the runner is gone.
import assert from 'node:assert/strict';
import { renderList, renderStatus } from '../../provider/cli/output';
import { migrationPage } from '../../provider/console/view';
import { fallBackSettled, forwardAgainSettled, type FallbackStatus, type MigrationStatus } from '../../provider/engine';

function statusWith(fallback: FallbackStatus, runnerAlive = true): MigrationStatus {
  return {
    name: 'm1',
    state: 'Succeeded',
    subState: 'Completed',
    mode: 'Online',
    option: 'Migrate',
    createdAt: '',
    validation: [],
    spec: {},
    runner: { host: 'h', pid: 1, alive: runnerAlive, heartbeatAt: '' },
    databases: [
      {
        database: 'sales',
        state: 'Succeeded',
        tables: { total: 1, queued: 0, loading: 0, completed: 1, errored: 0 },
        rowsCopied: 0,
        bytesCopied: 0,
        inserts: 0,
        updates: 0,
        deletes: 0,
        fallback,
      },
    ],
  } as MigrationStatus;
}

const ENDS = '2026-11-27T04:00:00.000Z';

describe('fall-back: the status', () => {
  it('shows each state of the window in one line', () => {
    const line = (f: FallbackStatus) =>
      renderStatus(statusWith(f))
        .split('\n')
        .find((l) => l.startsWith('  sales: f'));
    assert.match(
      line({ state: 'Open', endsAt: ENDS, latencySeconds: 0.4 })!,
      /fallback window Open until .* reverse lag .*update --fall-back/,
    );
    assert.match(
      line({ state: 'Stopped', endsAt: ENDS, message: 'the reverse stream stopped: duplicate key' })!,
      /Stopped until .*: the reverse stream stopped: duplicate key \(tried again by itself\)/,
    );
    assert.match(line({ state: 'FallingBack', endsAt: ENDS, fallBackRequested: true })!, /falling back: the target fenced/);
    assert.match(
      line({ state: 'FellBack', endsAt: ENDS, fellBackAt: '2026-11-26T08:00:00.000Z', downtimeSeconds: 2.5 })!,
      /fell back at 2026-11-26T08:00:00.000Z \(downtime 2\.5 ?s\): the old source is the primary again, the target stays fenced/,
    );
    assert.match(
      line({ state: 'FellBack', endsAt: ENDS, fellBackAt: '2026-11-26T08:00:00.000Z', forwardLsn: '0/1961440' })!,
      /the target stays fenced and follows it again from 0\/1961440 \(cut over again with `pgferry update --cutover`\)/,
    );
    assert.match(
      line({ state: 'Open', endsAt: ENDS, message: 'fall-back stopped: verification failed: x' })!,
      /; fall-back stopped: verification failed: x$/,
    );
  });

  it("lists the windows' state in list's FALLBACK column", () => {
    const [head, row] = renderList([statusWith({ state: 'FellBack', endsAt: ENDS })]).split('\n');
    assert.match(head!, /DATABASES +FALLBACK +STARTED/);
    assert.match(row!, / sales +FellBack +/);
    const open = { state: 'Open', endsAt: ENDS, latencySeconds: 0.4, pendingBytes: 12_288, retainedBytes: 83_886_080 } as const;
    const [, live] = renderList([statusWith(open)]).split('\n');
    assert.match(live!, new RegExp(`sales +Open until ${ENDS.replace(/\./g, '\\.')}, lag 0\\.4 s, 12 kB pending, 80 MB retained`));
  });

  it("gives the console each database's window and figures, and Fall back only while a window is open", () => {
    const page = (f: FallbackStatus) => migrationPage(statusWith(f), [], new Map());
    const open = page({ state: 'Open', endsAt: ENDS, latencySeconds: 0.4, pendingBytes: 12_288, retainedBytes: 83_886_080 });
    assert.deepEqual(open.databases[0]!.fallback, {
      state: 'Open',
      endsAt: ENDS,
      latencySeconds: 0.4,
      pendingBytes: 12_288,
      retainedBytes: 83_886_080,
    });
    assert.equal(open.actions.fallBack.allowed, true);
    const why = (f: FallbackStatus) => page(f).actions.fallBack;
    // the engine's own refusals (apiRequests.ts fallBackRefusal), word for word
    assert.match(why({ state: 'Stopped', endsAt: ENDS }).why!, /^the reverse stream of sales is stopped on an error/);
    assert.equal(why({ state: 'Open', endsAt: ENDS, fallBackRequested: true }).why, 'a fall-back is asked already and under way');
    assert.match(why({ state: 'FellBack', endsAt: ENDS }).why!, /^it fell back already/);
    assert.equal(
      why({ state: 'Closed', endsAt: ENDS }).why,
      'its fallback window is closed, and the old source has not followed the target since',
    );
    assert.equal(why({ state: 'Closed', endsAt: ENDS }).allowed, false);
    assert.equal(page({ state: 'Open', endsAt: ENDS }).actions.resumeForward.allowed, true);
    assert.equal(page({ state: 'Open', endsAt: ENDS }).actions.closeWindow.allowed, true);
    assert.match(
      page({ state: 'Closed', endsAt: ENDS }).actions.closeWindow.why!,
      /^has no open fallback window: its window is closed already/,
    );
  });

  it('ends the wait once every window fell back, once the fall-back stopped, or when the runner is gone', () => {
    assert.equal(fallBackSettled(statusWith({ state: 'FellBack', endsAt: ENDS })), true);
    assert.equal(fallBackSettled(statusWith({ state: 'FallingBack', endsAt: ENDS, fallBackRequested: true })), false);
    assert.equal(fallBackSettled(statusWith({ state: 'Open', endsAt: ENDS, fallBackRequested: true })), false, 'asked, not begun');
    assert.equal(fallBackSettled(statusWith({ state: 'Open', endsAt: ENDS, message: 'fall-back stopped: x' })), true, 'stopped');
    assert.equal(fallBackSettled(statusWith({ state: 'FallingBack', endsAt: ENDS }, false)), true, 'no runner');
  });

  it('ends the wait for the forward stream again only once it streams, has ended, or the runner is gone', () => {
    const fellBack = statusWith({ state: 'FellBack', endsAt: ENDS });
    const now = (state: string, subState: string, alive = true): MigrationStatus =>
      ({ ...fellBack, state, subState, runner: { ...fellBack.runner!, alive } }) as MigrationStatus;
    assert.equal(forwardAgainSettled(fellBack), false, 'still Succeeded: not switched yet');
    // the forward stream made again passes through the copy's sub-states: PgMigration's update once returned here
    assert.equal(forwardAgainSettled(now('InProgress', 'PerformingPreRequisiteSteps')), false);
    assert.equal(forwardAgainSettled(now('InProgress', 'MigratingData')), false);
    assert.equal(forwardAgainSettled(now('WaitingForUserAction', 'WaitingForCutoverTrigger')), true);
    assert.equal(forwardAgainSettled(now('Failed', 'Completed')), true);
    assert.equal(forwardAgainSettled(now('InProgress', 'MigratingData', false)), true, 'no runner');
  });
});

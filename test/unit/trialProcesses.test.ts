// How the fault campaign's monitor tells who opened a proxy connection (faults/processes.ts), pure:
// a runner's child caught between its fork and its exec shows the runner's own command line and is
// not a second runner, and a connection is found by its pair of ports, not by its local port, which
// Linux gives to connections to different destinations at once. Both mistakes once failed a CI
// trial with "two runners worked at once" while one runner was copying (issue 68).
import assert from 'node:assert/strict';
import { owningRunner, runners, socketInodeIn, type TrialProcess } from '../../faults/processes';
import { trialTimeline, type TrialResult } from '../../faults/outcome';

const RUNNER = 'node /repo/dist/provider/engine/runner/main.js';
const runner: TrialProcess = { pid: 26080, ppid: 1, state: 'S', command: RUNNER };
/** The runner's child as /proc shows it between fork and exec: the runner's command line, the runner its parent. */
const forking: TrialProcess = { pid: 26184, ppid: 26080, state: 'R', command: RUNNER };
const restore: TrialProcess = { pid: 26185, ppid: 26080, state: 'S', command: 'pg_restore --section=pre-data --dbname=x' };
/** A second runner, started by the user's resume (its parent the CLI). */
const cli: TrialProcess = { pid: 27000, ppid: 900, state: 'S', command: 'node /repo/dist/cli/main.js resume --name t' };
const resumed: TrialProcess = { pid: 27010, ppid: 27000, state: 'R', command: RUNNER };

describe('fault campaign: the processes behind a proxy connection', () => {
  it('counts one runner when its child is caught between fork and exec, and names that runner as the child’s owner', () => {
    const processes = [runner, forking, restore];
    assert.deepEqual(
      runners(processes).map((p) => p.pid),
      [26080],
    );
    assert.equal(owningRunner(26184, processes), 26080);
    assert.equal(owningRunner(26185, processes), 26080);
  });

  it('still counts two runners when the second was started by the CLI, each owning its own children', () => {
    const processes = [runner, restore, cli, resumed, { ...forking, pid: 27020, ppid: 27010 }];
    assert.deepEqual(
      runners(processes).map((p) => p.pid),
      [26080, 27010],
    );
    assert.equal(owningRunner(27020, processes), 27010);
    assert.equal(owningRunner(26185, processes), 26080);
    assert.equal(owningRunner(27000, processes), undefined);
  });

  // /proc/net/tcp's columns: sl, local address, remote address, st, queues, tr, retrnsmt, uid, timeout, inode
  const line = (sl: number, local: number, remote: number, state: string, inode: string): string =>
    `  ${sl}: 0100007F:${local.toString(16).toUpperCase().padStart(4, '0')} 0100007F:${remote.toString(16).toUpperCase().padStart(4, '0')} ${state} 00000000:00000000 00:00000000 00000000   999        0 ${inode} 1 0000000000000000 20 4 30 10 -1`;
  const header = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';
  const SOURCE_PROXY = 40001;
  const TARGET_PROXY = 40002;
  const PORT = 51234;

  it('finds the socket of the connection to the proxy asked for when one local port serves connections to two proxies', () => {
    const table = [
      header,
      line(0, PORT, SOURCE_PROXY, '01', '111'),
      line(1, PORT, TARGET_PROXY, '01', '222'),
      // the proxy's accepted end of the first: its local port is the proxy's
      line(2, SOURCE_PROXY, PORT, '01', '333'),
    ].join('\n');
    assert.equal(socketInodeIn(table, PORT, TARGET_PROXY), '222');
    assert.equal(socketInodeIn(table, PORT, SOURCE_PROXY), '111');
  });

  it('finds no socket for a connection whose client end is gone (TIME_WAIT, no inode) or whose port is another peer’s', () => {
    const table = [header, line(0, PORT, TARGET_PROXY, '06', '0'), line(1, PORT, 5432, '01', '444')].join('\n');
    assert.equal(socketInodeIn(table, PORT, TARGET_PROXY), undefined);
  });

  it('places a finding among the trial’s steps: the fault in place and each command, on the workload’s clock', () => {
    const origin = 1_000_000;
    const result: TrialResult = {
      ...{ index: 2, seed: 1267370779, fault: 'sigkill', faultKind: 'sigkill', phase: 'cutover-marker#1' },
      ...{ fired: true, faulted: true, outcome: 'failed', reasons: [], totalMs: 13_000, resumes: 1, judgements: [] },
      ...{ lostRows: 0, extraRows: 0, changedRows: 0, rowsCompared: 0, origin },
      faultDetail: 'killed 26080',
      faultWindow: { from: 8_200, to: 8_300 },
      actions: [
        { at: origin + 1_500, command: 'create', code: 0 },
        { at: origin + 10_400, command: 'resume', code: 0 },
      ],
    };
    assert.equal(
      trialTimeline(result),
      'timeline: killed 26080 from 8.2 s to 8.3 s, create returned 0 at 1.5 s, resume returned 0 at 10.4 s',
    );
  });
});

// How the fault campaign's monitor tells who opened a proxy connection (faults/processes.ts), pure:
// a runner's child caught between its fork and its exec shows the runner's own command line and is
// not a second runner, and a connection is found by its pair of ports, not by its local port, which
// Linux gives to connections to different destinations at once. Both mistakes once failed a CI
// trial with "two runners worked at once" while one runner was copying (issue 68). An agent's spare
// runner, waiting for a job with the spare's mark on its command line, is no runner with a job:
// counting it as one failed every trial of runtime agents with "two runners alive together".
import assert from 'node:assert/strict';
import { isSpare, owningRunner, runnerProcesses, runners, socketInodeIn, type TrialProcess } from '../../faults/processes';
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

  /** An agent (the CLI's `agent` verb), its spare as /proc shows it while it waits, and the runner an earlier spare of it became. */
  const agent: TrialProcess = {
    pid: 30000,
    ppid: 900,
    state: 'S',
    command: 'node /repo/dist/provider/cli/main.js agent --name ft-agent-1',
  };
  const spare: TrialProcess = { pid: 30010, ppid: 30000, state: 'S', command: `${RUNNER} --spare` };
  /** What /proc shows once the spare has read its input: its title, its arguments without the mark. */
  const handed: TrialProcess = { pid: 30020, ppid: 30000, state: 'S', command: '/usr/bin/node /repo/dist/provider/engine/runner/main.js' };

  it('counts a runner with a job and not the spare its agent keeps waiting beside it, which is still a runner process', () => {
    const processes = [agent, handed, restore, { ...restore, pid: 30021, ppid: 30020 }, spare];
    assert.deepEqual(
      runners(processes).map((p) => p.pid),
      [30020],
    );
    assert.deepEqual(
      runnerProcesses(processes).map((p) => p.pid),
      [30020, 30010],
    );
    assert.equal(isSpare(spare), true);
    assert.equal(isSpare(handed), false);
    assert.equal(owningRunner(30021, processes), 30020);
  });

  it('counts two runners with a job when the second agent handed its spare the migration while the first agent’s runner is alive', () => {
    const other: TrialProcess = { ...agent, pid: 31000, command: 'node /repo/dist/provider/cli/main.js agent --name ft-agent-2' };
    const processes = [agent, handed, spare, other, { ...handed, pid: 31010, ppid: 31000 }, { ...spare, pid: 31020, ppid: 31000 }];
    assert.deepEqual(
      runners(processes).map((p) => p.pid),
      [30020, 31010],
    );
  });

  it('names a spare as the owner of a connection it opened, so its work beside a runner counts as a second runner’s', () => {
    const processes = [agent, handed, spare];
    assert.equal(owningRunner(30010, processes), 30010);
  });

  it('takes the mark for a spare only as an argument of its own, not inside a path', () => {
    assert.equal(isSpare({ ...spare, command: 'node /repo--spare/dist/provider/engine/runner/main.js' }), false);
    assert.equal(isSpare({ ...spare, command: 'node /repo/dist/provider/engine/runner/main.js --spare-x' }), false);
    assert.equal(isSpare({ ...spare, command: 'node /repo/dist/provider/cli/main.js --spare' }), false);
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

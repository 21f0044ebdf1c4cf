// The agents' job queue (pg-boss) stopped while one of its jobs is being worked: an agent told to
// stop while it starts a runner. The job ends first and is completed, then the queue's session
// closes; no statement reaches a closed session (pg-boss does not await a job's completion, so a
// failed one would end the agent) and none opens a session again.
import assert from 'node:assert/strict';
import { AgentQueue } from '../../provider/engine/runner/agentQueue';
import { startCluster, type Cluster } from '../../provider/localpg/cluster';
import { serverSpec, until } from '../support';

describe('agent queue: a stop while a job is worked', function () {
  this.timeout(60_000);
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({ label: 'agent-queue' });
  });
  after(async () => cluster?.stop());

  const queueSessions = async () =>
    (
      await cluster.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'pgferry agent queue'`)
    )[0]!.n;

  it('completes the job once its start ends, then closes its only session and opens none after', async () => {
    const errors: string[] = [];
    const queue = new AgentQueue(serverSpec(cluster), (error) => errors.push(error.message));
    await queue.start();
    let started = false;
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    await queue.serve('stop-mid-job', async () => {
      started = true;
      await released;
    });
    await queue.offer('stop-mid-job');
    await until('the job being worked', async () => started || undefined, 20_000);

    const stopped = queue.stop();
    await new Promise((resolve) => setTimeout(resolve, 700));
    release();
    await stopped;

    const jobs = await cluster.query<{ state: string }>(`SELECT state::text FROM pgferry_jobs.job WHERE name = 'run-stop-mid-job'`);
    assert.deepEqual(
      jobs.map((j) => j.state),
      ['completed'],
    );
    // a late statement (a poll, a maintenance round) would open the session again
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    assert.equal(await queueSessions(), 0);
    assert.deepEqual(errors, []);
  });
});

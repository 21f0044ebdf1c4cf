// Agents run migrations of runtime agents: `pgferry agent` processes on this machine, real servers.
// An agent that holds the source's credentials claims the migration (its start job on the queue),
// starts its runner and runs it to the end; one without them leaves it alone; an agent killed
// mid-chunk is taken over by another, which redoes only that chunk.
import assert from 'node:assert/strict';
import { processAlive, startPair, until } from '../support';
import { AgentLab } from './agentLab';
import { runCli, PGFERRY_JSON } from './helpers';

// The table is split into PARTS parts with room to spare, each part large enough that the proxy
// holds its COPY with rows still to send; copying more rows than that proves nothing more.
const ROWS = 20_000;
const PARTS = 4;

let lab: AgentLab;

/**
 * Several looks of agent `agent` since migration `migration` was registered (it looks once a second
 * and heartbeats every 5 s between looks): its heartbeat in the catalog has moved twice since then.
 */
async function heartbeatsSinceRegistered(agent: string, migration: string): Promise<void> {
  const beatAfter = async (since: string) => {
    const [row] = await lab.pair.target.query<{ at: string | null }>(
      `SELECT (SELECT heartbeat_at::text FROM pgferry.agent WHERE name = $1 AND heartbeat_at > $2::timestamptz) AS at`,
      [agent, since],
    );
    return row!.at ?? undefined;
  };
  const [registered] = await lab.pair.target.query<{ at: string }>(`SELECT created_at::text AS at FROM pgferry.migration WHERE name = $1`, [
    migration,
  ]);
  const first = await until(`a heartbeat of ${agent} after ${migration} was registered`, () => beatAfter(registered!.at), 30_000);
  await until(`another heartbeat of ${agent}, looks in between`, () => beatAfter(first), 30_000);
}

describe('agents claim and run migrations of runtime agents', function () {
  this.timeout(300_000);

  before(async () => {
    lab = new AgentLab(await startPair());
  });
  after(async () => lab?.close());

  it('one agent with the credentials runs a migration of runtime agents to the end; the target equals the source', async () => {
    await lab.sourceDatabase('one', 10_000);
    const agent = await lab.startAgent('solo', lab.sourceUrl('one'));
    const created = Date.now();
    await lab.create('by-one-agent', 'one');
    await until(
      'the agent to start a runner',
      async () => (/migration by-one-agent: runner \d+ started/.test(agent.stderr()) ? true : undefined),
      30_000,
      50,
    );
    const claimedMs = Date.now() - created;
    await lab.waitSucceeded('by-one-agent', agent);
    assert.match(agent.stderr(), /migration by-one-agent: runner \d+ started \(create\)/);
    for (const table of ['wide', 'small']) {
      const source = await lab.tableDigest('one', table, 'source');
      const target = await lab.tableDigest('one', table, 'target');
      assert.deepEqual(target, source, table);
    }
    // the copy items were claimed under the agent's name
    const claims = await lab.pair.target.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pgferry.copy_item WHERE migration = 'by-one-agent' AND state = 'done'`,
    );
    assert.ok(claims[0]!.n >= 2);
    console.log(`      (create to runner started by the agent: ${claimedMs} ms)`);
    await lab.stopAgent(agent);
  });

  it("an agent without the source's credentials leaves the work alone; one with them then runs it", async () => {
    await lab.sourceDatabase('two', 2_000);
    const stranger = await lab.startAgent('stranger', lab.sourceUrl('elsewhere'));
    await lab.create('not-for-stranger', 'two');
    await heartbeatsSinceRegistered('stranger', 'not-for-stranger');
    const waiting = JSON.parse(
      (
        await runCli(
          [
            'show',
            '--name',
            'not-for-stranger',
            '--target-host',
            lab.pair.target.host,
            '--target-port',
            String(lab.pair.target.port),
            '--target-user',
            lab.pair.target.user,
            ...PGFERRY_JSON,
          ],
          lab.targetEnv(),
        )
      ).stdout,
    );
    assert.equal(waiting.state, 'InProgress');
    assert.equal(waiting.runner, undefined, 'no runner was started');
    assert.match(waiting.waiting, /^waiting for an agent with the source's credentials/);
    const jobs = await lab.pair.target.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'pgferry_jobs' AND EXISTS (SELECT 1 FROM pgferry_jobs.job WHERE name = 'run-not-for-stranger')`,
    );
    assert.deepEqual(jobs, [{ n: 0 }], 'no start job was offered');
    const onTarget = await lab.pair.target.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_database WHERE datname = 'two'`);
    assert.deepEqual(onTarget, [{ n: 0 }], 'nothing was copied');
    assert.doesNotMatch(stranger.stderr(), /not-for-stranger/);

    const able = await lab.startAgent('able', lab.sourceUrl('two'));
    await lab.waitSucceeded('not-for-stranger', able);
    const source = await lab.tableDigest('two', 'wide', 'source');
    const target = await lab.tableDigest('two', 'wide', 'target');
    assert.deepEqual(target, source);
    assert.doesNotMatch(stranger.stderr(), /not-for-stranger/, 'the stranger never touched it');
    await lab.stopAgent(stranger);
    await lab.stopAgent(able);
  });

  it('an agent SIGKILLed mid-chunk is taken over by another, which redoes only that chunk and loads no row twice', async () => {
    await lab.sourceDatabase('bulk', ROWS);
    // the first agent reaches the target through a proxy that holds one part's COPY mid-stream
    const hold = await lab.hold(/"wide"/);
    const doomed = await lab.startAgent('doomed', lab.sourceUrl('bulk'), hold.port);
    await lab.create('taken-over', 'bulk', { tableJobs: 2, splitTablesLargerThan: 512 * 1024, splitMaxParts: PARTS });
    await hold.whenHeld();
    const items = () => lab.items('taken-over', 'wide');
    const before = await until('every part but the held one to be done', async () => {
      const rows = await items();
      return rows.length === PARTS && rows.filter((r) => r.state === 'done').length === PARTS - 1 ? rows : undefined;
    });
    const held = await lab.pair.target.query<{ holder: string }>(
      `SELECT holder FROM pgferry.copy_item WHERE migration = 'taken-over' AND state = 'pending' AND table_name LIKE '%wide%'`,
    );
    assert.deepEqual(held, [{ holder: 'doomed' }], 'the unfinished part is held under the agent name');
    const runnerPid = Number(/migration taken-over: runner (\d+) started/.exec(doomed.stderr())![1]);
    // a second agent with the credentials, alive before the kill: the lease keeps it off the migration
    const rescuer = await lab.startAgent('rescuer', lab.sourceUrl('bulk'));
    await new Promise((r) => setTimeout(r, 2_000));
    assert.doesNotMatch(rescuer.stderr(), /taken-over/, 'a held migration is not started twice');

    doomed.child.kill('SIGKILL');
    const killedAt = Date.now();
    await doomed.exited;
    // its runner dies with it (the lifeline), so no process of the dead agent writes any more
    await until('the dead agent runner to exit', async () => (processAlive(runnerPid) ? undefined : true), 10_000, 50);
    await until(
      'the rescuer to resume it',
      async () => (/migration taken-over: runner \d+ started \(resume\)/.test(rescuer.stderr()) ? true : undefined),
      60_000,
      50,
    );
    const takeoverMs = Date.now() - killedAt;
    await lab.waitSucceeded('taken-over', rescuer);

    const source = await lab.tableDigest('bulk', 'wide', 'source');
    const target = await lab.tableDigest('bulk', 'wide', 'target');
    assert.deepEqual(target, source);
    assert.equal(target.n - target.ids, 0, 'rows loaded twice');
    const after = await items();
    assert.ok(after.every((r) => r.state === 'done'));
    const doneBefore = before.filter((r) => r.state === 'done');
    for (const part of doneBefore)
      assert.deepEqual(
        after.find((r) => r.item === part.item),
        part,
        `part ${part.item} not copied again`,
      );
    const redone = after.filter((r) => !doneBefore.some((d) => d.item === r.item));
    assert.equal(redone.length, 1, 'only the held part was copied again');
    assert.ok(redone[0]!.epoch > before.find((r) => r.state === 'pending')!.epoch, 'under a newer claim');
    const rowsRedone = redone[0]!.rows;
    assert.equal(
      after.reduce((sum, r) => sum + r.rows, 0),
      ROWS,
    );
    console.log(`      (SIGKILL to the rescuer's runner started: ${takeoverMs} ms; rows copied again: ${rowsRedone} of ${ROWS})`);
    await lab.stopAgent(rescuer);
  });
});

// One split table copied by several agents: the runner that holds the migration (the coordinator)
// publishes its copy snapshot, and other agents with the source's credentials claim the table's
// parts and copy them in that snapshot. Proxies hold chosen parts mid-COPY so each agent's share
// is known: the first agent's runner holds part 0, the second agent part 1, the third copies the
// rest. Every test reads the rows back from the target.
import assert from 'node:assert/strict';
import { processAlive, startPair, until } from '../support';
import { AgentLab, type Agent, type ItemRow } from './agentLab';
import { runCli, PGFERRY_JSON } from './helpers';

// The table is split into PARTS parts with room to spare, each part large enough that the proxy
// holds its COPY with rows still to send; copying more rows than that proves nothing more.
const ROWS = 30_000;
const PARTS = 6;
const SPLIT = { tableJobs: 1, splitTablesLargerThan: 512 * 1024, splitMaxParts: PARTS };

let lab: AgentLab;

interface HeldRound {
  readonly first: Agent;
  readonly second: Agent;
  readonly third: Agent;
  readonly release: () => void;
  /** Closes the second agent's proxy: its connections end, as a killed process's do without one. */
  readonly cutSecond: () => Promise<void>;
  /** The wide table's items once the third agent copied every part not held. */
  readonly before: ItemRow[];
}

/**
 * Three agents on one migration: `first` runs it (its COPY of part 0 held), `second` helps (its
 * COPY of part 1 held), `third` helps with the rest. Resolves once every part but the two held is done.
 */
async function heldRound(database: string, migration: string, extra: Record<string, unknown> = {}): Promise<HeldRound> {
  await lab.sourceDatabase(database, ROWS);
  const url = lab.sourceUrl(database);
  const firstHold = await lab.hold(/"wide"/);
  const first = await lab.startAgent(`${migration}-1`, url, firstHold.port);
  await lab.create(migration, database, { ...SPLIT, ...extra });
  await firstHold.whenHeld();
  const secondHold = await lab.hold(/"wide"/);
  // one item at a time: its one COPY held, it cannot take the parts left for the third (at the
  // default concurrency of 2 its second slot copied them all whenever the third started late)
  const second = await lab.startAgent(`${migration}-2`, url, secondHold.port, ['--concurrency', '1']);
  await secondHold.whenHeld();
  const third = await lab.startAgent(`${migration}-3`, url);
  const before = await until(
    'every part but the two held to be done',
    async () => {
      const rows = await lab.items(migration, 'wide');
      return rows.length === PARTS && rows.filter((r) => r.state === 'done').length === PARTS - 2 ? rows : undefined;
    },
    120_000,
    100,
  );
  return {
    first,
    second,
    third,
    before,
    release: () => {
      firstHold.release();
      secondHold.release();
    },
    cutSecond: () => secondHold.close(),
  };
}

async function assertSameRows(database: string): Promise<void> {
  for (const table of ['wide', 'small']) {
    const source = await lab.tableDigest(database, table, 'source');
    const target = await lab.tableDigest(database, table, 'target');
    assert.deepEqual(target, source, table);
    assert.equal(target.n, target.ids, `${table}: rows loaded twice`);
  }
}

describe('one split table copied by several agents in the coordinator snapshot', function () {
  this.timeout(300_000);

  before(async () => {
    lab = new AgentLab(await startPair());
  });
  after(async () => lab?.close());

  it("three agents copy the table's parts; the target equals the source and the holders name all three", async () => {
    const round = await heldRound('three', 'by-three');
    assert.deepEqual(
      round.before.map((r) => (r.state === 'done' ? r.holder : 'held')),
      ['held', 'held', 'by-three-3', 'by-three-3', 'by-three-3', 'by-three-3'],
    );
    // show names the part each agent holds
    const shown = await runCli(['show', '--name', 'by-three', ...lab.targetFlags(), ...PGFERRY_JSON], lab.targetEnv());
    const agents = (JSON.parse(shown.stdout) as { agents: { name: string; items: string[] }[] }).agents;
    assert.deepEqual(
      agents.map((a) => [a.name, a.items]),
      [
        ['by-three-1', ['three: public.wide part 1/6']],
        ['by-three-2', ['three: public.wide part 2/6']],
        ['by-three-3', []],
      ],
    );
    round.release();
    await lab.waitSucceeded('by-three', round.first, round.second, round.third);
    await assertSameRows('three');
    const after = await lab.items('by-three', 'wide');
    assert.deepEqual(
      after.map((r) => [r.state, r.holder]),
      [['done', 'by-three-1'], ['done', 'by-three-2'], ...Array.from({ length: PARTS - 2 }, () => ['done', 'by-three-3'])],
    );
    assert.equal(
      after.reduce((sum, r) => sum + r.rows, 0),
      ROWS,
    );
    assert.match(round.third.stderr(), /migration by-three: database three: helped with \d+ item\(s\)/);
    for (const agent of [round.first, round.second, round.third]) await lab.stopAgent(agent);
  });

  it('a helping agent SIGKILLed mid-part: another copies that part again, and no row is loaded twice', async () => {
    const round = await heldRound('helperdies', 'helper-dies');
    const heldBySecond = round.before[1]!;
    round.second.child.kill('SIGKILL');
    const killedAt = Date.now();
    await round.second.exited;
    // the proxy holding its COPY would keep the dead agent's server session open; without a proxy
    // the kernel closes a killed process's sockets and the server ends the session
    await round.cutSecond();
    const redone = await until(
      'the dead helper part to be copied again',
      async () => {
        const part = (await lab.items('helper-dies', 'wide'))[1]!;
        return part.state === 'done' ? part : undefined;
      },
      60_000,
      100,
    );
    const takeoverMs = Date.now() - killedAt;
    assert.equal(redone.holder, 'helper-dies-3', 'the live helper took the part over');
    assert.ok(redone.epoch > heldBySecond.epoch, 'under a newer claim');
    round.release();
    await lab.waitSucceeded('helper-dies', round.first, round.third);
    await assertSameRows('helperdies');
    const after = await lab.items('helper-dies', 'wide');
    for (const part of round.before.filter((r) => r.state === 'done'))
      assert.deepEqual(
        after.find((r) => r.item === part.item),
        part,
        `part ${part.item} not copied again`,
      );
    console.log(`      (SIGKILL of the helper to its part copied again by another: ${takeoverMs} ms)`);
    for (const agent of [round.first, round.third]) await lab.stopAgent(agent);
  });

  it("online: the agents copy the parts at the slot's snapshot, changes made meanwhile stream, and the cutover leaves target = source", async () => {
    const round = await heldRound('onlinesplit', 'online-split', { mode: 'Online' });
    // changes after the slot's snapshot, while two parts are still held: they must come by the stream
    await lab.pair.source.query(
      `INSERT INTO public.wide SELECT g, 'late ' || g FROM generate_series(${ROWS + 1}, ${ROWS + 500}) g;
       UPDATE public.wide SET pad = 'changed' WHERE id % 97 = 0;
       DELETE FROM public.wide WHERE id % 89 = 0;`,
      [],
      'onlinesplit',
    );
    round.release();
    await until(
      'the migration to stream',
      async () => ((await lab.state('online-split'))?.state === 'WaitingForUserAction' ? true : undefined),
      120_000,
      250,
    );
    const flags = lab.targetFlags();
    const cutover = await runCli(
      ['update', '--name', 'online-split', '--cutover', '--wait', ...PGFERRY_JSON, ...flags],
      lab.targetEnv(),
      240_000,
    );
    assert.equal(cutover.code, 0, cutover.stderr);
    assert.equal((await lab.state('online-split'))?.state, 'Succeeded');
    await assertSameRows('onlinesplit');
    const after = await lab.items('online-split', 'wide');
    assert.deepEqual(
      after.map((r) => r.holder),
      ['online-split-1', 'online-split-2', ...Array.from({ length: PARTS - 2 }, () => 'online-split-3')],
    );
    for (const agent of [round.first, round.second, round.third]) await lab.stopAgent(agent);
  });

  it('every agent SIGKILLed, one started again: the copy resumes inside the table', async () => {
    const round = await heldRound('alldie', 'all-die');
    const runnerPid = Number(/migration all-die: runner (\d+) started/.exec(round.first.stderr())![1]);
    for (const agent of [round.first, round.second, round.third]) agent.child.kill('SIGKILL');
    for (const agent of [round.first, round.second, round.third]) await agent.exited;
    await until('the dead agent runner to exit', async () => (processAlive(runnerPid) ? undefined : true), 60_000, 50);
    const again = await lab.startAgent('all-die-again', lab.sourceUrl('alldie'));
    await lab.waitSucceeded('all-die', again);
    assert.match(again.stderr(), /migration all-die: runner \d+ started \(resume\)/);
    await assertSameRows('alldie');
    const after = await lab.items('all-die', 'wide');
    const doneBefore = round.before.filter((r) => r.state === 'done');
    for (const part of doneBefore)
      assert.deepEqual(
        after.find((r) => r.item === part.item),
        part,
        `part ${part.item} not copied again`,
      );
    const redone = after.filter((r) => !doneBefore.some((d) => d.item === r.item));
    assert.deepEqual(
      redone.map((r) => r.holder),
      ['all-die-again', 'all-die-again'],
      'only the two held parts were copied again',
    );
    const rowsRedone = redone.reduce((sum, r) => sum + r.rows, 0);
    console.log(`      (rows copied again after every agent was killed: ${rowsRedone} of ${ROWS})`);
    await lab.stopAgent(again);
  });
});

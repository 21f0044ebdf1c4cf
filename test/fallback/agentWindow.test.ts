// Issue 50 (fall-back), the window's keeper: a migration of runtime agents cut over with a fallback
// window is Succeeded while its reverse stream must go on until the window closes. The agent whose
// runner cut over is killed (its runner with it); another agent picks the Succeeded migration up and
// applies what the application writes on the new server to the old source; that agent is killed
// too and a third resumes from the position the old source committed, each write once; once the
// window has passed, the agent's runner closes it: the reverse slot and publication are gone from
// the target (read back from pg_replication_slots), the old source keeps its fence.
import assert from 'node:assert/strict';
import type { CatalogConnection } from '../../provider/engine/control/connection';
import { get } from '../../provider/engine/control/store';
import { migrationsToRun } from '../../provider/engine/control/agentRegistry';
import { fallbackWindows } from '../../provider/engine/control/fallbackWindows';
import { reverseStreamNamesOf } from '../../provider/engine/core/names';
import { cutOverWithWindow, until, suiteServers, type SuiteServers } from '../support';
import { runnerExits } from '../support/wait';
import { countOn, tablesAlike } from '../support/windowShop';
import { AgentLab, type Agent } from '../cli/agentLab';

const TABLES = ['items', 'scratch'] as const;
const DB = 'fb_agents';
const NAME = 'fb-agents';

const SETUP = `
CREATE TABLE items (id serial PRIMARY KEY, v text NOT NULL);
CREATE TABLE scratch (k int PRIMARY KEY, note text);
INSERT INTO items (v) SELECT 'v' || g FROM generate_series(1, 100) g;
INSERT INTO scratch SELECT g, 'n' || g FROM generate_series(1, 20) g;`;

/** Kills an agent as a machine dies (no clean stop); its runner ends with it (the lifeline closes). */
async function kill(agent: Agent, store: CatalogConnection): Promise<void> {
  agent.child.kill('SIGKILL');
  await agent.exited;
  await runnerExits(store, NAME);
}

/** The runner now holding the migration was started by `agent` (its pid differs from `before`'s). */
async function heldBy(store: CatalogConnection, before: number | undefined): Promise<number> {
  return until(
    'an agent runner to take the Succeeded migration',
    async () => {
      const runner = (await get(store, NAME))?.runner;
      return runner?.alive && runner.pid !== before ? runner.pid : undefined;
    },
    120_000,
  );
}

/** Online through agents, cut over with a window by the first agent's runner. */
async function cutOverByAgent(lab: AgentLab, { pair, store }: SuiteServers): Promise<Agent> {
  let first: Agent | undefined;
  const afterStart = async (): Promise<void> => {
    first = await lab.startAgent('keeper-1', lab.sourceUrl(DB));
  };
  await cutOverWithWindow(pair, store, NAME, DB, SETUP, { spec: { runtime: 'agents' }, afterStart, waitMs: 300_000 });
  return first!;
}

describe('fall-back: agents keep a Succeeded migration’s window (integration)', function () {
  this.timeout(900_000);
  let lab: AgentLab;
  // registered before the servers' own: mocha runs after hooks in that order, and no agent may
  // outlive the servers' stop, whose leak check would count its runner
  after(() => {
    for (const agent of lab?.agents ?? []) agent.child.kill('SIGKILL');
  });
  const servers = suiteServers();
  before(() => {
    lab = new AgentLab(servers.pair);
  });

  it('another agent applies the new server’s writes after the one that cut over is gone, resumes after a kill, and closes the passed window', async () => {
    const { pair, store } = servers;
    const first = await cutOverByAgent(lab, servers);
    const cutOverBy = (await get(store, NAME))!.runner!.pid;
    // the process that cut over is gone; the application writes on the new server meanwhile
    await kill(first, store);
    await pair.target.query("INSERT INTO items (v) SELECT 'new' || g FROM generate_series(1, 50) g", [], DB);
    await pair.target.query("UPDATE scratch SET note = 'moved' WHERE k <= 5", [], DB);
    const second = await lab.startAgent('keeper-2', lab.sourceUrl(DB));
    const keeper = await heldBy(store, cutOverBy);
    await until('the old source has every write', async () => ((await tablesAlike(pair, DB, TABLES)) ? true : undefined), 120_000);
    assert.equal(await countOn(pair, 'source', DB, "SELECT count(*) AS n FROM items WHERE v LIKE 'new%'"), 50, 'each insert once');

    // the keeper killed; what is written meanwhile waits in the reverse slot for the next one
    await kill(second, store);
    await pair.target.query("INSERT INTO items (v) SELECT 'late' || g FROM generate_series(1, 30) g", [], DB);
    await pair.target.query('DELETE FROM scratch WHERE k > 15', [], DB);
    await lab.startAgent('keeper-3', lab.sourceUrl(DB));
    await heldBy(store, keeper);
    await until('the old source has every write again', async () => ((await tablesAlike(pair, DB, TABLES)) ? true : undefined), 120_000);
    assert.equal(await countOn(pair, 'source', DB, "SELECT count(*) AS n FROM items WHERE v LIKE 'late%'"), 30, 'each late insert once');
    assert.equal(await countOn(pair, 'source', DB, "SELECT count(*) AS n FROM items WHERE v LIKE 'new%'"), 50, 'nothing applied twice');
    await assert.rejects(pair.source.query("INSERT INTO items (v) VALUES ('on the old source')", [], DB), /read-only/);

    // the window passes (its end moved to now, as time would): the keeper closes it
    const slot = reverseStreamNamesOf(NAME, DB, (await get(store, NAME))!.instance).slot;
    assert.equal((await pair.target.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot])).length, 1);
    await pair.target.query('UPDATE pgferry.fallback_window SET ends_at = now() WHERE migration = $1', [NAME]);
    const closed = await until('the window closed', async () => {
      const [w] = await fallbackWindows(store, NAME);
      return w?.state === 'Closed' ? w : undefined;
    });
    assert.match(closed.message ?? '', /the window passed/);
    assert.equal(
      (await pair.target.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot])).length,
      0,
      'reverse slot dropped',
    );
    await runnerExits(store, NAME);
    await assert.rejects(pair.source.query("INSERT INTO items (v) VALUES ('still fenced')", [], DB), /read-only/);
    // a closed window keeps no agent busy: the migration is no longer among the agents' work
    assert.ok(!(await migrationsToRun(store)).some((m) => m.name === NAME), 'a closed window is not work for an agent');
  });
});

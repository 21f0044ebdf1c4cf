// Issue 64: a cutover through the user's PgBouncer run by an agent (runtime agents, docs/agents.md):
// the agent beside the pooler holds its admin credentials in its own environment
// (PGFERRY_POOLER_ADMIN_URL), the caller that registers the migration gives none. An agent holding
// only the source's credentials never takes the migration, and `show` says why it waits; the one
// holding the pooler's runs it, and its cutover goes through the pooler: the application writing
// through it sees no error and every write it was told committed is on the target once, read back.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { isFinalState, requestCutover, showMigration, startMigration } from '../../provider/engine';
import type { MigrationSpec } from '../../provider/engine/input/migrationSpec';
import { pairSpec, until, waitForStatus } from '../support';
import { poolerInputOf } from '../support/pgbouncer';
import { lineTo, pooledAt, startPoolerServers, stopPoolerServers, writesOn, type PoolerServers } from '../support/poolerLab';
import { PooledWriter } from '../support/pooledWriter';
import { AgentLab, type Agent } from './agentLab';
import { PGFERRY_JSON, runCli } from './helpers';

const APP = { user: 'app', password: 'app-through-the-pooler' };
const DB = 'pool_agents';
const NAME = 'pool-agents';

describe('a cutover through the pooler run by an agent holding its credentials', function () {
  this.timeout(420_000);
  let servers: PoolerServers | undefined;
  let lab: AgentLab;
  let spec: MigrationSpec;
  let sourceOnly: Agent;

  before(async () => {
    servers = await startPoolerServers([DB], APP, 2000);
    lab = new AgentLab(servers.pair);
    // registered without the pooler's password: only the agent beside the pooler holds it
    const { password: _password, ...pooler } = poolerInputOf(servers.pooler);
    spec = pairSpec(servers.pair, NAME, [DB], { mode: 'Online', option: 'Migrate', verify: 'full', runtime: 'agents', pooler });
    sourceOnly = await lab.startAgent('source-only', lab.sourceUrl(DB));
  });

  after(async () => {
    for (const agent of lab?.agents ?? []) agent.child.kill('SIGKILL');
    await Promise.all((lab?.agents ?? []).map((a) => a.exited));
    await stopPoolerServers(servers);
  });

  it("an agent with only the source's credentials leaves it alone, and show says it waits for the pooler's", async () => {
    await startMigration(spec);
    const { pooler } = servers!;
    const flags = [...lab.targetFlags(), ...PGFERRY_JSON];
    const shown = await runCli(['show', '--name', NAME, ...flags], lab.targetEnv());
    assert.equal(shown.code, 0, shown.stderr);
    const status = JSON.parse(shown.stdout);
    assert.equal(
      status.waiting,
      `waiting for an agent with the pooler's credentials (${pooler.host}:${pooler.port}): 1 alive, none holds them`,
    );
    assert.deepEqual(
      status.agents.map((a: { name: string; hasCredentials: boolean; hasPoolerCredentials: boolean }) => [
        a.name,
        a.hasCredentials,
        a.hasPoolerCredentials,
      ]),
      [['source-only', true, false]],
    );
    // several looks of the agent since the migration was registered, and no runner
    const [registered] = await lab.pair.target.query<{ at: string }>(`SELECT now()::text AS at`);
    for (let beats = 0; beats < 2; beats++) {
      await until(
        'a later heartbeat of source-only',
        async () =>
          (
            await lab.pair.target.query<{ later: boolean }>(
              `SELECT heartbeat_at > $1::timestamptz + make_interval(secs => $2) AS later FROM pgferry.agent WHERE name = 'source-only'`,
              [registered!.at, beats],
            )
          )[0]?.later || undefined,
        30_000,
      );
    }
    assert.equal((await showMigration(spec.target, NAME))?.runner, undefined, 'no runner holds the migration');
    assert.doesNotMatch(
      sourceOnly.stderr(),
      /migration \S+: runner/,
      'no migration was handed to a runner of this agent (its spare waits)',
    );
  });

  it('the agent with the pooler URL runs it; the cutover through the pooler: no error, every committed write on the target once', async () => {
    const { pooler, pair, store } = servers!;
    const adminUrl = `postgres://${pooler.adminUser}:${pooler.adminPassword}@${pooler.host}:${pooler.port}/pgbouncer`;
    const beside = await lab.startAgent('beside-pooler', lab.sourceUrl(DB), pair.target.port, [], { PGFERRY_POOLER_ADMIN_URL: adminUrl });
    assert.match(beside.stderr(), new RegExp(`credentials for: .*pooler ${pooler.host}:${pooler.port}`));
    assert.ok(!beside.stderr().includes(pooler.adminPassword), "the pooler's password is not in the agent's output");
    const streaming = await waitForStatus(store, NAME, (x) => x.subState === 'WaitingForCutoverTrigger' || isFinalState(x.state), 300_000);
    assert.equal(streaming.subState, 'WaitingForCutoverTrigger', `${streaming.message}\n${beside.stderr()}`);
    // roles travel without their passwords: the pooler logs in to the target with the application's
    await pair.target.query(`ALTER ROLE ${APP.user} PASSWORD '${APP.password}'`);

    const w = new PooledWriter(await pooler.connect(DB, APP.user, APP.password), 1);
    await w.more(5);
    await requestCutover(spec.target, NAME);
    const done = await waitForStatus(store, NAME, (x) => isFinalState(x.state), 300_000);
    await w.more(20); // writes after the cutover, through the same connection
    await w.stop();
    assert.equal(done.state, 'Succeeded', `${done.message}\n${beside.stderr()}`);
    assert.deepEqual(w.errors, [], 'the application saw no error');
    assert.deepEqual(
      await writesOn(pair.target, DB),
      [...w.committed].sort((a, b) => a - b),
      "the target's writes",
    );
    assert.deepEqual(await pooledAt(pooler, DB), { port: pair.target.port, paused: 0 });
    assert.match(await fs.readFile(pooler.configFile, 'utf8'), lineTo(DB, pair.target.port));

    // who ran it, from the catalog: the agent beside the pooler, never the other
    const [runner] = await pair.target.query<{ agent: string | null }>(
      `SELECT runner->>'agent' AS agent FROM pgferry.migration WHERE name = $1`,
      [NAME],
    );
    assert.equal(runner?.agent, 'beside-pooler');
    assert.doesNotMatch(
      sourceOnly.stderr(),
      /migration \S+: runner/,
      'no migration was handed to a runner of this agent (its spare waits)',
    );
    const leaked = await pair.target.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pgferry.migration WHERE name = $1 AND (run_spec::text LIKE $2 OR spec::text LIKE $2)`,
      [NAME, `%${pooler.adminPassword}%`],
    );
    assert.equal(leaked[0]?.n, 0, "the pooler's password is not in the catalog");
  });
});

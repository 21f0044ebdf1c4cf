// Protocol against real servers with runtime agents: an update of an online migration that an
// agent's runner is still copying. A tags edit returns at once, the migration still copying in the
// agent's runner (read back from the control catalog, the tags recorded in the outputs); only an
// update that asks a cutover waits for the stream, and then cuts over: the target holds the
// source's rows, compared row by row. The agent is a real process of the CLI. Its runner reaches
// the target through a proxy that holds the COPY into events mid-stream until the tags edit has
// returned: a table large enough to take seconds raced the copy on a fast machine.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { CopyHold, startCluster, until, type Cluster } from '../support';
import { agentInputs, startAgent, type AgentServers } from './support/agents';
import { fingerprint, loadShop } from './support/fixture';
import { closeProtocolSession, openProtocolSession, type ProviderHost } from './support/providerHost';

const SOURCE_PW = 'src-AgentsUpd-7d20e1';
const TARGET_PW = 'dst-AgentsUpd-3f8a6c';
const DB = 'copying';
const NAME = 'proto-agents-update';

let source: Cluster;
let target: Cluster;
let provider: string;
let program: { dir: string; remove(): Promise<void> };
let host: ProviderHost;
let agent: ChildProcess | undefined;
let hold: CopyHold | undefined;

const servers = (): AgentServers => ({ source, target, sourcePassword: SOURCE_PW, targetPassword: TARGET_PW, provider });
const inputs = (overrides: Record<string, unknown> = {}) =>
  agentInputs(servers(), NAME, DB, { mode: 'Online', tags: { owner: 'team-a' }, ...overrides });

const catalogRow = async () =>
  (await target.query<{ state: string; sub_state: string }>(`SELECT state, sub_state FROM pgferry.migration WHERE name = $1`, [NAME]))[0]!;

const EVENTS = `SELECT count(*)::int AS n, md5(string_agg(e::text, '|' ORDER BY id)) AS h FROM events e`;

describe('protocol: an update of a migration an agent is still copying', function () {
  this.timeout(400_000);
  before(async () => {
    [source, target] = await Promise.all([
      startCluster({ major: 15, label: 'agupd-src', password: SOURCE_PW }),
      startCluster({ major: 15, label: 'agupd-dst', password: TARGET_PW }),
    ]);
    await loadShop(source, DB);
    // a table whose COPY spans many messages, so that the proxy holds it with rows still to send
    await source.query(`CREATE TABLE events (id bigint PRIMARY KEY, payload text)`, [], DB);
    await source.query(`INSERT INTO events SELECT g, md5(g::text) || md5((g + 1)::text) FROM generate_series(1, 300000) g`, [], DB);
    ({ provider, program, host } = await openProtocolSession());
    hold = await CopyHold.start(target, /"events"/);
    agent = await startAgent(servers(), 'res-agent-upd', [DB], { targetPort: hold.port });
  });
  after(async () => {
    agent?.kill('SIGKILL');
    await hold?.close();
    await closeProtocolSession({ host, program });
    await Promise.all([source?.stop(), target?.stop()]);
  });

  it('a tags edit returns with the migration still copying in the catalog; a cutover asked next waits for the stream and the target equals the source', async () => {
    const created = await host.create((await host.check({}, inputs())).inputs);
    assert.equal(created.properties.state, 'InProgress', String(created.properties.message));
    // its runner validates, makes the schema and then copies: on a loaded machine that is minutes
    await hold!.whenHeld(180_000);

    const edited = (await host.check(created.properties, inputs({ tags: { owner: 'team-b' } }))).inputs;
    const diff = await host.diff(created.id, created.properties, edited);
    assert.deepEqual(diff.replaces, [], 'a tags edit is an update');
    const updated = await host.update(created.id, created.properties, edited);
    const after = await catalogRow();
    assert.equal(after.state, 'InProgress', 'the catalog: still copying when the update returned');
    assert.notEqual(after.sub_state, 'WaitingForCutoverTrigger', 'the update did not wait for the stream');
    assert.notEqual(updated.properties.subState, 'WaitingForCutoverTrigger');
    assert.deepEqual(updated.properties.tags, { owner: 'team-b' }, 'the outputs record the new tags');
    // the COPY into events still runs on the target, short of the source's rows (its table is not
    // read: the copy holds it locked until it commits)
    const [copying] = await target.query<{ n: string }>(
      `SELECT tuples_processed::text AS n FROM pg_stat_progress_copy WHERE datname = current_database() AND relid = 'public.events'::regclass`,
      [],
      DB,
    );
    const [all] = await source.query<{ n: number }>(`SELECT count(*)::int AS n FROM events`, [], DB);
    assert.ok(copying !== undefined, 'the COPY into events runs on the target when the update returned');
    assert.ok(Number(copying.n) < all!.n, `the COPY has ${copying.n} of ${all!.n} events: the copy goes on after the update`);

    // a cutover asked while it still copies waits for the stream, then cuts over
    hold!.release();
    const cut = (await host.check(updated.properties, inputs({ tags: { owner: 'team-b' }, cutover: true }))).inputs;
    const done = await host.update(created.id, updated.properties, cut);
    assert.equal(done.properties.state, 'Succeeded', String(done.properties.message));
    assert.equal((await catalogRow()).state, 'Succeeded');
    assert.deepEqual(await fingerprint(target, DB), await fingerprint(source, DB));
    assert.deepEqual(await target.query(EVENTS, [], DB), await source.query(EVENTS, [], DB));
    await host.delete(created.id, done.properties);
    await until(
      'the migration to be gone',
      async () => (await target.query(`SELECT 1 FROM pgferry.migration WHERE name = $1`, [NAME])).length === 0 || undefined,
      30_000,
    );
  });
});

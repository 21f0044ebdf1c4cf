// Protocol against real servers with runtime agents: a PgMigration whose work `pgferry agent`
// processes run. Create returns once an agent's runner holds it, offline and online (an online
// create that sets cutover too waits for the stream and cuts over, as the preview says), says so in
// one line when no agent can run it, and never starts a runner on the machine running Pulumi; read
// follows it to the stream, update (cutover) and delete work with the agents. The agents are real
// processes of the CLI.
// A program that leaves runtime unset runs on the agents when the target has one for its source
// (check says so at preview; Create returns while an agent's runner copies) and locally otherwise.
// "Create returned before the copy ended" is made certain, not raced against a large table: the
// agent's runners are held where a database's copy starts (a hold point, util/failpoints.ts) or
// mid-COPY (a proxy, support/copyHold.ts) until the test has read what it asserts.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, promises as fs, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { streamNamesOf } from '../../provider/engine/core/names';
import { CopyHold, NONE_LEFT, startCluster, STREAMING, streamObjects, until, type Cluster } from '../support';
import { heldFile, isHeld } from '../support/holdPoints';
import { agentInputs, startAgent as startSharedAgent, type AgentOptions, type AgentServers } from './support/agents';
import { fingerprint, loadShop } from './support/fixture';
import { closeProtocolSession, openProtocolSession, type ProviderHost } from './support/providerHost';

const SOURCE_PW = 'src-Agents-5c1e7a';
const TARGET_PW = 'dst-Agents-0b93f2';

let source: Cluster;
let target: Cluster;
let provider: string;
let program: { dir: string; remove(): Promise<void> };
let host: ProviderHost;
/** Where the agents' runners write the file of the hold point they wait at. */
let holdDir: string;
const agents: ChildProcess[] = [];
/** res-agent-1, which holds the credentials of shop, live and cutnow. */
let agentOne: ChildProcess;

const servers = (): AgentServers => ({ source, target, sourcePassword: SOURCE_PW, targetPassword: TARGET_PW, provider });
const inputs = (name: string, database: string, overrides: Record<string, unknown> = {}) =>
  agentInputs(servers(), name, database, overrides);

/**
 * Waits for the provider's log line: it reaches the host through the provider process's stdout
 * pipe, which may deliver it after the gRPC answer of the call that logged it.
 */
async function printed(line: RegExp, from = 0): Promise<void> {
  await until(`the provider to print ${line}`, async () => host.stdout.slice(from).some((l) => line.test(l)) || undefined, 15_000, 50);
}

/** `pgferry agent` with the credentials of these source databases, stopped by the suite's end. */
async function startAgent(name: string, databases: readonly string[], options: AgentOptions = {}): Promise<ChildProcess> {
  const child = await startSharedAgent(servers(), name, databases, options);
  agents.push(child);
  return child;
}

/** The variables that hold an agent's runner where the copy of `database` starts (support/holdPoints.ts). */
const heldAtCopy = (database: string): AgentOptions['env'] => ({
  PGFERRY_FAILPOINTS: `copy-data:${database}:hold`,
  PGFERRY_HOLD_DIR: holdDir,
});

/**
 * Waits until the runner holds where the copy of `database` starts, reads the target's events
 * there (none copied yet), then lets the runner go on.
 */
async function eventsWhileHeld(database: string): Promise<number> {
  const point = `copy-data:${database}`;
  await until(`the runner to hold where the copy of ${database} starts`, async () => (await isHeld(point, holdDir)) || undefined, 180_000);
  const [row] = await target.query<{ n: number }>(`SELECT count(*)::int AS n FROM events`, [], database);
  await fs.rm(heldFile(point, holdDir));
  return row!.n;
}

const databaseCount = async (name: string) =>
  (await target.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_database WHERE datname = $1`, [name]))[0]!.n;

/** The shop's tables and an events table of `rows` rows, on the source. */
async function loadShopWithEvents(database: string, rows: number): Promise<void> {
  await loadShop(source, database);
  await source.query(`CREATE TABLE events (id bigint PRIMARY KEY, payload text)`, [], database);
  await source.query(
    `INSERT INTO events SELECT g, md5(g::text) || md5((g + 1)::text) FROM generate_series(1, $1::int) g`,
    [rows],
    database,
  );
}

/** An agent stopped mid-copy: Update starts no runner here and waits; another agent finishes it. */
async function stoppedAgentTakenOver(): Promise<void> {
  await loadShopWithEvents('big', 5_000);
  // the agent reaches the target through a proxy that holds the COPY into events mid-stream, so the
  // copy is still running when the agent is stopped
  const hold = await CopyHold.start(target, /"events"/);
  try {
    await stopMidCopy(hold);
  } finally {
    await hold.close();
  }
}

/** The steps of stoppedAgentTakenOver, the first agent's runner reaching the target through `hold`. */
async function stopMidCopy(hold: CopyHold): Promise<void> {
  const bigInputs = async () => (await host.check({}, inputs('proto-agents-stop', 'big'))).inputs;
  const created = await host.create(await bigInputs());
  await printed(/^proto-agents-stop: waiting for an agent with the source's credentials/);
  const first = await startAgent('res-agent-stop', ['big'], { targetPort: hold.port });
  // its runner validates, makes the schema and then copies: on a loaded machine that is minutes
  await hold.whenHeld(180_000);
  const copyingEvents = `SELECT count(*)::int AS n FROM pg_stat_progress_copy
    WHERE datname = current_database() AND relid = 'public.events'::regclass`;
  const [copying] = await target.query<{ n: number }>(copyingEvents, [], 'big');
  assert.equal(copying!.n, 1, 'the COPY into events runs on the target when the agent is stopped');
  const exited = new Promise((resolve) => first.once('exit', resolve));
  first.kill('SIGTERM');
  await exited;
  const before = host.stdout.length;
  const updated = await host.update(created.id, created.properties, await bigInputs());
  assert.equal(updated.properties.state, 'InProgress', String(updated.properties.message));
  assert.match(String(updated.properties.message), /nothing runs it: waiting for an agent/);
  await printed(/^proto-agents-stop: waiting for an agent/, before);
  const lines = host.stdout.slice(before);
  assert.ok(!lines.some((l) => /runner started|restarting it/.test(l)), 'no runner on the Pulumi machine');
  // nothing copies while no agent holds it: once the stopped agent's runner, which ends when its
  // agent does but not in the same instant, has let its COPY go, none starts again
  const copies = async () => (await target.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_progress_copy`))[0]!.n;
  await until('the stopped agent runner to end its COPY', async () => ((await copies()) === 0 ? true : undefined), 60_000);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.equal(await copies(), 0);
  await startAgent('res-agent-stop-2', ['big']);
  // the whole table is copied again: on a loaded machine that is minutes, not seconds
  await readUntilSucceeded('the second agent to finish the migration', created.id, bigInputs, 'big', 180_000);
}

/** Read follows the migration until Succeeded; then the target holds the source's rows, events compared row by row. */
async function readUntilSucceeded(
  what: string,
  id: string,
  props: () => Promise<Record<string, unknown>>,
  database: string,
  timeoutMs: number,
): Promise<void> {
  const done = await until(
    what,
    async () => {
      const read = await host.read(id, await props());
      return read.properties.state === 'Succeeded' ? read : undefined;
    },
    timeoutMs,
    500,
  );
  assert.equal(done.properties.subState, 'Completed');
  assert.deepEqual(await fingerprint(target, database), await fingerprint(source, database));
  const events = `SELECT count(*)::int AS n, md5(string_agg(e::text, '|' ORDER BY id)) AS h FROM events e`;
  assert.deepEqual(await target.query(events, [], database), await source.query(events, [], database));
}

/** Read follows the migration until it streams (WaitingForCutoverTrigger). */
async function readUntilStreaming(what: string, id: string, props: Record<string, unknown>): Promise<Record<string, unknown>> {
  const read = await until(
    what,
    async () => {
      const r = await host.read(id, props);
      return r.properties.subState === 'WaitingForCutoverTrigger' ? r : undefined;
    },
    120_000,
    500,
  );
  return read.properties;
}

const rowsWith = async (database: string, email: string) =>
  (await target.query<{ n: number }>(`SELECT count(*)::int AS n FROM customers WHERE email = $1`, [email], database))[0]!.n;

/** Online with agents: Create returns once an agent's runner holds the migration, as azure-native returns once ARM accepts it. */
async function onlineAccepted(): Promise<void> {
  const online = (overrides: Record<string, unknown> = {}) => inputs('proto-agents-online', 'live', { mode: 'Online', ...overrides });
  const created = await host.create((await host.check({}, online())).inputs);
  assert.equal(created.properties.state, 'InProgress', String(created.properties.message));
  assert.notEqual(created.properties.subState, 'WaitingForCutoverTrigger', 'Create returned before the stream');
  // the runner holds before its copy until the test lets it go, so Create cannot have waited for it
  assert.equal(await eventsWhileHeld('live'), 0, 'no event on the target yet: Create returned before the copy');
  assert.ok(host.stdout.some((l) => /^proto-agents-online: registered for agents \(res-agent-1 can run it\)/.test(l)));
  await printed(/^proto-agents-online: an agent's runner holds it \(InProgress\/\w+\); pulumi refresh follows it until it streams/);
  const [row] = await target.query<{ pid: number }>(
    `SELECT (runner->>'pid')::int AS pid FROM pgferry.migration WHERE name = 'proto-agents-online'`,
  );
  assert.equal(parentOf(row!.pid), agentOne.pid, "the runner holding the migration is the agent's child");
  assert.ok(!host.stdout.some((l) => /^proto-agents-online: runner started/.test(l)), 'no runner on the Pulumi machine');
  const streaming = await readUntilStreaming('Read to follow the migration to the stream', created.id, created.properties);
  assert.equal(streaming.state, 'WaitingForUserAction');
  await source.query(`INSERT INTO customers (email, created) VALUES ('streamed@example.com', date '2025-01-01')`, [], 'live');
  await until(
    'the change to reach the target',
    async () => (await rowsWith('live', 'streamed@example.com')) === 1 || undefined,
    60_000,
    200,
  );
  const news = (await host.check(streaming, online({ cutover: true }))).inputs;
  const updated = await host.update(created.id, streaming, news);
  assert.equal(updated.properties.state, 'Succeeded', String(updated.properties.message));
  assert.deepEqual(await fingerprint(target, 'live'), await fingerprint(source, 'live'));
  const events = `SELECT count(*)::int AS n, md5(string_agg(e::text, '|' ORDER BY id)) AS h FROM events e`;
  assert.deepEqual(await target.query(events, [], 'live'), await source.query(events, [], 'live'));
  await host.delete(created.id, updated.properties);
  const rows = await target.query(`SELECT 1 FROM pgferry.migration WHERE name = 'proto-agents-online'`);
  assert.equal(rows.length, 0, 'gone from the catalog');
  const slots = await source.query(`SELECT slot_name FROM pg_replication_slots`);
  assert.deepEqual(slots, [], 'no slot left on the source');
}

/** Online, cutover asked in the create itself: it waits for the stream, whoever runs it, and says so at preview. */
async function onlineCutoverInCreate(): Promise<void> {
  const { runtime: _runtime, ...unset } = inputs('proto-agents-cutnow', 'cutnow', { mode: 'Online', cutover: true });
  void _runtime;
  const checked = await host.check({}, unset);
  assert.deepEqual(checked.failures, []);
  assert.equal(checked.inputs.runtime, 'agents');
  const why = 'pulumi up waits until it streams and then cuts it over, because this create sets cutover \\(triggerCutover\\) true';
  await printed(new RegExp(`^proto-agents-cutnow: runs on pgferry agents near the target \\(res-agent-1 can run it\\); ${why}`));
  // runtime given as agents: said too
  await host.check({}, { ...unset, runtime: 'agents' });
  await printed(new RegExp(`^proto-agents-cutnow: runs on pgferry agents \\(runtime: agents\\); ${why}`));
  await source.query(`INSERT INTO customers (email, created) VALUES ('before-create@example.com', date '2025-01-01')`, [], 'cutnow');
  const created = await host.create(checked.inputs);
  assert.equal(created.properties.state, 'Succeeded', String(created.properties.message));
  assert.equal(await rowsWith('cutnow', 'before-create@example.com'), 1);
  assert.deepEqual(await fingerprint(target, 'cutnow'), await fingerprint(source, 'cutnow'));
  await host.delete(created.id, created.properties);
}

/** The parent process of `pid`, from /proc (Linux): who started a runner. */
function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // the fields after the command's closing parenthesis: state, then the parent's pid
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** runtime unset, an agent with the credentials: check picks agents, Create returns while the agent's runner copies, Read follows it. */
async function agentsByDefault(): Promise<void> {
  await loadShopWithEvents('bydefault', 5_000);
  // its runner holds before the copy until the test lets it go, so Create cannot wait for the copy
  const agent = await startAgent('res-agent-default', ['bydefault'], { env: heldAtCopy('bydefault') });
  const { runtime: _runtime, ...unset } = inputs('proto-agents-default', 'bydefault');
  void _runtime;
  const checked = await host.check({}, unset);
  assert.deepEqual(checked.failures, []);
  assert.equal(checked.inputs.runtime, 'agents', 'check chose the agents');
  await printed(/^proto-agents-default: runs on pgferry agents near the target \(res-agent-default can run it\)/);
  const created = await host.create(checked.inputs);
  assert.equal(created.properties.state, 'InProgress', 'Create returned before the copy ended');
  assert.equal(created.properties.runtime, 'agents');
  const [row] = await target.query<{ pid: number }>(
    `SELECT (runner->>'pid')::int AS pid FROM pgferry.migration WHERE name = 'proto-agents-default'`,
  );
  assert.equal(parentOf(row!.pid), agent.pid, "the runner holding the migration is the agent's child");
  assert.ok(!host.stdout.some((l) => /^proto-agents-default: runner started/.test(l)), 'no runner on the Pulumi machine');
  // a later check of the same program keeps what state says, whatever the agents do meanwhile
  assert.equal((await host.check(created.properties, unset)).inputs.runtime, 'agents');
  assert.equal(await eventsWhileHeld('bydefault'), 0, 'no event on the target yet: Create returned before the copy');
  await readUntilSucceeded('the agent to finish the migration', created.id, async () => created.properties, 'bydefault', 180_000);
}

describe('protocol: PgMigration with runtime agents against real servers', function () {
  this.timeout(300_000);
  before(async () => {
    [source, target] = await Promise.all([
      startCluster({ major: 15, label: 'res-src', password: SOURCE_PW }),
      startCluster({ major: 15, label: 'res-dst', password: TARGET_PW }),
    ]);
    holdDir = mkdtempSync(path.join(os.tmpdir(), 'pgferry-agents-hold-'));
    await loadShop(source, 'shop');
    await loadShopWithEvents('live', 5_000);
    await loadShop(source, 'cutnow');
    ({ provider, program, host } = await openProtocolSession());
  });
  after(async () => {
    for (const agent of agents) agent.kill('SIGKILL');
    await closeProtocolSession({ host, program });
    await Promise.all([source?.stop(), target?.stop()]);
    if (holdDir) rmSync(holdDir, { recursive: true, force: true });
  });

  it('runtime unset and no agent on the target: check keeps the local runner, says so, and installs nothing', async () => {
    const { runtime: _runtime, ...unset } = inputs('proto-agents-none', 'shop');
    void _runtime;
    const checked = await host.check({}, unset);
    assert.deepEqual(checked.failures, []);
    assert.equal(checked.inputs.runtime, 'local');
    await printed(/^proto-agents-none: runs in a runner on this machine \(no live pgferry agent/);
    const [row] = await target.query<{ schema: string | null }>(`SELECT to_regnamespace('pgferry')::text AS schema`);
    assert.equal(row!.schema, null, 'asking the target installed no control catalog');
  });

  it('with no agent, Create registers the migration, says it waits for an agent, and copies nothing', async () => {
    const checked = await host.check({}, inputs('proto-agents', 'shop'));
    assert.deepEqual(checked.failures, []);
    const started = Date.now();
    const created = await host.create(checked.inputs);
    // A create that waited for an agent's runner would return after the provider's wait for one
    // (drive.ts AGENT_START_WAIT_MS); one that returned once registered, well before, however loaded
    // the machine.
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 60_000, `create returned after ${elapsed} ms, not once registered`);
    assert.equal(created.properties.state, 'InProgress');
    assert.match(String(created.properties.message), /nothing runs it: waiting for an agent/, 'the outputs say why');
    assert.ok(
      host.stdout.some((l) => /^proto-agents: waiting for an agent: none has sent a heartbeat/.test(l)),
      host.stdout.join('\n'),
    );
    assert.ok(!host.stdout.some((l) => /runner started|restarting it/.test(l)), 'no runner on the Pulumi machine');
    assert.equal(await databaseCount('shop'), 0, 'nothing was copied');
    const read = await host.read(created.id, created.properties);
    assert.match(String(read.properties.message), /nothing runs it: waiting for an agent/);
  });

  it('an agent with the credentials runs it; Read follows it to Succeeded and the target equals the source', async () => {
    // its runner of live holds before the copy, for the online create below
    agentOne = await startAgent('res-agent-1', ['shop', 'live', 'cutnow'], { env: heldAtCopy('live') });
    const id = `${target.host}:${target.port}/proto-agents`;
    const done = await until(
      'the agent to finish the migration',
      async () => {
        const read = await host.read(id, await host.check({}, inputs('proto-agents', 'shop')).then((c) => c.inputs));
        return read.properties.state === 'Succeeded' ? read : undefined;
      },
      120_000,
      500,
    );
    assert.equal(done.properties.subState, 'Completed');
    assert.deepEqual(await fingerprint(target, 'shop'), await fingerprint(source, 'shop'));
  });

  it(
    "online: Create returns once the agent's runner holds it, no event copied yet; Read follows it to the stream; a change streams; Update cutover: true cuts over; Delete removes it",
    onlineAccepted,
  );

  it(
    'online with cutover: true in the create: the preview says why it waits; Create waits for the stream and cuts over',
    onlineCutoverInCreate,
  );

  it('Delete of a migration no agent ever started cancels it here and removes it', async () => {
    // no agent holds the credentials of this database: nothing will ever run it
    await loadShop(source, 'never');
    const created = await host.create((await host.check({}, inputs('proto-agents-never', 'never'))).inputs);
    await printed(/^proto-agents-never: waiting for an agent with the source's credentials/);
    await host.delete(created.id, created.properties);
    const rows = await target.query(`SELECT 1 FROM pgferry.migration WHERE name = 'proto-agents-never'`);
    assert.equal(rows.length, 0);
    assert.equal(await databaseCount('never'), 0);
  });

  it("Delete of an online migration streaming in an agent's runner cancels it there and drops its slot, publication and origin", async () => {
    await loadShop(source, 'stream');
    const agent = await startAgent('res-agent-stream', ['stream']);
    const online = async () => (await host.check({}, inputs('proto-agents-cancel', 'stream', { mode: 'Online' }))).inputs;
    const created = await host.create(await online());
    await readUntilStreaming('the agent to stream', created.id, created.properties);
    const [row] = await target.query<{ instance: string }>(`SELECT instance FROM pgferry.migration WHERE name = 'proto-agents-cancel'`);
    const names = streamNamesOf('proto-agents-cancel', 'stream', row!.instance);
    const objects = () => streamObjects(source, target, 'stream', names);
    assert.deepEqual(await objects(), STREAMING, 'the agent runner streams: slot and publication on the source, origin on the target');
    const before = host.stdout.length;
    await host.delete(created.id, created.properties);
    await printed(/^proto-agents-cancel: canceling \(WaitingForUserAction\/WaitingForCutoverTrigger\)/, before);
    const lines = host.stdout.slice(before);
    assert.ok(!lines.some((l) => /restarting it/.test(l)), 'no runner on the Pulumi machine');
    assert.equal((await target.query(`SELECT 1 FROM pgferry.migration WHERE name = 'proto-agents-cancel'`)).length, 0);
    assert.deepEqual(await objects(), NONE_LEFT, `left behind: ${JSON.stringify(names)}`);
    assert.equal(agent.exitCode, null, 'the agent lives on after its runner ended');
  });

  it('an agent stopped mid-copy: Update starts no runner here and waits; another agent finishes it', stoppedAgentTakenOver);

  it(
    "runtime unset and a live agent with the source's credentials: check picks agents, Create returns before the agent's runner copied an event, Read follows it to Succeeded",
    agentsByDefault,
  );
});

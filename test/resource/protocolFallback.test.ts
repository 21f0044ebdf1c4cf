// Protocol against real servers: the fall-back and the forward stream again as a Pulumi program runs
// them, through the SDK's provider host over gRPC (docs/pulumi.md). An Online PgMigration with a
// fallbackWindow is created, cut over (`cutover: true`), the application writes on the new server
// and the old source follows; `fallBack: true, resumeForward: true` makes the old source the primary
// again with the target following it; the same inputs again cut nothing over; raising `cutoverCount`
// to 2 (fallBack and resumeForward false again) cuts over a second time, with a new window. Rows are
// read back from both servers after every step; the outputs say the state, the window and the count.
import assert from 'node:assert/strict';
import { closeFallbackWindow, showMigration } from '../../provider/engine';
import { serverSpec, until, type Cluster } from '../support';
import { fingerprint } from './support/fixture';
import type { ProviderHost } from './support/providerHost';
import { closeProtocolPair, openProtocolPair } from './support/protocolPair';

const SOURCE_PW = 'src-Fallback-4e81a2';
const TARGET_PW = 'dst-Fallback-93c0d7';
const NAME = 'proto-fallback';
const DB = 'shop';
const SERVERS = { label: 'res', sourcePassword: SOURCE_PW, targetPassword: TARGET_PW, shops: [DB] };

let source: Cluster;
let target: Cluster;
let provider: string;
let program: { dir: string; remove(): Promise<void> };
let host: ProviderHost;
let id: string;
let outputs: Record<string, unknown>;

const inputs = (overrides: Record<string, unknown> = {}) => ({
  migrationName: NAME,
  source: { host: source.host, port: source.port, user: source.user, password: SOURCE_PW },
  target: { host: target.host, port: target.port, user: target.user, password: TARGET_PW },
  databases: [DB],
  mode: 'Online',
  fenceWriters: true,
  fallbackWindow: '1h',
  cutover: false,
  tableJobs: 2,
  customTimeouts: { create: '5m', update: '5m', delete: '2m' },
  __provider: provider,
  ...overrides,
});

/** What the application writes on whichever server is its primary; `tag` marks its rows. */
async function applicationWrites(on: Cluster, tag: string): Promise<void> {
  await on.query(
    `INSERT INTO customers (email, created) SELECT '${tag}' || g || '@example.com', date '2025-02-01' FROM generate_series(1, 20) g`,
    [],
    DB,
  );
  await on.query(`UPDATE orders SET note = '${tag}' WHERE id % 10 = 0`, [], DB);
  await on.query(`DELETE FROM orders WHERE id % 13 = 0 AND note IS DISTINCT FROM 'kept'`, [], DB);
  await on.query(
    `BEGIN; INSERT INTO customers (email, created) VALUES ('${tag}-tx@example.com', date '2025-03-01');
     INSERT INTO orders (customer_id, total, note) SELECT id, 9.99, 'kept' FROM customers WHERE email = '${tag}-tx@example.com'; COMMIT`,
    [],
    DB,
  );
}

async function sameOnBoth(): Promise<boolean> {
  return JSON.stringify(await fingerprint(source, DB)) === JSON.stringify(await fingerprint(target, DB));
}

/** Each of `tag`'s 21 customers once, on both servers. */
async function insertedOnce(tag: string): Promise<void> {
  for (const server of [source, target]) {
    const rows = await server.query<{ n: number }>(`SELECT count(*)::int AS n FROM customers WHERE email LIKE $1`, [`${tag}%`], DB);
    assert.equal(rows[0]!.n, 21, `${tag} on ${server === source ? 'the old source' : 'the target'}`);
  }
}

async function readOnly(server: Cluster): Promise<boolean> {
  try {
    await server.query(`UPDATE orders SET note = note WHERE id = 1`, [], DB);
    return false;
  } catch (error) {
    if (/read-only/.test(String(error))) return true;
    throw error;
  }
}

/** check, then update, as `pulumi up` runs them; the outputs become the next olds. */
async function up(overrides: Record<string, unknown>): Promise<Record<string, unknown>> {
  const checked = await host.check(outputs, inputs(overrides));
  assert.deepEqual(checked.failures, []);
  const diff = await host.diff(id, outputs, checked.inputs);
  assert.deepEqual(diff.replaces, [], 'an update, never a replace');
  outputs = (await host.update(id, outputs, checked.inputs)).properties;
  return outputs;
}

async function createAndCutOver(): Promise<void> {
  const checked = await host.check({}, inputs());
  assert.deepEqual(checked.failures, []);
  const created = await host.create(checked.inputs);
  id = created.id;
  outputs = created.properties;
  assert.equal(outputs.subState, 'WaitingForCutoverTrigger', String(outputs.message));
  assert.equal(outputs.completedCutovers, 0);
  const cut = await up({ cutover: true });
  assert.equal(cut.state, 'Succeeded', String(cut.message));
  assert.equal(cut.completedCutovers, 1);
  assert.equal(cut.fallbackState, 'Open');
  assert.ok(
    Date.parse(String(cut.fallbackWindowEndsAt)) > Date.now() + 50 * 60_000,
    `ends in about an hour: ${String(cut.fallbackWindowEndsAt)}`,
  );
  assert.deepEqual(await fingerprint(target, DB), await fingerprint(source, DB));
  await applicationWrites(target, 'first');
  await until('the old source follows the new server', async () => (await sameOnBoth()) || undefined, 120_000, 250);
  assert.equal(await readOnly(source), true, 'the old source stays fenced');
}

/** The runner keeping the window killed (the machine restarted): the next `pulumi up` restarts it, and nothing is lost. */
async function keeperRestarted(): Promise<void> {
  const spec = serverSpec(target, { password: TARGET_PW });
  const runner = (await showMigration(spec, NAME))?.runner;
  assert.equal(runner?.alive, true, 'the runner keeps the window after the update returned');
  process.kill(runner!.pid, 'SIGKILL');
  await until('the runner gone', async () => (await showMigration(spec, NAME))?.runner?.alive === false || undefined, 60_000);
  await applicationWrites(target, 'dead');
  const again = await up({ cutover: true });
  assert.equal(again.runnerAlive, true, String(again.message));
  assert.equal(again.completedCutovers, 1, 'no cutover again');
  await until('the old source has what was written meanwhile', async () => (await sameOnBoth()) || undefined, 120_000, 250);
}

async function badInputsRefused(): Promise<void> {
  const bad = await host.check(outputs, inputs({ cutover: true, resumeForward: true }));
  assert.deepEqual(
    bad.failures.map((f) => f.reason),
    [
      'resumeForward: applies only with fallBack: true (the fall-back then streams forward again, as `update --fall-back --resume-forward`)',
    ],
  );
  const early = await host.check(outputs, inputs({ cutover: true, cutoverCount: 2 }));
  assert.deepEqual(
    early.failures.map((f) => f.property),
    ['cutoverCount'],
    'a second cutover before a fall-back with resumeForward',
  );
  assert.equal((await showMigration(serverSpec(target, { password: TARGET_PW }), NAME))?.databases[0]?.fallback?.state, 'Open');
}

async function fallBackForwardAgain(): Promise<void> {
  const fell = await up({ cutover: true, fallBack: true, resumeForward: true });
  assert.equal(fell.state, 'WaitingForUserAction', String(fell.message));
  assert.equal(fell.subState, 'WaitingForCutoverTrigger');
  assert.equal(fell.fallbackState, 'FellBack');
  assert.equal(fell.completedCutovers, 1);
  assert.deepEqual(await fingerprint(source, DB), await fingerprint(target, DB), 'identical after the fall-back');
  assert.equal(await readOnly(source), false, 'the old source is the primary again');
  assert.equal(await readOnly(target), true, 'the target stays fenced while it follows');
  await applicationWrites(source, 'back');
  await until('the target follows the old source', async () => (await sameOnBoth()) || undefined, 120_000, 250);
  // the same inputs again: `pulumi up` cuts nothing over by itself while it streams forward
  const again = await up({ cutover: true, fallBack: true, resumeForward: true });
  assert.equal(again.subState, 'WaitingForCutoverTrigger', String(again.message));
  assert.equal(await readOnly(source), false);
  const both = await host.check(outputs, inputs({ cutover: true, fallBack: true, resumeForward: true, cutoverCount: 2 }));
  assert.deepEqual(
    both.failures.map((f) => f.property),
    ['cutoverCount'],
  );
}

async function secondCutover(): Promise<void> {
  await applicationWrites(source, 'before');
  const cut = await up({ cutover: true, fallBack: false, resumeForward: false, cutoverCount: 2 });
  assert.equal(cut.state, 'Succeeded', String(cut.message));
  assert.equal(cut.completedCutovers, 2);
  assert.equal(cut.fallbackState, 'Open', 'a new window from the spec');
  assert.deepEqual(await fingerprint(target, DB), await fingerprint(source, DB), 'identical after the second cutover');
  assert.equal(await readOnly(target), false, "the second cutover lifted the target's fence");
  assert.equal(await readOnly(source), true, 'the old source is fenced again');
  await applicationWrites(target, 'second');
  await until('the old source follows again', async () => (await sameOnBoth()) || undefined, 120_000, 250);
  for (const tag of ['first', 'dead', 'back', 'before', 'second']) await insertedOnce(tag);
  // the next up with the same inputs does nothing more
  const same = await up({ cutover: true, fallBack: false, resumeForward: false, cutoverCount: 2 });
  assert.equal(same.completedCutovers, 2);
  assert.equal(same.fallbackState, 'Open');
  const spec = serverSpec(target, { password: TARGET_PW });
  await closeFallbackWindow(spec, NAME);
  await until('the window closed', async () => (await showMigration(spec, NAME))?.databases[0]?.fallback?.state === 'Closed' || undefined);
  await until('the runner exits', async () => (await showMigration(spec, NAME))?.runner?.alive === false || undefined, 60_000);
  const slots = await target.query(`SELECT slot_name FROM pg_replication_slots`);
  assert.deepEqual(slots, [], 'no reverse slot left on the target');
}

describe('protocol: PgMigration falls back, streams forward again and cuts over a second time', function () {
  this.timeout(600_000);
  before(async () => {
    ({ source, target, provider, program, host } = await openProtocolPair(SERVERS));
  });
  after(() => closeProtocolPair({ source, target, host, program }));

  it('cutover: true cuts over with a window; the old source follows the new server', createAndCutOver);
  it('the runner keeping the window killed: the next up restarts it', keeperRestarted);
  it('check refuses resumeForward without fallBack, and cutoverCount before a fall-back', badInputsRefused);
  it(
    'fallBack with resumeForward: the old source the primary again, the target following; the same inputs cut nothing over',
    fallBackForwardAgain,
  );
  it('cutoverCount: 2 cuts over a second time, with a new window', secondCutover);
});

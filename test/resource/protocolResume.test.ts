// Protocol against real servers: customTimeouts enforced by the provider leave a resumable
// migration; `pulumi refresh` (Read) reports a runner that died without restarting it; `pulumi up`
// (Update) restarts it and carries the migration to its end.
import assert from 'node:assert/strict';
import { showMigration } from '../../provider/engine';
import { CopyHold, startCluster, until, type Cluster } from '../support';
import { closeProtocolSession, openProtocolSession, secretLeaks, type CallError, type ProviderHost } from './support/providerHost';

const SOURCE_PW = 'src-Resume-5a0f3e';
const TARGET_PW = 'dst-Resume-e71b29';

describe('protocol: timeouts, a dead runner and resuming, against real servers', function () {
  this.timeout(300_000);
  let source: Cluster;
  let target: Cluster;
  let hold: CopyHold;
  let provider: string;
  let program: { dir: string; remove(): Promise<void> };
  let host: ProviderHost;

  const inputs = (overrides: Record<string, unknown> = {}) => ({
    migrationName: 'proto-resume',
    source: { host: source.host, port: source.port, user: source.user, password: SOURCE_PW },
    target: { host: target.host, port: hold.port, user: target.user, password: TARGET_PW },
    databases: ['bulk'],
    mode: 'Offline',
    overwriteDbsInTarget: true,
    tableJobs: 1,
    customTimeouts: { create: '1ms' },
    __provider: provider,
    ...overrides,
  });
  const targetSpec = () => ({
    host: target.host,
    port: target.port,
    user: target.user,
    password: TARGET_PW,
    sslMode: 'prefer' as const,
    maintenanceDatabase: 'postgres',
  });

  before(async () => {
    [source, target] = await Promise.all([
      startCluster({ major: 15, label: 'res-src', password: SOURCE_PW }),
      startCluster({ major: 15, label: 'res-dst', password: TARGET_PW }),
    ]);
    await source.query(`CREATE DATABASE bulk`);
    await source.query(
      `CREATE TABLE items AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS payload FROM generate_series(1, 50000) g;
       ALTER TABLE items ADD PRIMARY KEY (id);`,
      [],
      'bulk',
    );
    // The runner reaches the target through a proxy that holds the copy of items mid-stream, so the
    // copy is still running when the test kills the runner.
    hold = await CopyHold.start(target, /"items"/);
    ({ provider, program, host } = await openProtocolSession());
  });
  after(async () => {
    await closeProtocolSession({ host, program });
    await hold?.close();
    await Promise.all([source?.stop(), target?.stop()]);
  });

  let id: string;
  let partial: Record<string, unknown>;

  it('Create past customTimeouts.create returns a partial failure and the migration keeps running', async () => {
    await assert.rejects(host.create(inputs()), (error: CallError) => {
      assert.ok(error.initFailed, error.message);
      assert.match(error.message, /exceeded customTimeouts\.create .* keeps running on the target: run `pulumi up` again/);
      id = error.initFailed.id;
      partial = error.initFailed.properties;
      assert.equal(partial.state, 'InProgress');
      return true;
    });
    const status = await showMigration(targetSpec(), 'proto-resume');
    assert.equal(status?.runner?.alive, true);
  });

  it('Read (refresh) reports a runner that died and does not restart it: refresh only reads', async () => {
    const [{ pid }] = await target.query<{ pid: number }>(
      `SELECT (runner->>'pid')::int AS pid FROM pgferry.migration WHERE name = 'proto-resume'`,
    );
    // The runner was started by this test's provider host; stop it mid-copy as a crash would.
    await hold.whenHeld();
    process.kill(pid!, 'SIGKILL');
    await until('the lease to be free', async () => {
      const s = await showMigration(targetSpec(), 'proto-resume');
      return s && s.runner && !s.runner.alive ? s : undefined;
    });
    const read = await host.read(id, partial);
    assert.equal(read.properties.state, 'InProgress');
    assert.equal(read.properties.runnerAlive, false);
    assert.match(String(read.properties.message), /its runner stopped .* run `pulumi up --refresh` to restart it/);
    assert.ok(host.stdout.some((l) => /proto-resume.*its runner stopped/.test(l)));
    const status = await showMigration(targetSpec(), 'proto-resume');
    assert.equal(status?.runner?.pid, pid, 'no new runner');
    assert.equal(status?.runner?.alive, false);
    partial = read.properties;
  });

  it('Diff after that refresh reports a change, so `pulumi up` updates and restarts the runner', async () => {
    const diff = await host.diff(id, partial, inputs({ customTimeouts: { create: '1ms', update: '4m' } }));
    assert.equal(diff.changes, 2);
    assert.deepEqual(diff.replaces, []);
  });

  it('Update (the next `pulumi up`) waits for the migration to finish', async () => {
    const news = inputs({ customTimeouts: { create: '1ms', update: '4m' } });
    const updated = await host.update(id, partial, news);
    assert.equal(updated.properties.state, 'Succeeded', String(updated.properties.message));
    assert.ok(host.stdout.some((l) => /proto-resume: no runner holds the migration; restarting it/.test(l)));
    const [src] = await source.query(`SELECT count(*)::int AS n, sum(length(payload))::bigint AS b FROM items`, [], 'bulk');
    const [dst] = await target.query(`SELECT count(*)::int AS n, sum(length(payload))::bigint AS b FROM items`, [], 'bulk');
    assert.deepEqual(dst, src);
  });

  it('leaks no password', () => {
    assert.deepEqual(secretLeaks(host, [SOURCE_PW, TARGET_PW]), []);
  });
});

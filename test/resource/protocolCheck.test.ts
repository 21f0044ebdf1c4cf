// Protocol: the serialized provider served by the SDK's own host, driven over gRPC like the
// engine does: Configure, Check and Diff, the shim's module lookup from the program directory,
// and no secret in the serialized text or any response.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UNKNOWN } from '../../provider/resource/unknown';
import { until } from '../support';
import {
  closeProtocolSession,
  openProtocolSession,
  secretLeaks,
  serializedProvider,
  startProviderHost,
  type CallError,
  type ProviderHost,
} from './support/providerHost';

const SOURCE_PW = 'src-Secret-7f3a91';
const TARGET_PW = 'dst-Secret-c28e44';

function inputs(provider: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    migrationName: 'proto-check',
    source: { host: '127.0.0.1', port: 5432, user: 'postgres', password: SOURCE_PW },
    target: { host: '127.0.0.1', port: 5433, user: 'postgres', password: TARGET_PW },
    databases: ['app'],
    mode: 'Online',
    cutover: false,
    __provider: provider,
    ...overrides,
  };
}

// One provider host for the first describe, started by its hooks and shared by its groups (the
// last describe serializes a provider of its own and starts hosts without a pgferry to find).
let provider: string;
let program: { dir: string; remove(): Promise<void> };
let host: ProviderHost;

describe('protocol: check and diff through the SDK provider host', function () {
  before(async () => {
    ({ provider, program, host } = await openProtocolSession());
  });
  after(async () => {
    await closeProtocolSession({ host, program });
  });

  describe('the serialized provider', serializedShim);
  describe('Check', checkTests);
  describe('Diff', diffTests);
  describe('Create and secrets', createAndSecrets);
});

function serializedShim(): void {
  it('serializes to a shim that captures no secret and no engine code', () => {
    assert.match(provider, /exports\.handler/);
    assert.doesNotMatch(provider, /migrationSpecSchema|pg\.Client|password/);
  });
}

function checkTests(): void {
  it('Check returns the inputs with the machine-independent defaults filled, tableJobs left out', async () => {
    const news = inputs(provider);
    const res = await host.check({}, news);
    assert.deepEqual(res.failures, []);
    assert.equal(res.inputs.option, 'ValidateAndMigrate');
    assert.equal(res.inputs.overwriteDbsInTarget, false);
    assert.equal(res.inputs.dropTargetDatabasesOnDelete, false);
    assert.equal(res.inputs.allowReplaceAfterCutover, false);
    assert.deepEqual(res.inputs.source, { ...(news.source as object), sslMode: 'prefer', maintenanceDatabase: 'postgres' });
    assert.equal(res.inputs.mode, 'Online', 'a given value is kept');
    assert.equal('tableJobs' in res.inputs, false, 'follows the CPU count: never in state');
    assert.equal('indexJobs' in res.inputs, false);
    assert.equal(res.inputs.__provider, provider);
  });

  it('Check names the bad field with the engine schema message', async () => {
    const res = await host.check({}, inputs(provider, { source: { host: '127.0.0.1', port: 0, user: 'postgres' } }));
    assert.deepEqual(
      res.failures.map((f) => f.property),
      ['source.port'],
    );
    assert.match(res.failures[0]!.reason, /source\.port: must be from 1 to 65535/);
  });

  it('Check refuses cutover true → false', async () => {
    const res = await host.check(inputs(provider, { cutover: true }), inputs(provider, { cutover: false }));
    assert.deepEqual(
      res.failures.map((f) => f.property),
      ['cutover'],
    );
  });
}

function diffTests(): void {
  it('Diff: a databases change replaces, deleting first', async () => {
    const res = await host.diff('id', inputs(provider), inputs(provider, { databases: ['app', 'more'] }));
    assert.equal(res.changes, 2); // DIFF_SOME
    assert.deepEqual(res.replaces, ['databases']);
    assert.equal(res.deleteBeforeReplace, true);
  });

  it('Diff: reordered databases are no change', async () => {
    const olds = inputs(provider, { databases: ['app', 'sales', 'hr'] });
    const res = await host.diff('id', olds, inputs(provider, { databases: ['hr', 'app', 'sales'] }));
    assert.equal(res.changes, 1); // DIFF_NONE
    assert.deepEqual(res.replaces, []);
  });

  it('Diff: preview with the target host unknown shows a replace, not an update', async () => {
    const unknownHost = inputs(provider, { target: { host: UNKNOWN, port: 5433, user: 'postgres', password: TARGET_PW } });
    const res = await host.diff('id', inputs(provider), unknownHost);
    assert.equal(res.changes, 2);
    assert.deepEqual(res.replaces, ['target']);
    assert.equal(res.deleteBeforeReplace, true);
  });

  it('Diff: a rename over the same target and databases deletes before it replaces', async () => {
    const renamed = await host.diff('id', inputs(provider), inputs(provider, { migrationName: 'proto-check-2' }));
    assert.equal(renamed.changes, 2);
    assert.deepEqual(renamed.replaces, ['migrationName']);
    assert.equal(renamed.deleteBeforeReplace, true);
    const elsewhere = await host.diff('id', inputs(provider), inputs(provider, { migrationName: 'proto-check-2', databases: ['other'] }));
    assert.equal(elsewhere.deleteBeforeReplace, false, 'no database in common: the new one is created first');
  });

  it('Diff: a host change replaces naming the server; a password change only updates', async () => {
    const moved = await host.diff(
      'id',
      inputs(provider),
      inputs(provider, { source: { host: '10.0.0.9', port: 5432, user: 'postgres', password: SOURCE_PW } }),
    );
    assert.equal(moved.changes, 2);
    assert.deepEqual(moved.replaces, ['source']);
    const rotated = await host.diff(
      'id',
      inputs(provider),
      inputs(provider, { source: { host: '127.0.0.1', port: 5432, user: 'postgres', password: 'rotated-pw' } }),
    );
    assert.equal(rotated.changes, 2);
    assert.deepEqual(rotated.replaces, []);
  });

  it('Diff: a replace of a migration that has cut over is refused without allowReplaceAfterCutover (17)', async () => {
    const cutOver = { ...inputs(provider, { cutover: true }), state: 'Succeeded', subState: 'Completed' };
    await assert.rejects(host.diff('id', cutOver, inputs(provider, { cutover: true, databases: ['other'] })), (error: CallError) =>
      /allowReplaceAfterCutover: migration "proto-check" has cut over/.test(error.message),
    );
    const allowed = await host.diff(
      'id',
      cutOver,
      inputs(provider, { cutover: true, databases: ['other'], allowReplaceAfterCutover: true }),
    );
    assert.equal(allowed.changes, 2);
    assert.deepEqual(allowed.replaces, ['databases']);
    // the host's log line travels on its stdout, which may arrive after the gRPC answer
    await until(
      'the preview to say what the replace does',
      async () => host.stdout.some((l) => /proto-check: replacing a migration that has cut over/.test(l)) || undefined,
      10_000,
      50,
    );
  });

  it('Diff: cutover false → true updates', async () => {
    const res = await host.diff('id', inputs(provider), inputs(provider, { cutover: true }));
    assert.equal(res.changes, 2);
    assert.deepEqual(res.replaces, []);
  });

  it('Diff: tuning changes update in place; identical inputs are no change', async () => {
    const tuned = await host.diff('id', inputs(provider), inputs(provider, { tableJobs: 12 }));
    assert.equal(tuned.changes, 2);
    assert.deepEqual(tuned.replaces, []);
    const same = await host.diff('id', inputs(provider), inputs(provider));
    assert.equal(same.changes, 1); // DIFF_NONE
  });

  it('Diff: a customTimeouts change alone is no change', async () => {
    const res = await host.diff(
      'id',
      inputs(provider, { customTimeouts: { create: '1h' } }),
      inputs(provider, { customTimeouts: { create: '6h' } }),
    );
    assert.equal(res.changes, 1);
  });

  it('Diff: cutover true → false is refused with a clear message', async () => {
    await assert.rejects(host.diff('id', inputs(provider, { cutover: true }), inputs(provider, { cutover: false })), (error: CallError) =>
      /cutover: cannot go from true back to false/.test(error.message),
    );
  });
}

function createAndSecrets(): void {
  it('Create with input that skipped Check fails naming the field, before touching any server', async () => {
    await assert.rejects(
      host.create(inputs(provider, { target: { host: '127.0.0.1', port: 0, user: 'postgres', password: TARGET_PW } })),
      (error: CallError) => {
        assert.match(error.message, /^target\.port: /);
        assert.equal(error.initFailed, undefined, 'nothing was started, so nothing is recorded');
        return true;
      },
    );
  });

  it('leaks no password in any response or host output', () => {
    assert.deepEqual(secretLeaks(host, [SOURCE_PW, TARGET_PW]), []);
  });
}

describe('protocol: where the shim finds the compiled engine', function () {
  let provider: string;
  before(async () => {
    provider = await serializedProvider();
  });

  it('explains what to install when the program directory has no pgferry', async () => {
    const empty = await fs.mkdtemp(path.join(os.tmpdir(), 'pgferry-empty-'));
    const host = await startProviderHost(empty);
    try {
      await assert.rejects(host.check({}, inputs(provider)), (error: CallError) =>
        /cannot find its compiled engine .*npm install pgferry/.test(error.message),
      );
    } finally {
      await host.stop();
      await fs.rm(empty, { recursive: true, force: true });
    }
  });

  it('uses PGFERRY_DIST when set', async () => {
    const empty = await fs.mkdtemp(path.join(os.tmpdir(), 'pgferry-empty-'));
    const host = await startProviderHost(empty, { PGFERRY_DIST: path.resolve(__dirname, '../..') });
    try {
      const res = await host.check({}, inputs(provider));
      assert.deepEqual(res.failures, []);
    } finally {
      await host.stop();
      await fs.rm(empty, { recursive: true, force: true });
    }
  });
});

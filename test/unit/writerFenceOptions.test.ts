// The cutover's writer fence and lag gate as inputs (fenceWriters, cutoverLagBudgetSeconds): one
// line naming the field and what is allowed, the same from the spec, a properties file, the CLI's
// flags, Pulumi's check and a cutover request; and the gate's prediction, which is pure arithmetic
// over samples (the scenarios on real servers are test/cdc/writerFence.test.ts).
import assert from 'node:assert/strict';
import { parseCli } from '../../provider/cli/input/parse';
import { specFromProperties } from '../../provider/cli/input/body';
import { cutoverStopped, isSettled, parseMigrationSpec, PgferryError, requestCutover, type MigrationStatus } from '../../provider/engine';
import { ApplyRateMeter, CAUGHT_UP_BYTES, overBudget, overBudgetMessage, predictCatchUp } from '../../provider/engine/switchover/lagGate';
import { checkInputs } from '../../provider/resource/inputSchema';

const base = {
  migrationName: 'm1',
  source: { host: '10.0.0.4', user: 'postgres' },
  target: { host: 'dst.example.com', user: 'pgadmin' },
  databases: ['sales'],
  mode: 'Online',
};

const BUDGET_RULE = 'must be a whole number of seconds from 1 to 86400';

function inputError(fn: () => unknown): PgferryError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof PgferryError, `expected a PgferryError, got ${String(error)}`);
    assert.equal(error.category, 'input');
    return error;
  }
  assert.fail('expected an input error');
}

describe('writer fence and lag gate: the options', () => {
  it('defaults to no fence and no budget of its own', () => {
    const spec = parseMigrationSpec(base);
    assert.equal(spec.fenceWriters, false);
    assert.equal(spec.cutoverLagBudgetSeconds, undefined);
    const fenced = parseMigrationSpec({ ...base, fenceWriters: true, cutoverLagBudgetSeconds: 90 });
    assert.deepEqual([fenced.fenceWriters, fenced.cutoverLagBudgetSeconds], [true, 90]);
  });

  it('refuses a bad value in one line naming the field and what is allowed', () => {
    const fence = inputError(() => parseMigrationSpec({ ...base, fenceWriters: 'yes' }));
    assert.equal(fence.message, 'fenceWriters: must be true or false');
    assert.equal(fence.field, 'fenceWriters');
    for (const bad of [0, -5, 1.5, 86401, '30', null]) {
      const error = inputError(() => parseMigrationSpec({ ...base, cutoverLagBudgetSeconds: bad }));
      assert.equal(error.message, `cutoverLagBudgetSeconds: ${BUDGET_RULE}`, `value ${String(bad)}`);
      assert.equal(error.code, 'INVALID_INPUT');
      assert.ok(!error.message.includes('\n'));
    }
  });

  it('refuses them for an offline migration, which has no cutover', () => {
    const offline = inputError(() => parseMigrationSpec({ ...base, mode: 'Offline', fenceWriters: true }));
    assert.equal(offline.message, 'fenceWriters: applies only to an Online migration (mode), which has a cutover');
    const budget = inputError(() => parseMigrationSpec({ ...base, mode: 'Offline', cutoverLagBudgetSeconds: 10 }));
    assert.equal(budget.field, 'cutoverLagBudgetSeconds');
    assert.equal(parseMigrationSpec({ ...base, mode: 'Offline', fenceWriters: false }).fenceWriters, false);
  });

  it('names the field as the properties file wrote it', () => {
    const plain = inputError(() =>
      specFromProperties({ ...base, source: 'postgres://u@src/postgres', target: 'postgres://u@dst/postgres', cutoverLagBudgetSeconds: 0 }),
    );
    assert.equal(plain.message, `cutoverLagBudgetSeconds: ${BUDGET_RULE}`);
    const azure = inputError(() =>
      specFromProperties(
        {
          properties: {
            SourceDBServerResourceId: '10.0.0.4:5432@postgres',
            targetDbServerFullyQualifiedDomainName: 'dst.example.com',
            DBsToMigrate: ['sales'],
            MigrationMode: 'Online',
            fenceWriters: 'maybe',
          },
        },
        { name: 'm1' },
        { PGUSER: 'pgadmin' },
      ),
    );
    assert.equal(azure.message, 'properties.fenceWriters: must be true or false');
  });

  it('takes the CLI flags on create, and on update only beside --cutover', () => {
    const create = parseCli(['create', '--name', 'm1', '--properties', 'b.json', '--fence-writers', '--cutover-lag-budget-seconds', '45']);
    assert.deepEqual([create.spec.fenceWriters, create.spec.cutoverLagBudgetSeconds], [true, 45]);
    assert.equal(parseCli(['create', '--name', 'm1', '--properties', 'b.json']).spec.fenceWriters, undefined);
    const bad = inputError(() => parseCli(['create', '--name', 'm1', '--properties', 'b.json', '--cutover-lag-budget-seconds', '0']));
    assert.equal(bad.message, `--cutover-lag-budget-seconds: ${BUDGET_RULE}`);
    const update = parseCli([
      'update',
      '--name',
      'm1',
      '--target-host',
      'h',
      '--cutover',
      '--no-fence-writers',
      '--cutover-lag-budget-seconds',
      '5',
    ]);
    assert.deepEqual([update.cutover, update.spec.fenceWriters, update.spec.cutoverLagBudgetSeconds], [true, false, 5]);
    const alone = inputError(() => parseCli(['update', '--name', 'm1', '--target-host', 'h', '--cancel', '--fence-writers']));
    assert.equal(alone.message, '--fence-writers: applies only with --cutover');
  });

  it("fails Pulumi's check naming the input", () => {
    const failures = checkInputs({}, { ...base, cutoverLagBudgetSeconds: 0, fenceWriters: 'on' });
    assert.deepEqual(failures.map((f) => f.property).sort(), ['cutoverLagBudgetSeconds', 'fenceWriters']);
    assert.ok(failures.some((f) => f.reason === `cutoverLagBudgetSeconds: ${BUDGET_RULE}`));
  });

  it('refuses a cutover request with a bad option before it reaches any server', async () => {
    // port 1 on loopback: a request that tried to connect would fail with a connection error instead
    const target = { host: '127.0.0.1', port: 1, user: 'u', sslMode: 'disable' as const, maintenanceDatabase: 'postgres' };
    await assert.rejects(requestCutover(target, 'm1', undefined, { cutoverLagBudgetSeconds: 0.5 }), (error: unknown) => {
      assert.ok(error instanceof PgferryError);
      assert.equal(error.code, 'INVALID_INPUT');
      assert.equal(error.message, `cutoverLagBudgetSeconds: ${BUDGET_RULE}`);
      return true;
    });
  });
});

describe('writer fence and lag gate: the prediction', () => {
  const MiB = 1024 * 1024;

  it('counts only intervals that began and ended with a backlog, as the rate a backlog drains at', () => {
    const meter = new ApplyRateMeter();
    // caught up (the rate then is the source's write rate, not the applier's): not counted
    meter.record('db', { at: 0, pendingBytes: 1000, applied: 0n });
    meter.record('db', { at: 2000, pendingBytes: 1000, applied: 100_000n });
    assert.equal(meter.busyRate('db'), undefined);
    // a backlog worked on for 2 s: 20 MiB applied
    meter.record('db', { at: 4000, pendingBytes: 50 * MiB, applied: 200_000n });
    meter.record('db', { at: 6000, pendingBytes: 40 * MiB, applied: 200_000n + BigInt(20 * MiB) });
    assert.equal(meter.busyRate('db'), 10 * MiB);
    // an interval under a second says too little
    meter.record('db', { at: 6300, pendingBytes: 39 * MiB, applied: 200_000n + BigInt(29 * MiB) });
    assert.equal(meter.busyRate('db'), 10 * MiB);
    assert.equal(meter.busyRate('other'), undefined);
  });

  it('forgets samples older than a minute', () => {
    const meter = new ApplyRateMeter();
    meter.record('db', { at: 0, pendingBytes: 50 * MiB, applied: 0n });
    meter.record('db', { at: 2000, pendingBytes: 50 * MiB, applied: BigInt(2 * MiB) });
    assert.equal(meter.busyRate('db'), MiB);
    meter.record('db', { at: 70_000, pendingBytes: 50 * MiB, applied: BigInt(3 * MiB) });
    assert.equal(meter.busyRate('db'), undefined);
  });

  it('predicts seconds from pending bytes and the rate; caught up is 0, nothing applied never fits', () => {
    assert.equal(predictCatchUp(CAUGHT_UP_BYTES, undefined), 0);
    assert.equal(predictCatchUp(100 * MiB, 10 * MiB), 10);
    assert.equal(predictCatchUp(100 * MiB, undefined), undefined);
    assert.equal(predictCatchUp(100 * MiB, 0), Infinity);
    const slowest = overBudget(
      [
        { database: 'a', pendingBytes: 100 * MiB, rate: 10 * MiB, seconds: 10 },
        { database: 'b', pendingBytes: 600 * MiB, rate: 10 * MiB, seconds: 60 },
        { database: 'c', pendingBytes: 5 * MiB, seconds: undefined },
      ],
      30,
    );
    assert.equal(slowest?.database, 'b');
    assert.equal(overBudget([{ database: 'a', pendingBytes: 100 * MiB, rate: 10 * MiB, seconds: 10 }], 30), undefined);
    assert.equal(
      overBudgetMessage({ database: 'b', pendingBytes: 600 * MiB, rate: 10 * MiB, seconds: 60 }, 30, 'fence lifted', 'fenceWriters'),
      'cutover rolled back: b would take about 60 s to catch up (600.0 MiB pending, applied at 10.0 MiB/s over the last minute), over the lag budget of 30 s (cutoverLagBudgetSeconds, the default with fenceWriters); the writer fence is lifted and changes stream on: request the cutover again once its pending bytes (pgferry show) have dropped, or raise cutoverLagBudgetSeconds',
    );
    assert.equal(
      overBudgetMessage({ database: 'b', pendingBytes: 5000, rate: 0, probedSeconds: 2, seconds: Infinity }, 10, 'no fence', false),
      'cutover not started: b would take longer than any budget to catch up (4.9 KiB pending, nothing applied in 2.0 s), over the lag budget of 10 s (cutoverLagBudgetSeconds); changes stream on: request the cutover again once its pending bytes (pgferry show) have dropped, or raise cutoverLagBudgetSeconds',
    );
  });
});

describe('writer fence and lag gate: a cutover that rolled back ends the wait', () => {
  const status = (over: Partial<MigrationStatus>): MigrationStatus =>
    ({
      name: 'm1',
      state: 'WaitingForUserAction',
      subState: 'WaitingForCutoverTrigger',
      mode: 'Online',
      option: 'Migrate',
      createdAt: '2026-01-01T00:00:00Z',
      validation: [],
      databases: [
        { database: 'a', state: 'WaitingForCutoverTrigger' },
        { database: 'b', state: 'Succeeded' },
      ],
      spec: {},
      ...over,
    }) as unknown as MigrationStatus;

  it('is settled once the request is cleared, not while it waits for the runner', () => {
    assert.equal(isSettled(status({ cutoverRequested: true }), 'cutover'), false);
    assert.equal(isSettled(status({ subState: 'CompletingMigration', state: 'InProgress', cutoverRequested: true }), 'cutover'), false);
    assert.equal(isSettled(status({ cutoverRequested: false, message: 'cutover rolled back: ...' }), 'cutover'), true);
    assert.equal(cutoverStopped(status({ dbsToTriggerCutoverOn: ['a'] }), ['a']), false);
    assert.equal(cutoverStopped(status({ dbsToTriggerCutoverOn: [] }), ['a']), true);
    assert.equal(cutoverStopped(status({ dbsToTriggerCutoverOn: [] }), ['b']), false, 'b was cut over');
  });
});

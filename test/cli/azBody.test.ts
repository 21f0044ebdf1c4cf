// What the Azure migration body carries beyond the tutorials' keys, read back from the target's
// catalog through `pgferry show -o json`: the migration window and
// setupLogicalReplicationOnSourceDbIfNeeded of a create body (and the window flags, which win),
// an update body (Azure's PATCH) that cuts over or cancels, of every database or of those named,
// and a create body asking for a cutover, refused with nothing registered.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPair, until, type ServerPair } from '../support';
import { runCli, type CliResult } from './helpers';

interface Shown {
  properties: {
    currentStatus: {
      state: string;
      currentSubStateDetails: { currentSubState: string; dbDetails: Record<string, { migrationState: string }> };
    };
    migrationWindowStartTimeInUtc: string | null;
    migrationWindowEndTimeInUtc: string | null;
    setupLogicalReplicationOnSourceDbIfNeeded: string;
    dbsToTriggerCutoverOn: string[];
    pgferry: { databases: { database: string; downtimeSeconds?: number }[]; downtimeSeconds?: number };
  };
}

describe('the Azure body: window, setup and update operations (integration)', function () {
  this.timeout(300_000);
  let pair: ServerPair;
  let cwd: string;
  let env: Record<string, string>;
  const run = (argv: string[]): Promise<CliResult> => runCli(argv, env, 60_000, undefined, cwd);
  const az = ['--subscription', 'sub', '--resource-group', 'rg', '--name', 'myflexibleserver'];
  const show = async (migration: string): Promise<Shown> => {
    const result = await run(['show', ...az, '--migration-name', migration, '-o', 'json']);
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout) as Shown;
  };
  const body = (databases: string[], extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      properties: {
        SourceDBServerResourceId: `${pair.source.host}:${pair.source.port}@postgres`,
        DBsToMigrate: databases,
        OverwriteDBsInTarget: 'true',
        ...extra,
      },
    });

  before(async () => {
    pair = await startPair();
    cwd = mkdtempSync(path.join(os.tmpdir(), 'pgferry-azbody-'));
    for (const db of ['windowed', 'east', 'west']) {
      await pair.source.query(`CREATE DATABASE ${db}`);
      await pair.source.query(
        `CREATE TABLE entries (id int PRIMARY KEY, note text); INSERT INTO entries SELECT g, 'n' || g FROM generate_series(1, 100) g`,
        [],
        db,
      );
    }
    // both clusters share one password: PGPASSWORD serves the source and the target
    assert.equal(pair.source.password, pair.target.password);
    env = {
      PGFERRY_SERVER_HOSTS: `myflexibleserver=postgres@${pair.target.host}:${pair.target.port}?sslmode=prefer`,
      PGPASSWORD: pair.target.password,
    };
  });
  after(async () => {
    if (cwd) rmSync(cwd, { recursive: true, force: true });
    await pair?.stop();
  });

  it("records the body's window and setup flag (a window flag wins), waits for the window, and a PATCH body cancels it", async () => {
    const start = new Date(Date.now() + 3_600_000).toISOString();
    writeFileSync(
      path.join(cwd, 'windowed.json'),
      body(['windowed'], {
        setupLogicalReplicationOnSourceDbIfNeeded: 'True',
        migrationWindowStartTimeInUtc: '2999-01-01T00:00:00Z',
        migrationWindowEndTimeInUtc: '2999-12-31T00:00:00Z',
      }),
    );
    const created = await run([
      'create',
      ...az,
      '--migration-name',
      'windowed',
      '--properties',
      'windowed.json',
      '--migration-mode',
      'online',
      '--migration-window-start-time-in-utc',
      start,
    ]);
    assert.equal(created.code, 0, created.stderr);
    const waiting = await until('the runner to wait for the window', async () => {
      const s = await show('windowed');
      return s.properties.currentStatus.currentSubStateDetails.currentSubState === 'WaitingForDataMigrationWindow' ? s : undefined;
    });
    assert.equal(waiting.properties.currentStatus.state, 'InProgress');
    assert.equal(waiting.properties.migrationWindowStartTimeInUtc, start);
    assert.equal(waiting.properties.migrationWindowEndTimeInUtc, '2999-12-31T00:00:00.000Z');
    assert.equal(waiting.properties.setupLogicalReplicationOnSourceDbIfNeeded, 'True');
    assert.equal((await pair.target.query(`SELECT 1 FROM pg_database WHERE datname = 'windowed'`)).length, 0, 'nothing copied yet');
    const canceled = await run([
      'update',
      ...az,
      '--migration-name',
      'windowed',
      '--properties',
      '{"properties": {"cancel": "True"}}',
      '--wait',
    ]);
    assert.equal(canceled.code, 0, canceled.stderr);
    assert.equal((await show('windowed')).properties.currentStatus.state, 'Canceled');
  });

  it('an update body with dbsToTriggerCutoverOn cuts over that database only; one with triggerCutover the rest', async () => {
    writeFileSync(path.join(cwd, 'pair.json'), body(['east', 'west']));
    const created = await run([
      'create',
      ...az,
      '--migration-name',
      'eastwest',
      '--properties',
      'pair.json',
      '--migration-mode',
      'online',
      '--wait',
    ]);
    assert.equal(created.code, 0, created.stderr);
    const patch = (properties: Record<string, unknown>) => JSON.stringify({ properties });
    const east = await run([
      'update',
      ...az,
      '--migration-name',
      'eastwest',
      '--properties',
      patch({ dbsToTriggerCutoverOn: ['east'] }),
      '--wait',
    ]);
    assert.equal(east.code, 0, east.stderr);
    const half = await show('eastwest');
    assert.deepEqual(half.properties.currentStatus.currentSubStateDetails.dbDetails.east!.migrationState, 'Succeeded');
    assert.deepEqual(half.properties.currentStatus.currentSubStateDetails.dbDetails.west!.migrationState, 'WaitingForCutoverTrigger');
    assert.equal(typeof half.properties.pgferry.databases[0]!.downtimeSeconds, 'number');
    await pair.source.query(`INSERT INTO entries VALUES (101, 'late')`, [], 'west');
    await until('west streams the late row', async () =>
      (await pair.target.query(`SELECT 1 FROM entries WHERE id = 101`, [], 'west')).length === 1 ? true : undefined,
    );
    const both = await run([
      'update',
      ...az,
      '--migration-name',
      'eastwest',
      '--properties',
      patch({ triggerCutover: 'True' }),
      '--cutover',
    ]);
    assert.equal(both.code, 2, 'an operation in the body and a flag at once');
    assert.match(
      both.errLines[0]!,
      /--cutover: the --properties body asks for an operation too \(properties\.triggerCutover\); give it once/,
    );
    const rest = await run(['update', ...az, '--migration-name', 'eastwest', '--properties', patch({ triggerCutover: 'True' }), '--wait']);
    assert.equal(rest.code, 0, rest.stderr);
    const done = await show('eastwest');
    assert.equal(done.properties.currentStatus.state, 'Succeeded');
    assert.equal(done.properties.pgferry.downtimeSeconds, Math.max(...done.properties.pgferry.databases.map((d) => d.downtimeSeconds!)));
  });

  it('refuses a create body that asks for a cutover, in one line, registering nothing', () => refusesEarlyCutover(run, body, az, cwd));
});

async function refusesEarlyCutover(
  run: (argv: string[]) => Promise<CliResult>,
  body: (databases: string[], extra?: Record<string, unknown>) => string,
  az: readonly string[],
  cwd: string,
): Promise<void> {
  writeFileSync(path.join(cwd, 'cutover.json'), body(['east'], { triggerCutover: 'True' }));
  const refused = await run(['create', ...az, '--migration-name', 'too-early', '--properties', 'cutover.json']);
  assert.equal(refused.code, 2, refused.stderr);
  assert.equal(refused.errLines.length, 1, refused.stderr);
  assert.match(
    refused.errLines[0]!,
    /^pgferry create: properties\.triggerCutover: asks for a cutover of a migration that is being created/,
  );
  const check = await run(['check-name-availability', ...az, '--migration-name', 'too-early', '-o', 'json']);
  assert.equal(JSON.parse(check.stdout).nameAvailable, true);
}

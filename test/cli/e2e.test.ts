// End to end through the real command: `pgferry create --wait` of a tiny database, offline, read
// back from the target; then show/list/verify of the finished migration.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPair, type ServerPair } from '../support';
import { propertiesFile, runCli, PGFERRY_JSON, PGFERRY_JSON_LIST } from './helpers';

describe('pgferry create --wait (offline, end to end)', function () {
  this.timeout(300_000);
  let pair: ServerPair;
  let file: string;
  before(async () => {
    pair = await startPair();
    await pair.source.query('CREATE DATABASE tiny');
    await pair.source.query(
      `CREATE TABLE public.items (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2));
       INSERT INTO public.items SELECT g, 'item ' || g, g * 1.5 FROM generate_series(1, 1000) g;
       CREATE TABLE public."Odd ""Name""" (k text PRIMARY KEY);
       INSERT INTO public."Odd ""Name""" VALUES ('a'), ('b');`,
      [],
      'tiny',
    );
    // The Azure body, as the az CLI takes it; the target given by the file's FQDN and port.
    file = propertiesFile({
      properties: {
        SourceDBServerResourceId: `${pair.source.host}:${pair.source.port}@postgres`,
        SecretParameters: { AdminCredentials: { SourceServerPassword: pair.source.password, TargetServerPassword: pair.target.password } },
        targetServerUserName: 'postgres',
        targetDbServerFullyQualifiedDomainName: pair.target.host,
        targetDbServerPort: pair.target.port,
        DBsToMigrate: ['tiny'],
        OverwriteDBsInTarget: 'True',
        MigrationMode: 'Offline',
        SSLMode: 'Prefer',
        tableJobs: 2,
      },
    });
  });
  after(async () => pair?.stop());

  it('copies the database and exits 0 with the Succeeded status as JSON', async () => {
    const result = await runCli(['create', '--name', 'tiny-offline', '--properties', file, '--wait', ...PGFERRY_JSON], {}, 240_000);
    assert.equal(result.code, 0, `stderr: ${result.stderr}\nstdout: ${result.stdout}`);
    const status = JSON.parse(result.stdout);
    assert.equal(status.name, 'tiny-offline');
    assert.equal(status.state, 'Succeeded');
    assert.equal(status.databases[0].database, 'tiny');
    assert.equal(status.databases[0].tables.completed, 2);
    assert.ok(!result.stdout.includes(pair.source.password) && !result.stderr.includes(pair.source.password));
    // plain progress lines (stderr is not a terminal here)
    assert.match(result.stderr, /tiny-offline: (InProgress|Succeeded)/);

    const rows = await pair.target.query<{ n: number; s: string }>(
      `SELECT count(*)::int AS n, sum(price)::text AS s FROM public.items`,
      [],
      'tiny',
    );
    assert.deepEqual(rows, [{ n: 1000, s: '750750.00' }]);
    assert.deepEqual(await pair.target.query(`SELECT k FROM public."Odd ""Name""" ORDER BY k`, [], 'tiny'), [{ k: 'a' }, { k: 'b' }]);
  });

  it('refuses the same name again on this target with exit 2', async () => {
    const again = await runCli(['create', '--name', 'tiny-offline', '--properties', file]);
    assert.equal(again.code, 2, again.stderr);
    assert.equal(again.errLines.length, 1);
    assert.match(again.errLines[0]!, /tiny-offline/);
  });

  it('shows, lists and verifies the finished migration', async () => {
    const flags = ['--target-host', pair.target.host, '--target-port', String(pair.target.port), '--target-user', pair.target.user];
    const env = { PGPASSWORD: pair.target.password };
    const show = await runCli(['show', '--name', 'tiny-offline', ...flags], env);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /Succeeded \/ Completed/);
    const list = await runCli(['list', '--filter', 'all', ...PGFERRY_JSON_LIST, ...flags], env);
    assert.deepEqual(
      JSON.parse(list.stdout).map((s: { name: string }) => s.name),
      ['tiny-offline'],
    );
    const verify = await runCli(['verify', '--name', 'tiny-offline', '--properties', file, '--output', 'json']);
    assert.equal(verify.code, 0, verify.stderr);
    assert.equal(JSON.parse(verify.stdout).ok, true);
  });

  it("verifies from the stored spec with the target's password from PGPASSWORD and the source's from ~/.pgpass", async () => {
    // PGPASSWORD is the target's alone: the source's password comes from its own ~/.pgpass entry.
    const home = mkdtempSync(path.join(os.tmpdir(), 'pgferry-e2e-'));
    const pgpass = path.join(home, '.pgpass');
    writeFileSync(pgpass, `${pair.source.host}:${pair.source.port}:*:${pair.source.user}:${pair.source.password}\n`, { mode: 0o600 });
    try {
      const flags = ['--target-host', pair.target.host, '--target-port', String(pair.target.port), '--target-user', pair.target.user];
      const env = { PGPASSWORD: pair.target.password, PGPASSFILE: pgpass };
      const verify = await runCli(['verify', '--name', 'tiny-offline', '--output', 'json', ...flags], env);
      assert.equal(verify.code, 0, verify.stderr);
      const report = JSON.parse(verify.stdout);
      assert.equal(report.ok, true);
      assert.ok(report.tables.length >= 2);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('resume of a finished migration is refused with exit 2', async () => {
    const result = await runCli(['resume', '--name', 'tiny-offline', '--properties', file]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.errLines[0]!, /Succeeded/);
  });

  it('--no-verify skips the final verification; a BOM-prefixed file is read', async () => {
    const { readFileSync } = await import('node:fs');
    const bom = propertiesFile(`\uFEFF${readFileSync(file, 'utf8')}`);
    const result = await runCli(
      ['create', '--name', 'tiny-noverify', '--properties', bom, '--no-verify', '--wait', ...PGFERRY_JSON],
      {},
      120_000,
    );
    assert.equal(result.code, 0, result.stderr);
    const status = JSON.parse(result.stdout);
    assert.equal(status.state, 'Succeeded');
    assert.equal(status.verification, undefined);
  });

  it('--option validate --wait exits 0 when no check failed', async () => {
    const result = await runCli(
      ['create', '--name', 'tiny-validate', '--properties', file, '--option', 'validate', '--wait', ...PGFERRY_JSON],
      {},
      120_000,
    );
    assert.equal(result.code, 0, result.stderr);
    const status = JSON.parse(result.stdout);
    assert.equal(status.option, 'Validate');
    assert.ok(status.validation.length > 0);
    assert.ok(!status.validation.some((v: { status: string }) => v.status === 'Failed'));
  });

  it('a migration that fails validation ends --wait with exit 1 and its failed check in the table', async () => {
    const bad = propertiesFile({
      source: `postgres://postgres:${pair.source.password}@${pair.source.host}:${pair.source.port}/`,
      target: `postgres://postgres:${pair.target.password}@${pair.target.host}:${pair.target.port}/`,
      databases: ['does_not_exist'],
    });
    const result = await runCli(['create', '--name', 'tiny-bad', '--properties', bad, '--wait'], {}, 120_000);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stdout, /ValidationFailed/);
    assert.match(result.stdout, /Failed\s+\S+.*does_not_exist/);
    assert.ok(!result.stdout.includes(pair.source.password) && !result.stderr.includes(pair.source.password));
  });
});

// runtime: agents. `pgferry create` only registers the migration (no runner starts on the caller's
// machine), and `show` says why nothing runs while no agent that could run it is alive.
import assert from 'node:assert/strict';
import { startPair, type ServerPair } from '../support';
import type { ChildProcess } from 'node:child_process';
import { propertiesFile, runCli, stderrMatch, PGFERRY_JSON } from './helpers';

describe('runtime agents: registered only, waiting for an agent', function () {
  this.timeout(120_000);
  let pair: ServerPair;
  let flags: string[];
  let env: Record<string, string>;
  const body = (extra: Record<string, unknown> = {}) =>
    propertiesFile({
      properties: {
        SourceDBServerResourceId: `${pair.source.host}:${pair.source.port}@postgres`,
        SecretParameters: { AdminCredentials: { SourceServerPassword: pair.source.password, TargetServerPassword: pair.target.password } },
        targetServerUserName: 'postgres',
        targetDbServerFullyQualifiedDomainName: pair.target.host,
        targetDbServerPort: pair.target.port,
        DBsToMigrate: ['shop'],
        MigrationMode: 'Offline',
        ...extra,
      },
    });
  before(async () => {
    pair = await startPair();
    await pair.source.query('CREATE DATABASE shop');
    await pair.source.query(`CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items SELECT generate_series(1, 10);`, [], 'shop');
    flags = ['--target-host', pair.target.host, '--target-port', String(pair.target.port), '--target-user', pair.target.user];
    env = { PGPASSWORD: pair.target.password };
  });
  after(async () => pair?.stop());

  /** Starts `pgferry agent` with these source URLs in its environment; resolves once it joined, and with its exit. */
  /** A `pgferry agent`; `exited` resolves to its exit code, `stderr()` is what it said (the message of an exit-code assertion). */
  async function startAgent(
    name: string,
    sourceUrls: string,
  ): Promise<{ child: ChildProcess; exited: Promise<number | null>; stderr: () => string }> {
    let child: ChildProcess | undefined;
    let stderr = '';
    const exited = runCli(['agent', '--name', name, ...flags], { ...env, PGFERRY_SOURCE_URLS: sourceUrls }, 110_000, (c) => {
      child = c;
      c.stderr!.on('data', (d) => (stderr += d));
    }).then((r) => r.code);
    await stderrMatch(child!, new RegExp(`^agent ${name} joined`), `agent ${name} joining`);
    return { child: child!, exited, stderr: () => stderr };
  }
  const sourceUrl = (db: string) => `postgres://postgres:${pair.source.password}@${pair.source.host}:${pair.source.port}/${db}`;
  const show = async (name: string) => JSON.parse((await runCli(['show', '--name', name, ...flags, ...PGFERRY_JSON], env)).stdout);

  it('create --runtime agents registers the migration, starts no runner, and copies nothing', async () => {
    const created = await runCli(['create', '--name', 'by-agents', '--properties', body(), '--runtime', 'agents', ...PGFERRY_JSON]);
    assert.equal(created.code, 0, created.stderr);
    const shown = await runCli(['show', '--name', 'by-agents', ...flags, ...PGFERRY_JSON], env);
    assert.equal(shown.code, 0, shown.stderr);
    const status = JSON.parse(shown.stdout);
    assert.equal(status.runtime, 'agents');
    assert.equal(status.state, 'InProgress');
    assert.equal(status.runner, undefined);
    assert.deepEqual(status.agents, []);
    const onTarget = await pair.target.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_database WHERE datname = 'shop'`);
    assert.deepEqual(onTarget, [{ n: 0 }]);
  });

  it('show says "waiting for an agent" while no agent is alive', async () => {
    const json = await runCli(['show', '--name', 'by-agents', ...flags, ...PGFERRY_JSON], env);
    assert.match(JSON.parse(json.stdout).waiting, /^waiting for an agent: none has sent a heartbeat/);
    const table = await runCli(['show', '--name', 'by-agents', ...flags], env);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /Runtime\s+waiting for an agent/);
  });

  it('the properties key runtime: agents does the same as the flag', async () => {
    assert.equal((await runCli(['create', '--name', 'by-key', '--properties', body({ runtime: 'agents' })])).code, 0);
    const byKey = JSON.parse((await runCli(['show', '--name', 'by-key', ...flags, ...PGFERRY_JSON], env)).stdout);
    assert.equal(byKey.runtime, 'agents');
    assert.match(byKey.waiting, /waiting for an agent/);
    // Both migrations copy the source's shop into the target's: the agent started below must run
    // only by-agents, else whichever it runs second fails on the database the first made.
    const canceled = await runCli(['update', '--name', 'by-key', '--cancel', ...flags], env);
    assert.equal(canceled.code, 0, canceled.stderr);
    assert.equal(JSON.parse((await runCli(['show', '--name', 'by-key', ...flags, ...PGFERRY_JSON], env)).stdout).state, 'Canceled');
  });

  it("resume of a migration of runtime agents starts no runner on the caller's machine", async () => {
    const resumed = await runCli(['resume', '--name', 'by-agents', '--properties', body({ runtime: 'agents' })]);
    assert.equal(resumed.code, 0, resumed.stderr);
    const status = await show('by-agents');
    assert.equal(status.runner, undefined);
    assert.match(status.waiting, /^waiting for an agent/);
  });

  it("an agent without the source's credentials is listed, leaves the work alone, and show says why nothing runs", async () => {
    const other = await startAgent('no-creds', sourceUrl('elsewhere'));
    try {
      const status = await show('by-agents');
      assert.deepEqual(
        status.agents.map((a: { name: string; alive: boolean; hasCredentials: boolean; itemsHeld: number }) => [
          a.name,
          a.alive,
          a.hasCredentials,
          a.itemsHeld,
        ]),
        [['no-creds', true, false, 0]],
      );
      assert.match(status.waiting, /^waiting for an agent with the source's credentials \(.*\/shop\): 1 alive, none holds them$/);
      assert.equal(status.state, 'InProgress');
      const table = await runCli(['show', '--name', 'by-agents', ...flags], env);
      assert.match(table.stdout, /no-creds .* NO: lacks the source's/);
      assert.ok(!table.stdout.includes(pair.source.password), "the password of the agent's environment is nowhere in show");
    } finally {
      other.child.kill('SIGTERM');
      assert.equal(await other.exited, 0, other.stderr());
    }
  });

  it('an agent with the credentials ends the wait; stopped cleanly it is no longer listed', async () => {
    const able = await startAgent('with-creds', sourceUrl('shop'));
    const status = await show('by-agents');
    assert.equal(status.waiting, undefined);
    assert.deepEqual(
      status.agents.map((a: { name: string; hasCredentials: boolean }) => [a.name, a.hasCredentials]),
      [['with-creds', true]],
    );
    able.child.kill('SIGTERM');
    assert.equal(await able.exited, 0, able.stderr());
    const after = await show('by-agents');
    assert.deepEqual(after.agents, []);
    // the agent ran the migration meanwhile (test/cli/agentWork.test.ts): finished, or waiting again
    if (after.state !== 'Succeeded') {
      assert.match(after.waiting ?? '', /^waiting for an agent: none has sent a heartbeat/, `show said: ${JSON.stringify(after)}`);
    }
  });

  it('refuses an unknown runtime with a one-line error naming the allowed values', async () => {
    const bad = await runCli(['create', '--name', 'bad-rt', '--properties', body({ runtime: 'cloud' })]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.equal(bad.errLines.length, 1);
    assert.match(bad.errLines[0]!, /runtime.*must be local or agents/);
  });
});

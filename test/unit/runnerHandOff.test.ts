// The runner takes the spec its spawner parsed without parsing it again (no zod on a restart's
// path to its first change), and parses in full anything that does not say, or show, it is parsed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { parseMigrationSpec } from '../../provider/engine';
import { runnerInput, runnerSpec, type RunnerInput } from '../../provider/engine/input/handOff';
import { PgferryError } from '../../provider/engine/core/errors';

const RAW = {
  migrationName: 'handoff-1',
  source: { host: 'src.example', port: 5432, user: 'postgres', password: 'pw-src', sslMode: 'disable' },
  target: { host: 'dst.example', user: 'admin', password: 'pw-dst' },
  databases: ['app', 'shop'],
  mode: 'Online',
};

describe('runner hand-off (engine/input/handOff.ts)', () => {
  it('a parsed spec reaches the runner equal to the spawner’s, frozen like a parse', async () => {
    const parsed = parseMigrationSpec(RAW);
    const received = await runnerSpec(JSON.parse(runnerInput(parsed, 'resume')) as RunnerInput);
    assert.deepEqual(received, parsed);
    assert.ok(Object.isFrozen(received) && Object.isFrozen(received.source) && Object.isFrozen(received.databases));
  });

  it('a spec not marked parsed, or marked but missing what parsing fills in, is parsed in full', async () => {
    assert.deepEqual(await runnerSpec({ spec: RAW, reason: 'resume' }), parseMigrationSpec(RAW));
    assert.deepEqual(await runnerSpec({ spec: RAW, reason: 'resume', parsed: true }), parseMigrationSpec(RAW));
    await assert.rejects(
      runnerSpec({ spec: { ...RAW, databases: 'app' }, reason: 'resume', parsed: true }),
      (e: unknown) => e instanceof PgferryError && /databases/.test(e.message),
    );
  });

  it('the runner taking a parsed spec does not load zod', () => {
    const dist = path.join(__dirname, '..', '..', 'provider', 'engine');
    const script = `
      const { runnerSpec } = require(${JSON.stringify(path.join(dist, 'input', 'handOff.js'))});
      require(${JSON.stringify(path.join(dist, 'flow', 'orchestrator.js'))});
      require(${JSON.stringify(path.join(dist, 'runner', 'lease.js'))});
      runnerSpec(JSON.parse(process.argv[1])).then(() => {
        const zod = Object.keys(require.cache).filter((f) => /node_modules[\\\\/]zod[\\\\/]/.test(f));
        process.stdout.write(String(zod.length));
      });`;
    const input = runnerInput(parseMigrationSpec(RAW), 'resume');
    const out = spawnSync(process.execPath, ['-e', script, input], { encoding: 'utf8' });
    assert.equal(out.status, 0, out.stderr);
    assert.equal(out.stdout, '0', 'zod modules loaded on the runner path');
  });
});

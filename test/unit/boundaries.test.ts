// The layering the design asks for, checked on the sources: the Pulumi layer imports no `pg` and
// no engine internals (only the engine's public index) and nothing of the CLI, the Azure names
// and shapes both share (provider/azure) import neither of them, the engine imports nothing from Pulumi,
// pgoutput decoding (cdc/decode) imports nothing outside itself, and the kernel (core) no other
// engine folder. eslint.config.mjs says the same for the editor; this holds whatever the config.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../resource/support/programs';

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sources(full)));
    else if (entry.name.endsWith('.ts')) out.push(full);
  }
  return out;
}

function imports(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/(?:from\s+|require\(\s*|import\(\s*)['"]([^'"]+)['"]/g)) found.push(m[1]!);
  return found;
}

describe('layer boundaries', () => {
  it('provider/resource imports no pg and only the engine index', async () => {
    for (const file of await sources(path.join(repoRoot(), 'provider/resource'))) {
      for (const spec of imports(await fs.readFile(file, 'utf8'))) {
        assert.ok(!/^pg(-|$)/.test(spec), `${file} imports ${spec}`);
        if (spec.startsWith('../engine')) assert.equal(spec, '../engine', `${file} reaches into ${spec}`);
      }
    }
  });

  it('provider/azure imports no Pulumi, no CLI, no resource, and of the engine only its index', async () => {
    for (const file of await sources(path.join(repoRoot(), 'provider/azure'))) {
      for (const spec of imports(await fs.readFile(file, 'utf8'))) {
        assert.ok(!spec.startsWith('@pulumi/') && !/^pg(-|$)/.test(spec), `${file} imports ${spec}`);
        assert.ok(!spec.startsWith('../cli') && !spec.startsWith('../resource'), `${file} imports ${spec}`);
        if (spec.startsWith('../engine')) assert.equal(spec, '../engine', `${file} reaches into ${spec}`);
      }
    }
  });

  it('provider/resource imports nothing from the CLI (what both need is in provider/azure)', async () => {
    for (const file of await sources(path.join(repoRoot(), 'provider/resource'))) {
      for (const spec of imports(await fs.readFile(file, 'utf8'))) assert.ok(!spec.startsWith('../cli'), `${file} imports ${spec}`);
    }
  });

  it('the engine imports nothing from Pulumi', async () => {
    for (const file of await sources(path.join(repoRoot(), 'provider/engine'))) {
      for (const spec of imports(await fs.readFile(file, 'utf8'))) {
        assert.ok(!spec.startsWith('@pulumi/'), `${file} imports ${spec}`);
      }
    }
  });

  it('cdc/decode imports only its own files: no driver, no IO, nothing of the engine', async () => {
    const files = await sources(path.join(repoRoot(), 'provider/engine/cdc/decode'));
    assert.ok(files.length > 0);
    for (const file of files) {
      for (const spec of imports(await fs.readFile(file, 'utf8'))) {
        assert.ok(spec.startsWith('./') && !spec.slice(2).includes('/'), `${file} imports ${spec}`);
      }
    }
  });

  it('engine/core imports no other engine folder, no driver and no Pulumi', async () => {
    for (const file of await sources(path.join(repoRoot(), 'provider/engine/core'))) {
      for (const spec of imports(await fs.readFile(file, 'utf8'))) {
        assert.ok(spec.startsWith('./') || spec.startsWith('node:'), `${file} imports ${spec}`);
      }
    }
  });
});

// The footprint (provider/engine/footprint/): every reversible change pgferry makes on a server is
// one module of the folder, and the release gives back every one of them: the modules of the folder
// are exactly the changes of FOOTPRINT, each named as its file, in the order release.ts documents.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { FOOTPRINT } from '../../provider/engine/footprint/release';
import { repoRoot } from '../resource/support/programs';

const FOLDER = path.join(repoRoot(), 'provider/engine/footprint');
/**
 * The folder's files that are not a change: the interface, the ledger the changes keep their rows
 * in, the control schema several of them put their objects in, the release loop, what `show` gives of them.
 */
const NOT_CHANGES = ['change.ts', 'ledger.ts', 'controlSchema.ts', 'release.ts', 'shown.ts'];
/** The folder's files that are a part of one change, kept apart for size, and the change that alone imports each. */
const PARTS: Record<string, string> = { 'fenceTriggers.ts': 'writerFence' };

describe('footprint: every reversible change is in the release loop', () => {
  it('the modules of the folder are the changes the release gives back, each named as its file', async () => {
    const modules = (await fs.readdir(FOLDER))
      .filter((f) => f.endsWith('.ts') && !NOT_CHANGES.includes(f) && !(f in PARTS))
      .map((f) => f.replace(/\.ts$/, ''))
      .sort();
    assert.deepEqual([...FOOTPRINT.map((c) => c.name)].sort(), modules);
    for (const change of FOOTPRINT) {
      const text = await fs.readFile(path.join(FOLDER, `${change.name}.ts`), 'utf8');
      assert.match(text, new RegExp(`export const ${change.name} = \\{`), `${change.name}.ts exports the change under its own name`);
    }
  });

  it('each part of a change is imported by that change and by no other file of the folder', async () => {
    const files = (await fs.readdir(FOLDER)).filter((f) => f.endsWith('.ts'));
    for (const [part, owner] of Object.entries(PARTS)) {
      const module = `'./${part.replace(/\.ts$/, '')}'`;
      const importers = [];
      for (const file of files) {
        if ((await fs.readFile(path.join(FOLDER, file), 'utf8')).includes(`from ${module}`)) importers.push(file);
      }
      assert.deepEqual(importers, [`${owner}.ts`], `${part} is a part of ${owner}.ts`);
    }
  });

  it('release.ts documents the order the loop follows', async () => {
    const text = await fs.readFile(path.join(FOLDER, 'release.ts'), 'utf8');
    const documented = [...text.matchAll(/^\/\/ +\d+\. (\w+)/gm)].map((m) => m[1]);
    assert.deepEqual(
      documented,
      FOOTPRINT.map((c) => c.name),
    );
  });

  it('the writer fence is given back first; a cutover keeps it, the pooler pointed at the target and the reverse stream of a fallback window; replica identities last', () => {
    assert.equal(FOOTPRINT[0]!.name, 'writerFence');
    assert.equal(FOOTPRINT.at(-1)!.name, 'replicaIdentity');
    assert.deepEqual(
      FOOTPRINT.filter((c) => c.staysAfterCutover).map((c) => c.name),
      ['writerFence', 'poolerPause', 'reverseStream', 'reversePosition'],
    );
  });

  it('every change says what it is, where it is recorded and the rights it needs', () => {
    for (const change of FOOTPRINT) {
      assert.ok(change.describe.length > 0 && !change.describe.includes('\n'), change.name);
      assert.ok(change.ledger.length > 0, change.name);
      assert.ok(change.rights.needs.length > 0, change.name);
    }
  });
});

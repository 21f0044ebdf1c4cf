// docs/layout.md is the map of the engine a newcomer reads: it names every folder under
// provider/engine, and every engine folder it names exists (as the boundaries test keeps the imports).
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../resource/support/programs';

async function folders(root: string, under = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(path.join(root, under), { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const rel = under ? `${under}/${entry.name}` : entry.name;
    out.push(rel, ...(await folders(root, rel)));
  }
  return out;
}

describe('docs/layout.md', () => {
  it('names every folder under provider/engine, and only folders that exist', async () => {
    const engine = path.join(repoRoot(), 'provider/engine');
    const doc = await fs.readFile(path.join(repoRoot(), 'docs/layout.md'), 'utf8');
    const named = new Set([...doc.matchAll(/`engine\/([a-z][A-Za-z/]*?)\/`/g)].map((m) => m[1]!));
    const present = await folders(engine);
    for (const folder of present) assert.ok(named.has(folder), `docs/layout.md does not name engine/${folder}/`);
    for (const folder of named) assert.ok(present.includes(folder), `docs/layout.md names engine/${folder}/, which does not exist`);
  });
});

// docs/layout.md is the map of the engine a newcomer reads: it names every folder under
// provider/engine, and every engine folder it names exists (as `npm run ranks` keeps the imports).
// Its rank column is the rank table of .dependency-cruiser.cjs, the one the lint's import check
// enforces: every folder with sources has a rank there, and the page says the same rank, lowest first.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
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

async function hasSources(dir: string): Promise<boolean> {
  return (await fs.readdir(dir)).some((name) => name.endsWith('.ts'));
}

/** The configuration's rank of each folder ('.' is the engine's own top-level files). */
function configRanks(): Map<string, number> {
  const config = createRequire(__filename)(path.join(repoRoot(), '.dependency-cruiser.cjs')) as { RANKS: string[][] };
  const ranks = new Map<string, number>();
  config.RANKS.forEach((rank, i) => rank.forEach((folder) => ranks.set(folder, i)));
  return ranks;
}

/** The page's table rows that give a rank, in the page's order: `| 3 | `engine/connect/` | ... |`. */
function docRanks(doc: string): { folder: string; rank: number }[] {
  return [...doc.matchAll(/^\| (\d+) \| `engine\/([a-z][A-Za-z/]*?)?\/?` /gm)].map((m) => ({ folder: m[2] ?? '.', rank: Number(m[1]) }));
}

describe('docs/layout.md', () => {
  const engine = path.join(repoRoot(), 'provider/engine');
  const readDoc = () => fs.readFile(path.join(repoRoot(), 'docs/layout.md'), 'utf8');

  it('names every folder under provider/engine, and only folders that exist', async () => {
    const doc = await readDoc();
    const named = new Set([...doc.matchAll(/`engine\/([a-z][A-Za-z/]*?)\/`/g)].map((m) => m[1]!));
    const present = await folders(engine);
    for (const folder of present) assert.ok(named.has(folder), `docs/layout.md does not name engine/${folder}/`);
    for (const folder of named) assert.ok(present.includes(folder), `docs/layout.md names engine/${folder}/, which does not exist`);
  });

  it('an index.ts only re-exports: the code of a folder is in files named for their concept', async () => {
    const provider = path.join(repoRoot(), 'provider');
    const indexes = [path.join(provider, 'index.ts')];
    for (const folder of await folders(provider)) {
      const file = path.join(provider, folder, 'index.ts');
      if (await fs.stat(file).catch(() => undefined)) indexes.push(file);
    }
    for (const file of indexes) {
      // comments, blank lines, and `export ... from` statements, one line or several
      const code = (await fs.readFile(file, 'utf8'))
        .replace(/\/\/.*$/gm, '')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/export\s+(type\s+)?(\*|\{[^}]*\})(\s+as\s+\w+)?\s+from\s+'[^']+';/g, '')
        .trim();
      assert.equal(code, '', `${path.relative(repoRoot(), file)} holds more than re-exports`);
    }
  });

  it('every engine folder with sources has a rank in .dependency-cruiser.cjs, and only those', async () => {
    const ranks = configRanks();
    const withSources = ['.'];
    for (const folder of await folders(engine)) if (await hasSources(path.join(engine, folder))) withSources.push(folder);
    for (const folder of withSources) assert.ok(ranks.has(folder), `engine/${folder}/ has no rank in .dependency-cruiser.cjs`);
    for (const folder of ranks.keys())
      assert.ok(withSources.includes(folder), `.dependency-cruiser.cjs ranks engine/${folder}/, which has no sources`);
  });

  it("gives each folder the configuration's rank, lowest first", async () => {
    const ranks = configRanks();
    const rows = docRanks(await readDoc());
    assert.deepEqual(
      rows.map((r) => r.folder).sort(),
      [...ranks.keys()].sort(),
      'docs/layout.md gives a rank to exactly the ranked folders',
    );
    for (const row of rows) assert.equal(row.rank, ranks.get(row.folder), `docs/layout.md ranks engine/${row.folder}/ ${row.rank}`);
    const order = rows.map((r) => r.rank);
    assert.deepEqual(
      order,
      [...order].sort((a, b) => a - b),
      'docs/layout.md lists the folders lowest rank first',
    );
  });
});

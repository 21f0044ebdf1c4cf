// docs/glossary.md is the one list of words the code uses. Two promises are held here: a word the
// glossary retires (its "Retired words" table) appears nowhere in provider/, comments included, so
// an old name cannot creep back; and every identifier the "In the code" column names is declared
// somewhere in provider/ or faults/, so the glossary cannot drift from a rename.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../resource/support/programs';

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sources(full)));
    else if (/\.(ts|mjs|cjs|js)$/.test(entry.name)) out.push(full);
  }
  return out;
}

/** The rows of the table under `heading`, as cells. */
function tableUnder(doc: string, heading: string): string[][] {
  const start = doc.indexOf(`\n## ${heading}\n`);
  assert.ok(start >= 0, `docs/glossary.md has a "${heading}" section`);
  const rows = doc
    .slice(start)
    .split('\n')
    .filter((line) => line.startsWith('| ') && !line.startsWith('| ---'));
  return rows.slice(1).map((line) =>
    line
      .slice(2, -2)
      .split(' | ')
      .map((cell) => cell.trim()),
  );
}

/** The back-quoted names in a cell that look like identifiers or file names. */
const quoted = (cell: string): string[] => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);

/** Whole-word match: `copyJob` does not match inside `copyJobs`, and `copy job` matches across one space. */
function wordPattern(word: string): RegExp {
  const escaped = word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/ /g, '\\s+');
  return new RegExp(`(?<![A-Za-z0-9_])${escaped}(?![A-Za-z0-9_])`, 'i');
}

describe('docs/glossary.md', () => {
  const root = repoRoot();
  const readDoc = () => fs.readFile(path.join(root, 'docs/glossary.md'), 'utf8');

  it('no retired word is back in provider/', async () => {
    const retired = tableUnder(await readDoc(), 'Retired words').flatMap(([cell]) =>
      (cell ?? '').split(', ').map((w) => w.replace(/`/g, '').replace(/\.ts$/, '')),
    );
    assert.ok(retired.length >= 6, `the retired words are listed (${retired.length})`);
    const found: string[] = [];
    // the numbered catalog migrations are history: an old one keeps the words of its day
    const history = path.join(root, 'provider/engine/control/schemaVersions.ts');
    for (const file of await sources(path.join(root, 'provider'))) {
      if (file === history) continue;
      const text = await fs.readFile(file, 'utf8');
      for (const word of retired) {
        if (wordPattern(word).test(text)) found.push(`${path.relative(root, file)}: ${word}`);
      }
    }
    assert.deepEqual(found, []);
  });

  it('every identifier the glossary names in the code exists', async () => {
    const doc = await readDoc();
    const start = doc.indexOf('| Word | Meaning | In the code |');
    assert.ok(start >= 0, 'the glossary table has an "In the code" column');
    const names = doc
      .slice(start, doc.indexOf('\n## ', start))
      .split('\n')
      .filter((line) => line.startsWith('| ') && !line.startsWith('| ---') && !line.startsWith('| Word'))
      .flatMap((line) => quoted(line.split(' | ')[2] ?? ''))
      // a path's last part, or a call's or a member's name: `runner/main.ts`, `failpoint(name)`, `spec.source`
      .map((name) =>
        name
          .replace(/\(.*\)$/, '')
          .split(/[/.]/)
          .filter(Boolean),
      )
      .map((parts) => (parts.at(-1) === 'ts' ? `${parts.at(-2)!}.ts` : parts.at(-1)!));
    assert.ok(names.length >= 30, `the code column names identifiers (${names.length})`);
    const files = [...(await sources(path.join(root, 'provider'))), ...(await sources(path.join(root, 'faults')))];
    const texts = await Promise.all(files.map((f) => fs.readFile(f, 'utf8')));
    const missing = names.filter((name) =>
      name.endsWith('.ts') ? !files.some((f) => path.basename(f) === name) : !texts.some((t) => wordPattern(name).test(t)),
    );
    assert.deepEqual(missing, []);
  });
});

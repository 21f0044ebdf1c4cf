// The README and the guides under docs/ link to each other, to lab-stack's README, to tests and to
// bench results; text moved between them must not leave a link behind. Every relative link must
// name a file that exists, and a link to a heading of a Markdown file must name one it has, spelled
// as GitHub spells a heading's anchor. The README stays a front page: the two commands a newcomer
// runs come first, and the details live in the guides. Each word of the glossary is explained in
// one page, its home, which the others link to rather than tell again.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../resource/support/programs';

/** The text outside fenced code blocks and inline code, where a link or a heading can be. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, (code) => code.replace(/[[\]()#]/g, ' '));
}

/**
 * Each heading's section by its anchor (GitHub's: lower case, punctuation dropped, spaces to
 * hyphens, repeats numbered): the text under it up to the next heading of its level or above.
 */
function sections(markdown: string): Map<string, string> {
  const seen = new Map<string, number>();
  const out = new Map<string, string>();
  const text = markdown.replace(/^```[\s\S]*?^```/gm, '');
  const headings = [...text.matchAll(/^(#{1,6}) +(.+?) *#* *$/gm)];
  headings.forEach((match, i) => {
    const base = match[2]!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    const end = headings.slice(i + 1).find((h) => h[1]!.length <= match[1]!.length)?.index ?? text.length;
    out.set(count === 0 ? base : `${base}-${count}`, text.slice(match.index + match[0].length, end));
  });
  return out;
}

/** README.md and every Markdown file under docs/, relative to the checkout. */
function pages(root: string): string[] {
  const docs = readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md'));
  return ['README.md', ...docs.map((f) => `docs/${f}`)];
}

describe('links in the README and docs/', () => {
  it('name files that exist, and headings those files have', () => {
    const root = repoRoot();
    const broken: string[] = [];
    for (const page of pages(root)) {
      const text = readFileSync(path.join(root, page), 'utf8');
      for (const [, target] of prose(text).matchAll(/\[[^\]]*\]\(([^)\s]+)\)/g)) {
        if (/^[a-z][a-z+.-]*:/i.test(target!)) continue; // https:, mailto: and the like
        const [file, anchor] = target!.split('#') as [string, string | undefined];
        const resolved = file === '' ? path.join(root, page) : path.resolve(path.dirname(path.join(root, page)), file);
        if (!existsSync(resolved)) {
          broken.push(`${page}: ${target} (no such file)`);
          continue;
        }
        if (anchor !== undefined && resolved.endsWith('.md') && !sections(readFileSync(resolved, 'utf8')).has(anchor))
          broken.push(`${page}: ${target} (no such heading)`);
      }
    }
    assert.deepEqual(broken, []);
  });

  it('reach every guide from the README', () => {
    const root = repoRoot();
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    const linked = new Set([...readme.matchAll(/\]\((docs\/[^)#\s]+)/g)].map((m) => m[1]!));
    const unlinked = pages(root).filter((page) => page.startsWith('docs/') && !linked.has(page));
    assert.deepEqual(unlinked, []);
  });

  it("explain each glossary word in its home doc alone: no run of twelve words of the home's section stands in another page", () => {
    const root = repoRoot();
    const texts = new Map(pages(root).map((page) => [page, readFileSync(path.join(root, page), 'utf8')]));
    const glossary = texts.get('docs/glossary.md')!;
    // a word's home is the section its Meaning cell links to; the glossary itself only names it
    const homes = new Set(
      [...glossary.matchAll(/^\| [^|]+ \| ([^|]+) \|/gm)].flatMap(([, meaning]) =>
        [...meaning!.matchAll(/\]\(([\w.-]+\.md)#([\w-]+)\)/g)].map((m) => `docs/${m[1]!}#${m[2]!}`),
      ),
    );
    assert.ok(homes.size >= 20, `the glossary links its words to their homes (${homes.size})`);
    const copied: string[] = [];
    for (const home of homes) {
      const [page, anchor] = home.split('#') as [string, string];
      const section = sections(texts.get(page)!).get(anchor);
      assert.ok(section !== undefined, `${home} is a heading`);
      const runs = new Set(wordRuns(section));
      for (const [other, text] of texts) {
        if (other === page || other === 'docs/glossary.md') continue;
        const found = wordRuns(text).find((run) => runs.has(run));
        if (found) copied.push(`${other} repeats ${home}: "${found}"`);
      }
    }
    assert.deepEqual(copied, []);
  });
});

/** Every run of twelve words of a page's prose, link targets left out: a run two pages share is an explanation told twice. */
function wordRuns(markdown: string): string[] {
  const words = markdown
    .replace(/\]\([^)]*\)/g, ']')
    .toLowerCase()
    .match(/[\p{L}\p{N}_'.-]+/gu);
  return (words ?? []).slice(11).map((_, i) => words!.slice(i, i + 12).join(' '));
}

describe('the README', () => {
  it('opens with the two commands a newcomer runs, and stays a front page of at most 150 lines', () => {
    const readme = readFileSync(path.join(repoRoot(), 'README.md'), 'utf8');
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    assert.deepEqual(
      firstBlock
        .split('\n')
        .filter(Boolean)
        .map((line) => line.split('#')[0]!.trim()),
      ['npm run demo', 'npm test'],
    );
    assert.ok(readme.replace(/^# pgferry\n+/, '').startsWith('```sh\n'), 'the commands are not the first thing under the title');
    assert.ok(readme.split('\n').length <= 150, `README.md has ${readme.split('\n').length} lines`);
  });
});

// The README and the guides under docs/ link to each other, to lab-stack's README, to tests and to
// bench results; text moved between them must not leave a link behind. Every relative link must
// name a file that exists, and a link to a heading of a Markdown file must name one it has, spelled
// as GitHub spells a heading's anchor. The README stays a front page: the two commands a newcomer
// runs come first, and the details live in the guides.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../resource/support/programs';

/** The text outside fenced code blocks and inline code, where a link or a heading can be. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, (code) => code.replace(/[[\]()#]/g, ' '));
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  const text = markdown.replace(/^```[\s\S]*?^```/gm, '');
  for (const [, heading] of text.matchAll(/^#{1,6} +(.+?) *#* *$/gm)) {
    const base = heading!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    out.add(count === 0 ? base : `${base}-${count}`);
  }
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
        if (anchor !== undefined && resolved.endsWith('.md') && !anchors(readFileSync(resolved, 'utf8')).has(anchor))
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
});

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

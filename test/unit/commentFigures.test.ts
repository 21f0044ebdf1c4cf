// The code's comments say why in plain sentences; a measurement (how long, how much CPU, at which
// load) lives in docs/bench.md, with how it was taken, and a comment links there. A figure quoted
// in a comment goes stale the day the code or the machine changes, with nothing to re-measure it.
// The check is a heuristic over comment lines: a number with a unit of time, size or share beside
// a word that says it was measured.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const FIGURE = /\d+(\.\d+)? ?(s|ms|MiB|GiB|KiB|MB|GB|kB|%|CPU-s)\b/;
const MEASURED = /measur|bench|took|traced|median|\bCPU\b|\bload \d/i;

describe('the code', () => {
  it('quotes no measurement in a comment under provider/ (docs/bench.md holds them)', () => {
    const found: string[] = [];
    const files = readdirSync(path.join(ROOT, 'provider'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    for (const file of files) {
      const lines = readFileSync(path.join(ROOT, 'provider', file), 'utf8').split('\n');
      lines.forEach((line, i) => {
        if (/^\s*(\/\/|\*|\/\*\*)/.test(line) && FIGURE.test(line) && MEASURED.test(line))
          found.push(`provider/${file}:${i + 1}: ${line.trim()}`);
      });
    }
    assert.deepEqual(found, []);
  });
});

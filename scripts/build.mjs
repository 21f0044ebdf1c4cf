#!/usr/bin/env node
// `npm run build`: compiles into dist-next/, then swaps it in for dist/ with two renames. Deleting
// dist/ first and compiling into it left it empty or half-written for the seconds tsc takes, and
// any runner, bench or campaign started from this checkout meanwhile (a detached runner loads
// modules as it needs them) crashed on a missing module. A failed compile leaves dist/ as it was.
import { execFileSync } from 'node:child_process';
import { existsSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const next = join(root, 'dist-next');
const old = join(root, 'dist-old');
const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');

rmSync(next, { recursive: true, force: true });
rmSync(old, { recursive: true, force: true });
try {
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json'), '--outDir', next], { stdio: 'inherit', cwd: root });
} catch {
  rmSync(next, { recursive: true, force: true });
  process.exit(1);
}
if (existsSync(dist)) renameSync(dist, old);
renameSync(next, dist);
rmSync(old, { recursive: true, force: true });

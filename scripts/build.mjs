#!/usr/bin/env node
// `npm run build`: compiles into a directory of its own, then swaps it in for dist/ with two renames.
// Deleting dist/ first and compiling into it left it empty or half-written for the seconds tsc takes,
// and any runner, bench or campaign started from this checkout meanwhile (a detached runner loads
// modules as it needs them) crashed on a missing module. A failed compile leaves dist/ as it was.
// Each build compiles into a directory named by its process id, so two builds of one checkout at
// once (a test run and an editor's) no longer delete each other's output; the later swap wins.
import { execFileSync } from 'node:child_process';
import { readdirSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const next = join(root, `dist-next-${process.pid}`);
const old = join(root, `dist-old-${process.pid}`);
const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');

/** True when a process of that id still runs (its build directory is then left alone). */
function running(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

// Directories left by a build that was killed before its swap.
for (const entry of readdirSync(root)) {
  const match = /^dist-(?:next|old)(?:-(\d+))?$/.exec(entry);
  if (match && (!match[1] || !running(Number(match[1])))) rmSync(join(root, entry), { recursive: true, force: true });
}
try {
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json'), '--outDir', next], { stdio: 'inherit', cwd: root });
} catch {
  rmSync(next, { recursive: true, force: true });
  process.exit(1);
}
// Another build may swap its output in between the two renames: move whatever dist/ is then aside
// and try again, a few times.
for (let attempt = 0; ; attempt++) {
  try {
    renameSync(dist, old);
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
  }
  try {
    renameSync(next, dist);
    break;
  } catch (error) {
    if (!['ENOTEMPTY', 'EEXIST'].includes(error.code) || attempt >= 5) throw error;
    rmSync(old, { recursive: true, force: true });
  }
}
rmSync(old, { recursive: true, force: true });

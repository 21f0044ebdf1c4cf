#!/usr/bin/env node
// Builds what the published package ships (npm's `prepare`: run by `npm pack`, `npm publish`, a
// git-URL install and a plain `npm install` in the checkout): provider/ compiled into dist/provider
// by tsconfig.package.json, then any compiled file whose source is gone removed, so a checkout's
// old build never reaches a tarball. Plain Node.js: a git-URL install runs it in a fresh clone.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.package.json')], { stdio: 'inherit', cwd: root });

const COMPILED = /\.(d\.ts|js\.map|js)$/;

/** Removes compiled files under dir whose TypeScript source (same path under the root) no longer exists. */
function prune(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = join(dir, entry.name);
    if (entry.isDirectory()) {
      prune(file);
      if (readdirSync(file).length === 0) rmSync(file, { recursive: true });
    } else if (COMPILED.test(entry.name)) {
      const source = join(root, relative(join(root, 'dist'), file).replace(COMPILED, '.ts'));
      if (!existsSync(source)) rmSync(file);
    }
  }
}
prune(join(root, 'dist', 'provider'));

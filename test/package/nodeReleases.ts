// The Node.js releases users run pgferry on, beside the one the suite runs on: each from the npm
// registry's `node` package (its install brings the release's own binary), installed once into the
// checkout's node_modules/.cache and kept there for later runs.
import { execFile } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** The checkout, from the compiled test at dist/test/package/. */
const CHECKOUT = path.resolve(__dirname, '../../..');

/** A Node.js release and the newest @pulumi/pulumi that supports it. */
export interface NodeRelease {
  readonly version: string;
  /** The SDK a program on it depends on; undefined: the one the checkout's tests run with. */
  readonly sdk?: string;
}

/**
 * Node.js 20 until users leave it (@pulumi/pulumi 3.248 is the last release that installs there);
 * 24, the newest LTS, with the checkout's SDK. The suite itself runs on the checkout's `node`
 * devDependency (22).
 */
export const USER_NODE_RELEASES: readonly NodeRelease[] = [{ version: '20.20.2', sdk: '3.248.0' }, { version: '24.21.0' }];

/** The path of the release's `node` binary, installing the release first if this checkout lacks it. */
export async function nodeBinary(version: string): Promise<string> {
  const dir = path.join(CHECKOUT, 'node_modules', '.cache', 'pgferry-node', version);
  const binary = path.join(dir, 'node_modules', 'node', 'bin', 'node');
  if (existsSync(binary)) return binary;
  await fs.mkdir(dir, { recursive: true });
  // The package's install script fetches the platform's binary package: npm runs it when allowed.
  const manifest = { name: `node-${version}`, private: true, allowScripts: { node: true } };
  await fs.writeFile(path.join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await execFileAsync('npm', ['install', '--no-audit', '--no-fund', '--no-save', `node@${version}`], { cwd: dir });
  const { stdout } = await execFileAsync(binary, ['--version']);
  if (stdout.trim() !== `v${version}`) throw new Error(`node@${version} installed ${stdout.trim()} at ${binary}`);
  return binary;
}

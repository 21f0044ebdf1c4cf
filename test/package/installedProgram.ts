// pgferry as a user gets it: packed from its sources the way a clone is (npm runs `prepare`, away
// from the checkout's own dist), installed from the tarball into a fresh Pulumi program that brings
// its own @pulumi/pulumi, and that program's `new PgMigration(...)` under Pulumi's mocks, which
// hands back what `pulumi up` would send to the provider host.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** The checkout, from the compiled test at dist/test/package/. */
const CHECKOUT = path.resolve(__dirname, '../../..');

/** What a clone holds that packing needs (the rest of the checkout plays no part in the package). */
const PACKAGE_SOURCES = ['provider', 'scripts', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.package.json', 'README.md'];

/** npm with the environment of a user's shell: none of the npm_* variables of an `npm test` around us. */
async function npm(args: string[], cwd: string): Promise<string> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'INIT_CWD') env[k] = v;
  try {
    const { stdout } = await execFileAsync('npm', args, { cwd, env, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; stdout?: string; message: string };
    throw new Error(`npm ${args.join(' ')} failed in ${cwd}: ${e.stderr || e.stdout || e.message}`, { cause: error });
  }
}

export interface Packed {
  readonly tarball: string;
  /** Every path in the tarball, relative to the package root. */
  readonly files: readonly string[];
}

/**
 * Copies the package's sources into `work/clone` (node_modules linked from the checkout, as a
 * clone would have them after its install) and runs `npm pack` there: `prepare` builds dist.
 */
export async function packFromSources(work: string): Promise<Packed> {
  const clone = path.join(work, 'clone');
  await fs.mkdir(clone, { recursive: true });
  for (const entry of [...PACKAGE_SOURCES, 'CHANGELOG.md']) {
    await fs.cp(path.join(CHECKOUT, entry), path.join(clone, entry), { recursive: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT' || entry === 'package.json') throw error;
    });
  }
  await fs.symlink(path.join(CHECKOUT, 'node_modules'), path.join(clone, 'node_modules'), 'dir');
  const out = await npm(['pack', '--json', '--pack-destination', work], clone);
  const [report] = JSON.parse(out.slice(out.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  return { tarball: path.join(work, report!.filename), files: report!.files.map((f) => f.path) };
}

/** The @pulumi/pulumi version the checkout's tests run with: the program gets the same. */
async function checkoutPulumiVersion(): Promise<string> {
  const pkg = JSON.parse(await fs.readFile(path.join(CHECKOUT, 'node_modules/@pulumi/pulumi/package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/**
 * A new Pulumi program in `work/program` that depends on @pulumi/pulumi (the checkout's version, or
 * `sdk`), then `npm install <tarball>` as its README says (the local npm cache first: the checkout's
 * install filled it).
 */
export async function installProgram(work: string, tarball: string, sdk?: string): Promise<string> {
  const dir = path.join(work, sdk === undefined ? 'program' : `program-sdk-${sdk}`);
  await fs.mkdir(dir, { recursive: true });
  const manifest = { name: 'migration-program', private: true, dependencies: { '@pulumi/pulumi': sdk ?? (await checkoutPulumiVersion()) } };
  await fs.writeFile(path.join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await fs.writeFile(path.join(dir, 'Pulumi.yaml'), 'name: migration-program\nruntime: nodejs\n');
  await npm(['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], dir);
  return dir;
}

/** What the program's `new PgMigration(...)` registered, as the engine would receive it. */
export interface Registered {
  readonly type: string;
  /** The serialized provider (`__provider`), as `pulumi up` passes it to the provider host. */
  readonly provider: string;
  /** The inputs with Pulumi's secret wrappers removed, as the engine hands them to Check. */
  readonly inputs: Record<string, unknown>;
  /** Whether the resource is a CustomResource of the program's own SDK (one SDK in the process). */
  readonly ofProgramSdk: boolean;
  /** Where pgferry's `require('@pulumi/pulumi')` and the program's resolve. */
  readonly sdkSeenByPgferry: string;
  readonly sdkSeenByProgram: string;
}

const PROGRAM = `
const pulumi = require('@pulumi/pulumi');
const path = require('node:path');
let registered;
const seen = [];
pulumi.runtime.setMocks(
  { newResource: (args) => { seen.push(args.type); if (/PgMigration$/.test(args.type)) registered = args; return { id: 'mock', state: args.inputs }; }, call: () => ({}) },
  'migration-program', 'test', false,
);
const { PgMigration } = require('pgferry');
const migration = new PgMigration('migration', JSON.parse(process.env.MIGRATION_ARGS));
const pgferryDir = path.dirname(require.resolve('pgferry/package.json'));
// the mocks hear of the resource once its inputs resolved: looked for until then, however slow the machine
const until = Date.now() + 60000;
const look = () => {
  if (registered) return report();
  if (Date.now() < until) return void setTimeout(look, 20);
  process.stderr.write('the program registered no PgMigration within 60 s; the mocks saw: ' + (seen.join(', ') || 'no resource') + '\\n');
  process.exit(1);
};
const report = () => {
  const unwrap = (v) => Array.isArray(v) ? v.map(unwrap) : v && typeof v === 'object'
    ? (v['4dabf18193072939515e22adb298388d'] === '1b47061264138c4ac30d75fd1eb44270' ? unwrap(v.value) : Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrap(x)])))
    : v;
  const { __provider, ...inputs } = unwrap(registered.inputs);
  process.stdout.write(JSON.stringify({
    type: registered.type, provider: __provider, inputs,
    ofProgramSdk: pulumi.CustomResource.isInstance(migration) && migration instanceof pulumi.CustomResource,
    sdkSeenByPgferry: require.resolve('@pulumi/pulumi', { paths: [path.join(pgferryDir, 'dist/provider/resource')] }),
    sdkSeenByProgram: require.resolve('@pulumi/pulumi'),
  }), () => process.exit(0));
};
look();
`;

/**
 * Runs the program's `new PgMigration('migration', args)` under Pulumi's mocks in the program
 * directory, on the given Node.js binary (this process's by default).
 */
export async function registerMigration(program: string, args: Record<string, unknown>, node = process.execPath): Promise<Registered> {
  const file = path.join(program, 'register.js');
  await fs.writeFile(file, PROGRAM);
  const { stdout } = await execFileAsync(node, [file], {
    cwd: program,
    env: { ...process.env, MIGRATION_ARGS: JSON.stringify(args) },
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(stdout) as Registered;
}

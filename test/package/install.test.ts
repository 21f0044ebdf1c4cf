// pgferry installed like a package: `npm pack` of its sources, `npm install <tarball>` into a fresh
// Pulumi program, then the PgMigration resource driven through the program's own SDK provider host
// (an offline migration between two local servers) and the installed `pgferry` command.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, promises as fs, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as ts from 'typescript';
import { startCluster, until, type Cluster } from '../support';
import { commandEnvironment } from '../support/runWatch';
import { fingerprint, loadShop } from '../resource/support/fixture';
import { startProviderHost, type ProviderHost } from '../resource/support/providerHost';
import { installProgram, packFromSources, registerMigration, type Packed } from './installedProgram';
import { nodeBinary, USER_NODE_RELEASES, type NodeRelease } from './nodeReleases';

const execFileAsync = promisify(execFile);
const SOURCE_PW = 'src-Installed-5e1a90';
const TARGET_PW = 'dst-Installed-c37b42';

let work: string;
let packed: Packed;
let program: string;
let source: Cluster;
let target: Cluster;
/** Each user release's node binary, and the program of those whose SDK is not the checkout's. */
const nodeBinaries = new Map<string, string>();
const releasePrograms = new Map<string, string>();

/** Runs a command of the program's node_modules/.bin as a user's shell would, PG* variables only as given. */
async function runInstalled(file: string, args: string[], env: Record<string, string> = {}, nodeArgs: string[] = []) {
  const command = nodeArgs.length > 0 ? process.execPath : file;
  try {
    const { stdout, stderr } = await execFileAsync(command, nodeArgs.length > 0 ? [...nodeArgs, file, ...args] : args, {
      cwd: program,
      env: { ...commandEnvironment(), PGPASSFILE: '/nonexistent', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Runner processes started from the program's installed pgferry that are still alive. */
function installedRunners(): string[] {
  const script = path.join(program, 'node_modules/pgferry/dist/provider/engine/runner/main.js');
  return readdirSync('/proc')
    .filter((pid) => /^\d+$/.test(pid))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(script);
      } catch {
        return false;
      }
    });
}

describe('pgferry installed as a package', function () {
  this.timeout(300_000);
  before(async function () {
    this.timeout(360_000);
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'pgferry-package-'));
    // Everything that does not need the tarball goes on while it is packed, and each program
    // installs from it beside the others: each step is the one a user runs, only not one after
    // another. Every step is awaited before a failure is thrown, so no server started is lost to
    // the after hook.
    const servers = (async () => {
      [source, target] = await Promise.all([
        startCluster({ major: 15, label: 'pkg-src', password: SOURCE_PW }),
        startCluster({ major: 15, label: 'pkg-dst', password: TARGET_PW }),
      ]);
      for (const db of ['shop', ...USER_NODE_RELEASES.map(releaseDatabase)]) await loadShop(source, db);
    })();
    const nodes = USER_NODE_RELEASES.map(async (release) => nodeBinaries.set(release.version, await nodeBinary(release.version)));
    const programs = (async () => {
      packed = await packFromSources(work);
      await Promise.all([
        installProgram(work, packed.tarball).then((dir) => (program = dir)),
        ...USER_NODE_RELEASES.filter((r) => r.sdk !== undefined).map(async (r) =>
          releasePrograms.set(r.version, await installProgram(work, packed.tarball, r.sdk)),
        ),
      ]);
    })();
    const settled = await Promise.allSettled([servers, programs, ...nodes]);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
  });
  after(async () => {
    await Promise.all([source?.stop(), target?.stop()]);
    if (work) await fs.rm(work, { recursive: true, force: true });
  });

  describe('what the package holds and brings', contents);
  describe('the PgMigration resource in a Pulumi program', resource);
  describe('the pgferry command', command);
  for (const release of USER_NODE_RELEASES) describe(`on Node.js ${release.version}`, () => onNodeRelease(release));
});

function contents(): void {
  it('ships the compiled provider with its declarations, the README and the CHANGELOG, and nothing else', () => {
    const unexpected = packed.files.filter((f) => !/^(dist\/provider\/.+\.(js|d\.ts)|README\.md|CHANGELOG\.md|package\.json)$/.test(f));
    assert.deepEqual(unexpected, []);
    for (const needed of ['dist/provider/index.js', 'dist/provider/index.d.ts', 'dist/provider/cli/main.js', 'CHANGELOG.md']) {
      assert.ok(packed.files.includes(needed), `${needed} is not in the package`);
    }
    const manifest = JSON.parse(readFileSync(path.join(program, 'node_modules/pgferry/package.json'), 'utf8'));
    assert.equal(manifest.private, undefined);
    assert.equal(manifest.bin.pgferry, 'dist/provider/cli/main.js');
  });

  it('resolves its three entry points through the exports map, and no internal module', async () => {
    // Run from the program's directory, as the program's own require would resolve them.
    const script = `
const out = {};
for (const entry of ['pgferry', 'pgferry/engine', 'pgferry/decoder']) out[entry] = require.resolve(entry);
out.decodePgoutput = typeof require('pgferry/decoder').decodePgoutput;
out.pulumiAfterDecoder = Object.keys(require.cache).some((f) => f.includes('@pulumi'));
out.runMigration = typeof require('pgferry/engine').runMigration;
out.pulumiAfterEngine = Object.keys(require.cache).some((f) => f.includes('@pulumi'));
try { require.resolve('pgferry/dist/provider/engine/api'); out.internal = 'resolved'; } catch (e) { out.internal = e.code; }
process.stdout.write(JSON.stringify(out));`;
    const { stdout } = await execFileAsync(process.execPath, ['-e', script], { cwd: program });
    const dist = path.join(program, 'node_modules/pgferry/dist/provider');
    assert.deepEqual(JSON.parse(stdout), {
      pgferry: path.join(dist, 'index.js'),
      'pgferry/engine': path.join(dist, 'engine/index.js'),
      'pgferry/decoder': path.join(dist, 'decoder.js'),
      decodePgoutput: 'function',
      pulumiAfterDecoder: false,
      runMigration: 'function',
      pulumiAfterEngine: false,
      internal: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
    });
  });

  it("installs none of the lab's or the tests' dependencies and no second @pulumi/pulumi", () => {
    const modules = path.join(program, 'node_modules');
    for (const devOnly of ['@pulumi/azure-native', '@pulumi/random', 'pg-bin-13', 'pg-bin-16', 'typescript', 'mocha']) {
      assert.ok(!existsSync(path.join(modules, devOnly)), `${devOnly} was installed`);
    }
    assert.ok(!existsSync(path.join(modules, 'pgferry/node_modules/@pulumi')), 'pgferry got its own @pulumi/pulumi');
  });

  it('a TypeScript program using PgMigration, the engine API and the decoder type-checks, and every module the declarations import has types there', async () => {
    const file = path.join(program, 'index.ts');
    await fs.writeFile(
      file,
      `import * as pulumi from '@pulumi/pulumi';
import { PgMigration, type MigrationState } from 'pgferry';
import { parseMigrationSpec, type MigrationSpec } from 'pgferry/engine';
import { decodePgoutput, type PgoutputMessage } from 'pgferry/decoder';
const cfg = new pulumi.Config();
const migration = new PgMigration('aw', {
  migrationName: 'onlinemigration',
  source: { host: '10.0.0.4', user: 'postgres', password: cfg.requireSecret('srcPw'), sslMode: 'prefer' },
  target: { host: 'dst.postgres.database.azure.com', user: 'pgadmin', password: cfg.requireSecret('dstPw'), sslMode: 'require' },
  databases: ['adventureworks'],
  mode: 'Online',
  cutover: cfg.getBoolean('cutover') ?? false,
}, { customTimeouts: { create: '6h' } });
export const state: pulumi.Output<MigrationState> = migration.state;
export const spec: (input: unknown) => MigrationSpec = parseMigrationSpec;
export const decode: (bytes: Uint8Array) => PgoutputMessage = decodePgoutput;
`,
    );
    // Pulumi's TypeScript template's options (esModuleInterop added: zod 4's declarations need it
    // or skipLibCheck). skipLibCheck keeps it to the program's own file, as ts-node reports under
    // `pulumi up`; the declarations' own imports are resolved one by one below instead.
    const options: ts.CompilerOptions = {
      strict: true,
      target: ts.ScriptTarget.ES2020,
      module: ts.ModuleKind.CommonJS,
      moduleResolution: ts.ModuleResolutionKind.Node10,
      esModuleInterop: true,
      skipLibCheck: true,
      noEmit: true,
    };
    const errors = ts
      .getPreEmitDiagnostics(ts.createProgram([file], options))
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    assert.deepEqual(errors, []);
    // The same program under Node16 resolution, which reads the exports map's types (Node10 above
    // reads typesVersions for the subpaths): both find the declarations of the three entries.
    const node16 = { ...options, module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16 };
    const errors16 = ts
      .getPreEmitDiagnostics(ts.createProgram([file], node16))
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    assert.deepEqual(errors16, []);
    assert.deepEqual(untypedImports(path.join(program, 'node_modules/pgferry/dist'), options), []);
  });
}

/** Bare modules imported by the declarations under `dir` that resolve to no declaration file (node: built-ins aside). */
function untypedImports(dir: string, options: ts.CompilerOptions): string[] {
  const missing = new Set<string>();
  for (const entry of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    if (!entry.endsWith('.d.ts')) continue;
    const file = path.join(dir, entry);
    for (const [, spec] of readFileSync(file, 'utf8').matchAll(/(?:from |import\()'([^.'][^']*)'/g)) {
      if (spec!.startsWith('node:')) continue;
      const resolved = ts.resolveModuleName(spec!, file, options, ts.sys).resolvedModule;
      if (!resolved || !/\.d\.[cm]?ts$/.test(resolved.resolvedFileName)) missing.add(`${spec} (from ${entry})`);
    }
  }
  return [...missing];
}

function resource(): void {
  let host: ProviderHost | undefined;
  after(async () => host?.stop());

  it("runs an offline migration through the program's own provider host, loading the engine from node_modules/pgferry", async () => {
    const registered = await registerMigration(program, {
      migrationName: 'installed-offline',
      source: { host: source.host, port: source.port, user: source.user, password: SOURCE_PW, sslMode: 'prefer' },
      target: { host: target.host, port: target.port, user: target.user, password: TARGET_PW, sslMode: 'prefer' },
      databases: ['shop'],
      tableJobs: 2,
      indexJobs: 2,
    });
    assert.equal(registered.type, 'pulumi-nodejs:dynamic/pgferry:PgMigration');
    assert.ok(registered.ofProgramSdk, 'PgMigration is not a resource of the program SDK');
    assert.equal(registered.sdkSeenByPgferry, registered.sdkSeenByProgram);
    assert.ok(registered.sdkSeenByProgram.startsWith(path.join(program, 'node_modules/@pulumi/pulumi/')));
    assert.ok(!registered.provider.includes(SOURCE_PW) && !registered.provider.includes(TARGET_PW), 'a password in __provider');

    // Every pgferry module the host (and any process it starts) compiles is logged: where the engine came from.
    const loadedLog = path.join(work, 'loaded.log');
    const hook = path.join(work, 'log-loads.js');
    await fs.writeFile(
      hook,
      `const Module = require('node:module');
const fs = require('node:fs');
const js = Module._extensions['.js'];
Module._extensions['.js'] = function (module, filename) {
  if (/[\\\\/]dist[\\\\/]provider[\\\\/]/.test(filename)) fs.appendFileSync(${JSON.stringify(loadedLog)}, process.pid + ' ' + filename + '\\n');
  return js.call(this, module, filename);
};`,
    );
    host = await startProviderHost(
      program,
      { PGFERRY_DIST: '', NODE_OPTIONS: `--require ${hook}` },
      { hostScript: require.resolve('@pulumi/pulumi/cmd/dynamic-provider', { paths: [program] }) },
    );
    await host.configure({});
    const checked = await host.check({}, { ...registered.inputs, __provider: registered.provider });
    assert.deepEqual(checked.failures, []);
    const created = await host.create(checked.inputs);
    assert.equal(created.properties.state, 'Succeeded', String(created.properties.message));
    assert.deepEqual(await fingerprint(target, 'shop'), await fingerprint(source, 'shop'));
    const read = await host.read(created.id, created.properties);
    assert.equal(read.properties.state, 'Succeeded');
    // Its runner has exited (it may still be closing its sessions when the create returns).
    await until('the installed runner to exit', async () => (installedRunners().length === 0 ? true : undefined), 60_000);
    // The engine the host ran, and its runner's, was the installed package's: every pgferry module
    // they compiled is under the program's node_modules/pgferry (none from this checkout), and the
    // operations module and the runner's entry point are among them.
    const installed = path.join(program, 'node_modules/pgferry/dist/provider/');
    const loaded = readFileSync(loadedLog, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => line.slice(line.indexOf(' ') + 1));
    assert.deepEqual(
      loaded.filter((file) => !file.startsWith(installed)),
      [],
      'pgferry modules loaded from outside the installed package',
    );
    for (const entry of ['resource/operations.js', 'engine/runner/main.js'])
      assert.ok(loaded.includes(path.join(installed, entry)), `${entry} was not loaded from ${installed}`);
  });
}

function command(): void {
  const bin = () => path.join(program, 'node_modules/.bin/pgferry');
  const targetUrl = () => `postgres://postgres@${target.host}:${target.port}/postgres`;

  it('is on the program PATH as node_modules/.bin/pgferry and prints its help', async () => {
    const help = await runInstalled(bin(), ['--help']);
    assert.equal(help.code, 0, help.stderr);
    for (const verb of ['create', 'show', 'list', 'update', 'verify', 'resume', 'demo'])
      assert.match(help.stdout, new RegExp(`\\b${verb}\\b`));
  });

  it('lists the migrations on a target, loading nothing of @pulumi', async () => {
    // A require hook that fails any @pulumi module: the command must not need the SDK.
    const blocker = path.join(work, 'no-pulumi.js');
    await fs.writeFile(
      blocker,
      `const Module = require('node:module');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request.startsWith('@pulumi/')) throw new Error('the command loaded ' + request);
  return resolve.call(this, request, ...rest);
};`,
    );
    const list = await runInstalled(
      bin(),
      ['list', '--filter', 'all', '--output', 'json', '--target-url', targetUrl()],
      { PGPASSWORD: TARGET_PW },
      ['--require', blocker],
    );
    assert.equal(list.code, 0, list.stderr);
    const listed = JSON.parse(list.stdout) as { name: string; properties: { currentStatus: { state: string } } }[];
    assert.deepEqual(
      listed.map((m) => [m.name, m.properties.currentStatus.state]),
      [['installed-offline', 'Succeeded']],
    );
  });
}

/** The source database a release's migration copies (loaded by the suite's before hook). */
function releaseDatabase(release: NodeRelease): string {
  return `shop${release.version.split('.')[0]!}`;
}

/**
 * The package on another Node.js release than the suite's: a program depending on the newest SDK
 * that release takes registers PgMigration, the SDK's provider host runs an offline migration on
 * that release (and so does the runner it starts), and the installed command lists it.
 */
function onNodeRelease(release: NodeRelease): void {
  const major = release.version.split('.')[0]!;
  const database = releaseDatabase(release);
  const name = `installed-node${major}`;
  let node: string;
  let releaseProgram: string;
  let host: ProviderHost | undefined;
  before(() => {
    node = nodeBinaries.get(release.version)!;
    releaseProgram = releasePrograms.get(release.version) ?? program;
  });
  after(async () => host?.stop());

  const sdk = release.sdk ?? "the checkout's @pulumi/pulumi";
  it(`with ${release.sdk === undefined ? sdk : `@pulumi/pulumi ${sdk}`}: the provider host and its runner run there, the copy equals the source, and the command lists it Succeeded`, async () => {
    const registered = await registerMigration(
      releaseProgram,
      {
        migrationName: name,
        source: { host: source.host, port: source.port, user: source.user, password: SOURCE_PW, sslMode: 'prefer' },
        target: { host: target.host, port: target.port, user: target.user, password: TARGET_PW, sslMode: 'prefer' },
        databases: [database],
        tableJobs: 2,
        indexJobs: 2,
      },
      node,
    );
    const sdkVersion = JSON.parse(readFileSync(path.join(releaseProgram, 'node_modules/@pulumi/pulumi/package.json'), 'utf8')).version;
    if (release.sdk !== undefined) assert.equal(sdkVersion, release.sdk);

    // Each process that loads the runner's entry point says which release runs it.
    const runnersLog = path.join(work, `runners-${major}.log`);
    const hook = path.join(work, `log-runners-${major}.js`);
    await fs.writeFile(
      hook,
      `const Module = require('node:module');
const fs = require('node:fs');
const js = Module._extensions['.js'];
Module._extensions['.js'] = function (module, filename) {
  if (/runner[\\\\/]main\\.js$/.test(filename)) fs.appendFileSync(${JSON.stringify(runnersLog)}, process.version + '\\n');
  return js.call(this, module, filename);
};`,
    );
    host = await startProviderHost(
      releaseProgram,
      { PGFERRY_DIST: '', NODE_OPTIONS: `--require ${hook}` },
      { hostScript: require.resolve('@pulumi/pulumi/cmd/dynamic-provider', { paths: [releaseProgram] }), node },
    );
    await host.configure({});
    const checked = await host.check({}, { ...registered.inputs, __provider: registered.provider });
    assert.deepEqual(checked.failures, []);
    const created = await host.create(checked.inputs);
    assert.equal(created.properties.state, 'Succeeded', String(created.properties.message));
    assert.deepEqual(await fingerprint(target, database), await fingerprint(source, database));
    const versions = [...new Set(readFileSync(runnersLog, 'utf8').split('\n').filter(Boolean))];
    assert.deepEqual(versions, [`v${release.version}`]);

    const listed = await execFileAsync(
      node,
      [
        path.join(releaseProgram, 'node_modules/pgferry/dist/provider/cli/main.js'),
        'list',
        '--filter',
        'all',
        '--output',
        'json',
        '--target-url',
        `postgres://postgres@${target.host}:${target.port}/postgres`,
      ],
      { env: { ...process.env, PGPASSWORD: TARGET_PW } },
    );
    const states = (JSON.parse(listed.stdout) as { name: string; properties: { currentStatus: { state: string } } }[]).map((m) => [
      m.name,
      m.properties.currentStatus.state,
    ]);
    assert.deepEqual(
      states.find(([n]) => n === name),
      [name, 'Succeeded'],
    );
  });
}

// Drives PgMigration's provider the way `pulumi up` does: the provider serialized by the SDK,
// served by the SDK's own dynamic-provider host (cwd = a Pulumi program directory), called
// over gRPC with the SDK's generated stubs. Every response and host output line is recorded so
// tests can prove no secret leaves the provider.
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as pulumi from '@pulumi/pulumi';
import { ResourceProviderClient } from '@pulumi/pulumi/proto/provider_grpc_pb';
import * as provproto from '@pulumi/pulumi/proto/provider_pb';
import * as statusproto from '@pulumi/pulumi/proto/status_pb';
import { Struct } from 'google-protobuf/google/protobuf/struct_pb';
import { pgMigrationProvider } from '../../../provider/resource/provider';

const TYPE = 'pulumi-nodejs:dynamic/pgferry:PgMigration';
const URN = `urn:pulumi:test::pgferry-test::${TYPE}::migration`;

type Props = Record<string, unknown>;

/** The `__provider` text exactly as `new PgMigration(...)` stores it. */
export async function serializedProvider(): Promise<string> {
  const sf = await pulumi.runtime.serializeFunction(() => pgMigrationProvider, { allowSecrets: true });
  return sf.text;
}

/** The compiled tree these tests run from (…/dist-pulumi). */
function compiledRoot(): string {
  return path.resolve(__dirname, '../../..');
}

/**
 * A Pulumi program directory with pgferry installed in node_modules as users have it
 * (node_modules/pgferry/dist → this compiled tree), so the shim's ordinary lookup is exercised.
 */
async function makeProgramDir(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pgferry-program-'));
  const pkg = path.join(dir, 'node_modules', 'pgferry');
  await fs.mkdir(pkg, { recursive: true });
  await fs.writeFile(path.join(pkg, 'package.json'), JSON.stringify({ name: 'pgferry', main: 'dist/provider/index.js' }));
  await fs.symlink(compiledRoot(), path.join(pkg, 'dist'), 'dir');
  await fs.writeFile(path.join(dir, 'Pulumi.yaml'), 'name: pgferry-test\nruntime: nodejs\n');
  return { dir, remove: () => fs.rm(dir, { recursive: true, force: true }) };
}

export interface CallError extends Error {
  readonly code?: number;
  readonly details?: string;
  /** Present when the provider reported a partial failure ("created but failed to initialise"). */
  readonly initFailed?: { id: string; properties: Props; reasons: string[] };
}

export interface ProviderHost {
  readonly stdout: string[];
  readonly stderr: string[];
  /** JSON of every response and error, for the secret scan. */
  readonly responses: unknown[];
  configure(config?: Props): Promise<void>;
  /** `urn`: the resource's URN when it is not the default one (a resource moved or renamed with aliases). */
  check(olds: Props, news: Props, urn?: string): Promise<{ inputs: Props; failures: { property: string; reason: string }[] }>;
  diff(id: string, olds: Props, news: Props, urn?: string): Promise<{ changes: number; replaces: string[]; deleteBeforeReplace: boolean }>;
  create(props: Props, timeoutSeconds?: number): Promise<{ id: string; properties: Props }>;
  read(id: string, props: Props): Promise<{ id: string; properties: Props }>;
  update(id: string, olds: Props, news: Props): Promise<{ properties: Props }>;
  delete(id: string, props: Props): Promise<void>;
  stop(): Promise<void>;
}

const checkoutHostScript = require.resolve('@pulumi/pulumi/cmd/dynamic-provider');

/** Which SDK's host script serves, and which Node.js binary runs it. */
interface HostRuntime {
  /** The checkout's SDK's host unless a program's own SDK is to serve (test/package/). */
  readonly hostScript?: string;
  /** This process's binary unless another Node.js release is to run the host (test/package/). */
  readonly node?: string;
}

/** Starts the SDK's dynamic-provider host in `cwd` and connects a gRPC client to it. */
export async function startProviderHost(cwd: string, env: NodeJS.ProcessEnv = {}, runtime: HostRuntime = {}): Promise<ProviderHost> {
  const { hostScript = checkoutHostScript, node = process.execPath } = runtime;
  const child: ChildProcess = spawn(node, [hostScript, '127.0.0.1:1'], {
    cwd,
    env: { ...process.env, PULUMI_NODEJS_PROJECT: 'pgferry-test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, which stop() signals as the Pulumi engine does after each operation.
    detached: true,
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    let buffer = '';
    let resolved = false;
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (!resolved) {
          resolved = true;
          resolve(Number(line.trim()));
        } else {
          stdout.push(line);
          if (process.env.PGFERRY_TEST_SHOW_HOST) console.log(`    host| ${line}`);
        }
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => stderr.push(...chunk.toString().split('\n').filter(Boolean)));
    child.on('exit', (code) => {
      if (!resolved) reject(new Error(`provider host exited with ${code}: ${stderr.join('\n')}`));
    });
  });
  const client = new ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const responses: unknown[] = [];

  function call<Req, Res>(method: string, request: Req): Promise<Res> {
    return new Promise((resolve, reject) => {
      (client as unknown as Record<string, (r: Req, cb: (e: grpc.ServiceError | null, r: Res) => void) => void>)[method]!.call(
        client,
        request,
        (error, response) => {
          if (error) {
            const wrapped = decodeError(error);
            responses.push({ method, error: { message: wrapped.message, initFailed: wrapped.initFailed } });
            reject(wrapped);
          } else {
            resolve(response);
          }
        },
      );
    });
  }

  const record = <T>(method: string, result: T): T => {
    responses.push({ method, result });
    return result;
  };
  const struct = (value: Props) => Struct.fromJavaScript(value as Parameters<typeof Struct.fromJavaScript>[0]);
  const js = (value: Struct | undefined) => (value ? (value.toJavaScript() as Props) : {});

  return {
    stdout,
    stderr,
    responses,
    async configure(config = {}) {
      const req = new provproto.ConfigureRequest();
      req.setArgs(struct(config));
      await call('configure', req);
    },
    async check(olds, news, urn = URN) {
      const req = new provproto.CheckRequest();
      req.setUrn(urn);
      req.setOlds(struct(olds));
      req.setNews(struct(news));
      const res = await call<provproto.CheckRequest, provproto.CheckResponse>('check', req);
      return record('check', {
        inputs: js(res.getInputs()),
        failures: res.getFailuresList().map((f) => ({ property: f.getProperty(), reason: f.getReason() })),
      });
    },
    async diff(id, olds, news, urn = URN) {
      const req = new provproto.DiffRequest();
      req.setId(id);
      req.setUrn(urn);
      req.setOlds(struct(olds));
      req.setNews(struct(news));
      const res = await call<provproto.DiffRequest, provproto.DiffResponse>('diff', req);
      return record('diff', {
        changes: res.getChanges(),
        replaces: res.getReplacesList(),
        deleteBeforeReplace: res.getDeletebeforereplace(),
      });
    },
    async create(props, timeoutSeconds = 0) {
      const req = new provproto.CreateRequest();
      req.setUrn(URN);
      req.setProperties(struct(props));
      req.setTimeout(timeoutSeconds);
      const res = await call<provproto.CreateRequest, provproto.CreateResponse>('create', req);
      return record('create', { id: res.getId(), properties: js(res.getProperties()) });
    },
    async read(id, props) {
      const req = new provproto.ReadRequest();
      req.setId(id);
      req.setUrn(URN);
      req.setProperties(struct(props));
      const res = await call<provproto.ReadRequest, provproto.ReadResponse>('read', req);
      return record('read', { id: res.getId(), properties: js(res.getProperties()) });
    },
    async update(id, olds, news) {
      const req = new provproto.UpdateRequest();
      req.setId(id);
      req.setUrn(URN);
      req.setOlds(struct(olds));
      req.setNews(struct(news));
      const res = await call<provproto.UpdateRequest, provproto.UpdateResponse>('update', req);
      return record('update', { properties: js(res.getProperties()) });
    },
    async delete(id, props) {
      const req = new provproto.DeleteRequest();
      req.setId(id);
      req.setUrn(URN);
      req.setProperties(struct(props));
      await call('delete', req);
    },
    async stop() {
      client.close();
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        const signalGroup = (signal: NodeJS.Signals) => {
          try {
            process.kill(-child.pid!, signal);
          } catch {
            // the group is already gone
          }
        };
        signalGroup('SIGINT');
        const timer = setTimeout(() => signalGroup('SIGKILL'), 5000);
        timer.unref();
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

/** The engine's view of a provider error: message, and a partial failure's id and properties. */
function decodeError(error: grpc.ServiceError): CallError {
  const wrapped = new Error(error.details || error.message) as CallError & {
    code?: number;
    details?: string;
    initFailed?: CallError['initFailed'];
  };
  (wrapped as { code?: number }).code = error.code;
  (wrapped as { details?: string }).details = error.details;
  const bin = error.metadata?.get('grpc-status-details-bin')[0];
  if (bin) {
    const status = statusproto.Status.deserializeBinary(new Uint8Array(bin as Buffer));
    for (const any of status.getDetailsList()) {
      if (any.getTypeName() !== 'pulumirpc.ErrorResourceInitFailed') continue;
      const detail = provproto.ErrorResourceInitFailed.deserializeBinary(any.getValue_asU8());
      (wrapped as { initFailed?: CallError['initFailed'] }).initFailed = {
        id: detail.getId(),
        properties: (detail.getProperties()?.toJavaScript() ?? {}) as Props,
        reasons: detail.getReasonsList(),
      };
    }
  }
  return wrapped;
}

/**
 * Every place a password could leak: responses (minus the `source`/`target` outputs, which echo the
 * secret inputs under their own names so Pulumi keeps them secret and encrypted), and the host's
 * stdout and stderr. Returns the offending texts.
 */
/** What every protocol suite starts with: the serialized provider, a program directory, a configured host. */
export interface ProtocolSession {
  readonly provider: string;
  readonly program: { dir: string; remove(): Promise<void> };
  readonly host: ProviderHost;
}

/** `env`: the provider host's environment beside the test's (as `pulumi up` passes its own on). */
export async function openProtocolSession(env: NodeJS.ProcessEnv = {}): Promise<ProtocolSession> {
  const provider = await serializedProvider();
  const program = await makeProgramDir();
  const host = await startProviderHost(program.dir, env);
  await host.configure({});
  return { provider, program, host };
}

/** Stops the host and removes the program directory (either may be missing after a failed before). */
export async function closeProtocolSession(session: Partial<Pick<ProtocolSession, 'host' | 'program'>>): Promise<void> {
  await session.host?.stop();
  await session.program?.remove();
}

export function secretLeaks(host: ProviderHost, secrets: readonly string[]): string[] {
  const leaks: string[] = [];
  const scan = (label: string, text: string) => {
    for (const secret of secrets) if (text.includes(secret)) leaks.push(`${label}: ${text.slice(0, 300)}`);
  };
  for (const entry of host.responses) scan('response', JSON.stringify(withoutServerPasswords(entry)));
  for (const line of host.stdout) scan('stdout', line);
  for (const line of host.stderr) scan('stderr', line);
  return leaks;
}

/**
 * Drops `password` under any `source`/`target` key and the whole `secretParameters` (the secret
 * inputs' own names: PgMigration makes them secrets, and the engine keeps their echo secret).
 */
function withoutServerPasswords(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => withoutServerPasswords(v));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (k === 'password' && (key === 'source' || key === 'target')) continue;
      if (k === 'secretParameters') continue;
      out[k] = withoutServerPasswords(v, k);
    }
    return out;
  }
  return value;
}

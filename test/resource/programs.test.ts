// The example programs and the root program under Pulumi mocks: the PgMigration they declare,
// its inputs from stack config, secrets kept secret, timeouts handed to the provider, outputs.
import assert from 'node:assert/strict';
import path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { loadProgram, repoRoot, typeCheckPrograms } from './support/programs';

const TYPE = 'pulumi-nodejs:dynamic/pgferry:PgMigration';
const SIG_KEY = '4dabf18193072939515e22adb298388d';
const SECRET_SIG = '1b47061264138c4ac30d75fd1eb44270';

interface Registered {
  readonly type: string;
  readonly name: string;
  readonly inputs: Record<string, any>;
}

/** additionalSecretOutputs by resource name, read off the registration requests. */
const secretOutputs = new Map<string, string[]>();
/** Properties by resource name as sent on the wire (the mocks' own view lifts nested secrets to the top). */
const wire = new Map<string, Record<string, any>>();

const isSecret = (v: unknown) => typeof v === 'object' && v !== null && (v as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
const unwrap = (v: any): any =>
  isSecret(v)
    ? unwrap(v.value)
    : Array.isArray(v)
      ? v.map(unwrap)
      : v && typeof v === 'object'
        ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrap(x)]))
        : v;

async function withMocks(project: string, config: Record<string, string>, secretKeys: string[]): Promise<Registered[]> {
  const registered: Registered[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        registered.push({ type: args.type, name: args.name, inputs: args.inputs });
        const state: Record<string, unknown> = { ...args.inputs };
        if (args.type === TYPE) Object.assign(state, { state: 'Succeeded', subState: 'Completed', databaseDetails: [] });
        if (args.type === 'azure-native:dbforpostgresql:Server') state.fullyQualifiedDomainName = 'lab-pg.postgres.database.azure.com';
        return { id: `${args.name}-id`, state };
      },
      call(args) {
        if (args.token === 'azure-native:privatedns:getPrivateRecordSet') return { aRecords: [{ ipv4Address: '10.20.1.4' }] };
        return {};
      },
    },
    project,
    'dev',
  );
  pulumi.runtime.setAllConfig(config, secretKeys);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const monitor = require('@pulumi/pulumi/runtime/settings').getMonitor();
  const original = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, callback: unknown) => {
    secretOutputs.set(req.getName(), req.getAdditionalsecretoutputsList());
    wire.set(req.getName(), req.getObject().toJavaScript());
    return original(req, callback);
  };
  return registered;
}

function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply((v) => (resolve(v), v)));
}

const exampleConfig = (project: string, extra: Record<string, string> = {}) => ({
  [`${project}:sourceHost`]: '10.20.2.4',
  [`${project}:sourceUser`]: 'postgres',
  [`${project}:sourcePassword`]: 'example-src-pw',
  [`${project}:targetHost`]: 'lab-pg.postgres.database.azure.com',
  [`${project}:targetUser`]: 'pgadmin',
  [`${project}:targetPassword`]: 'example-dst-pw',
  [`${project}:databases`]: '["adventureworks"]',
  ...extra,
});

describe('example and root programs under Pulumi mocks', function () {
  this.timeout(120_000);

  it('the example programs type-check against the public API', () => {
    const files = ['offline', 'online', 'parameters'].map((m) => path.join(repoRoot(), 'examples', m, 'index.ts'));
    assert.deepEqual(typeCheckPrograms(files), []);
  });

  it('examples/offline declares an Offline PgMigration from stack config, passwords secret', async () => {
    const project = 'pgferry-offline-example';
    const registered = await withMocks(project, exampleConfig(project), [`${project}:sourcePassword`, `${project}:targetPassword`]);
    const exports = await loadProgram(path.join(repoRoot(), 'examples', 'offline'));
    assert.equal(await valueOf(exports.state as pulumi.Output<string>), 'Succeeded');
    const migration = registered.find((r) => r.type === TYPE)!;
    assert.ok(migration, 'a PgMigration is registered');
    // Only passwords are secret: a preview shows which host, port or user changed.
    for (const side of ['source', 'target']) {
      const server = wire.get('offline')![side];
      assert.ok(!isSecret(server), `${side} as a whole is not secret`);
      assert.ok(isSecret(server.password), `${side}.password is secret`);
      assert.ok(!isSecret(server.host) && !isSecret(server.user), `${side} host and user are plain`);
    }
    assert.deepEqual(secretOutputs.get('offline'), []);
    const inputs = unwrap(migration.inputs);
    assert.equal(inputs.mode, 'Offline');
    assert.deepEqual(inputs.databases, ['adventureworks']);
    assert.equal(inputs.source.password, 'example-src-pw');
    assert.equal(inputs.target.sslMode, 'require');
    assert.deepEqual(inputs.customTimeouts, { create: '6h' });
    assert.equal(typeof inputs.__provider, 'string');
    assert.doesNotMatch(inputs.__provider, /example-src-pw|example-dst-pw/);
  });

  it('examples/online declares an Online PgMigration whose cutover follows config', async () => {
    const project = 'pgferry-online-example';
    const registered = await withMocks(project, exampleConfig(project, { [`${project}:cutover`]: 'true' }), [
      `${project}:sourcePassword`,
      `${project}:targetPassword`,
    ]);
    const exports = await loadProgram(path.join(repoRoot(), 'examples', 'online'));
    await valueOf(exports.state as pulumi.Output<string>);
    const inputs = unwrap(registered.find((r) => r.type === TYPE)!.inputs);
    assert.equal(inputs.mode, 'Online');
    assert.equal(inputs.cutover, true);
    assert.deepEqual(inputs.customTimeouts, { create: '6h', update: '1h' });
  });

  it('the root program composes the lab and the migrations declared in stack config', async () => {
    const project = 'pgferry-lab';
    const lab = {
      location: 'westeurope',
      namePrefix: 'lab',
      vpn: { enabled: false },
      migrations: [
        { name: 'aw-offline', databases: ['adventureworks'], source: { host: 'onprem.example.internal' } },
        { name: 'aw-online', databases: ['sales'], mode: 'Online', source: { host: 'onprem.example.internal' } },
      ],
    };
    const config: Record<string, string> = {
      [`${project}:adminPassword`]: 'Root-admin-pw1',
      [`${project}:sourcePassword`]: 'root-src-pw',
    };
    for (const [key, value] of Object.entries(lab)) config[`${project}:${key}`] = typeof value === 'string' ? value : JSON.stringify(value);
    const registered = await withMocks(project, config, [`${project}:adminPassword`, `${project}:sourcePassword`]);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const rootProgram = require('../../index') as () => Record<string, unknown>;
    const outputs = rootProgram();
    const migrations = outputs.migrations as Record<string, { state: pulumi.Output<string> }>;
    assert.deepEqual(Object.keys(migrations).sort(), ['aw-offline', 'aw-online']);
    assert.equal(await valueOf(migrations['aw-online']!.state), 'Succeeded');
    const pgMigrations = registered.filter((r) => r.type === TYPE);
    assert.equal(pgMigrations.length, 2);
    const online = unwrap(pgMigrations.find((r) => unwrap(r.inputs).migrationName === 'aw-online')!.inputs);
    assert.equal(online.mode, 'Online');
    assert.equal(online.target.host, 'lab-pg.postgres.database.azure.com');
    assert.equal(online.target.password, 'Root-admin-pw1');
    assert.ok(registered.some((r) => r.type === 'azure-native:dbforpostgresql:Server'));
    for (const m of pgMigrations) {
      const sent = wire.get(m.name)!;
      assert.ok(isSecret(sent.source.password) && isSecret(sent.target.password));
      assert.ok(!isSecret(sent.target) && !isSecret(sent.target.host));
    }
  });
});

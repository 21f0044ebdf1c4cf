// The PgMigration class under Pulumi mocks: what it registers — only passwords secret however the
// servers (and the pooler) are given, the import option carried as an input, `PgMigration.get` as a read by id.
import assert from 'node:assert/strict';
import * as pulumi from '@pulumi/pulumi';
import { Server } from '@pulumi/azure-native/dbforpostgresql/server';
import { PgMigration } from '../../provider/resource';

const SIG_KEY = '4dabf18193072939515e22adb298388d';
const SECRET_SIG = '1b47061264138c4ac30d75fd1eb44270';
const isSecret = (v: unknown) => typeof v === 'object' && v !== null && (v as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
const secretValue = (v: unknown) => (v as { value: unknown }).value;

interface Seen {
  readonly name: string;
  readonly id: string | undefined;
  /** The properties as sent on the wire (secrets stay where they are; the mocks' view lifts them). */
  readonly inputs: Record<string, any>;
}

async function withMocks(): Promise<Seen[]> {
  const seen: Seen[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => ({
        id: args.id || `${args.name}-id`,
        // an azure-native server echoes its inputs, its name the serverName given (as ARM returns it)
        state: args.type.endsWith(':Server') ? { ...args.inputs, name: args.inputs.serverName } : { state: 'Succeeded' },
      }),
      call: () => ({}),
    },
    'pgferry-test',
    'dev',
  );
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const monitor = require('@pulumi/pulumi/runtime/settings').getMonitor();
  for (const [method, id, props] of [
    ['registerResource', 'getImportid', 'getObject'],
    ['readResource', 'getId', 'getProperties'],
  ] as const) {
    const original = monitor[method].bind(monitor);
    monitor[method] = (req: any, callback: unknown) => {
      seen.push({ name: req.getName(), id: req[id](), inputs: req[props]().toJavaScript() });
      return original(req, callback);
    };
  }
  return seen;
}

const settle = (r: pulumi.Resource) => new Promise((resolve) => r.urn.apply(resolve));

describe('PgMigration registration', function () {
  this.timeout(60_000);
  let seen: Seen[];
  beforeEach(async () => {
    seen = await withMocks();
  });

  it('keeps a server built in one apply readable: only its password is secret', async () => {
    const password = pulumi.secret('apply-pw');
    const target = pulumi
      .all([pulumi.output('db.example.internal'), password])
      .apply(([host, pw]) => ({ host, user: 'admin', password: pw }));
    await settle(
      new PgMigration('m', {
        migrationName: 'm',
        source: { host: 'src', user: 'postgres', password: 'plain-pw' },
        target,
        databases: ['app'],
      }),
    );
    const inputs = seen.find((s) => s.name === 'm')!.inputs;
    assert.ok(!isSecret(inputs.target) && !isSecret(inputs.target.host), 'host visible in a diff');
    assert.equal(inputs.target.host, 'db.example.internal');
    assert.equal(inputs.target.user, 'admin');
    assert.ok(isSecret(inputs.target.password));
    assert.equal(secretValue(inputs.target.password), 'apply-pw');
    assert.ok(isSecret(inputs.source.password), 'a plain password is made secret');
    assert.equal(inputs.source.host, 'src');
  });

  it('keeps the pooler readable but its password secret, given plain or built in one apply', async () => {
    const pooler = pulumi
      .all([pulumi.output('10.0.0.5'), pulumi.secret('pooler-apply-pw')])
      .apply(([host, password]) => ({ host, user: 'pgferry_admin', password, configFile: '/etc/pgbouncer/pgbouncer.ini' }));
    for (const [name, given] of [
      ['plain', { host: '10.0.0.5', user: 'pgferry_admin', password: 'pooler-plain-pw', configFile: '/etc/pgbouncer/pgbouncer.ini' }],
      ['applied', pooler],
    ] as const) {
      await settle(
        new PgMigration(name, {
          migrationName: name,
          source: { host: 'src', user: 'postgres' },
          target: { host: 'dst', user: 'admin' },
          databases: ['app'],
          mode: 'Online',
          pooler: given,
        }),
      );
      const inputs = seen.find((s) => s.name === name)!.inputs;
      assert.ok(!isSecret(inputs.pooler) && !isSecret(inputs.pooler.host), `${name}: the pooler's address visible in a diff`);
      assert.deepEqual(
        [inputs.pooler.host, inputs.pooler.user, inputs.pooler.configFile],
        ['10.0.0.5', 'pgferry_admin', '/etc/pgbouncer/pgbouncer.ini'],
      );
      assert.ok(isSecret(inputs.pooler.password), `${name}: its password secret`);
      assert.equal(secretValue(inputs.pooler.password), name === 'plain' ? 'pooler-plain-pw' : 'pooler-apply-pw');
    }
  });

  it("stores azure-native's secretParameters as a secret, its passwords with it; the other azure-native inputs plain", async () => {
    await settle(
      new PgMigration('azure', {
        migrationName: 'examplemigration',
        resourceGroupName: 'rg',
        serverName: 'exampleserver',
        sourceDbServerResourceId: 'src:5432@u',
        secretParameters: { adminCredentials: { sourceServerPassword: 'azure-src-pw', targetServerPassword: 'azure-dst-pw' } },
        dbsToMigrate: ['app'],
        migrationMode: 'Online',
        triggerCutover: 'False',
      }),
    );
    const inputs = seen.find((s) => s.name === 'azure')!.inputs;
    assert.ok(isSecret(inputs.secretParameters), 'secretParameters is a secret');
    assert.equal(
      (secretValue(inputs.secretParameters) as { adminCredentials: { sourceServerPassword: string } }).adminCredentials
        .sourceServerPassword,
      'azure-src-pw',
    );
    assert.ok(!JSON.stringify({ ...inputs, secretParameters: undefined }).includes('azure-src-pw'), 'no password outside it');
    assert.equal(inputs.serverName, 'exampleserver');
    assert.equal(inputs.sourceDbServerResourceId, 'src:5432@u');
  });

  it('sends the administratorLogin of the azure-native server named by serverName (server.name) as targetAdministratorLogin; none for a plain name', async () => {
    const server = new Server('pg', {
      resourceGroupName: 'rg',
      serverName: 'exampleserver',
      administratorLogin: 'pgadmin',
      administratorLoginPassword: pulumi.secret('server-pw'),
      version: '16',
    });
    const azure = { resourceGroupName: 'rg', sourceDbServerResourceId: 'src:5432@u', dbsToMigrate: ['app'] };
    await settle(new PgMigration('from-server', { ...azure, migrationName: 'm1', serverName: server.name }));
    await settle(
      new PgMigration('from-fqdn', {
        ...azure,
        migrationName: 'm2',
        serverName: 'exampleserver',
        targetDbServerFullyQualifiedDomainName: server.fullyQualifiedDomainName,
      }),
    );
    await settle(new PgMigration('plain-name', { ...azure, migrationName: 'm3', serverName: 'exampleserver' }));
    const inputs = (name: string) => seen.find((s) => s.name === name)!.inputs;
    assert.equal(inputs('from-server').serverName, 'exampleserver');
    assert.equal(inputs('from-server').targetAdministratorLogin, 'pgadmin');
    assert.equal(inputs('from-fqdn').targetAdministratorLogin, 'pgadmin', 'the FQDN output carries the server too');
    assert.equal(inputs('plain-name').targetAdministratorLogin, undefined);
    assert.ok(!JSON.stringify(inputs('from-server')).includes('server-pw'), "the server's password is not taken");
  });
});

describe('PgMigration.get', function () {
  this.timeout(60_000);
  let seen: Seen[];
  beforeEach(async () => {
    seen = await withMocks();
  });

  it('takes an ARM migration id for get, as azure-native Migration.get does', async () => {
    const arm = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/exampleserver/migrations/m';
    await settle(PgMigration.get('by-arm', arm, {}, { target: { password: 'arm-pw' } }));
    const read = seen.find((s) => s.name === 'by-arm')!;
    assert.equal(read.id, arm);
    assert.ok(isSecret(read.inputs.target.password));
  });

  it('carries the import option as importId: create adopts, Pulumi is not asked to import', async () => {
    await settle(
      new PgMigration(
        'adopted',
        { migrationName: 'm', source: { host: 'src', user: 'u' }, target: { host: 'dst', user: 'u' }, databases: ['app'] },
        { import: 'dst:5432/m' },
      ),
    );
    const registered = seen.find((s) => s.name === 'adopted')!;
    assert.equal(registered.id, '', 'no Pulumi import (the dynamic provider host cannot serve it)');
    assert.equal(registered.inputs.importId, 'dst:5432/m');
  });

  it("PgMigration.get takes resource options third, as every Pulumi resource's get: the parent named in them is the read's parent", async () => {
    const group = new pulumi.ComponentResource('test:index:Group', 'group');
    const got = PgMigration.get('with-options', 'dst:5432/m', { parent: group });
    const urn = await new Promise<string>((resolve) => got.urn.apply(resolve));
    assert.match(urn, /::test:index:Group\$pulumi-nodejs:dynamic\/pgferry:PgMigration::with-options$/);
    const read = seen.find((s) => s.name === 'with-options')!;
    assert.equal(read.id, 'dst:5432/m');
    assert.equal(read.inputs.target, undefined, 'no credentials sent: the provider finds them as libpq does');
  });

  it('PgMigration.get reads an existing migration by its id with the target credentials', async () => {
    const got = PgMigration.get('existing', 'dst:5432/m', {}, { target: { user: 'pgadmin', password: 'get-pw' } });
    await settle(got);
    const read = seen.find((s) => s.name === 'existing')!;
    assert.equal(read.id, 'dst:5432/m');
    assert.equal(read.inputs.target.user, 'pgadmin');
    assert.ok(isSecret(read.inputs.target.password));
    assert.equal(typeof read.inputs.__provider, 'string');
    assert.equal(await new Promise((resolve) => got.state.apply(resolve)), 'Succeeded');
  });
});

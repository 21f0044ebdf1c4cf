// azure-native Migration's server inputs (sourceDbServerResourceId, the FQDNs, secretParameters,
// serverName / targetDbServerName) read once by provider/azure/body.ts: every form through
// PgMigration's check and, where az's body has the same key, through the CLI's reading of a body,
// both reaching the same source and target; failures named as the program wrote the input; the
// passwords kept under secretParameters until the spec is built; the ARM migration id read as
// PgMigration.get takes it; az's added flags. Pure: no server.
import assert from 'node:assert/strict';
import { parseCli } from '../../provider/cli/input/parse';
import { specFromProperties } from '../../provider/cli/input/body';
import { PgferryError } from '../../provider/engine';
import { withAzureNativeServers } from '../../provider/resource/azureNative';
import { parseMigrationId, toMigrationSpec } from '../../provider/resource/inputSchema';
import { check } from '../../provider/resource/operations';
import { migrationOutputs } from '../../provider/resource/outputs';
import type { MigrationStatus } from '../../provider/engine';

const ENV = { PGFERRY_SERVER_HOSTS: 'exampleserver=pgadmin@10.1.0.5:6432' };
const ARM_SOURCE =
  '/subscriptions/ffffffff-ffff-ffff-ffff-ffffffffffff/resourceGroups/rg/providers/Microsoft.DBForPostgreSql/servers/examplesource';
const isCode = (code: string) => (e: unknown) => e instanceof PgferryError && e.code === code;

/** Azure's example with only the servers varying. */
const BASE = {
  migrationName: 'examplemigration',
  dbsToMigrate: ['db1'],
  resourceGroupName: 'exampleresourcegroup',
  location: 'eastus',
  secretParameters: { adminCredentials: { sourceServerPassword: 'src-pw', targetServerPassword: 'dst-pw' } },
};

const never = () => false;

function servers(inputs: Record<string, unknown>) {
  return withAzureNativeServers({ ...BASE, ...inputs }, never, ENV);
}

/** The CLI's reading of the same keys in an az body (the target flags as az gives them). */
function viaCli(properties: Record<string, unknown>) {
  const { dbsToMigrate, secretParameters, location } = BASE;
  return specFromProperties(
    { properties: { dbsToMigrate, secretParameters, ...properties }, location },
    { name: 'examplemigration', target: { user: 'pgadmin' } },
  );
}

describe("azure-native's server inputs, read once for the CLI and PgMigration", () => {
  it('reads every form of the source as the CLI reads it in a body', () => {
    const forms: [Record<string, unknown>, { host: string; port: number; user: string }][] = [
      [{ sourceDbServerResourceId: '10.0.0.4:5432@postgres' }, { host: '10.0.0.4', port: 5432, user: 'postgres' }],
      [{ sourceDbServerResourceId: 'src.example.com:6000@app' }, { host: 'src.example.com', port: 6000, user: 'app' }],
      [{ sourceDbServerResourceId: '[::1]:5433@u' }, { host: '::1', port: 5433, user: 'u' }],
      [
        { sourceDbServerResourceId: '10.0.0.4:5432@postgres', sourceDbServerFullyQualifiedDomainName: 'custom.dns' },
        { host: 'custom.dns', port: 5432, user: 'postgres' },
      ],
      [
        {
          sourceDbServerResourceId: ARM_SOURCE,
          sourceDbServerFullyQualifiedDomainName: 'examplesource.postgres.database.azure.com',
          secretParameters: { ...BASE.secretParameters, sourceServerUsername: 'admin@examplesource' },
        },
        { host: 'examplesource.postgres.database.azure.com', port: 5432, user: 'admin@examplesource' },
      ],
    ];
    for (const [inputs, expected] of forms) {
      const read = servers({ ...inputs, serverName: 'exampleserver' });
      assert.deepEqual(read.failures, [], JSON.stringify(inputs));
      const source = read.inputs.source as Record<string, unknown>;
      assert.deepEqual({ host: source.host, port: source.port, user: source.user }, expected, JSON.stringify(inputs));
      assert.equal(source.password, undefined, 'the password stays in secretParameters');
      const cli = viaCli({ ...inputs, targetDbServerFullyQualifiedDomainName: 'dst.example.com' }).source;
      assert.deepEqual({ host: cli.host, port: cli.port, user: cli.user }, expected, `CLI ${JSON.stringify(inputs)}`);
      assert.equal(cli.password, 'src-pw', 'the CLI spec has it');
    }
  });

  it('finds the target from serverName, targetDbServerName or the FQDN, with the user from secretParameters or the mapping', () => {
    const mapped = servers({ sourceDbServerResourceId: 'h:5432@u', serverName: 'exampleserver' });
    assert.deepEqual(mapped.failures, []);
    // the mapped address, with the server's own name its certificate is checked against
    assert.deepEqual(mapped.inputs.target, {
      host: '10.1.0.5',
      port: 6432,
      user: 'pgadmin',
      sslServerName: 'exampleserver.postgres.database.azure.com',
    });
    const older = servers({ sourceDbServerResourceId: 'h:5432@u', targetDbServerName: 'ExampleServer' });
    assert.deepEqual(older.inputs.target, mapped.inputs.target, "azure-native 2.x's name, any case");
    const azure = servers({
      sourceDbServerResourceId: 'h:5432@u',
      serverName: 'myserver',
      secretParameters: { ...BASE.secretParameters, targetServerUsername: 'admin1' },
    });
    assert.deepEqual(azure.inputs.target, { host: 'myserver.postgres.database.azure.com', user: 'admin1' });
    const fqdn = servers({
      sourceDbServerResourceId: 'h:5432@u',
      serverName: 'exampleserver',
      targetDbServerFullyQualifiedDomainName: 'private.example.com',
    });
    assert.deepEqual(fqdn.inputs.target, { host: 'private.example.com', user: 'pgadmin' });
  });

  it('says what to give when nothing names the target user, and when two names disagree', () => {
    const read = servers({ sourceDbServerResourceId: 'h:5432@u', serverName: 'other' });
    assert.deepEqual(
      read.failures.map((f) => f.property),
      ['secretParameters.targetServerUsername'],
    );
    assert.equal(
      read.failures[0]!.reason,
      'secretParameters.targetServerUsername: required: no login found for server "other" (other.postgres.database.azure.com:5432); give it here, or pass the azure-native server resource\'s name as serverName (its administratorLogin is used), or set PGUSER (or other=USER@HOST in PGFERRY_SERVER_HOSTS), or add a ~/.pgpass entry for other.postgres.database.azure.com:5432',
    );
    const both = servers({ sourceDbServerResourceId: 'h:5432@u', serverName: 'exampleserver', targetDbServerName: 'x' });
    assert.ok(both.failures.some((f) => f.property === 'serverName' && /targetDbServerName/.test(f.reason)));
    const clash = servers({ sourceDbServerResourceId: 'h:5432@u', serverName: 'exampleserver', source: { host: 'other', user: 'u' } });
    assert.ok(clash.failures.some((f) => f.property === 'sourceDbServerResourceId' && /source\.host/.test(f.reason)));
    const agree = servers({
      sourceDbServerResourceId: 'h:5432@u',
      serverName: 'exampleserver',
      source: { host: 'h', user: 'u', password: 'x' },
    });
    assert.deepEqual(agree.failures, []);
  });

  it('leaves values not known yet to up', () => {
    const unknown = (v: unknown) => JSON.stringify(v).includes('UNKNOWN');
    const read = withAzureNativeServers({ ...BASE, sourceDbServerResourceId: 'UNKNOWN', serverName: 'UNKNOWN' }, unknown, ENV);
    assert.deepEqual(read.failures, []);
  });

  it('check names a failure as the program wrote the input, and joins the passwords only in the spec', async () => {
    process.env.PGFERRY_SERVER_HOSTS = ENV.PGFERRY_SERVER_HOSTS;
    try {
      const inputs = { ...BASE, serverName: 'exampleserver', sourceDbServerResourceId: '10.0.0.4:5432@postgres' };
      const checked = await check({}, inputs);
      assert.deepEqual(checked.failures, []);
      assert.equal((checked.inputs.target as Record<string, unknown>).password, undefined);
      const spec = toMigrationSpec(checked.inputs);
      assert.deepEqual([spec.source.password, spec.target.password], ['src-pw', 'dst-pw']);
      const bad = await check({}, { ...inputs, triggerCutover: 'yes', migrationMode: 'sideways', sslMode: 'maybe', dbsToMigrate: [] });
      assert.deepEqual(bad.failures.map((f) => f.property).sort(), ['dbsToMigrate', 'migrationMode', 'sslMode', 'triggerCutover']);
      for (const f of bad.failures) assert.ok(f.reason.startsWith(`${f.property}: `), f.reason);
      const port = await check({}, { ...inputs, sourceDbServerResourceId: '10.0.0.4:70000@postgres' });
      assert.deepEqual(
        port.failures.map((f) => f.property),
        ['sourceDbServerResourceId'],
      );
    } finally {
      delete process.env.PGFERRY_SERVER_HOSTS;
    }
  });

  it('reads a migration id as PgMigration.get and import take it: its own, or the ARM id', () => {
    assert.deepEqual(parseMigrationId('10.0.0.5:5432/m1', ENV), { host: '10.0.0.5', port: 5432, migrationName: 'm1' });
    const arm = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/exampleserver/migrations/m1';
    assert.deepEqual(parseMigrationId(arm, ENV), {
      host: '10.1.0.5',
      port: 6432,
      migrationName: 'm1',
      user: 'pgadmin',
      sslServerName: 'exampleserver.postgres.database.azure.com',
      subscriptionId: 's',
      resourceGroupName: 'rg',
      serverName: 'exampleserver',
    });
    assert.equal(parseMigrationId(arm.replace('exampleserver', 'srv'), {})?.host, 'srv.postgres.database.azure.com');
    assert.equal(parseMigrationId('not an id', ENV), undefined);
  });
});

describe('the target login of an azure-native program without targetServerUsername', () => {
  it("finds the target login in the stated order: administratorLogin, PGFERRY_SERVER_HOSTS's user, PGUSER, then ~/.pgpass", () => {
    const PGPASS = [
      '# comment',
      'other.postgres.database.azure.com:5432:sales:salesuser:pw1',
      'other.postgres.database.azure.com:*:*:*:pw-any-user',
      'other.postgres.database.azure.com:5432:postgres:pgadmin\\:x:pw2',
      '*:*:*:fallback:pw3',
    ].join('\n');
    const login = (inputs: Record<string, unknown>, env: NodeJS.ProcessEnv, pgpass?: string) =>
      (
        withAzureNativeServers({ ...BASE, sourceDbServerResourceId: 'h:5432@u', ...inputs }, never, env, () => pgpass).inputs.target as {
          user?: string;
        }
      ).user;
    const mapped = { PGFERRY_SERVER_HOSTS: 'other=mapuser@other.postgres.database.azure.com' };
    assert.equal(login({ serverName: 'other', targetAdministratorLogin: 'azadmin' }, { ...mapped, PGUSER: 'envuser' }, PGPASS), 'azadmin');
    assert.equal(login({ serverName: 'other' }, { ...mapped, PGUSER: 'envuser' }, PGPASS), 'mapuser');
    assert.equal(login({ serverName: 'other' }, { PGUSER: 'envuser' }, PGPASS), 'envuser');
    assert.equal(
      login({ serverName: 'other' }, {}, PGPASS),
      'pgadmin:x',
      'the first entry for host, port and postgres naming a user, unescaped',
    );
    assert.equal(
      login({ serverName: 'other', target: { maintenanceDatabase: 'sales' } }, {}, PGPASS),
      'salesuser',
      'the maintenance database given',
    );
    assert.equal(login({ serverName: 'other' }, {}, '*:6432:*:wrongport:pw'), undefined, 'another port is not this server');
    const named = withAzureNativeServers(
      {
        ...BASE,
        sourceDbServerResourceId: 'h:5432@u',
        serverName: 'other',
        targetAdministratorLogin: 'azadmin',
        secretParameters: { ...BASE.secretParameters, targetServerUsername: 'given' },
      },
      never,
      { PGUSER: 'envuser' },
    );
    assert.equal((named.inputs.target as { user: string }).user, 'given', 'targetServerUsername before all of them');
  });
});

describe("azure-native's recorded inputs", () => {
  it("takes azure-native 2.x's subscriptionId: no failure, no field of the spec, and the outputs' ARM ids name it", async () => {
    process.env.PGFERRY_SERVER_HOSTS = ENV.PGFERRY_SERVER_HOSTS;
    try {
      const inputs = { ...BASE, subscriptionId: 'sub-1', serverName: 'exampleserver', sourceDbServerResourceId: '10.0.0.4:5432@postgres' };
      const checked = await check({}, inputs);
      assert.deepEqual(checked.failures, []);
      assert.equal('subscriptionId' in toMigrationSpec(checked.inputs), false);
      const status: MigrationStatus = {
        name: 'examplemigration',
        state: 'InProgress',
        subState: 'MigratingData',
        mode: 'Offline',
        option: 'Migrate',
        createdAt: '2026-01-01T00:00:00.000Z',
        validation: [],
        databases: [],
        spec: { source: { host: '10.0.0.4', port: 5432, user: 'postgres', sslMode: 'prefer' }, databases: ['db1'] },
      };
      const outputs = migrationOutputs(checked.inputs, status);
      assert.equal(
        outputs.azureId,
        '/subscriptions/sub-1/resourceGroups/exampleresourcegroup/providers/Microsoft.DBforPostgreSQL/flexibleServers/exampleserver/migrations/examplemigration',
      );
    } finally {
      delete process.env.PGFERRY_SERVER_HOSTS;
    }
  });
});

describe("az's flags: -b, --ids, --tags, --location, show --level, --overwrite-dbs, --db-names", () => {
  it('takes -b as --properties, and --tags and -l on create', () => {
    const args = parseCli(
      ['create', '--migration-name', 'm1', '-n', 'srv', '-b', 'body.json', '--tags', 'env=dev', 'team', '-l', 'eastus'],
      {},
    );
    assert.equal(args.properties, 'body.json');
    assert.deepEqual(args.tags, { env: 'dev', team: '' });
    assert.equal(args.location, 'eastus');
  });

  it('reads --ids as the subscription, group, server and migration, and refuses it beside them', () => {
    const id = '/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.DBforPostgreSQL/flexibleServers/srv1/migrations/m1';
    const args = parseCli(['show', '--ids', id], {});
    assert.deepEqual([args.subscription, args.resourceGroup, args.server, args.name], ['s1', 'rg1', 'srv1', 'm1']);
    assert.throws(() => parseCli(['show', '--ids', id, '--name', 'x'], {}), isCode('USAGE'));
    assert.throws(() => parseCli(['show', '--ids', '/subscriptions/s1/x'], {}), isCode('USAGE'));
    assert.throws(() => parseCli(['show', '--ids', id, id], {}), isCode('USAGE'));
  });

  it('takes show --level, update --overwrite-dbs, and --db-names/--dbs (the databases of a migration created without them)', () => {
    assert.equal(parseCli(['show', '--name', 'm1', '--target-host', 'h', '--level', 'summary'], {}).level, 'Summary');
    assert.equal(parseCli(['update', '--name', 'm1', '--target-host', 'h', '--overwrite-dbs'], {}).overwrite, true);
    for (const flag of ['--db-names', '--dbs']) {
      assert.deepEqual(parseCli(['update', '--name', 'm1', '--target-host', 'h', flag, 'db1', 'db2'], {}).dbNames, ['db1', 'db2']);
    }
    assert.throws(() => parseCli(['update', '--name', 'm1', '--target-host', 'h', '--db-names', 'a', '--dbs', 'a'], {}), isCode('USAGE'));
    assert.throws(() => parseCli(['update', '--name', 'm1', '--target-host', 'h', '--db-names', 'a', '--cancel'], {}), isCode('USAGE'));
  });
});

describe('an Azure resource id as the source, found as serverName is', () => {
  it('finds the server of an Azure resource id of the source as serverName is found, in both readers: the host map, else the Azure domain', () => {
    const id = (kind: string, name: string) => `/subscriptions/s1/resourceGroups/rg/providers/${kind}/${name}`;
    const env = { PGFERRY_SERVER_HOSTS: 'mappedsrc=app@10.2.0.7:6543?sslmode=prefer,vm1=dba@10.3.0.9' };
    const user = { secretParameters: { ...BASE.secretParameters, sourceServerUsername: 'admin1' } };
    const forms: [Record<string, unknown>, Record<string, unknown>][] = [
      // a flexible server in the map: its address, user and TLS mode, its own name for the certificate
      [
        { sourceDbServerResourceId: id('Microsoft.DBforPostgreSQL/flexibleServers', 'MappedSrc') },
        { host: '10.2.0.7', port: 6543, user: 'app', sslMode: 'prefer', sslServerName: 'mappedsrc.postgres.database.azure.com' },
      ],
      // a flexible server not in the map: the name Azure gives it, port 5432
      [
        { sourceDbServerResourceId: id('Microsoft.DBforPostgreSQL/flexibleServers', 'flex1'), ...user },
        { host: 'flex1.postgres.database.azure.com', port: 5432, user: 'admin1' },
      ],
      // a Single Server: the same domain, the user given beside it wins over the map's
      [
        { sourceDbServerResourceId: ARM_SOURCE, ...user },
        { host: 'examplesource.postgres.database.azure.com', port: 5432, user: 'admin1' },
      ],
      // a virtual machine in the map
      [{ sourceDbServerResourceId: id('Microsoft.Compute/virtualMachines', 'vm1') }, { host: '10.3.0.9', port: 5432, user: 'dba' }],
      // the FQDN given beside an id is the host (Azure: "always use it to connect")
      [
        {
          sourceDbServerResourceId: id('Microsoft.Compute/virtualMachines', 'vm2'),
          sourceDbServerFullyQualifiedDomainName: 'vm2.corp',
          ...user,
        },
        { host: 'vm2.corp', port: 5432, user: 'admin1' },
      ],
    ];
    for (const [inputs, expected] of forms) {
      const read = withAzureNativeServers({ ...BASE, ...inputs, serverName: 'exampleserver' }, never, { ...env, PGUSER: 'pgadmin' });
      assert.deepEqual(read.failures, [], JSON.stringify(inputs));
      assert.deepEqual(read.inputs.source, expected, JSON.stringify(inputs));
      const { dbsToMigrate, location } = BASE;
      const cli = specFromProperties(
        {
          properties: { dbsToMigrate, secretParameters: BASE.secretParameters, ...inputs, targetDbServerFullyQualifiedDomainName: 'dst' },
          location,
        },
        { name: 'examplemigration', target: { user: 'pgadmin' } },
        env,
      ).source;
      for (const key of ['host', 'port', 'user', 'sslServerName'] as const)
        assert.equal(cli[key], expected[key], `CLI ${key} ${JSON.stringify(inputs)}`);
    }
  });

  it('refuses an Azure resource id of the source it cannot resolve, in both readers, naming what is missing and what is allowed', () => {
    const vm = '/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm9';
    const cases: [Record<string, unknown>, RegExp][] = [
      [
        { sourceDbServerResourceId: vm, secretParameters: { ...BASE.secretParameters, sourceServerUsername: 'u' } },
        /^sourceDbServerResourceId: the Azure resource id of virtual machine "vm9" names no address pgferry can connect to; give vm9=USER@HOST\[:PORT\] in PGFERRY_SERVER_HOSTS, or sourceDbServerFullyQualifiedDomainName beside it, or "host:port@user" instead$/,
      ],
      [
        { sourceDbServerResourceId: ARM_SOURCE },
        /^sourceDbServerResourceId: no user to connect to server "examplesource" as; give secretParameters\.sourceServerUsername, or examplesource=USER@HOST\[:PORT\] in PGFERRY_SERVER_HOSTS$/,
      ],
      [
        { sourceDbServerResourceId: '/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Sql/servers/x' },
        /^sourceDbServerResourceId: must be "host:port@user", or the Azure resource id of a Flexible Server, a Single Server or a virtual machine/,
      ],
    ];
    for (const [inputs, message] of cases) {
      const read = servers({ ...inputs, serverName: 'exampleserver' });
      assert.equal(read.failures.length, 1, JSON.stringify(read.failures));
      assert.equal(read.failures[0]!.property, 'sourceDbServerResourceId');
      assert.match(read.failures[0]!.reason, message);
      assert.equal(read.failures[0]!.reason.split('\n').length, 1, 'one line');
      assert.throws(
        () => viaCli({ ...inputs, targetDbServerFullyQualifiedDomainName: 'dst' }),
        (e: unknown) => isCode('INVALID_RESOURCE_ID')(e) && /^properties\.sourceDbServerResourceId: /.test((e as Error).message),
      );
    }
  });
});

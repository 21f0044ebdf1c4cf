// The lab's PgBouncer (pooler.enabled): under Pulumi mocks, what the lab declares for it (the first
// runtime VM's cloud-init, the security rules, the online migration's `pooler` input, the secrets
// kept secret) and the config it refuses; then the pgbouncer.ini cloud-init writes, started by the
// real /usr/sbin/pgbouncer with its addresses swapped for loopback ones, and connected through.
import assert from 'node:assert/strict';
import * as pulumi from '@pulumi/pulumi';
import { fakeFactory, installMocks, mockResolveCname, settle, valueOf, type MockLab } from './mocks';
import { readableTexts, writtenFiles } from './decoded';
import { fullConfig } from './fixtures';
import { parseLabConfig, labConfigProblems, type LabConfigInput } from '../../lab-stack/config';
import { createLab, stackOutputs, type Lab } from '../../lab-stack/lab';
import { renderRuntimeCloudInit } from '../../lab-stack/runtimeCloudInit';
import { toMigrationSpec } from '../../provider/resource/inputSchema';
import { launchPgBouncer, pgbouncerInstalled, type PgBouncer } from '../../provider/localpg/pgbouncer';
import { requirePrerequisite, startCluster, type Cluster } from '../support';

const ADMIN_PASSWORD = 'Adm1n-secret-pw';
const SOURCE_PASSWORD = 'src-secret-pw';
const LEGACY_PASSWORD = 'legacy-secret-pw';
const POOLER_ADMIN_PASSWORD = 'pooler-adm"in-pw';
const POOLER_APP_PASSWORD = "app-secret-pw'";
const PASSWORDS = [ADMIN_PASSWORD, SOURCE_PASSWORD, LEGACY_PASSWORD, POOLER_ADMIN_PASSWORD, POOLER_APP_PASSWORD];
const PACKAGE = 'https://downloads.example.com/pgferry/pgferry-0.2.0.tgz';

/** The full fixture with two runtime VMs and the lab's PgBouncer. */
function poolerConfig(): LabConfigInput {
  const config = structuredClone(fullConfig()) as any;
  config.migrationRuntime = { enabled: true, count: 2, package: PACKAGE };
  config.pooler = { enabled: true };
  return config;
}

async function build(input: LabConfigInput): Promise<{ mocks: MockLab; lab: Lab }> {
  const mocks = await installMocks();
  const lab = createLab(
    {
      config: parseLabConfig(input),
      secrets: {
        adminPassword: pulumi.secret(ADMIN_PASSWORD),
        passwords: {
          sourcePassword: pulumi.secret(SOURCE_PASSWORD),
          legacyPassword: pulumi.secret(LEGACY_PASSWORD),
          poolerAdminPassword: pulumi.secret(POOLER_ADMIN_PASSWORD),
          poolerAppPassword: pulumi.secret(POOLER_APP_PASSWORD),
        },
      },
    },
    { migrationFactory: fakeFactory, resolveCname: mockResolveCname },
  );
  await settle([
    lab.component,
    lab.server.server,
    ...(lab.migrationRuntime?.vms ?? []).flatMap((vm) => [vm.nic, vm.vm]),
    ...(lab.sourceVm ? [lab.sourceVm.ready] : []),
    ...lab.migrations.values(),
  ]);
  return { mocks, lab };
}

/** A VM's cloud-init as Azure receives it (customData, base64). */
function customDataOf(mocks: MockLab, vm: string): string {
  return Buffer.from(mocks.byName(vm).inputs.osProfile.customData as string, 'base64').toString('utf8');
}

describe("lab-stack's PgBouncer under Pulumi mocks", function () {
  this.timeout(60_000);
  let mocks: MockLab;
  let lab: Lab;
  before(async () => {
    ({ mocks, lab } = await build(poolerConfig()));
  });

  it('installs PgBouncer on the first runtime VM alone, its ini pointing at the source VM and its auth_file root-only', () => {
    const first = customDataOf(mocks, 'runtime-vm-1');
    assert.doesNotMatch(customDataOf(mocks, 'runtime-vm-2'), /pgbouncer/);
    const files = writtenFiles(first);
    const ini = files.get('/var/lib/pgferry-runtime/pgbouncer.ini')!.content;
    assert.match(ini, /^adventureworks = host=10\.20\.2\.4 port=5432 dbname=adventureworks$/m);
    assert.match(ini, /^sales = host=10\.20\.2\.4 port=5432 dbname=sales$/m);
    for (const line of [
      'listen_addr = *',
      'listen_port = 6432',
      'admin_users = pgferry_pooler',
      'pool_mode = transaction',
      'auth_type = scram-sha-256',
    ])
      assert.ok(ini.split('\n').includes(line), line);
    assert.ok(!PASSWORDS.some((p) => ini.includes(p)), 'no password in the ini');
    const userlist = files.get('/etc/pgferry/pgbouncer-userlist.txt')!;
    assert.equal(userlist.permissions, '0600');
    assert.equal(userlist.content, `"pgferry_pooler" "pooler-adm""in-pw"\n"lab_app" "${POOLER_APP_PASSWORD}"\n`);
    const install = files.get('/var/lib/pgferry-runtime/install.sh')!.content;
    assert.match(install, /^retry apt-get install -y pgbouncer$/m);
    assert.match(install, /^install -o postgres -g pgferry -m 0660 "\$dir\/pgbouncer\.ini" \/etc\/pgbouncer\/pgbouncer\.ini$/m);
    assert.match(
      install,
      /^install -o postgres -g postgres -m 0600 \/etc\/pgferry\/pgbouncer-userlist\.txt \/etc\/pgbouncer\/userlist\.txt$/m,
    );
    assert.ok(install.indexOf('useradd --system') < install.indexOf('usermod -aG pgferry postgres'), 'the pgferry group exists first');
    assert.match(install, /^systemctl restart pgbouncer$/m);
  });

  it("gives the first VM's agent alone the pooler's admin URL in its environment file, its password in the root-only .pgpass", () => {
    const files = writtenFiles(customDataOf(mocks, 'runtime-vm-1'));
    const env = files.get('/etc/pgferry/agent.env')!;
    assert.equal(env.permissions, '0600');
    assert.match(env.content, /^PGFERRY_POOLER_ADMIN_URL="postgres:\/\/pgferry_pooler@10\.20\.4\.4:6432\/pgbouncer"$/m);
    assert.ok(!PASSWORDS.some((p) => env.content.includes(p)), 'no password in the environment file');
    const pgpass = files.get('/etc/pgferry/pgpass')!;
    assert.equal(pgpass.permissions, '0600');
    assert.ok(pgpass.content.split('\n').includes('10.20.4.4:6432:*:pgferry_pooler:pooler-adm"in-pw'), pgpass.content);
    // ProtectSystem makes /etc read-only to the agent; the pooler's folder is given back to it
    assert.match(files.get('/var/lib/pgferry-runtime/pgferry-agent.service')!.content, /^ReadWritePaths=\/etc\/pgbouncer$/m);
    const second = writtenFiles(customDataOf(mocks, 'runtime-vm-2'));
    assert.doesNotMatch(second.get('/etc/pgferry/agent.env')!.content, /PGFERRY_POOLER_ADMIN_URL/);
    assert.doesNotMatch(second.get('/var/lib/pgferry-runtime/pgferry-agent.service')!.content, /ReadWritePaths/);
  });

  it('admits the applications to the pooler port from the VNet and the VPN clients', () => {
    const rules = mocks.one('azure-native:network:NetworkSecurityGroup').inputs.securityRules as Record<string, any>[];
    const inbound = rules
      .filter((r) => r.direction === 'Inbound')
      .map((r) => [r.name, r.priority, r.access, r.sourceAddressPrefix, r.destinationPortRange]);
    assert.deepEqual(inbound, [
      ['allow-ssh-from-vpn', 100, 'Allow', '172.16.201.0/24', '22'],
      ['allow-pooler-from-vnet', 110, 'Allow', '10.20.0.0/16', '6432'],
      ['allow-pooler-from-vpn', 111, 'Allow', '172.16.201.0/24', '6432'],
      ['deny-vnet-inbound', 4000, 'Deny', 'VirtualNetwork', '*'],
    ]);
  });

  it("names the pooler in the online migration from the source VM, run by the lab's agents, and in no other", async () => {
    const online = mocks.byName('migration-aw-online');
    assert.deepEqual(online.inputs.pooler, {
      host: '10.20.4.4',
      port: 6432,
      user: 'pgferry_pooler',
      password: POOLER_ADMIN_PASSWORD,
      configFile: '/etc/pgbouncer/pgbouncer.ini',
      databases: ['adventureworks'],
    });
    assert.ok(online.secretInputs.includes('pooler'), "the pooler's input travels as a secret");
    assert.equal(online.inputs.runtime, 'agents');
    // what PgMigration's check makes of these inputs: the engine accepts the pooler (online, runtime agents)
    const spec = toMigrationSpec({
      ...online.inputs,
      target: { ...online.inputs.target, host: 'pgferry-target.postgres.database.azure.com' },
    });
    assert.equal(spec.pooler?.configFile, '/etc/pgbouncer/pgbouncer.ini');
    assert.equal(spec.runtime, 'agents');
    assert.equal(mocks.byName('migration-legacy-offline').inputs.pooler, undefined);
    assert.equal(await valueOf(pulumi.output(stackOutputs(lab).poolerAddress as string)), '10.20.4.4:6432');
  });

  it('sends no password in plain text in any resource input that is not a secret', async () => {
    assert.ok(
      readableTexts(mocks.byName('runtime-vm-1').inputs).some((t) => t.includes(POOLER_APP_PASSWORD)),
      'the check can fail',
    );
    for (const resource of mocks.resources.values()) {
      for (const [key, value] of Object.entries(resource.inputs)) {
        if (resource.secretInputs.includes(key)) continue;
        const leaked = PASSWORDS.filter((password) => readableTexts(value).some((text) => text.includes(password)));
        assert.deepEqual(leaked, [], `${resource.name}.${key} is not secret`);
      }
    }
    assert.ok(await pulumi.isSecret(lab.migrationRuntime!.firstCloudInit));
  });

  it('declares nothing of it when pooler.enabled is left at its default', async () => {
    const config = poolerConfig() as any;
    delete config.pooler;
    const off = await build(config);
    assert.doesNotMatch(customDataOf(off.mocks, 'runtime-vm-1'), /pgbouncer/);
    assert.equal(off.mocks.byName('migration-aw-online').inputs.pooler, undefined);
    assert.equal(off.mocks.byName('migration-aw-online').inputs.runtime, 'agents');
    assert.equal(stackOutputs(off.lab).poolerAddress, undefined);
  });

  for (const [title, change, problem] of [
    [
      'the pooler without the migration runtime',
      (c: any) => delete c.migrationRuntime,
      'pgferry-lab:pooler.enabled: needs migrationRuntime.enabled: the lab runs PgBouncer on the first runtime VM, where pgferry is installed and can rewrite its configuration file',
    ],
    [
      'an offline migration from the source VM, which the default leaves off the pooler, as fine',
      (c: any) => (c.migrations[0].mode = 'Offline'),
      undefined,
    ],
    [
      'a pooled migration the agents run, as fine',
      (c: any) => Object.assign(c.migrations[0], { pooler: true, runtime: 'agents' }),
      undefined,
    ],
    [
      'a migration from another source through the pooler',
      (c: any) => Object.assign(c.migrations[1], { pooler: true, mode: 'Online' }),
      "pgferry-lab:migrations[1].pooler: applies only to a migration from the lab's source VM (no source), whose databases the lab's PgBouncer serves",
    ],
  ] as const) {
    it(`judges ${title}`, () => {
      const config = poolerConfig();
      change(config);
      assert.deepEqual(labConfigProblems(config), problem ? [problem] : []);
    });
  }
});

/**
 * The lab's ini with its VM addresses and paths swapped for this machine's: each swapped line found
 * exactly once, every other line kept as cloud-init writes it.
 */
function onLoopback(ini: string, swaps: Readonly<Record<string, string>>): string {
  const lines = ini.split('\n');
  for (const [from, to] of Object.entries(swaps)) {
    const at = lines.flatMap((line, i) => (line === from ? [i] : []));
    assert.equal(at.length, 1, `the lab's ini has the line ${from}`);
    lines[at[0]!] = to;
  }
  return lines.join('\n');
}

describe("lab-stack's pgbouncer.ini started by the real PgBouncer", function () {
  this.timeout(120_000);
  let source: Cluster;
  let pooler: PgBouncer | undefined;
  let cloudInit: string;

  before(async function () {
    requirePrerequisite(this, pgbouncerInstalled(), "Debian's pgbouncer (/usr/sbin/pgbouncer)");
    source = await startCluster({ major: 15, label: 'labpooler' });
    await source.query(`CREATE ROLE lab_app LOGIN PASSWORD '${POOLER_APP_PASSWORD.replace(/'/g, "''")}'`);
    for (const db of ['adventureworks', 'sales']) await source.query(`CREATE DATABASE ${db}`);
    cloudInit = renderRuntimeCloudInit({
      target: { host: 'pgferry-target.postgres.database.azure.com', port: 5432, user: 'pgadmin', password: ADMIN_PASSWORD },
      sources: [],
      packageSpec: PACKAGE,
      postgresClientVersion: '16',
      concurrency: 2,
      pooler: {
        host: '10.20.4.4',
        port: 6432,
        source: { host: '10.20.2.4', port: 5432 },
        databases: ['adventureworks', 'sales'],
        admin: { user: 'pgferry_pooler', password: POOLER_ADMIN_PASSWORD },
        app: { user: 'lab_app', password: POOLER_APP_PASSWORD },
      },
    });
  });
  after(async () => {
    await pooler?.stop();
    await source?.stop();
  });

  it("accepts the lab's ini and auth_file, serves the source's databases to the application, and obeys pgferry's admin", async () => {
    const files = writtenFiles(cloudInit);
    const ini = files.get('/var/lib/pgferry-runtime/pgbouncer.ini')!.content;
    const userlist = files.get('/etc/pgferry/pgbouncer-userlist.txt')!.content;
    pooler = await launchPgBouncer(
      (dir, port) => ({
        ini: onLoopback(ini, {
          'adventureworks = host=10.20.2.4 port=5432 dbname=adventureworks': `adventureworks = host=127.0.0.1 port=${source.port} dbname=adventureworks`,
          'sales = host=10.20.2.4 port=5432 dbname=sales': `sales = host=127.0.0.1 port=${source.port} dbname=sales`,
          'listen_addr = *': 'listen_addr = 127.0.0.1',
          'listen_port = 6432': `listen_port = ${port}`,
          'unix_socket_dir = /var/run/postgresql': 'unix_socket_dir =',
          'auth_file = /etc/pgbouncer/userlist.txt': `auth_file = ${dir}/userlist.txt`,
          'logfile = /var/log/postgresql/pgbouncer.log': `logfile = ${dir}/pgbouncer.log`,
          'pidfile = /var/run/postgresql/pgbouncer.pid': `pidfile = ${dir}/pgbouncer.pid`,
        }),
        userlist,
      }),
      { user: 'pgferry_pooler', password: POOLER_ADMIN_PASSWORD },
    );
    const app = await pooler.connect('adventureworks', 'lab_app', POOLER_APP_PASSWORD);
    try {
      const { rows } = await app.query<{ who: string; db: string; port: number }>(
        'SELECT current_user AS who, current_database() AS db, inet_server_port() AS port',
      );
      assert.deepEqual(rows, [{ who: 'lab_app', db: 'adventureworks', port: source.port }]);
    } finally {
      await app.end();
    }
    const databases = await pooler.admin<{ name: string; host: string; port: number }>('SHOW DATABASES');
    assert.deepEqual(
      databases
        .filter((d) => d.name !== 'pgbouncer')
        .map((d) => [d.name, d.host, Number(d.port)])
        .sort(),
      [
        ['adventureworks', '127.0.0.1', source.port],
        ['sales', '127.0.0.1', source.port],
      ],
    );
    const settings = new Map((await pooler.admin<{ key: string; value: string }>('SHOW CONFIG')).map((r) => [r.key, r.value]));
    assert.equal(settings.get('pool_mode'), 'transaction');
    assert.equal(settings.get('admin_users'), 'pgferry_pooler');
    // pgferry's steps at a cutover, by the lab's admin user
    await pooler.admin('PAUSE adventureworks');
    const paused = (await pooler.admin<{ name: string; paused: number }>('SHOW DATABASES')).find((d) => d.name === 'adventureworks')!;
    assert.equal(Number(paused.paused), 1);
    await pooler.admin('RELOAD');
    await pooler.admin('RESUME adventureworks');
    const resumed = (await pooler.admin<{ name: string; paused: number }>('SHOW DATABASES')).find((d) => d.name === 'adventureworks')!;
    assert.equal(Number(resumed.paused), 0);
  });
});

// The optional migration runtime: VMs in their own subnet running `pgferry agent` as a systemd
// unit, under Pulumi mocks (what the lab declares), its config errors, and its .pgpass read by
// libpq and node-postgres against a real server.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as pulumi from '@pulumi/pulumi';
import pg from 'pg';
import { fakeFactory, installMocks, type MockLab, mockResolveCname, settle, valueOf } from './mocks';
import { readableTexts, writtenFiles } from './decoded';
import { load } from 'js-yaml';
import { fullConfig } from './fixtures';
import { LabConfigError, parseLabConfig, type LabConfigInput } from '../../lab-stack/config';
import { createLab, stackOutputs, type Lab } from '../../lab-stack/lab';
import { renderRuntimeCloudInit, runtimePgpass } from '../../lab-stack/runtimeCloudInit';
import { requirePrerequisite, startCluster, type Cluster } from '../support';

const execFileAsync = promisify(execFile);

const ADMIN_PASSWORD = 'Adm1n-secret-pw';
const SOURCE_PASSWORD = "src'pw";
const LEGACY_PASSWORD = 'legacy-pw';
const PASSWORDS = [ADMIN_PASSWORD, SOURCE_PASSWORD, LEGACY_PASSWORD];
const PACKAGE = 'https://downloads.example.com/pgferry/pgferry-0.2.0.tgz';
const TARGET_FQDN = 'pgferry-target.postgres.database.azure.com';

/** The full fixture with the runtime on: three agents of the given size; the legacy migration stays local. */
function runtimeConfig(): LabConfigInput {
  const config = structuredClone(fullConfig()) as any;
  config.migrationRuntime = { enabled: true, count: 3, vmSize: 'Standard_D4s_v5', package: PACKAGE, concurrency: 4 };
  config.migrations[1].runtime = 'local';
  config.migrations.push({
    name: 'erp-offline',
    databases: ['erp', 'erp_archive'],
    source: { host: '192.168.50.10', port: 5433, user: 'erp_reader', passwordSecret: 'legacyPassword' },
  });
  return config;
}

async function build(input: LabConfigInput): Promise<{ mocks: MockLab; lab: Lab }> {
  const mocks = await installMocks();
  const lab = createLab(
    {
      config: parseLabConfig(input),
      secrets: {
        adminPassword: pulumi.secret(ADMIN_PASSWORD),
        passwords: { sourcePassword: pulumi.secret(SOURCE_PASSWORD), legacyPassword: pulumi.secret(LEGACY_PASSWORD) },
      },
    },
    { migrationFactory: fakeFactory, resolveCname: mockResolveCname },
  );
  await settle([
    lab.component,
    lab.network.vnet,
    lab.server.server,
    ...(lab.network.runtimeSubnet ? [lab.network.runtimeSubnet] : []),
    ...(lab.migrationRuntime?.vms ?? []).flatMap((vm) => [vm.nic, vm.vm]),
    ...(lab.sourceVm ? [lab.sourceVm.ready] : []),
    ...lab.migrations.values(),
  ]);
  await valueOf(lab.outputs.runtimeAgents);
  return { mocks, lab };
}

describe('lab-stack migration runtime under Pulumi mocks: absent by default', function () {
  this.timeout(60_000);
  let mocks: MockLab;
  let lab: Lab;
  before(async () => {
    ({ mocks, lab } = await build(fullConfig()));
  });

  it('creates no runtime subnet, security group or agent VM, and the migrations keep running locally', async () => {
    assert.equal(mocks.resources.has('runtime-subnet'), false);
    assert.equal(mocks.byType('azure-native:network:NetworkSecurityGroup').length, 0);
    assert.deepEqual(
      mocks.byType('azure-native:compute:VirtualMachine').map((r) => r.name),
      ['source-vm'],
    );
    assert.equal(lab.migrationRuntime, undefined);
    assert.deepEqual(await valueOf(lab.outputs.runtimeAgents), []);
    for (const migration of mocks.byType('pgferry:test:PgMigration')) {
      assert.equal(migration.inputs.runtime, undefined, `${migration.name} is not handed to agents`);
    }
  });
});

/** The lab with three agents, built once under mocks for the describes below. */
let threeAgentsBuilt: Promise<{ mocks: MockLab; lab: Lab; cloudInit: string }> | undefined;
function threeAgents(): Promise<{ mocks: MockLab; lab: Lab; cloudInit: string }> {
  threeAgentsBuilt ??= (async () => {
    const { mocks, lab } = await build(runtimeConfig());
    const cloudInit = Buffer.from(mocks.byName('runtime-vm-1').inputs.osProfile.customData, 'base64').toString('utf8');
    return { mocks, lab, cloudInit };
  })();
  return threeAgentsBuilt;
}

describe('lab-stack migration runtime under Pulumi mocks: three agents in their subnet', function () {
  this.timeout(60_000);
  let mocks: MockLab;
  let lab: Lab;
  before(async () => {
    ({ mocks, lab } = await threeAgents());
  });

  it('puts N VMs of the configured size in the runtime subnet, at static addresses, without public IPs', async () => {
    const vms = mocks.byType('azure-native:compute:VirtualMachine').filter((r) => r.name.startsWith('runtime-vm-'));
    assert.equal(vms.length, 3);
    const subnetId = await valueOf(lab.network.runtimeSubnet!.id);
    assert.match(subnetId, /\/Subnet\/migration-runtime$/);
    for (let i = 1; i <= 3; i++) {
      const vm = mocks.byName(`runtime-vm-${i}`);
      assert.equal(vm.inputs.hardwareProfile.vmSize, 'Standard_D4s_v5');
      assert.equal(vm.inputs.osProfile.computerName, `lab-agent-${i}`);
      assert.deepEqual(vm.inputs.storageProfile.imageReference, {
        publisher: 'Canonical',
        offer: 'ubuntu-24_04-lts',
        sku: 'server',
        version: 'latest',
      });
      assert.equal(vm.inputs.osProfile.linuxConfiguration.disablePasswordAuthentication, true);
      assert.equal(vm.parent, 'lab-migration-runtime', 'under the MigrationRuntime component');
      assert.ok(vm.dependsOn.includes('dns-inbound') && vm.dependsOn.includes('nat-gateway'), 'boots once DNS and the way out exist');
      const nic = mocks.byName(`runtime-nic-${i}`);
      assert.equal(nic.inputs.ipConfigurations[0].subnet.id, subnetId);
      assert.equal(nic.inputs.ipConfigurations[0].privateIPAddress, `10.20.4.${3 + i}`);
      assert.ok(!('publicIPAddress' in nic.inputs.ipConfigurations[0]));
    }
    assert.deepEqual(await valueOf(lab.outputs.runtimeAgents), [
      { vmName: 'runtime-vm-1-az', agentName: 'lab-agent-1', privateIp: '10.20.4.4' },
      { vmName: 'runtime-vm-2-az', agentName: 'lab-agent-2', privateIp: '10.20.4.5' },
      { vmName: 'runtime-vm-3-az', agentName: 'lab-agent-3', privateIp: '10.20.4.6' },
    ]);
    assert.equal(await pulumi.isSecret(lab.outputs.runtimeAgents), false, 'names and addresses are not secrets');
  });

  it('gives the runtime subnet its security group and the NAT gateway, after the other subnets', async () => {
    const subnet = mocks.byName('runtime-subnet');
    assert.equal(subnet.inputs.addressPrefix, '10.20.4.0/24');
    assert.deepEqual(subnet.inputs.networkSecurityGroup, { id: await valueOf(lab.network.runtimeSecurityGroup!.id) });
    assert.deepEqual(subnet.inputs.natGateway, { id: await valueOf(lab.network.natGateway!.id) });
    assert.ok(subnet.dependsOn.includes('resolver-subnet'), 'subnets of one VNet are written one at a time');
  });

  it("lets the agents reach the target's 5432 and their sources, and nothing else in the VNet", () => {
    const rules = mocks.one('azure-native:network:NetworkSecurityGroup').inputs.securityRules as Record<string, any>[];
    const outbound = rules
      .filter((r) => r.direction === 'Outbound')
      .map((r) => [r.priority, r.access, r.destinationAddressPrefix, r.destinationPortRange ?? r.destinationPortRanges]);
    assert.deepEqual(outbound, [
      [100, 'Allow', '10.20.1.0/24', '5432'],
      [110, 'Allow', '10.20.2.4/32', '5432'],
      [111, 'Allow', '192.168.50.10/32', '5433'],
      [200, 'Allow', '10.20.3.4/32', '53'],
      [300, 'Allow', 'Internet', ['80', '443']],
      [4000, 'Deny', 'VirtualNetwork', '*'],
    ]);
    const inbound = rules
      .filter((r) => r.direction === 'Inbound')
      .map((r) => [r.priority, r.access, r.sourceAddressPrefix, r.destinationPortRange]);
    assert.deepEqual(inbound, [
      [100, 'Allow', '172.16.201.0/24', '22'],
      [4000, 'Deny', 'VirtualNetwork', '*'],
    ]);
  });
});

describe('lab-stack migration runtime under Pulumi mocks: what the agents run and know', function () {
  this.timeout(60_000);
  let mocks: MockLab;
  let lab: Lab;
  let cloudInit: string;
  before(async () => {
    ({ mocks, lab, cloudInit } = await threeAgents());
  });

  it("runs `pgferry agent` as a systemd unit of an unprivileged user, against the lab server's FQDN", async () => {
    assert.equal(cloudInit, await valueOf(lab.migrationRuntime!.cloudInit));
    for (let i = 2; i <= 3; i++) {
      assert.equal(mocks.byName(`runtime-vm-${i}`).inputs.osProfile.customData, mocks.byName('runtime-vm-1').inputs.osProfile.customData);
    }
    const files = writtenFiles(cloudInit);
    const unit = files.get('/var/lib/pgferry-runtime/pgferry-agent.service')!.content;
    assert.match(
      unit,
      new RegExp(
        `^ExecStart=/opt/pgferry/bin/pgferry agent --target-url postgres://pgadmin@${TARGET_FQDN.replace(/\./g, '\\.')}:5432/postgres\\?sslmode=require --name %H --concurrency 4$`,
        'm',
      ),
    );
    for (const line of [
      'Restart=always',
      'User=pgferry',
      'Group=pgferry',
      'LoadCredential=pgpass:/etc/pgferry/pgpass',
      'Environment=PGPASSFILE=%d/pgpass',
      'EnvironmentFile=/etc/pgferry/agent.env',
      'WantedBy=multi-user.target',
    ]) {
      assert.ok(unit.split('\n').includes(line), line);
    }
    assert.ok(!PASSWORDS.some((p) => unit.includes(p)), 'no password in the unit');
    const install = files.get('/var/lib/pgferry-runtime/install.sh')!.content;
    assert.match(install, /deb\.nodesource\.com\/node_20\.x/);
    assert.match(install, /apt-get install -y nodejs postgresql-client-16$/m);
    assert.match(install, /useradd --system .* pgferry$/m);
    assert.ok(install.includes(`npm install --global --omit=dev --no-fund --no-audit --prefix /opt/pgferry '${PACKAGE}'`));
    assert.match(install, /systemctl enable --now pgferry-agent\.service$/m);
    assert.deepEqual((load(cloudInit) as { runcmd: unknown }).runcmd, [['bash', '/var/lib/pgferry-runtime/install.sh']]);
  });

  it('gives the agents credentials for the target and the sources of the migrations they run, in root-only files', () => {
    const files = writtenFiles(cloudInit);
    const env = files.get('/etc/pgferry/agent.env')!;
    assert.equal(env.permissions, '0600');
    assert.equal(
      env.content,
      'PGFERRY_SOURCE_URLS="' +
        [
          'postgres://postgres@10.20.2.4:5432/adventureworks?sslmode=prefer',
          'postgres://postgres@10.20.2.4:5432/sales?sslmode=prefer',
          'postgres://erp_reader@192.168.50.10:5433/erp?sslmode=prefer',
          'postgres://erp_reader@192.168.50.10:5433/erp_archive?sslmode=prefer',
        ].join(' ') +
        '"\n',
      'the local migration (legacy-offline, crm) gives the agents nothing',
    );
    const pgpass = files.get('/etc/pgferry/pgpass')!;
    assert.equal(pgpass.permissions, '0600');
    assert.deepEqual(pgpass.content.trim().split('\n'), [
      `${TARGET_FQDN}:5432:*:pgadmin:${ADMIN_PASSWORD}`,
      `10.20.2.4:5432:*:postgres:${SOURCE_PASSWORD}`,
      `192.168.50.10:5433:*:erp_reader:${LEGACY_PASSWORD}`,
    ]);
  });

  it('hands the migrations to the agents unless an entry says runtime: local', () => {
    assert.equal(mocks.byName('migration-aw-online').inputs.runtime, 'agents');
    assert.equal(mocks.byName('migration-erp-offline').inputs.runtime, 'agents');
    assert.equal(mocks.byName('migration-legacy-offline').inputs.runtime, undefined);
  });

  it('lets the source VM accept the agents: pg_hba names the runtime subnet', async () => {
    assert.match(await valueOf(lab.sourceVm!.cloudInit), /^\s+host all all 10\.20\.4\.0\/24 scram-sha-256$/m);
  });

  it('sends no password in plain text in any resource input that is not a secret, nor in the outputs', async () => {
    // The check can fail: the passwords are in the recorded inputs, inside the secret customData.
    assert.ok(readableTexts(mocks.byName('runtime-vm-1').inputs).some((t) => t.includes(ADMIN_PASSWORD)));
    assert.ok(readableTexts(mocks.byName('runtime-vm-1').inputs).some((t) => t.includes(LEGACY_PASSWORD)));
    for (const resource of mocks.resources.values()) {
      for (const [key, value] of Object.entries(resource.inputs)) {
        if (resource.secretInputs.includes(key)) continue;
        const leaked = PASSWORDS.filter((password) => readableTexts(value).some((text) => text.includes(password)));
        assert.deepEqual(leaked, [], `${resource.name}.${key} is not secret`);
      }
    }
    for (let i = 1; i <= 3; i++) assert.ok(mocks.byName(`runtime-vm-${i}`).secretInputs.includes('osProfile'), 'customData is secret');
    assert.ok(await pulumi.isSecret(lab.migrationRuntime!.cloudInit));
    for (const [key, value] of Object.entries(stackOutputs(lab))) {
      const resolved = pulumi.Output.isInstance(value) ? await valueOf(value) : value;
      if (pulumi.Output.isInstance(value) && (await pulumi.isSecret(value))) continue;
      const leaked = PASSWORDS.filter((password) => readableTexts(resolved ?? null).some((text) => text.includes(password)));
      assert.deepEqual(leaked, [], `output ${key}`);
    }
  });
});

describe('lab-stack migration runtime: config errors', () => {
  /** The single line a runtime config is refused with. */
  function errorFor(runtime: Record<string, unknown>, change: (config: any) => void = () => {}): string {
    const config = structuredClone(fullConfig()) as any;
    config.migrationRuntime = { enabled: true, package: PACKAGE, ...runtime };
    change(config);
    try {
      parseLabConfig(config);
    } catch (err) {
      assert.ok(err instanceof LabConfigError, String(err));
      assert.ok(!err.message.includes('\n'), err.message);
      return err.message;
    }
    assert.fail('config was accepted');
  }

  const cases: Array<[string, Record<string, unknown>, string, ((config: any) => void)?]> = [
    ['no VM', { count: 0 }, 'pgferry-lab:migrationRuntime.count: must be from 1 to 10 (got 0)'],
    ['more than ten VMs', { count: 11 }, 'pgferry-lab:migrationRuntime.count: must be from 1 to 10 (got 11)'],
    ['a fractional count', { count: 2.5 }, 'pgferry-lab:migrationRuntime.count: must be a whole number from 1 to 10 (got 2.5)'],
    [
      'a VM size without the Standard_ form',
      { vmSize: 'D4s_v5' },
      'pgferry-lab:migrationRuntime.vmSize: must be an Azure VM size such as Standard_D4s_v5 or Standard_B2s (got "D4s_v5")',
    ],
    [
      'an image that is not a URN',
      { image: 'Ubuntu2404' },
      'pgferry-lab:migrationRuntime.image: must be an image URN publisher:offer:sku:version such as Canonical:ubuntu-24_04-lts:server:latest (got "Ubuntu2404")',
    ],
    [
      'a package given as a local path',
      { package: './pgferry-0.2.0.tgz' },
      'pgferry-lab:migrationRuntime.package: must be an https URL of the package tarball (…/pgferry-0.2.0.tgz), a git URL (git+https://…/pgferry.git#ref, github:owner/repo#ref) or pgferry@<version> (got "./pgferry-0.2.0.tgz")',
    ],
    [
      'no package',
      { package: undefined },
      'pgferry-lab:migrationRuntime.package: is required when migrationRuntime.enabled is true: where the VMs install pgferry from (an https URL of the package tarball, a git URL or pgferry@<version>)',
    ],
    [
      'too many VMs for the subnet',
      { count: 4 },
      'pgferry-lab:network.runtimeSubnet: must hold migrationRuntime.count (4) VMs: a /28 or larger (at most 10 VMs fit a /28)',
      (c) => (c.network = { runtimeSubnet: '10.20.4.0/29' }),
    ],
    [
      'a runtime subnet over another',
      {},
      'pgferry-lab:network.runtimeSubnet: must not overlap network.sourceSubnet',
      (c) => (c.network = { runtimeSubnet: '10.20.2.128/25' }),
    ],
    [
      'a bad source CIDR',
      { sourceCidrs: ['192.168.0.1/16'] },
      'pgferry-lab:migrationRuntime.sourceCidrs[0]: must be an IPv4 CIDR block such as 192.168.10.0/24, with no host bits set (got "192.168.0.1/16")',
    ],
  ];
  for (const [title, runtime, expected, change] of cases) {
    it(`refuses ${title} with one line naming the key and what is allowed`, () => {
      assert.equal(errorFor(runtime, change), expected);
    });
  }

  it('accepts a git URL, a registry version and ten VMs; fills the defaults; ignores the runtime subnet when off', () => {
    const parsed = parseLabConfig({
      ...fullConfig(),
      migrationRuntime: { enabled: true, package: 'git+https://github.com/example/pgferry.git#v0.2.0', count: '10' },
    });
    assert.deepEqual(
      { ...parsed.migrationRuntime },
      {
        enabled: true,
        count: 10,
        vmSize: 'Standard_D2s_v5',
        image: 'Canonical:ubuntu-24_04-lts:server:latest',
        package: 'git+https://github.com/example/pgferry.git#v0.2.0',
        concurrency: 2,
        adminUsername: 'azureuser',
        sourceCidrs: [],
      },
    );
    assert.equal(
      parseLabConfig({ ...fullConfig(), migrationRuntime: { enabled: true, package: 'pgferry@0.2.0' } }).migrationRuntime.count,
      1,
    );
    // Off, the runtime subnet is not part of the address plan (a lab with its own plan is unchanged).
    assert.equal(parseLabConfig({ ...fullConfig(), network: { runtimeSubnet: '10.20.2.0/24' } }).migrationRuntime.enabled, false);
  });
});

describe('lab-stack migration runtime: the .pgpass it writes, read by libpq and node-postgres', function () {
  this.timeout(120_000);
  let server: Cluster;
  let dir: string;
  // `:` and `\` are .pgpass's field separator and escape; a password carrying both must still log in.
  const hardPassword = String.raw`p:a\ss'w"rd #1`;
  before(async () => {
    server = await startCluster({ major: 15, label: 'runtime-pgpass' });
    await server.query(`CREATE ROLE agent_target LOGIN PASSWORD '${hardPassword.replace(/'/g, "''")}'`);
    dir = mkdtempSync(join(tmpdir(), 'pgferry-runtime-'));
  });
  after(async () => {
    await server?.query('DROP ROLE IF EXISTS agent_target').catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('logs the target user in with a password holding the separator and the escape', async () => {
    const file = join(dir, 'pgpass');
    const text = runtimePgpass({
      target: { host: server.host, port: server.port, user: 'agent_target', password: hardPassword },
      sources: [
        { host: server.host, port: server.port, user: 'postgres', password: 'not-this-one', sslMode: 'prefer', databases: ['postgres'] },
      ],
    });
    writeFileSync(file, text);
    chmodSync(file, 0o600);
    const { PGPASSWORD: _ignored, ...inherited } = process.env;
    const env = { ...inherited, PGPASSFILE: file };
    const psqlArgs = [
      '-X',
      '-At',
      '-w',
      '-h',
      server.host,
      '-p',
      String(server.port),
      '-U',
      'agent_target',
      '-d',
      'postgres',
      '-c',
      'select current_user',
    ];
    // Without the file there is no password: the login below is the file's doing.
    await assert.rejects(execFileAsync('psql', psqlArgs, { env: { ...env, PGPASSFILE: join(dir, 'none') } }));
    const { stdout } = await execFileAsync('psql', psqlArgs, { env });
    assert.equal(stdout.trim(), 'agent_target');
    const saved = { file: process.env.PGPASSFILE, password: process.env.PGPASSWORD };
    process.env.PGPASSFILE = file;
    delete process.env.PGPASSWORD;
    try {
      const client = new pg.Client({ host: server.host, port: server.port, user: 'agent_target', database: 'postgres' });
      await client.connect();
      const { rows } = await client.query<{ who: string }>('select current_user as who');
      await client.end();
      assert.equal(rows[0]!.who, 'agent_target');
    } finally {
      if (saved.file === undefined) delete process.env.PGPASSFILE;
      else process.env.PGPASSFILE = saved.file;
      if (saved.password !== undefined) process.env.PGPASSWORD = saved.password;
    }
  });
});

describe('lab-stack migration runtime: the unit and the installer as systemd and bash read them', function () {
  this.timeout(60_000);
  let dir: string;
  const files = writtenFiles(
    renderRuntimeCloudInit({
      target: { host: TARGET_FQDN, port: 5432, user: 'pgadmin', password: ADMIN_PASSWORD },
      sources: [{ host: '10.20.2.4', port: 5432, user: 'postgres', password: SOURCE_PASSWORD, sslMode: 'prefer', databases: ['sales'] }],
      packageSpec: PACKAGE,
      postgresClientVersion: '16',
      concurrency: 2,
    }),
  );
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'pgferry-unit-'));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('gives systemd-analyze verify a unit without one warning', async function () {
    requirePrerequisite(this, existsSync('/usr/bin/systemd-analyze'), 'systemd-analyze (Debian package systemd)');
    // The unit names /opt/pgferry/bin/pgferry, which verify wants to exist: point it at a stub.
    const stub = join(dir, 'pgferry');
    writeFileSync(stub, '#!/bin/sh\n');
    chmodSync(stub, 0o755);
    const unit = join(dir, 'pgferry-agent.service');
    writeFileSync(unit, files.get('/var/lib/pgferry-runtime/pgferry-agent.service')!.content.replace('/opt/pgferry/bin/pgferry', stub));
    const { stdout, stderr } = await execFileAsync('systemd-analyze', ['verify', unit]);
    assert.equal(stdout + stderr, '', 'no unknown key, no bad value');
  });

  it('gives bash an installer that parses', async () => {
    const script = join(dir, 'install.sh');
    writeFileSync(script, files.get('/var/lib/pgferry-runtime/install.sh')!.content);
    await execFileAsync('bash', ['-n', script]);
  });
});

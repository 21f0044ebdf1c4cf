// The source VM's cloud-init document: the seeds' manual source edits written as text, and its
// PostgreSQL part (password, databases, the AdventureWorks sample, readiness) run against a real server.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { load } from 'js-yaml';
import { renderCloudInit, replicationSizing, sourcePgHbaLines, type SourceSetup } from '../../lab-stack/cloudInit';
import { cidrHost, cidrsOverlap, parseCidr } from '../../lab-stack/cidr';
import { READY_COMMAND } from '../../lab-stack/sourceScripts';
import { startCluster, type Cluster } from '../support';

const execFileAsync = promisify(execFile);

interface WriteFile {
  path: string;
  permissions: string;
  encoding?: 'b64' | 'gz+b64';
  content: string;
}

/** The files cloud-init would write, decoded as cloud-init decodes them, by base name. */
function writtenFiles(text: string): Map<string, { permissions: string; content: Buffer }> {
  const doc = load(text) as { write_files: WriteFile[]; runcmd: unknown[] };
  const files = new Map<string, { permissions: string; content: Buffer }>();
  for (const file of doc.write_files) {
    const raw = file.encoding ? Buffer.from(file.content, 'base64') : Buffer.from(file.content, 'utf8');
    const content = file.encoding === 'gz+b64' ? gunzipSync(raw) : raw;
    files.set(file.path.replace('/var/lib/pgferry-lab/', ''), { permissions: file.permissions, content });
  }
  return files;
}

const SETUP: SourceSetup = {
  postgresVersion: '16',
  allowedCidrs: ['10.20.1.0/24', '172.16.201.0/24'],
  databases: ['adventureworks', 'we"ird'],
  sampleDatabase: 'adventureworks',
  postgresPassword: "pa'ss: #word\n",
};

describe('lab-stack cloud-init', () => {
  const text = renderCloudInit(SETUP);

  it('configures the source for logical replication, sized for its databases', () => {
    assert.ok(text.startsWith('#cloud-config\n'));
    assert.match(text, /^ {6}wal_level = logical$/m);
    assert.match(text, /^ {6}listen_addresses = '\*'$/m);
    assert.match(text, /^ {6}max_replication_slots = 10$/m);
    assert.match(text, /^ {6}max_wal_senders = 12$/m);
    assert.deepEqual(replicationSizing(12), { maxReplicationSlots: 26, maxWalSenders: 28 });
  });

  it('adds a pg_hba line for the delegated subnet and the VPN pool', () => {
    assert.match(text, /^ {6}host all all 10\.20\.1\.0\/24 scram-sha-256$/m);
    assert.match(text, /^ {6}host all all 172\.16\.201\.0\/24 scram-sha-256$/m);
    assert.equal(sourcePgHbaLines([]).trim().split('\n').length, 1, 'only the comment without networks');
  });

  it('installs the requested PostgreSQL major from PGDG and restarts that cluster', () => {
    const setup = writtenFiles(text).get('setup.sh')!.content.toString();
    assert.match(setup, /apt-get install -y postgresql-16$/m);
    assert.match(setup, /\/etc\/postgresql\/16\/main\/conf\.d\/pgferry-lab\.conf$/m);
    assert.match(setup, /systemctl restart postgresql@16-main$/m);
    assert.match(text, /^runcmd:\n {2}- \[bash, \/var\/lib\/pgferry-lab\/setup\.sh\]$/m);
    const v13 = writtenFiles(renderCloudInit({ ...SETUP, postgresVersion: '13' }))
      .get('setup.sh')!
      .content.toString();
    assert.match(v13, /postgresql-13$/m);
  });

  it('waits for the dpkg lock and retries apt instead of failing at first boot', () => {
    const files = writtenFiles(text);
    assert.match(files.get('apt-lock-wait.conf')!.content.toString(), /^DPkg::Lock::Timeout "900";$/m);
    const setup = files.get('setup.sh')!.content.toString();
    assert.match(setup, /^install -m 0644 "\$dir\/apt-lock-wait\.conf" \/etc\/apt\/apt\.conf\.d\/90pgferry-lab$/m);
    // Every apt command goes through retry, and the lock-wait configuration is in place before the first.
    const aptLines = setup.split('\n').filter((l) => /apt-get|apt\.postgresql\.org\.sh/.test(l));
    assert.equal(aptLines.length, 4);
    for (const line of aptLines) assert.match(line, /^retry /);
    assert.ok(setup.indexOf('90pgferry-lab') < setup.indexOf('apt-get update'));
  });

  it('treats cloud-init exit 2 (finished with warnings) as done and lets the database decide readiness', () => {
    assert.match(READY_COMMAND, /cloud-init status --wait/);
    assert.match(READY_COMMAND, /\[ "\$rc" -ne 0 \] && \[ "\$rc" -ne 2 \]/);
    assert.match(READY_COMMAND, /exec bash \/var\/lib\/pgferry-lab\/check-ready\.sh'$/);
  });

  it('carries the password and database names only inside base64 SQL, quoted, creating only missing databases', () => {
    assert.ok(!text.includes("pa'ss"), 'password not in clear text');
    const setup = writtenFiles(text).get('setup.sql')!;
    assert.equal(setup.permissions, '0600');
    assert.equal(
      setup.content.toString(),
      [
        "ALTER ROLE postgres WITH PASSWORD 'pa''ss: #word\n';",
        `SELECT 'CREATE DATABASE "adventureworks"' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'adventureworks')\\gexec`,
        `SELECT 'CREATE DATABASE "we""ird"' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'we"ird')\\gexec`,
        '',
      ].join('\n'),
    );
  });

  it('ships the AdventureWorks sample gzipped and stays far below the 64 KB customData limit', () => {
    const files = writtenFiles(text);
    assert.match(files.get('adventureworks.sql')!.content.toString(), /CREATE TABLE humanresources\.department/);
    assert.ok(
      Buffer.from(text).toString('base64').length < 48 * 1024,
      `customData is ${Buffer.from(text).toString('base64').length} bytes`,
    );
    const without = writtenFiles(renderCloudInit({ ...SETUP, sampleDatabase: undefined }));
    assert.ok(!without.has('adventureworks.sql') && !without.has('ready.sql'));
  });
});

describe('lab-stack cloud-init, its PostgreSQL part against a local server', function () {
  this.timeout(120_000);
  let server: Cluster;
  let dir: string;

  /** Runs one of the document's scripts from `dir`, with psql pointed at the test server. */
  function runScript(name: string) {
    return execFileAsync('bash', [join(dir, name)], {
      env: {
        ...process.env,
        PGFERRY_LAB_DIR: dir,
        PSQL: `psql -h ${server.host} -p ${server.port} -U postgres`,
        PGPASSWORD: server.password,
        PGCONNECT_TIMEOUT: '10',
      },
    });
  }

  before(async () => {
    server = await startCluster({ major: 15, label: 'cloudinit' });
    dir = mkdtempSync(join(tmpdir(), 'pgferry-cloudinit-'));
    // The password the script sets is the server's own, so the test keeps its access.
    const files = writtenFiles(renderCloudInit({ ...SETUP, postgresPassword: server.password }));
    for (const [name, file] of files) writeFileSync(join(dir, name), file.content, { mode: parseInt(file.permissions, 8) });
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await server?.stop();
  });

  it('creates the databases, loads the sample and answers ready with the tutorial counts', async () => {
    const { stdout } = await runScript('prepare-postgres.sh');
    assert.match(stdout, /pgferry-lab: loading the AdventureWorks sample/);
    assert.match(stdout, /^pgferry-lab: ready: tables=68 departments=16$/m);
    assert.ok(!existsSync(join(dir, 'setup.sql')), 'the password file is shredded once used');
    const dbs = await server.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname IN ('adventureworks', 'we"ird') ORDER BY 1`,
    );
    assert.deepEqual(
      dbs.map((d) => d.datname),
      ['adventureworks', 'we"ird'],
    );
  });

  it('runs again without loading twice, and stays ready after the tutorial inserts department 17', async () => {
    await server.query(
      `INSERT INTO humanresources.department VALUES (17, 'Logistics', 'Inventory Management', DEFAULT)`,
      [],
      'adventureworks',
    );
    const { stdout } = await runScript('prepare-postgres.sh');
    assert.doesNotMatch(stdout, /loading the AdventureWorks sample/);
    assert.match(stdout, /ready: tables=68 departments=16/);
  });

  it('answers not ready, exit 1, naming what it found, when a table is missing', async () => {
    await server.query('DROP TABLE sales.shoppingcartitem', [], 'adventureworks');
    await assert.rejects(runScript('check-ready.sh'), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 1);
      assert.match(err.stderr, /not ready: adventureworks has tables=67 departments=16, expected tables=68 departments=16/);
      return true;
    });
  });
});

describe('lab-stack CIDR arithmetic', () => {
  it('parses, places hosts and detects overlap', () => {
    const subnet = parseCidr('10.20.2.0/24')!;
    assert.equal(cidrHost(subnet, 4), '10.20.2.4');
    assert.equal(parseCidr('10.20.2.1/24'), undefined);
    assert.equal(parseCidr('10.20.256.0/24'), undefined);
    assert.equal(parseCidr('010.20.2.0/24'), undefined);
    assert.ok(cidrsOverlap(parseCidr('10.0.0.0/8')!, subnet));
    assert.ok(!cidrsOverlap(parseCidr('10.20.3.0/24')!, subnet));
    assert.deepEqual(parseCidr('0.0.0.0/0'), { network: 0, prefix: 0 });
  });
});

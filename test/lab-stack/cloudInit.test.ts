// The source VM's cloud-init document: the seeds' manual source edits, written as text.
import assert from 'node:assert/strict';
import { renderCloudInit, replicationSizing, sourcePgHbaLines } from '../../lab-stack/cloudInit';
import { cidrHost, cidrsOverlap, parseCidr } from '../../lab-stack/cidr';

describe('lab-stack cloud-init', () => {
  const text = renderCloudInit({
    postgresVersion: '16',
    allowedCidrs: ['10.20.1.0/24', '172.16.201.0/24'],
    databases: ['adventureworks', 'we"ird'],
    postgresPassword: "pa'ss: #word\n",
  });

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
    assert.match(text, /apt-get install -y postgresql-16$/m);
    assert.match(text, /\/etc\/postgresql\/16\/main\/conf\.d\/pgferry-lab\.conf$/m);
    assert.match(text, /systemctl restart postgresql@16-main$/m);
    assert.match(text, /^runcmd:\n {2}- \[bash, \/var\/lib\/pgferry-lab\/setup\.sh\]$/m);
    assert.match(renderCloudInit({ postgresVersion: '13', allowedCidrs: [], databases: [], postgresPassword: 'x' }), /postgresql-13$/m);
  });

  it('carries the password and database names only inside base64 SQL, quoted', () => {
    assert.ok(!text.includes("pa'ss"), 'password not in clear text');
    const b64 = /path: \/var\/lib\/pgferry-lab\/setup\.sql\n {4}permissions: '0600'\n {4}encoding: b64\n {4}content: (\S+)/.exec(text);
    assert.ok(b64, 'setup.sql entry present');
    const sql = Buffer.from(b64[1]!, 'base64').toString('utf8');
    assert.equal(
      sql,
      'ALTER ROLE postgres WITH PASSWORD \'pa\'\'ss: #word\n\';\nCREATE DATABASE "adventureworks";\nCREATE DATABASE "we""ird";\n',
    );
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

// Malformed properties files and flags: exit 2, exactly one stderr line naming the field, nothing
// on stdout, no secret in the message, and (against real servers) no change on either side.
import assert from 'node:assert/strict';
import { CLOSED_PORT, propertiesFile, runCli } from './helpers';
import { parseMigrationSpec, PgferryError } from '../../provider/engine';
import { serverSpec, startPair, type ServerPair } from '../support';

const SECRET = 'Sup3r-Secret-pw';

const azure = (props: Record<string, unknown>) => ({
  properties: {
    SourceDBServerResourceId: '127.0.0.1:5432@postgres',
    SecretParameters: { AdminCredentials: { SourceServerPassword: SECRET, TargetServerPassword: SECRET } },
    DBsToMigrate: ['sales'],
    ...props,
  },
});
const withoutKey = (key: string) => {
  const body = azure({});
  delete (body.properties as Record<string, unknown>)[key];
  return body;
};
const plain = (extra: Record<string, unknown>) => ({
  source: `postgres://postgres:${SECRET}@127.0.0.1:5432/`,
  databases: ['sales'],
  ...extra,
});

interface Case {
  readonly title: string;
  readonly body: unknown;
  /** Flags instead of the default --name and --target-host/--target-port. */
  readonly flags?: string[];
  readonly field: RegExp;
}

const TARGET_FLAGS = ['--target-host', '127.0.0.1', '--target-port', CLOSED_PORT, '--target-user', 'postgres'];

const CASES: Case[] = [
  { title: 'bad JSON', body: `{"properties": {"SecretParameters": "${SECRET}", }`, field: /--properties/ },
  // (without DBsToMigrate a create is valid: it waits for an update to name them, test/cli/dbsToMigrateLater)
  { title: 'DBsToMigrate naming a database twice', body: azure({ DBsToMigrate: ['a', 'a'] }), field: /DBsToMigrate/ },
  { title: 'missing SourceDBServerResourceId', body: withoutKey('SourceDBServerResourceId'), field: /SourceDBServerResourceId/ },
  { title: 'DBsToMigrate not a list', body: azure({ DBsToMigrate: 'sales' }), field: /DBsToMigrate/ },
  { title: 'DBsToMigrate empty', body: azure({ DBsToMigrate: [] }), field: /DBsToMigrate/ },
  { title: 'DBsToMigrate holding a number', body: azure({ DBsToMigrate: ['a', 7] }), field: /DBsToMigrate/ },
  { title: 'DBsToMigrate naming template1', body: azure({ DBsToMigrate: ['template1'] }), field: /DBsToMigrate/ },
  {
    title: 'SourceDBServerResourceId without port',
    body: azure({ SourceDBServerResourceId: '127.0.0.1@postgres' }),
    field: /SourceDBServerResourceId/,
  },
  {
    title: 'SourceDBServerResourceId without user',
    body: azure({ SourceDBServerResourceId: '127.0.0.1:5432' }),
    field: /SourceDBServerResourceId/,
  },
  {
    title: 'SourceDBServerResourceId as an Azure resource ID',
    body: azure({ SourceDBServerResourceId: '/subscriptions/x/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/servers/s' }),
    field: /SourceDBServerResourceId/,
  },
  {
    title: 'SourceDBServerResourceId port out of range',
    body: azure({ SourceDBServerResourceId: 'h:70000@postgres' }),
    field: /SourceDBServerResourceId/,
  },
  { title: 'SourceDBServerResourceId not a string', body: azure({ SourceDBServerResourceId: 5432 }), field: /SourceDBServerResourceId/ },
  { title: 'bad SSLMode', body: azure({ SSLMode: 'Allow' }), field: /SSLMode/ },
  { title: 'bad MigrationMode', body: azure({ MigrationMode: 'Sometimes' }), field: /MigrationMode/ },
  { title: 'bad MigrationOption', body: azure({ MigrationOption: 'Everything' }), field: /MigrationOption/ },
  { title: 'non-boolean OverwriteDBsInTarget', body: azure({ OverwriteDBsInTarget: 'yes' }), field: /OverwriteDBsInTarget/ },
  {
    title: 'password of the wrong type',
    body: azure({ SecretParameters: { AdminCredentials: { TargetServerPassword: 12345 } } }),
    field: /TargetServerPassword/,
  },
  { title: 'unknown key inside the Azure properties', body: azure({ DBsToMigrat: ['x'] }), field: /DBsToMigrat/ },
  { title: 'properties not an object', body: { properties: ['x'] }, field: /properties/ },
  { title: 'unknown top-level key in the plain form', body: plain({ tableJob: 2 }), field: /tableJob/ },
  { title: 'tableJobs 0', body: plain({ tableJobs: 0 }), field: /tableJobs/ },
  { title: 'bad source URL scheme', body: plain({ source: `http://u:${SECRET}@h/` }), field: /source/ },
  { title: 'unparsable source URL', body: plain({ source: 'postgres://u:pw@:x:y' }), field: /source/ },
  { title: 'unknown URL parameter', body: plain({ source: `postgres://u:${SECRET}@h/?sslmode=require&foo=1` }), field: /source/ },
  {
    title: 'source port out of range in the object form',
    body: plain({ source: { host: 'h', port: 99999, user: 'u' } }),
    field: /source\.port/,
  },
  { title: 'missing target host', body: azure({}), flags: ['--name', 'm1'], field: /target/ },
  { title: 'name starting with a hyphen', body: azure({}), flags: ['--name=-m1', ...TARGET_FLAGS], field: /--name/ },
  { title: 'name with an underscore', body: azure({}), flags: ['--name', 'my_mig', ...TARGET_FLAGS], field: /--name/ },
  {
    title: 'missing properties file',
    body: undefined,
    flags: ['--name', 'm1', '--properties', '/nonexistent/body.json', ...TARGET_FLAGS],
    field: /--properties/,
  },
  { title: 'bad --mode', body: azure({}), flags: ['--name', 'm1', '--mode', 'sideways', ...TARGET_FLAGS], field: /--mode/ },
  { title: 'bad --target-url', body: azure({}), flags: ['--name', 'm1', '--target-url', `mysql://u:${SECRET}@h/`], field: /--target-url/ },
  {
    // any local user can read a process's command line
    title: 'a password inside --target-url',
    body: azure({}),
    flags: ['--name', 'm1', '--target-url', `postgres://u:${SECRET}@h/`],
    field: /--target-url.*password/,
  },
  {
    title: 'bad --target-port',
    body: azure({}),
    flags: ['--name', 'm1', '--target-host', 'h', '--target-port', '0'],
    field: /--target-port/,
  },
];

function argsFor(c: Case): string[] {
  const file = c.body === undefined ? [] : ['--properties', propertiesFile(c.body)];
  return ['create', ...file, ...(c.flags ?? ['--name', 'm1', ...TARGET_FLAGS])];
}

function assertRefused(result: Awaited<ReturnType<typeof runCli>>, field: RegExp): void {
  assert.equal(result.code, 2, `exit code (stderr: ${result.stderr})`);
  assert.equal(result.errLines.length, 1, `one stderr line, got:\n${result.stderr}`);
  assert.match(result.errLines[0]!, field);
  assert.equal(result.stdout, '');
  assert.ok(!result.stderr.includes(SECRET), 'no secret on stderr');
}

describe('pgferry create with malformed input', () => {
  for (const c of CASES) {
    it(`refuses ${c.title} with exit 2 and one line naming the field`, async () => {
      assertRefused(await runCli(argsFor(c)), c.field);
    });
  }

  describe('against real servers: nothing is created on either side', () => {
    let pair: ServerPair;
    before(async () => {
      pair = await startPair();
    });
    after(async () => pair.stop());

    const realCases: { title: string; body: (p: ServerPair) => unknown; field: RegExp }[] = [
      {
        title: 'DBsToMigrate naming template0',
        body: (p) => ({
          properties: {
            DBsToMigrate: ['template0'],
            SourceDBServerResourceId: `${p.source.host}:${p.source.port}@postgres`,
            SecretParameters: { AdminCredentials: { SourceServerPassword: p.source.password, TargetServerPassword: p.target.password } },
            targetDbServerFullyQualifiedDomainName: p.target.host,
            targetDbServerPort: p.target.port,
          },
        }),
        field: /DBsToMigrate/,
      },
      {
        title: 'tableJobs 0',
        body: (p) => ({
          source: `postgres://postgres:${p.source.password}@${p.source.host}:${p.source.port}/`,
          target: `postgres://postgres:${p.target.password}@${p.target.host}:${p.target.port}/`,
          databases: ['appdb'],
          tableJobs: 0,
        }),
        field: /tableJobs/,
      },
      {
        title: 'bad SSLMode',
        body: (p) => ({
          properties: {
            SourceDBServerResourceId: `${p.source.host}:${p.source.port}@postgres`,
            SecretParameters: { AdminCredentials: { SourceServerPassword: p.source.password, TargetServerPassword: p.target.password } },
            targetDbServerFullyQualifiedDomainName: p.target.host,
            targetDbServerPort: p.target.port,
            DBsToMigrate: ['appdb'],
            SSLMode: 'VerifyNone',
          },
        }),
        field: /SSLMode/,
      },
    ];

    async function snapshot(p: ServerPair) {
      const dbs = async (c: ServerPair['source']) =>
        (await c.query<{ datname: string }>('SELECT datname FROM pg_database ORDER BY 1')).map((r) => r.datname);
      const schema = async (c: ServerPair['source']) =>
        (await c.query<{ n: string }>(`SELECT count(*)::text AS n FROM pg_namespace WHERE nspname = 'pgferry'`))[0]!.n;
      const slots = async (c: ServerPair['source']) =>
        (await c.query<{ n: string }>('SELECT count(*)::text AS n FROM pg_replication_slots'))[0]!.n;
      return {
        sourceDbs: await dbs(p.source),
        targetDbs: await dbs(p.target),
        sourceSchema: await schema(p.source),
        targetSchema: await schema(p.target),
        sourceSlots: await slots(p.source),
      };
    }

    for (const c of realCases) {
      it(`refuses ${c.title} and changes neither server`, async () => {
        const before = await snapshot(pair);
        const result = await runCli([
          'create',
          '--name',
          'real-1',
          '--properties',
          propertiesFile(c.body(pair)),
          '--target-user',
          'postgres',
          '--output',
          'json',
        ]);
        assert.equal(result.code, 2, result.stderr);
        assert.equal(result.errLines.length, 1, result.stderr);
        assert.match(result.errLines[0]!, c.field);
        assert.ok(!result.stderr.includes(pair.source.password));
        const after = await snapshot(pair);
        assert.deepEqual(after, before);
        assert.equal(after.targetSchema, '0', 'no pgferry schema on the target');
      });
    }

    it('refuses 51 databases, all present on the source, and changes neither server', async () => {
      const names = Array.from({ length: 51 }, (_, i) => `many_${String(i).padStart(2, '0')}`);
      for (const name of names) await pair.source.query(`CREATE DATABASE ${name}`);
      // the boundary: 50 is a valid spec, 51 is refused naming the field
      const servers = { source: serverSpec(pair.source), target: serverSpec(pair.target) };
      assert.equal(parseMigrationSpec({ migrationName: 'fifty', ...servers, databases: names.slice(0, 50) }).databases.length, 50);
      assert.throws(
        () => parseMigrationSpec({ migrationName: 'fifty-one', ...servers, databases: names }),
        (e: unknown) => e instanceof PgferryError && e.code === 'INVALID_INPUT' && e.field === 'databases',
      );
      const before = await snapshot(pair);
      const body = {
        properties: {
          SourceDBServerResourceId: `${pair.source.host}:${pair.source.port}@postgres`,
          SecretParameters: {
            AdminCredentials: { SourceServerPassword: pair.source.password, TargetServerPassword: pair.target.password },
          },
          targetDbServerFullyQualifiedDomainName: pair.target.host,
          targetDbServerPort: pair.target.port,
          DBsToMigrate: names,
          OverwriteDBsInTarget: true,
        },
      };
      const result = await runCli([
        'create',
        '--name',
        'too-many',
        '--properties',
        propertiesFile(body),
        '--target-user',
        'postgres',
        '--wait',
        '--output',
        'json',
      ]);
      assert.equal(result.code, 2, result.stderr);
      assert.equal(result.errLines.length, 1, result.stderr);
      assert.match(result.errLines[0]!, /DBsToMigrate.*50/);
      const after = await snapshot(pair);
      assert.deepEqual(after, before);
      assert.equal(after.targetSchema, '0', 'no pgferry schema on the target');
      assert.ok(!after.targetDbs.some((d) => d.startsWith('many_')), 'no database created on the target');
    });
  });
});

// The az spelling of pgferry's command line: which flag names the migration and which the server,
// server names mapped to addresses, az's enum values in any case, --properties forms, the output
// formats and --query as az prints them, and `pgferry --version`.
import assert from 'node:assert/strict';
import { parseCli } from '../../provider/cli/input/parse';
import { compileQuery, formatResult, formatTsv } from '../../provider/cli/format';
import { loadProperties } from '../../provider/cli/input/file';
import { applyTargetFlags } from '../../provider/cli/input/body';
import { parseServerHosts, serverAddress, serverNameOf } from '../../provider/azure/serverName';
import { CONTROL_SCHEMA_VERSION, PgferryError } from '../../provider/engine';
import { runCli } from './helpers';

const isCode = (code: string) => (e: unknown) => e instanceof PgferryError && e.code === code;

describe('the az command line', () => {
  describe('--name, --migration-name and --server-name', nameTests);

  describe('server names', serverNameTests);

  describe('--properties', propertiesTests);

  describe('--output and --query', outputTests);

  it('prints the version and the control-schema version for --version and `version`', async () => {
    const flag = await runCli(['--version']);
    assert.equal(flag.code, 0, flag.stderr);
    assert.match(flag.stdout, new RegExp(`^pgferry \\d+\\.\\d+\\.\\d+ \\(control schema ${CONTROL_SCHEMA_VERSION}\\)\\n$`));
    const json = await runCli(['version', '-o', 'json']);
    assert.deepEqual(Object.keys(JSON.parse(json.stdout)), ['controlSchemaVersion', 'pgferry']);
    assert.equal(JSON.parse(json.stdout).controlSchemaVersion, CONTROL_SCHEMA_VERSION);
  });
});

function nameTests(): void {
  it('reads --name as the server when --migration-name is given, as az does', () => {
    const args = parseCli(['show', '--name', 'myflexibleserver', '--migration-name', 'migration1'], {});
    assert.equal(args.name, 'migration1');
    assert.equal(args.server, 'myflexibleserver');
    assert.equal(args.target.server?.host, 'myflexibleserver.postgres.database.azure.com');
  });

  it('keeps --name as the migration otherwise, with --server-name for the server (az 2.86+)', () => {
    const today = parseCli(['show', '--name', 'm1', '--target-host', 'h'], {});
    assert.equal(today.name, 'm1');
    assert.equal(today.server, undefined);
    const next = parseCli(['show', '-n', 'm1', '-s', 'srv'], {});
    assert.deepEqual([next.name, next.server], ['m1', 'srv']);
  });

  it('reads --name of list as the server, the only name list takes', () => {
    const args = parseCli(['list', '--name', 'srv', '--filter', 'All'], {});
    assert.equal(args.server, 'srv');
    assert.equal(args.filter, 'all');
  });

  it('refuses a server named twice, and a bad migration name naming the flag that gave it', () => {
    assert.throws(() => parseCli(['show', '--migration-name', 'm', '--name', 'a', '--server-name', 'b'], {}), isCode('USAGE'));
    assert.throws(
      () => parseCli(['show', '--name', 'srv', '--migration-name', '-bad'], {}),
      (e: unknown) => isCode('USAGE')(e) && (e as PgferryError).field === '--migration-name',
    );
  });

  it('takes az enum values in any case, and refuses pgferry and az spellings that disagree', () => {
    const args = parseCli(['create', '-n', 's', '--migration-name', 'm', '--properties', 'b.json', '--migration-mode', 'Online'], {});
    assert.equal(args.spec.mode, 'Online');
    const option = parseCli(['create', '--migration-name', 'm', '--properties', 'b', '--migration-option', 'VALIDATEANDMIGRATE'], {});
    assert.equal(option.spec.option, 'ValidateAndMigrate');
    assert.throws(() => parseCli(['create', '--name', 'm', '--properties', 'b', '--mode', 'offline', '--migration-mode', 'online'], {}));
    assert.equal(
      parseCli(['create', '--name', 'm', '--properties', 'b', '--mode', 'offline', '--migration-mode', 'Offline'], {}).spec.mode,
      'Offline',
    );
  });

  it('accepts --subscription, -g, --only-show-errors, --verbose and --debug and records them', () => {
    const args = parseCli(['show', '--subscription', 'sub', '-g', 'rg', '-n', 'srv', '--migration-name', 'm', '--debug'], {});
    assert.deepEqual([args.subscription, args.resourceGroup, args.verbosity], ['sub', 'rg', 'debug']);
    assert.equal(parseCli(['list', '-n', 's', '--only-show-errors'], {}).verbosity, 'errors');
  });

  it('prints JSON when --query is given without --output, and refuses a malformed query before any connection', () => {
    assert.equal(parseCli(['show', '--name', 'm', '--target-host', 'h', '--query', 'name'], {}).output, 'json');
    assert.equal(parseCli(['show', '--name', 'm', '--target-host', 'h'], {}).output, 'table');
    assert.equal(parseCli(['show', '--name', 'm', '--target-host', 'h', '-o', 'TSV'], {}).output, 'tsv');
    assert.throws(() => parseCli(['show', '--name', 'm', '--target-host', 'h', '--query', 'properties.['], {}), isCode('USAGE'));
  });
}

function serverNameTests(): void {
  it('maps a server to SERVER.postgres.database.azure.com, a host name to itself, and PGFERRY_SERVER_HOSTS entries first', () => {
    assert.equal(serverAddress('azuredb1', {}).host, 'azuredb1.postgres.database.azure.com');
    assert.equal(serverAddress('db.internal.example', {}).host, 'db.internal.example');
    assert.equal(
      serverAddress('cn1', { PGFERRY_SERVER_DOMAIN: 'postgres.database.chinacloudapi.cn' }).host,
      'cn1.postgres.database.chinacloudapi.cn',
    );
    const env = { PGFERRY_SERVER_HOSTS: 'MyFlexibleServer=127.0.0.1:54321, other=pgadmin@[::1]:5433' };
    assert.deepEqual(serverAddress('myflexibleserver', env), {
      name: 'myflexibleserver',
      host: '127.0.0.1',
      port: 54321,
      via: 'PGFERRY_SERVER_HOSTS',
      // the name its certificate carries, checked at the mapped address
      sslServerName: 'myflexibleserver.postgres.database.azure.com',
    });
    assert.deepEqual(parseServerHosts(env.PGFERRY_SERVER_HOSTS).get('other'), { host: '::1', port: 5433, user: 'pgadmin' });
    assert.throws(() => parseServerHosts('nohost'), isCode('INVALID_INPUT'));
    assert.equal(serverNameOf('azuredb1.postgres.database.azure.com', {}), 'azuredb1');
    assert.equal(serverNameOf('127.0.0.1', env), 'myflexibleserver');
  });

  it('makes the named server the target only when no flag or file says where the target is', () => {
    const server = serverAddress('srv', { PGFERRY_SERVER_HOSTS: 'srv=pgadmin@10.1.1.1:6432' });
    assert.deepEqual(applyTargetFlags({}, { server }), {
      host: '10.1.1.1',
      port: 6432,
      user: 'pgadmin',
      sslServerName: 'srv.postgres.database.azure.com',
    });
    assert.equal(applyTargetFlags({ host: 'file-host' }, { server }, { PGUSER: 'u' }).host, 'file-host');
    assert.equal(applyTargetFlags({}, { server, host: 'flag-host' }, { PGUSER: 'u' }).host, 'flag-host');
    assert.equal(applyTargetFlags({ user: 'fileuser' }, { server }).user, 'fileuser');
  });
}

function propertiesTests(): void {
  it('takes @file, inline JSON without passwords, and refuses inline JSON with one', async () => {
    await assert.rejects(
      loadProperties('@/nonexistent/body.json'),
      (e: unknown) => isCode('PROPERTIES_FILE')(e) && /\/nonexistent\/body\.json/.test(String(e)),
    );
    assert.deepEqual(await loadProperties('{"properties": {"DBsToMigrate": ["a"]}}'), { properties: { DBsToMigrate: ['a'] } });
    const secret = '{"properties": {"SecretParameters": {"AdminCredentials": {"SourceServerPassword": "s3cret-inline"}}}}';
    await assert.rejects(
      loadProperties(secret),
      (e: unknown) => isCode('PASSWORD_ON_COMMAND_LINE')(e) && !String(e).includes('s3cret-inline'),
    );
  });
}

function outputTests(): void {
  const resource = {
    name: 'm1',
    id: '/x',
    type: 't',
    properties: {
      currentStatus: {
        state: 'InProgress',
        currentSubStateDetails: { dbDetails: { b: { migrationState: 'InProgress' }, a: { migrationState: 'Succeeded' } } },
      },
      dbsToMigrate: ['a', 'b'],
      overwriteDbsInTarget: 'True',
    },
  };
  const print = (output: Parameters<typeof formatResult>[1]['output'], query?: string) =>
    formatResult({ value: resource, table: () => 'TABLE' }, { output, query: query ? compileQuery(query) : undefined });

  it('answers the JMESPath queries scripts for az use', () => {
    assert.deepEqual(JSON.parse(print('json', 'properties.currentStatus.currentSubStateDetails.dbDetails.*.migrationState')), [
      'InProgress',
      'Succeeded',
    ]);
    assert.equal(print('tsv', 'properties.currentStatus.state'), 'InProgress\n');
    assert.equal(print('json', 'properties.currentStatus.state'), '"InProgress"\n');
  });

  it('prints JSON and YAML with sorted keys, TSV and automatic tables as knack does, none as nothing', () => {
    assert.ok(print('json').indexOf('"id"') < print('json').indexOf('"name"'));
    assert.match(print('yaml'), /^id: \/x\nname: m1\nproperties:\n/);
    assert.equal(print('none'), '');
    assert.equal(print('table'), 'TABLE\n');
    assert.equal(
      print('table', '{Name: name, State: properties.currentStatus.state}'),
      'Name  State\n----  ----------\nm1    InProgress\n',
    );
    assert.equal(formatTsv([{ b: 2, a: 'x', c: null, d: [1, 2], e: { f: 1 }, g: true }]), 'x\t2\tNone\t2\t\tTrue\n');
    assert.equal(formatTsv(true), 'true\n');
    assert.doesNotMatch(print('jsonc'), /\x1b\[/, 'no colours off a terminal');
  });

  it('lines up an automatic table by display width, wide characters included', () => {
    const text = formatResult(
      {
        value: [
          { name: '販売', n: 1 },
          { name: 'ab', n: 22 },
        ],
      },
      { output: 'table' },
    );
    assert.equal(text, ' N  Name\n--  ----\n 1  販売\n22  ab\n');
  });
}

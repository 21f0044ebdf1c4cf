// Unit tests of the properties mapping: the Azure body (case-insensitive keys, "True"/"False"),
// the plain form with URLs, flags overriding the file, and errors naming the user's field.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serverAddress } from '../../provider/azure/serverName';
import { PgferryError } from '../../provider/engine';
import {
  mapProperties,
  parseSourceResourceId,
  specFromProperties,
  targetFromInputs,
  updateOperationOf,
} from '../../provider/cli/input/body';
import { parsePropertiesText } from '../../provider/cli/input/file';
import { parseConnectionUrl } from '../../provider/cli/input/url';
import { parseCli, propertyFlags } from '../../provider/cli/input/parse';
import { checkInputs } from '../../provider/resource/inputSchema';

const azureBody = {
  properties: {
    SourceDBServerResourceId: '10.0.0.4:5433@srcadmin',
    SecretParameters: {
      AdminCredentials: { SourceServerPassword: 'src-pw', TargetServerPassword: 'dst-pw' },
    },
    targetServerUserName: 'pgadmin',
    DBsToMigrate: ['sales', 'hr'],
    OverwriteDBsInTarget: 'True',
    MigrationMode: 'Online',
    SSLMode: 'VerifyFull',
    targetDbServerFullyQualifiedDomainName: 'dst.postgres.database.azure.com',
  },
};

function inputErrorOf(fn: () => unknown): PgferryError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof PgferryError, `expected a PgferryError, got ${String(error)}`);
    assert.equal(error.category, 'input');
    return error;
  }
  assert.fail('expected an input error');
}

describe('cli properties: the Azure body', () => {
  it('maps the Azure body to a spec', () => {
    const spec = specFromProperties(azureBody, { name: 'aw-online' });
    assert.equal(spec.migrationName, 'aw-online');
    assert.deepEqual(
      {
        host: spec.source.host,
        port: spec.source.port,
        user: spec.source.user,
        password: spec.source.password,
        sslMode: spec.source.sslMode,
      },
      { host: '10.0.0.4', port: 5433, user: 'srcadmin', password: 'src-pw', sslMode: 'verify-full' },
    );
    assert.deepEqual(
      { host: spec.target.host, port: spec.target.port, user: spec.target.user, password: spec.target.password },
      { host: 'dst.postgres.database.azure.com', port: 5432, user: 'pgadmin', password: 'dst-pw' },
    );
    assert.deepEqual(spec.databases, ['sales', 'hr']);
    assert.equal(spec.overwriteDbsInTarget, true);
    assert.equal(spec.mode, 'Online');
    assert.equal(spec.option, 'ValidateAndMigrate');
    assert.ok(Object.isFrozen(spec));
  });

  it('matches Azure keys case-insensitively and accepts "false"/booleans and enum spellings', () => {
    const spec = specFromProperties(
      {
        Properties: {
          sourceDbServerResourceId: 'src.example.com:5432@u1',
          secretParameters: {
            adminCredentials: { sourceServerPassword: 'a' },
            sourceServerUsername: 'reader',
            targetServerUsername: 'tgtuser',
          },
          dbsToMigrate: ['db1'],
          overwriteDbsInTarget: 'false',
          migrationMode: 'offline',
          migrationOption: 'validate',
          sslMode: 'require',
          SOURCEDBSERVERFULLYQUALIFIEDDOMAINNAME: '192.168.1.9',
          migrateRoles: false,
          tableJobs: 3,
        },
        location: 'westeurope',
      },
      { name: 'm1', target: { host: 'localhost', port: 6543 } },
    );
    assert.equal(spec.source.host, '192.168.1.9');
    assert.equal(spec.source.user, 'reader');
    assert.equal(spec.source.sslMode, 'require');
    assert.equal(spec.target.user, 'tgtuser');
    assert.equal(spec.target.host, 'localhost');
    assert.equal(spec.target.port, 6543);
    assert.equal(spec.overwriteDbsInTarget, false);
    assert.equal(spec.migrateRoles, false);
    assert.equal(spec.mode, 'Offline');
    assert.equal(spec.option, 'Validate');
    assert.equal(spec.tableJobs, 3);
  });

  it('takes skipUnsupportedObjects from either form, the Azure key in any case, or from the flag', () => {
    const azure = { properties: { ...azureBody.properties, SKIPUNSUPPORTEDOBJECTS: true } };
    assert.equal(specFromProperties(azure, { name: 'm1' }).skipUnsupportedObjects, true);
    assert.equal(specFromProperties(azureBody, { name: 'm1' }).skipUnsupportedObjects, false);
    assert.equal(specFromProperties(azureBody, { name: 'm1', skipUnsupportedObjects: true }).skipUnsupportedObjects, true);
    const plain = { source: 'postgres://a@src:5432/', target: 'postgres://b@dst:5432/', databases: ['app'], skipUnsupportedObjects: true };
    assert.equal(specFromProperties(plain, { name: 'm1' }).skipUnsupportedObjects, true);
    const bad = { properties: { ...azureBody.properties, skipUnsupportedObjects: 'sometimes' } };
    assert.throws(() => specFromProperties(bad, { name: 'm1' }), /skipUnsupportedObjects/);
  });
});

describe('cli properties: overwriteLiveDbsInTarget', () => {
  it('is spelled alike in the Azure body, the plain body, the CLI flag and PgMigration, and refused in one line when malformed', () => {
    const azure = { properties: { ...azureBody.properties, overwriteLiveDbsInTarget: ['sales'] } };
    assert.deepEqual(specFromProperties(azure, { name: 'm1' }).overwriteLiveDbsInTarget, ['sales']);
    assert.deepEqual(specFromProperties(azureBody, { name: 'm1' }).overwriteLiveDbsInTarget, [], 'none unless named');
    const plain = {
      source: 'postgres://a@src:5432/',
      target: 'postgres://b@dst:5432/',
      databases: ['app'],
      overwriteLiveDbsInTarget: ['app'],
    };
    assert.deepEqual(specFromProperties(plain, { name: 'm1' }).overwriteLiveDbsInTarget, ['app']);
    const cli = parseCli([
      'create',
      '--name',
      'm1',
      '--properties',
      'b.json',
      '--overwrite-live-dbs-in-target',
      'sales',
      '--overwrite-live-dbs-in-target',
      'hr',
    ]);
    assert.deepEqual(cli.spec.overwriteLiveDbsInTarget, ['sales', 'hr']);
    assert.deepEqual(
      specFromProperties(azureBody, propertyFlags(cli)).overwriteLiveDbsInTarget,
      ['sales', 'hr'],
      'the flag replaces the file',
    );
    const pulumi = {
      migrationName: 'm1',
      source: { host: 's', user: 'u' },
      target: { host: 't', user: 'u' },
      databases: ['app'],
      overwriteLiveDbsInTarget: ['app'],
    };
    assert.deepEqual(checkInputs({}, pulumi), []);
    const bad = inputErrorOf(() =>
      specFromProperties({ properties: { ...azureBody.properties, overwriteLiveDbsInTarget: 'sales' } }, { name: 'm1' }),
    );
    assert.equal(bad.message, 'properties.overwriteLiveDbsInTarget: must be a list of database names');
    assert.deepEqual(
      checkInputs({}, { ...pulumi, overwriteLiveDbsInTarget: ['app', 'app'] }).map((f) => f.reason),
      ['overwriteLiveDbsInTarget: must not name a database twice'],
    );
  });
});

describe('cli properties: flags over the file', () => {
  it('lets flags override the file: mode, option, --no-verify, replica identity, target', () => {
    const spec = specFromProperties(azureBody, {
      name: 'x1',
      mode: 'Offline',
      option: 'Migrate',
      verify: false,
      allowReplicaIdentityFull: true,
      target: { url: 'postgres://other@db.internal:6000/admin?sslmode=require' },
    });
    assert.equal(spec.mode, 'Offline');
    assert.equal(spec.option, 'Migrate');
    assert.equal(spec.verify, false);
    assert.equal(spec.allowReplicaIdentityFull, true);
    // the URL names no password (refused on a command line): the file's stays
    assert.deepEqual(
      [spec.target.host, spec.target.port, spec.target.user, spec.target.password, spec.target.sslMode, spec.target.maintenanceDatabase],
      ['db.internal', 6000, 'other', azureBody.properties.SecretParameters.AdminCredentials.TargetServerPassword, 'require', 'admin'],
    );
    assert.throws(
      () => specFromProperties(azureBody, { name: 'x1', target: { url: 'postgres://other:pw2@db.internal:6000/' } }),
      (e: { code?: string; field?: string }) => e.code === 'PASSWORD_ON_COMMAND_LINE' && e.field === '--target-url',
    );
  });
});

describe('cli properties: the plain form and the target server', () => {
  it('maps the plain form with URLs', () => {
    const spec = specFromProperties(
      {
        source: 'postgres://alice:p%40ss@src.local:5499/?sslmode=disable',
        target: 'postgresql://bob@[::1]:5500/postgres',
        databases: ['app'],
        tableJobs: 4,
        splitTablesLargerThan: 0,
        pgBinDir: '/usr/lib/postgresql/16/bin',
      },
      { name: 'plain-1' },
    );
    assert.deepEqual(
      [spec.source.host, spec.source.port, spec.source.user, spec.source.password, spec.source.sslMode],
      ['src.local', 5499, 'alice', 'p@ss', 'disable'],
    );
    assert.deepEqual([spec.target.host, spec.target.port, spec.target.user, spec.target.password], ['::1', 5500, 'bob', undefined]);
    assert.equal(spec.tableJobs, 4);
    assert.equal(spec.splitTablesLargerThan, 0);
    assert.equal(spec.pgBinDir, '/usr/lib/postgresql/16/bin');
  });

  it('finds the target login as PgMigration does: the flag or body, the server hosts entry, PGUSER, then ~/.pgpass', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgferry-login-'));
    const pgpass = join(dir, 'pgpass');
    writeFileSync(pgpass, '# comment\nother:5432:*:nobody:x\nh1:5432:postgres:passuser:pw\n', { mode: 0o600 });
    try {
      const server = serverAddress('srv', { PGFERRY_SERVER_HOSTS: 'srv=mapped@h1' });
      const env = { PGUSER: 'envuser', PGPASSFILE: pgpass };
      const user = (flags: Parameters<typeof targetFromInputs>[1], e: NodeJS.ProcessEnv) => targetFromInputs(undefined, flags, e).user;
      assert.equal(user({ server, user: 'flaguser' }, env), 'flaguser');
      assert.equal(user({ server }, env), 'mapped');
      assert.equal(user({ host: 'h1' }, env), 'envuser');
      assert.equal(user({ host: 'h1' }, { PGPASSFILE: pgpass }), 'passuser');
      const none = inputErrorOf(() => targetFromInputs(undefined, { host: 'h2', port: 6000 }, { PGPASSFILE: pgpass }));
      assert.equal(none.code, 'TARGET_LOGIN_REQUIRED');
      assert.equal(
        none.message,
        '--target-user: no login found for the target h2:6000; give --target-user (or the user in --target-url or the properties file), or set PGUSER (or SERVER=USER@HOST in PGFERRY_SERVER_HOSTS), or add a ~/.pgpass entry for h2:6000',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('leaves passwords to PGPASSWORD/.pgpass', () => {
    const target = targetFromInputs(undefined, { host: 'h1', user: 'u' });
    assert.deepEqual([target.host, target.port, target.user, target.password], ['h1', 5432, 'u', undefined]);
    const fromFile = targetFromInputs(azureBody, { port: 7000 });
    assert.deepEqual(
      [fromFile.host, fromFile.port, fromFile.user, fromFile.password],
      ['dst.postgres.database.azure.com', 7000, 'pgadmin', 'dst-pw'],
    );
  });

  it('parses host:port@user, IPv6 in brackets, and refuses other shapes', () => {
    assert.deepEqual(parseSourceResourceId('[fe80::1]:5432@me', 'f'), { host: 'fe80::1', port: 5432, user: 'me' });
    assert.deepEqual(parseSourceResourceId('h:1@user@domain', 'f'), { host: 'h', port: 1, user: 'user@domain' });
    for (const bad of ['h@u', 'h:5432', 'h:@u', 'h:0@u', 'h:65536@u', 'h:54x2@u', '/subscriptions/abc/resourceGroups/rg', ':5432@u']) {
      const e = inputErrorOf(() => parseSourceResourceId(bad, 'properties.SourceDBServerResourceId'));
      assert.equal(e.field, 'properties.SourceDBServerResourceId', bad);
    }
  });
});

describe('cli properties: input errors', () => {
  it('names the field as the user spelled it', () => {
    const e1 = inputErrorOf(() =>
      specFromProperties(
        { properties: { sourcedbserverresourceid: 'h:5432@u', DBSTOMIGRATE: 'x' } },
        { name: 'a', target: { host: 'h', user: 'u' } },
      ),
    );
    assert.equal(e1.field, 'properties.DBSTOMIGRATE');
    const e2 = inputErrorOf(() =>
      specFromProperties(
        { properties: { SourceDBServerResourceId: 'h:5432@u', DBsToMigrate: ['template1'] } },
        { name: 'a', target: { host: 'h', user: 'u' } },
      ),
    );
    assert.match(e2.message, /^properties\.DBsToMigrate \(databases\): /);
    const e3 = inputErrorOf(() =>
      specFromProperties(
        { properties: { SourceDBServerResourceId: 'h:5432@u', DBsToMigrate: ['a'], TableJobs: 0 } },
        { name: 'a', target: { host: 'h', user: 'u' } },
      ),
    );
    assert.equal(e3.field, 'properties.TableJobs');
  });

  it('refuses duplicate keys that differ only in case, and unknown keys', () => {
    const e1 = inputErrorOf(() => mapProperties({ properties: { DBsToMigrate: ['a'], dbstomigrate: ['b'] } }, {}));
    assert.match(e1.message, /given twice/);
    const e2 = inputErrorOf(() => mapProperties({ properties: { DBsToMigrat: ['a'] } }, {}));
    assert.equal(e2.field, 'properties.DBsToMigrat');
    const e3 = inputErrorOf(() => mapProperties({ databases: ['a'], source: {}, colour: 'blue' }, { target: { host: 'h' } }));
    assert.equal(e3.field, 'colour');
  });

  it('never puts a URL or password into an error message', () => {
    const e = inputErrorOf(() => parseConnectionUrl('postgres://u:hunter22@h:5432/?sslmode=bogus', 'source'));
    assert.doesNotMatch(e.message, /hunter22/);
    const e2 = inputErrorOf(() => parsePropertiesText('{"properties": {"SecretParameters": "hunter22" x}}', 'b.json'));
    assert.doesNotMatch(e2.message, /hunter22/);
    assert.match(e2.message, /line 1, column/);
  });
});

describe('cli properties: filters', () => {
  it('accepts filter lists beside the Azure properties; create flags replace a list', async () => {
    const { parseCli, propertyFlags } = await import('../../provider/cli/input/parse');
    const azure = { properties: { ...azureBody.properties, excludeSchemas: ['audit'], excludeTables: ['sales.tmp_*'] } };
    const spec = specFromProperties(azure, { name: 'm1' });
    assert.deepEqual([spec.excludeSchemas, spec.excludeTables], [['audit'], ['sales.tmp_*']]);
    const args = parseCli(['create', '--name', 'm1', '--properties', 'b.json', '--exclude-table', 'a.b', '--exclude-table', '"X".*']);
    const flagged = specFromProperties(azure, propertyFlags(args));
    assert.deepEqual([flagged.excludeSchemas, flagged.excludeTables], [['audit'], ['a.b', '"X".*']]);
  });

  it('refuses a malformed pattern with one line naming the field as the user wrote it', () => {
    const error = inputErrorOf(() =>
      specFromProperties({ properties: { ...azureBody.properties, includeTables: ['"open'] } }, { name: 'm1' }),
    );
    assert.match(error.message, /includeTables/);
    assert.match(error.message, /unclosed double quote/);
    assert.equal(error.message.split('\n').length, 1);
  });
});

describe("cli properties: Azure's window, setup and operation keys", () => {
  const withKeys = (extra: Record<string, unknown>) => ({ properties: { ...azureBody.properties, ...extra } });

  it('takes the migration window and setupLogicalReplicationOnSourceDbIfNeeded from the create body; window flags win', () => {
    const spec = specFromProperties(
      withKeys({
        setupLogicalReplicationOnSourceDbIfNeeded: 'True',
        MigrationWindowStartTimeInUtc: '2030-05-01T22:00',
        migrationWindowEndTimeInUtc: '2030-05-02T06:00:00Z',
      }),
      { name: 'm1' },
    );
    assert.equal(spec.setupLogicalReplicationOnSourceDbIfNeeded, true);
    assert.deepEqual(
      [spec.migrationWindowStartTimeInUtc, spec.migrationWindowEndTimeInUtc],
      ['2030-05-01T22:00:00.000Z', '2030-05-02T06:00:00.000Z'],
    );
    const flagged = specFromProperties(withKeys({ migrationWindowStartTimeInUtc: '2030-05-01T22:00:00Z' }), {
      name: 'm1',
      migrationWindowStartTimeInUtc: '2030-06-01T01:00:00Z',
    });
    assert.equal(flagged.migrationWindowStartTimeInUtc, '2030-06-01T01:00:00.000Z');
  });

  it('refuses a bad window naming the key as the user spelled it, or the flag that gave it', () => {
    const e1 = inputErrorOf(() => specFromProperties(withKeys({ MigrationWindowStartTimeInUtc: 'tomorrow' }), { name: 'm1' }));
    assert.match(e1.message, /^properties\.MigrationWindowStartTimeInUtc: must be a date and time in UTC/);
    const e2 = inputErrorOf(() => specFromProperties(azureBody, { name: 'm1', migrationWindowEndTimeInUtc: 'soon' }));
    assert.match(e2.message, /^--migration-window-end-time-in-utc \(migrationWindowEndTimeInUtc\): must be a date and time in UTC/);
  });

  it('refuses a create body that asks for a cutover or a cancel, and accepts "False" and empty lists', () => {
    const e = inputErrorOf(() => specFromProperties(withKeys({ TriggerCutover: 'True' }), { name: 'm1' }));
    assert.match(
      e.message,
      /^properties\.TriggerCutover: asks for a cutover of a migration that is being created; give it to `pgferry update --properties`/,
    );
    assert.equal(e.field, 'properties.TriggerCutover');
    const e2 = inputErrorOf(() => specFromProperties(withKeys({ dbsToCancelMigrationOn: ['sales'] }), { name: 'm1' }));
    assert.match(e2.message, /^properties\.dbsToCancelMigrationOn: asks for a cancel/);
    const kept = specFromProperties(withKeys({ triggerCutover: 'False', cancel: false, dbsToTriggerCutoverOn: [] }), { name: 'm1' });
    assert.deepEqual(kept.databases, ['sales', 'hr']);
  });

  it("reads an update body's operation as Azure's PATCH does: all databases, those named, or nothing", () => {
    assert.equal(updateOperationOf({ properties: {} }), undefined);
    assert.equal(updateOperationOf({ properties: { triggerCutover: 'False', dbsToCancelMigrationOn: [] } }), undefined);
    assert.deepEqual(updateOperationOf({ properties: { TriggerCutover: 'True' } }), {
      kind: 'cutover',
      fields: 'properties.TriggerCutover',
    });
    assert.deepEqual(updateOperationOf({ properties: { dbsToTriggerCutoverOn: ['sales'] } }), {
      kind: 'cutover',
      databases: ['sales'],
      fields: 'properties.dbsToTriggerCutoverOn',
    });
    assert.deepEqual(updateOperationOf({ properties: { cancel: true, dbsToCancelMigrationOn: ['hr'] } }), {
      kind: 'cancel',
      databases: ['hr'],
      fields: 'properties.cancel and properties.dbsToCancelMigrationOn',
    });
    // the plain form carries no operation
    assert.equal(updateOperationOf({ databases: ['a'] }), undefined);
    const both = inputErrorOf(() => updateOperationOf({ properties: { triggerCutover: 'True', cancel: 'True' } }));
    assert.match(both.message, /asks for a cancel and a cutover .*; give one operation per update/);
  });

  it('reads startDataMigration in a create body, and the setup and start requests of an update body', () => {
    assert.equal(specFromProperties(azureBody, { name: 'm1' }).startDataMigration, true);
    const later = { properties: { ...azureBody.properties, startDataMigration: 'False' } };
    assert.equal(specFromProperties(later, { name: 'm1' }).startDataMigration, false);
    assert.deepEqual(updateOperationOf({ properties: { setupLogicalReplicationOnSourceDbIfNeeded: 'True' } }), {
      kind: 'setup-replication',
      fields: 'properties.setupLogicalReplicationOnSourceDbIfNeeded',
    });
    assert.deepEqual(updateOperationOf({ properties: { StartDataMigration: 'True' } }), {
      kind: 'start-data-migration',
      fields: 'properties.StartDataMigration',
    });
    // a whole body sent again: its cutover is the operation, the create-time keys are not
    assert.equal(
      updateOperationOf({
        properties: { triggerCutover: 'True', startDataMigration: 'True', setupLogicalReplicationOnSourceDbIfNeeded: 'True' },
      })?.kind,
      'cutover',
    );
    const bad = inputErrorOf(() =>
      specFromProperties({ properties: { ...azureBody.properties, startDataMigration: 'maybe' } }, { name: 'm1' }),
    );
    assert.match(bad.message, /^properties\.startDataMigration: /);
  });

  it('takes the target from an update body that names no source or databases (a PATCH)', () => {
    const target = targetFromInputs(
      { properties: { targetDbServerFullyQualifiedDomainName: 'dst.example.com', dbsToTriggerCutoverOn: ['sales'] } },
      {},
      { PGUSER: 'pgadmin' },
    );
    assert.equal(target.host, 'dst.example.com');
    const e = inputErrorOf(() =>
      specFromProperties({ properties: { DBsToMigrate: ['a'] } }, { name: 'm1', target: { host: 'h', user: 'u' } }),
    );
    assert.match(e.message, /^properties\.SourceDBServerResourceId: required: "host:port@user" of the source/);
  });
});

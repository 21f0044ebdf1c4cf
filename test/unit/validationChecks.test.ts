import assert from 'node:assert/strict';
import type { ServerSpec } from '../../provider/engine/input/migrationSpec';
import { checkCdcTables } from '../../provider/engine/validate/cdcCheck';
import { shapeSourceRelation, type KeyFacts, type SourceRelationRow } from '../../provider/engine/catalog/identityVerdict';
import { shapeCdcTables } from '../../provider/engine/validate/cdcReport';
import { normalizeLocale } from '../../provider/engine/validate/collations';
import { classifyConnectError } from '../../provider/engine/validate/connectivity';
import {
  checkExtensions,
  extendList,
  splitList,
  type SourceExtension,
  type TargetExtensions,
} from '../../provider/engine/validate/extensions';
import { checkReplicationSettings } from '../../provider/engine/validate/replicationSettings';
import { streamingSwitchesResult } from '../../provider/engine/validate/replicaRole';
import { validationFailed } from '../../provider/engine/validate/runValidation';
import type { ServerInfo } from '../../provider/engine/validate/readOnlySessions';
import { checkVersions } from '../../provider/engine/validate/versions';

const ext = (name: string): SourceExtension => ({ name, version: '1.0', schema: 'public' });
const server: ServerSpec = {
  host: 'db.example',
  port: 5432,
  user: 'alice',
  password: 's3cret-pw',
  sslMode: 'require',
  maintenanceDatabase: 'postgres',
};

describe('validation: pure checks: extensions', () => {
  const target: TargetExtensions = {
    available: new Map(
      ['hstore', 'ltree', 'citext', 'pg_stat_statements', 'pgrowlocks'].map((n) => [
        n,
        { superuser: n === 'pgrowlocks', trusted: n !== 'pgrowlocks' },
      ]),
    ),
    allowList: splitList('PLPGSQL, HSTORE,CITEXT'),
    preload: [],
  };

  it('gives one full azure.extensions value covering every database', () => {
    const results = checkExtensions(
      new Map([
        ['a', [ext('plpgsql'), ext('hstore'), ext('ltree')]],
        ['b', [ext('citext'), ext('pg_stat_statements')]],
      ]),
      target,
      true,
    );
    const notAllowed = results.filter((r) => r.code === 'EXTENSION_NOT_ALLOWED');
    assert.deepEqual(
      notAllowed.map((r) => r.database),
      ['a', 'b'],
    );
    for (const r of notAllowed) assert.ok(r.fix!.includes(`'PLPGSQL,HSTORE,CITEXT,LTREE,PG_STAT_STATEMENTS'`), r.fix);
    const preload = results.filter((r) => r.code === 'EXTENSION_NOT_PRELOADED');
    assert.equal(preload.length, 1);
    assert.ok(preload[0]!.fix!.includes(`'pg_stat_statements'`));
    assert.equal(results.filter((r) => r.code === 'EXTENSIONS').length, 0);
  });

  it('matches the allow-list case-insensitively and skips plpgsql', () => {
    const results = checkExtensions(new Map([['a', [ext('plpgsql'), ext('hstore'), ext('citext')]]]), target, false);
    assert.deepEqual(
      results.map((r) => [r.code, r.status]),
      [['EXTENSIONS', 'Succeeded']],
    );
  });

  it('fails an unavailable extension, and a superuser-only one for a non-superuser', () => {
    const results = checkExtensions(new Map([['a', [ext('postgis'), ext('pgrowlocks')]]]), { ...target, allowList: undefined }, false);
    assert.deepEqual(results.map((r) => r.code).sort(), ['EXTENSION_UNAVAILABLE', 'UNTRUSTED_EXTENSION']);
    assert.ok(validationFailed(results));
  });

  it('warns when shared_preload_libraries cannot be read', () => {
    const results = checkExtensions(new Map([['a', [ext('pg_stat_statements')]]]), { available: target.available }, true);
    assert.deepEqual(
      results.map((r) => [r.code, r.status]),
      [['EXTENSION_NOT_PRELOADED', 'Warning']],
    );
  });

  it('extends lists in their own case', () => {
    assert.equal(extendList(['HSTORE'], ['ltree']), 'HSTORE,LTREE');
    assert.equal(extendList(['hstore'], ['ltree']), 'hstore,ltree');
    assert.equal(extendList([], ['pg_cron']), 'pg_cron');
  });
});

describe('validation: pure checks: connection errors', () => {
  const classify = (error: unknown) => classifyConnectError('source', server, error);
  it('sorts errors into codes and never shows the password', () => {
    const auth = classify(
      Object.assign(new Error('password authentication failed for user "alice" s3cret-pw'), { code: '28P01', severity: 'FATAL' }),
    );
    assert.equal(auth.code, 'AUTHENTICATION');
    assert.equal(auth.server, 'source');
    assert.ok(!JSON.stringify(auth).includes('s3cret-pw'));
    assert.equal(classify(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })).code, 'CONNECTIVITY');
    assert.equal(classify(new Error('The server does not support SSL connections')).code, 'SSL_MODE');
    assert.equal(classify(Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' })).code, 'SSL_MODE');
    assert.equal(
      classify(Object.assign(new Error('database "postgres" does not exist'), { code: '3D000', severity: 'FATAL' })).code,
      'MAINTENANCE_DATABASE',
    );
    assert.equal(classify(new Error('SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string')).code, 'AUTHENTICATION');
  });
});

describe('validation: pure checks: versions, locales and replication settings', () => {
  it('refuses sources older than 11 and targets older than the source', () => {
    const info = (major: number): ServerInfo => ({
      major,
      version: `${major}.1`,
      user: 'u',
      superuser: true,
      createdb: true,
      createrole: true,
      replication: true,
      ssl: false,
    });
    assert.deepEqual(
      checkVersions(info(10), info(15)).map((r) => r.code),
      ['SOURCE_VERSION_UNSUPPORTED'],
    );
    assert.deepEqual(
      checkVersions(info(16), info(15)).map((r) => r.code),
      ['TARGET_VERSION_OLDER'],
    );
    assert.deepEqual(
      checkVersions(info(11), info(16)).map((r) => [r.code, r.status]),
      [['SERVER_VERSION', 'Succeeded']],
    );
  });

  it('normalizes locale names', () => {
    assert.equal(normalizeLocale('en_US.UTF-8'), normalizeLocale('en_US.utf8'));
    assert.equal(normalizeLocale('de_DE'), 'de_DE');
  });

  it('counts free slots and senders against the databases migrated', () => {
    const results = checkReplicationSettings(
      { wal_level: 'logical', max_slots: 4, max_senders: 4, used_slots: 3, inactive_slots: ['old'], wal_keep: '10GB' },
      2,
    );
    assert.deepEqual(
      results.map((r) => [r.code, r.status]),
      [
        ['WAL_LEVEL', 'Succeeded'],
        ['REPLICATION_SLOTS', 'Failed'],
        ['WAL_SENDERS', 'Failed'],
        ['SLOT_WAL_UNBOUNDED', 'Succeeded'],
      ],
    );
    assert.match(results[1]!.fix!, /max_replication_slots = 5/);
    assert.match(results[2]!.fix!, /max_wal_senders = 5/);
  });

  it('warns when a stopped stream could fill the source disk: max_slot_wal_keep_size unlimited or unavailable', () => {
    const settings = { wal_level: 'logical', max_slots: 10, max_senders: 10, used_slots: 0, inactive_slots: [] };
    const bounded = checkReplicationSettings({ ...settings, wal_keep: '50GB' }, 1).at(-1)!;
    const unlimited = checkReplicationSettings({ ...settings, wal_keep: '-1' }, 1).at(-1)!;
    const before13 = checkReplicationSettings({ ...settings, wal_keep: null }, 1).at(-1)!;
    assert.deepEqual(
      [bounded, unlimited, before13].map((r) => [r.code, r.status]),
      [
        ['SLOT_WAL_UNBOUNDED', 'Succeeded'],
        ['SLOT_WAL_UNBOUNDED', 'Warning'],
        ['SLOT_WAL_UNBOUNDED', 'Warning'],
      ],
    );
    assert.match(unlimited.fix!, /max_slot_wal_keep_size/);
  });
});

/** A primary key with every property that makes it a replica identity, unless `extra` says otherwise. */
const pk = (name: string, extra: Partial<KeyFacts> = {}): KeyFacts => ({
  name,
  primary: true,
  replident: false,
  unique: true,
  partial: false,
  immediate: true,
  valid: true,
  expressions: false,
  nullable: [],
  ...extra,
});

/** A logged, owned, unpublished ordinary table of schema public with default replica identity, unless `o` says otherwise. */
const relation = (o: Partial<SourceRelationRow> & Pick<SourceRelationRow, 'oid' | 'name'>) =>
  shapeSourceRelation({
    schema: 'public',
    kind: 'r',
    replident: 'd',
    persistence: 'p',
    parent: null,
    owned: true,
    owner: 'app',
    keys: [],
    published: false,
    ...o,
  });

describe('validation: pure checks: CDC table status', () => {
  it('decides CDC table status from the replica identity of every leaf', () => {
    const tables = shapeCdcTables(
      [
        relation({ oid: '1', name: 'm', kind: 'p', keys: [pk('m_pkey')] }),
        relation({ oid: '2', parent: '1', name: 'm_a', keys: [pk('m_a_pkey')] }),
        relation({ oid: '3', parent: '1', name: 'm_b', replident: 'n' }),
        relation({ oid: '4', name: 'empty_parent', kind: 'p', keys: [pk('e_pkey')] }),
        relation({ oid: '5', name: 'swap_pk', keys: [pk('swap_pk_pkey', { immediate: false })] }),
        relation({ oid: '6', name: 'scratch', persistence: 'u' }),
      ],
      [],
      true,
    );
    assert.equal(tables.length, 4);
    assert.equal(tables[0]!.replicaIdentity, 'none');
    assert.deepEqual(tables[0]!.withoutIdentity, ['public.m_b']);
    assert.deepEqual(tables[0]!.identityFlaws, ['its replica identity is NOTHING']);
    assert.equal(tables[1]!.replicaIdentity, 'primary-key');
    // issue 18: a DEFERRABLE primary key is no replica identity
    assert.equal(tables[2]!.replicaIdentity, 'none');
    assert.deepEqual(tables[2]!.identityFlaws, ['primary key "swap_pk_pkey" is DEFERRABLE']);
    // unlogged: never published, so it needs no identity
    assert.deepEqual(tables[3]!.withoutIdentity, []);
    const strict = checkCdcTables(tables, 'db', { allowReplicaIdentityFull: false });
    assert.deepEqual(
      strict.map((r) => [r.code, r.status]),
      [
        ['NO_REPLICA_IDENTITY', 'Failed'],
        ['CDC_TABLE', 'Succeeded'],
        ['NO_REPLICA_IDENTITY', 'Failed'],
        ['UNLOGGED_TABLE', 'Warning'],
      ],
    );
    assert.match(strict[2]!.message, /DEFERRABLE/);
    const lenient = checkCdcTables(tables, 'db', { allowReplicaIdentityFull: true });
    assert.equal(lenient[0]!.status, 'Warning');
  });

  it('warns when a table matched by its whole old row has a column compared neither by equality nor by a stable text, under its partitioned table too', () => {
    const tables = shapeCdcTables(
      [
        relation({ oid: '1', name: 'loose' }),
        relation({ oid: '2', name: 'm', kind: 'p' }),
        relation({ oid: '3', parent: '2', name: 'm_a' }),
        relation({ oid: '4', name: 'fine' }),
      ],
      [],
      true,
      new Map([
        ['1', ['v']],
        ['3', ['w']],
      ]),
    );
    assert.deepEqual(
      tables.map((t) => t.unstableMatchColumns),
      [['v'], ['w'], []],
    );
    const results = checkCdcTables(tables, 'db', { allowReplicaIdentityFull: true });
    assert.deepEqual(
      results.map((r) => r.code),
      ['NO_REPLICA_IDENTITY', 'ROW_MATCH_UNSTABLE_COLUMN', 'NO_REPLICA_IDENTITY', 'ROW_MATCH_UNSTABLE_COLUMN', 'NO_REPLICA_IDENTITY'],
    );
    assert.equal(results[1]!.status, 'Warning');
    assert.match(results[1]!.message, /^table public\.loose: .*columns v have a type with no equality operator/);
    assert.match(results[3]!.message, /^table public\.m: .*columns w /);
    // without allowReplicaIdentityFull the table fails validation anyway, and is never matched by its row
    assert.deepEqual(
      checkCdcTables(tables, 'db', { allowReplicaIdentityFull: false }).map((r) => r.code),
      ['NO_REPLICA_IDENTITY', 'NO_REPLICA_IDENTITY', 'NO_REPLICA_IDENTITY'],
    );
  });
});

describe('validation: pure checks: a target without replica role', () => {
  it('says which foreign keys are dropped and which triggers and rules are disabled while streaming, and when they come back', () => {
    const r = streamingSwitchesResult('shop', 'pgadmin', { foreign_keys: 4, triggers: 2, rules: 1 });
    assert.deepEqual([r.code, r.status, r.database, r.server], ['TARGET_REPLICA_ROLE', 'Warning', 'shop', 'target']);
    assert.match(r.message, /the target user pgadmin may not set session_replication_role = replica/);
    assert.match(r.message, /its 4 foreign key\(s\) are dropped on the target and added back at cutover, cancel or failure/);
    assert.match(r.message, /NOT VALID, with a warning naming each, where rows the source holds violate them/);
    assert.match(r.message, /its 2 ordinary trigger\(s\) and 1 rule\(s\) are disabled/);
    assert.match(r.fix!, /GRANT SET ON PARAMETER session_replication_role/);
  });

  it('succeeds for a database with nothing that could act during apply', () => {
    const r = streamingSwitchesResult('plain', 'pgadmin', { foreign_keys: 0, triggers: 0, rules: 0 });
    assert.equal(r.status, 'Succeeded');
    assert.match(r.message, /has no foreign key, ordinary trigger or rule/);
  });
});

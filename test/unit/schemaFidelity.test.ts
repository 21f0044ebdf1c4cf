// Pure parts of the schema fidelity work: the statements that carry what pg_dump
// would, and the rules that tell a deliberate difference from a lost property.
import assert from 'node:assert/strict';
import type { SourceIndex } from '../../provider/engine/catalog/introspect';
import { attachStatement, indexMarkStatements, indexStatement } from '../../provider/engine/copy/indexes';
import { createRoleStatement, parameterGrantStatements, rolePropertyStatements, type SourceRole } from '../../provider/engine/schema/roles';
import { diffSnapshots, type CatalogSnapshot } from '../support/catalogSnapshot';
import { unexplained } from '../support/fidelityDifferences';

const index = (over: Partial<SourceIndex> = {}): SourceIndex => ({
  indexOid: '2',
  tableOid: '1',
  schema: 'S"c',
  table: 'T 1',
  indexName: 'I.x',
  indexDef: 'CREATE INDEX ...',
  clustered: false,
  replicaIdentity: false,
  columnStatistics: [],
  ...over,
});

const role = (over: Partial<SourceRole> = {}): SourceRole => ({
  name: 'R "1"',
  canLogin: true,
  inherit: true,
  createRole: false,
  createDb: false,
  connectionLimit: -1,
  validUntil: null,
  passwordHash: null,
  superuser: false,
  replication: false,
  bypassRls: false,
  settings: null,
  comment: null,
  labels: null,
  ...over,
});

describe('schema fidelity statements', () => {
  it('an index carries its column statistics, clustered mark and replica identity, names quoted', () => {
    assert.deepEqual(indexMarkStatements(index()), []);
    assert.deepEqual(
      indexMarkStatements(index({ clustered: true, replicaIdentity: true, columnStatistics: [{ column: 2, target: 500 }] })),
      [
        'ALTER INDEX "S""c"."I.x" ALTER COLUMN 2 SET STATISTICS 500',
        'ALTER TABLE "S""c"."T 1" CLUSTER ON "I.x"',
        'ALTER TABLE ONLY "S""c"."T 1" REPLICA IDENTITY USING INDEX "I.x"',
      ],
    );
  });

  it('a key its index can carry is built as that index and attached after; any other constraint in one statement', () => {
    const key = (attach?: NonNullable<SourceIndex['constraint']>['attach']) =>
      index({
        indexDef: 'CREATE UNIQUE INDEX "I.x" ON "S""c"."T 1" USING btree (id)',
        constraint: { oid: '3', name: 'I.x', def: 'UNIQUE (id) DEFERRABLE INITIALLY DEFERRED', ...(attach ? { attach } : {}) },
      });
    const deferred = key({ kind: 'UNIQUE', deferrable: true, deferred: true });
    assert.equal(indexStatement(deferred), 'CREATE UNIQUE INDEX "I.x" ON "S""c"."T 1" USING btree (id)');
    assert.equal(
      attachStatement(deferred),
      'ALTER TABLE ONLY "S""c"."T 1" ADD CONSTRAINT "I.x" UNIQUE USING INDEX "I.x" DEFERRABLE INITIALLY DEFERRED',
    );
    assert.equal(
      attachStatement(key({ kind: 'PRIMARY KEY', deferrable: false, deferred: false })),
      'ALTER TABLE ONLY "S""c"."T 1" ADD CONSTRAINT "I.x" PRIMARY KEY USING INDEX "I.x"',
    );
    // an exclusion constraint, or a key in its own tablespace: one statement, nothing to attach
    assert.equal(indexStatement(key()), 'ALTER TABLE ONLY "S""c"."T 1" ADD CONSTRAINT "I.x" UNIQUE (id) DEFERRABLE INITIALLY DEFERRED');
    assert.equal(attachStatement(key()), undefined);
    assert.equal(attachStatement(index()), undefined);
  });

  it('a superuser target user gives SUPERUSER, REPLICATION and BYPASSRLS; a managed one strips them', () => {
    const source = role({ superuser: true, replication: true, bypassRls: true });
    const asSuperuser = createRoleStatement(source, { superuser: true, createRole: true, createDb: true });
    assert.equal(asSuperuser.sql, 'CREATE ROLE "R ""1""" WITH LOGIN INHERIT SUPERUSER REPLICATION BYPASSRLS');
    assert.deepEqual(asSuperuser.stripped, []);
    const asAdmin = createRoleStatement(source, { superuser: false, createRole: true, createDb: true });
    assert.equal(asAdmin.sql, 'CREATE ROLE "R ""1""" WITH LOGIN INHERIT CREATEROLE CREATEDB');
    assert.deepEqual(asAdmin.stripped, ['SUPERUSER', 'REPLICATION', 'BYPASSRLS']);
  });

  it('role settings, comment and security labels follow CREATE ROLE, values as literals', () => {
    const statements = rolePropertyStatements(role({ settings: ['work_mem=8MB'], comment: "it's", labels: [['sel"inux', 'x']] }));
    assert.deepEqual(
      statements.map((s) => s.sql),
      [
        `ALTER ROLE "R ""1""" SET "work_mem" TO '8MB'`,
        `COMMENT ON ROLE "R ""1""" IS 'it''s'`,
        `SECURITY LABEL FOR "sel""inux" ON ROLE "R ""1""" IS 'x'`,
      ],
    );
    assert.deepEqual(
      statements.map((s) => s.what),
      ['setting work_mem', 'comment', 'security label (sel"inux)'],
    );
  });

  it('parameter privileges go to PUBLIC and created roles only, grant options kept', () => {
    const acl = ['=s/postgres', '"Odd ""Role"""=sA*/postgres', 'other=s/postgres'];
    assert.deepEqual(parameterGrantStatements('log_statement', acl, new Set(['Odd "Role"'])), [
      'GRANT SET ON PARAMETER "log_statement" TO PUBLIC',
      'GRANT SET ON PARAMETER "log_statement" TO "Odd ""Role"""',
      'GRANT ALTER SYSTEM ON PARAMETER "log_statement" TO "Odd ""Role""" WITH GRANT OPTION',
    ]);
  });
});

describe('schema fidelity: deliberate differences', () => {
  const snapshot = (owner: string, acl: string[]): CatalogSnapshot => new Map([['table app.t', { owner, acl }]]);
  const managed = (reference: CatalogSnapshot, actual: CatalogSnapshot) =>
    unexplained(diffSnapshots(reference, actual), { reference, actual, admin: 'pgadmin', standsInFor: ['postgres'] });

  it('an object of a role that is a superuser on the target is explained when the admin holds it with the same grants', () => {
    const reference = snapshot('postgres', ['app_reader=r/postgres', 'postgres=arwdDxt/postgres']);
    assert.deepEqual(managed(reference, snapshot('pgadmin', ['app_reader=r/pgadmin', 'pgadmin=arwdDxt/pgadmin'])), []);
  });

  it('a grant lost on such an object is not explained, nor one kept by the admin for another owner, nor any difference on a superuser target', () => {
    const reference = snapshot('postgres', ['app_reader=r/postgres', 'postgres=arwdDxt/postgres']);
    const actual = snapshot('pgadmin', ['pgadmin=arwdDxt/pgadmin']);
    assert.deepEqual(
      managed(reference, actual).map((d) => d.field),
      ['acl'],
    );
    const ofWriter = snapshot('app_writer', ['app_writer=arwdDxt/app_writer']);
    assert.deepEqual(
      managed(ofWriter, snapshot('pgadmin', ['pgadmin=arwdDxt/pgadmin'])).map((d) => d.field),
      ['acl', 'owner'],
    );
    assert.deepEqual(
      unexplained(diffSnapshots(reference, actual), { reference, actual }).map((d) => d.field),
      ['acl', 'owner'],
    );
  });

  it('default privileges of such a role are explained only as the admin’s, with the same grants', () => {
    const defaults = (role: string, acl: string[]): CatalogSnapshot =>
      new Map([[`default acl for role ${role} in schema app on tables`, { acl }]]);
    const reference = defaults('postgres', ['app_reader=r/postgres']);
    assert.deepEqual(managed(reference, defaults('pgadmin', ['app_reader=r/pgadmin'])), []);
    assert.equal(managed(reference, defaults('pgadmin', ['app_writer=r/pgadmin'])).length, 2);
    assert.equal(managed(reference, new Map()).length, 1);
  });
});

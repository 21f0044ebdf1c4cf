// Issue 20: the row-level security rules validation applies, as pure functions: who reads every
// row on the source (the server's check_enable_rls), and who will own a table on the target when
// pgferry enables row-level security there (the roles pgferry restores).
import assert from 'node:assert/strict';
import {
  readsEveryRow,
  sourceRowSecurityResults,
  type SourceReader,
  type SourceRowSecurityTable,
} from '../../provider/engine/validate/rowSecuritySource';
import { targetRowSecurityResults } from '../../provider/engine/validate/rowSecurityTarget';
import { targetOwnerRoute, type TargetOwnerContext } from '../../provider/engine/schema/ownerAccess';

const table = (name: string, extra: Partial<SourceRowSecurityTable> = {}): SourceRowSecurityTable => ({
  name,
  owner: 'app_owner',
  enabled: true,
  forced: false,
  ownerPrivileges: false,
  ...extra,
});
const reader = (extra: Partial<SourceReader> = {}): SourceReader => ({
  user: 'migrator',
  superuser: false,
  bypassRls: false,
  azure: false,
  major: 15,
  ...extra,
});

describe('row-level security rules', () => {
  describe('source: who reads every row', () => {
    it('follows the server: superuser and BYPASSRLS always, the owner only when the table is not forced', () => {
      const cases: [SourceRowSecurityTable, SourceReader, boolean][] = [
        [table('a'), reader(), false],
        [table('a'), reader({ superuser: true }), true],
        [table('a', { forced: true }), reader({ bypassRls: true }), true],
        [table('a', { ownerPrivileges: true }), reader(), true],
        [table('a', { ownerPrivileges: true, forced: true }), reader(), false],
        // FORCE alone, row-level security not enabled: no policy applies
        [table('a', { enabled: false, forced: true }), reader(), true],
      ];
      for (const [t, r, expected] of cases) assert.equal(readsEveryRow(t, r), expected, JSON.stringify({ t, r }));
    });

    it('fails naming only the filtered tables, with BYPASSRLS for the forced and owner membership for the others', () => {
      const tables = [
        table('s.forced', { forced: true, ownerPrivileges: true }),
        table('s.other', { owner: 'Other "Owner"' }),
        table('s.readable', { ownerPrivileges: true }),
      ];
      const [result, ...rest] = sourceRowSecurityResults(tables, reader(), 'db');
      assert.equal(rest.length, 0);
      assert.equal(result!.code, 'ROW_SECURITY_SOURCE_FILTERED');
      assert.equal(result!.status, 'Failed');
      assert.match(result!.message, /2 table\(s\)[^]*s\.forced, s\.other/);
      assert.doesNotMatch(result!.message, /s\.readable/);
      assert.match(result!.fix!, /ALTER ROLE migrator BYPASSRLS/);
      assert.match(result!.fix!, /GRANT "Other ""Owner""" TO migrator/);
      assert.doesNotMatch(result!.fix!, /Azure/);
    });

    it('on an Azure source, says what its server admin may do by major version', () => {
      const forced = [table('s.t', { forced: true })];
      const v15 = sourceRowSecurityResults(forced, reader({ azure: true, major: 15 }), 'db')[0]!.fix!;
      assert.match(v15, /up to PostgreSQL 15[^]*cannot give BYPASSRLS[^]*use the server admin as the source user/);
      const v16 = sourceRowSecurityResults(forced, reader({ azure: true, major: 16 }), 'db')[0]!.fix!;
      assert.match(v16, /from PostgreSQL 16 on[^]*: ALTER ROLE migrator BYPASSRLS as the server admin/);
      // no superuser to ask on Azure
      assert.doesNotMatch(v15 + v16, /as a superuser/);
    });

    it('succeeds, saying how, when every row is readable', () => {
      const [ok] = sourceRowSecurityResults([table('s.t', { forced: true })], reader({ bypassRls: true }), 'db');
      assert.equal(ok!.code, 'ROW_SECURITY_SOURCE');
      assert.equal(ok!.status, 'Succeeded');
      assert.match(ok!.message, /BYPASSRLS/);
    });
  });

  describe('target: who owns the table when row-level security is enabled', () => {
    const ctx = (extra: Partial<TargetOwnerContext> = {}): TargetOwnerContext => ({
      user: 'pgadmin',
      superuser: false,
      createRole: true,
      inherit: true,
      major: 16,
      migrateRoles: true,
      existing: new Map(),
      ...extra,
    });

    it('a role pgferry creates: an inheriting member from PostgreSQL 16, before only if the admin is INHERIT', () => {
      assert.equal(targetOwnerRoute('app_owner', ctx()).ok, true);
      assert.equal(targetOwnerRoute('app_owner', ctx({ major: 16, inherit: false })).ok, true);
      assert.equal(targetOwnerRoute('app_owner', ctx({ major: 15, inherit: true })).ok, true);
      assert.equal(targetOwnerRoute('app_owner', ctx({ major: 15, inherit: false })).ok, false);
    });

    it('an existing role: fine unless the admin may SET ROLE to it without its privileges', () => {
      const existing = (canSet: boolean, usage: boolean) => ctx({ existing: new Map([['app_owner', { canSet, usage }]]) });
      assert.equal(targetOwnerRoute('app_owner', existing(true, true)).ok, true);
      // the restore cannot hand the table over: it stays with the admin
      assert.equal(targetOwnerRoute('app_owner', existing(false, false)).ok, true);
      assert.equal(targetOwnerRoute('app_owner', existing(true, false)).ok, false);
    });

    it('superuser, no owners restored, the admin itself and reserved names always pass', () => {
      const blocked = ctx({ major: 15, inherit: false });
      assert.equal(targetOwnerRoute('app_owner', { ...blocked, superuser: true }).ok, true);
      assert.equal(targetOwnerRoute('app_owner', { ...blocked, migrateRoles: false }).ok, true);
      assert.equal(targetOwnerRoute('pgadmin', blocked).ok, true);
      assert.equal(targetOwnerRoute('azure_superuser', blocked).ok, true);
    });

    it('a Warning naming the route and the window when it works, a Failed with the grant when not', () => {
      const tables = [{ name: 's.t', owner: 'app_owner' }];
      const [warning] = targetRowSecurityResults(tables, ctx(), 'db', true);
      assert.equal(warning!.code, 'ROW_SECURITY_TARGET');
      assert.equal(warning!.status, 'Warning');
      assert.match(warning!.message, /streams[^]*at the cutover/);
      const [failure] = targetRowSecurityResults(
        tables,
        ctx({ existing: new Map([['app_owner', { canSet: true, usage: false }]]) }),
        'db',
        false,
      );
      assert.equal(failure!.code, 'ROW_SECURITY_TARGET_NOT_OWNER');
      assert.equal(failure!.status, 'Failed');
      assert.match(failure!.fix!, /GRANT "app_owner" TO "pgadmin" WITH INHERIT TRUE/);
      assert.deepEqual(targetRowSecurityResults([], ctx(), 'db', false), []);
    });
  });
});

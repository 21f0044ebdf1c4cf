// Grants to roles whose names hold a space, `=` or a quote, through the schema check. The check
// once read an object's privileges as text split at spaces and cut at the last `=`: `app user`
// became two grantees, neither a role, so on a target with the roles the grant was taken for the
// target's own and the check failed, and a grant that really differed there was excused as one to
// a role the target lacks. Now PostgreSQL reads each grantee (aclexplode) and the check prints
// and reads its name whole (verify/schema/grants.ts).
import assert from 'node:assert/strict';
import { runMigration, verifyMigration } from '../../provider/engine';
import { ident } from '../../provider/engine/connect/quote';
import { pairSpec, startPair, type ServerPair } from '../support';

const DB = 'oddgrants';
const ROLES = ['app user', 'x=y', '"q", r'];

describe('grants to roles with odd names, through the schema check (integration)', function () {
  this.timeout(240_000);
  let pair: ServerPair;
  const onTarget = (sql: string) => pair.target.query(sql, [], DB);
  before(async () => {
    pair = await startPair(15, 15);
    await pair.source.query(ROLES.map((r) => `CREATE ROLE ${ident(r)} NOLOGIN;`).join(' '));
    await pair.source.query(`CREATE DATABASE ${DB}`);
    await pair.source.query(
      `CREATE TABLE reports (id int PRIMARY KEY, body text);
       INSERT INTO reports SELECT g, 'r' || g FROM generate_series(1, 100) g;
       GRANT SELECT ON reports TO ${ROLES.map(ident).join(', ')};
       GRANT UPDATE (body) ON reports TO ${ident('app user')}`,
      [],
      DB,
    );
  });
  after(async () => pair?.stop());

  it('a target that lacks the roles: the verification passes, its reason names each role whole', async () => {
    const spec = pairSpec(pair, 'odd-grants-no-roles', [DB], { migrateRoles: false });
    const status = await runMigration(spec);
    assert.equal(status.state, 'Succeeded', status.message);
    const report = await verifyMigration(spec);
    assert.equal(report.ok, true, report.firstMismatch);
    assert.deepEqual(report.schema?.[0]?.differences, []);
    // read back: the roles are not on the target
    assert.deepEqual(await pair.target.query(`SELECT count(*)::int AS n FROM pg_roles WHERE rolname = ANY($1::text[])`, [ROLES]), [
      { n: 0 },
    ]);
    const reasons = (report.schema?.[0]?.expected ?? []).filter((e) => e.object === 'table public.reports').map((e) => e.reason);
    assert.deepEqual(reasons, ['grants to roles the target does not have, """q"", r", "app user", "x=y" (the restore reported each)']);
  });

  it('a target with the roles: the grants are there, and the verification passes with nothing excused', async () => {
    const spec = pairSpec(pair, 'odd-grants-roles', [DB], { overwriteDbsInTarget: true });
    const status = await runMigration(spec);
    assert.equal(status.state, 'Succeeded', status.message);
    const granted = await pair.target.query(
      `SELECT r AS role, has_table_privilege(r, 'public.reports', 'SELECT') AS s, has_column_privilege(r, 'public.reports', 'body', 'UPDATE') AS u
         FROM unnest($1::text[]) r ORDER BY r COLLATE "C"`,
      [ROLES],
      DB,
    );
    assert.deepEqual(granted, [
      { role: '"q", r', s: true, u: false },
      { role: 'app user', s: true, u: true },
      { role: 'x=y', s: true, u: false },
    ]);
    const report = await verifyMigration(spec);
    assert.equal(report.ok, true, report.firstMismatch);
    assert.deepEqual(report.schema?.[0]?.differences, []);
    assert.deepEqual(
      (report.schema?.[0]?.expected ?? []).filter((e) => /grant/.test(e.reason)),
      [],
      "no grant of the source is taken for the target's own or for one to a role the target lacks",
    );
  });

  it('a grant that differs on the target to a role with a space is a difference, with the fix that revokes it', async () => {
    const spec = pairSpec(pair, 'odd-grants-roles', [DB]);
    await onTarget(`GRANT INSERT ON reports TO ${ident('app user')}`);
    try {
      const report = await verifyMigration(spec);
      assert.equal(report.ok, false);
      const differences = (report.schema?.[0]?.differences ?? []).map((d) => [d.object, d.fix]);
      assert.deepEqual(differences, [['table public.reports', 'REVOKE INSERT ON TABLE "public"."reports" FROM "app user";']]);
      assert.match(report.schema?.[0]?.differences[0]?.detail ?? '', /target .*"app user"=INSERT,SELECT/);
    } finally {
      await onTarget(`REVOKE INSERT ON reports FROM ${ident('app user')}`);
    }
  });
});

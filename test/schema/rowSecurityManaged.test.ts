// Issue 20: row-level security never makes pgferry copy, stream or verify fewer rows than a table
// holds. A forced table whose policy shows everyone only tenant 'a' (15 of 30 rows), migrated by a
// non-superuser source user onto an Azure-like target (non-superuser admin in azure_pg_admin):
// refused at validation without BYPASSRLS; with it, every row migrates and verifies offline and
// online, and the target ends with row-level security enabled and forced as on the source; with
// option Migrate and no bypass, the copy fails naming the table instead of copying 15 rows.
import assert from 'node:assert/strict';
import pg from 'pg';
import { parseMigrationSpec, runMigration, type MigrationStatus, type ValidationResult } from '../../provider/engine';
import { ident } from '../../provider/engine/connect/quote';
import { CatalogConnection } from '../../provider/engine/control/connection';
import type { ServerSpec } from '../../provider/engine/input/migrationSpec';
import { runValidation } from '../../provider/engine/validate/runValidation';
import { makeManagedTarget, makeReplicationSourceUser, startPair, waitForStatus, type ServerPair } from '../support';
import { requestCutover } from '../../provider/engine/control/migrationRequests';

const VAULT_SQL = `
CREATE SCHEMA vault AUTHORIZATION vault_owner;
CREATE TABLE vault.secrets (id int PRIMARY KEY, tenant text NOT NULL, body text NOT NULL);
INSERT INTO vault.secrets SELECT g, CASE WHEN g % 2 = 0 THEN 'a' ELSE 'b' END, 'secret ' || g FROM generate_series(1, 30) g;
CREATE TABLE vault.notes (id int PRIMARY KEY, tenant text NOT NULL);
INSERT INTO vault.notes SELECT g, CASE WHEN g % 3 = 0 THEN 'a' ELSE 'b' END FROM generate_series(1, 12) g;
ALTER TABLE vault.secrets OWNER TO vault_owner;
ALTER TABLE vault.notes OWNER TO vault_owner;
-- no TO clause: the policies apply to every role that does not bypass them
CREATE POLICY tenant_a ON vault.secrets USING (tenant = 'a');
CREATE POLICY tenant_a ON vault.notes USING (tenant = 'a');
ALTER TABLE vault.secrets ENABLE ROW LEVEL SECURITY;
ALTER TABLE vault.secrets FORCE ROW LEVEL SECURITY;
ALTER TABLE vault.notes ENABLE ROW LEVEL SECURITY;
`;

const ROWS_SQL = `SELECT (SELECT json_agg(s ORDER BY id) FROM vault.secrets s) AS secrets, (SELECT json_agg(n ORDER BY id) FROM vault.notes n) AS notes`;
const RLS_SQL = `
SELECT c.relname AS name, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced, r.rolname AS owner,
       (SELECT json_agg(json_build_object('name', p.polname, 'qual', pg_get_expr(p.polqual, p.polrelid)) ORDER BY p.polname)
          FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner
WHERE c.relnamespace = 'vault'::regnamespace AND c.relkind = 'r' ORDER BY 1`;

function resultsWith(status: MigrationStatus | readonly ValidationResult[], code: string): ValidationResult[] {
  const results = Array.isArray(status) ? (status as ValidationResult[]) : (status as MigrationStatus).validation;
  return results.filter((r) => r.code === code);
}

/** Count of vault.secrets as `server`'s user sees it with the policies in force (no row_security pinning). */
async function visibleSecrets(server: ServerSpec): Promise<number> {
  const client = new pg.Client({ host: server.host, port: server.port, user: server.user, password: server.password, database: 'vault' });
  await client.connect();
  try {
    return (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM vault.secrets')).rows[0]!.n;
  } finally {
    await client.end();
  }
}

describe('row-level security: never fewer rows than the table holds', function () {
  this.timeout(400_000);
  let pair: ServerPair;
  let migrator: ServerSpec;
  let pgadmin: ServerSpec;
  const source = (sql: string) => pair.source.query(sql, [], 'vault');
  const target = (sql: string) => pair.target.query(sql, [], 'vault');
  const spec = (name: string, extra: Record<string, unknown> = {}) =>
    parseMigrationSpec({ migrationName: name, source: migrator, target: pgadmin, databases: ['vault'], ...extra });

  before(async () => {
    // A PostgreSQL 16 target: roles pgferry creates give the admin SET and INHERIT (createrole_self_grant).
    pair = await startPair(15, 16);
    await pair.source.query('CREATE ROLE vault_owner NOLOGIN');
    await pair.source.query('CREATE DATABASE vault');
    await source(VAULT_SQL);
    // LOGIN REPLICATION, member of vault_owner: it owns both tables, but secrets is forced
    migrator = await makeReplicationSourceUser(pair.source, 'vault');
    // online: CREATE PUBLICATION needs CREATE on the database (postgres owns it)
    await pair.source.query('GRANT CREATE ON DATABASE vault TO migrator');
    pgadmin = await makeManagedTarget(pair.target);
  });
  after(async () => pair?.stop());

  it('refuses a forced table the source user cannot bypass at validation, and changes neither server', async () => {
    await pair.source.query('ALTER ROLE migrator NOBYPASSRLS');
    assert.equal(await visibleSecrets(migrator), 15, 'the policy hides tenant b from the source user');
    const snapshot = async () => ({
      targetDatabases: await pair.target.query('SELECT datname FROM pg_database ORDER BY 1'),
      targetRoles: await pair.target.query('SELECT rolname FROM pg_roles ORDER BY 1'),
      slots: await pair.source.query('SELECT slot_name FROM pg_replication_slots'),
      publications: await source('SELECT pubname FROM pg_publication'),
      rows: await source(ROWS_SQL),
      rls: await source(RLS_SQL),
    });
    const before = await snapshot();

    const status = await runMigration(spec('rls-refused'));
    assert.equal(status.state, 'ValidationFailed', status.message);
    const [refusal, ...more] = resultsWith(status, 'ROW_SECURITY_SOURCE_FILTERED');
    assert.equal(more.length, 0);
    assert.equal(refusal!.status, 'Failed');
    assert.equal(refusal!.server, 'source');
    assert.match(refusal!.message, /vault\.secrets/);
    // notes is not forced: as a member of its owner, the source user reads all of it
    assert.doesNotMatch(refusal!.message, /vault\.notes/);
    assert.match(refusal!.fix!, /ALTER ROLE migrator BYPASSRLS/);
    // nothing created on the target (the control catalog records the refusal in postgres), nothing on the source
    assert.deepEqual(await snapshot(), before);
  });

  it('with BYPASSRLS migrates every row offline, verifies as the managed admin, then enables and forces row-level security', async () => {
    await pair.source.query('ALTER ROLE migrator BYPASSRLS');
    const status = await runMigration(spec('rls-offline'));
    assert.equal(status.state, 'Succeeded', `${status.message} ${JSON.stringify(status.validation.filter((v) => v.status === 'Failed'))}`);
    assert.equal(status.verification?.ok, true, status.verification?.firstMismatch);
    assert.equal(resultsWith(status, 'ROW_SECURITY_SOURCE')[0]?.status, 'Succeeded');
    const [route] = resultsWith(status, 'ROW_SECURITY_TARGET');
    assert.equal(route?.status, 'Warning');
    assert.match(route!.message, /vault\.notes, vault\.secrets/);

    // every row, read back as superusers on both sides
    const [sourceRows] = await source(ROWS_SQL);
    assert.equal((sourceRows!.secrets as unknown[]).length, 30);
    assert.deepEqual(await target(ROWS_SQL), [sourceRows]);
    // enabled and forced exactly as on the source, with the same owner and policies ...
    assert.deepEqual(await target(RLS_SQL), await source(RLS_SQL));
    // ... and in force: the admin, a member of the owner, sees what the policy shows it
    assert.equal(await visibleSecrets(pgadmin), 15);
  });

  it('online: streamed changes to policy-hidden rows arrive, the cutover verifies, and row-level security ends as on the source', async () => {
    const name = 'rls-online';
    const store = new CatalogConnection(pgadmin);
    try {
      const running = runMigration(spec(name, { mode: 'Online', overwriteDbsInTarget: true }));
      const ready = await waitForStatus(store, name, (st) => st.state !== 'InProgress', 380_000);
      assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
      // while streaming, the target has no row-level security yet
      assert.deepEqual(await target(`SELECT bool_or(relrowsecurity) AS any FROM pg_class WHERE relnamespace = 'vault'::regnamespace`), [
        { any: false },
      ]);
      // tenant b's rows are the ones the policy hides
      await source(`INSERT INTO vault.secrets VALUES (31, 'b', 'streamed insert')`);
      await source(`UPDATE vault.secrets SET body = 'streamed update' WHERE id = 3`);
      await source(`DELETE FROM vault.secrets WHERE id = 5`);
      await source(`UPDATE vault.notes SET tenant = 'a' WHERE id = 1`);
      await requestCutover(store, name);
      const done = await running;
      assert.equal(done.state, 'Succeeded', `${done.message} ${done.verification?.firstMismatch ?? ''}`);
      assert.equal(done.verification?.ok, true);
      assert.match(resultsWith(done, 'ROW_SECURITY_TARGET')[0]!.message, /at the cutover/);

      const [sourceRows] = await source(ROWS_SQL);
      assert.deepEqual(await target(ROWS_SQL), [sourceRows]);
      assert.deepEqual(await target(`SELECT body FROM vault.secrets WHERE id IN (3, 5, 31) ORDER BY id`), [
        { body: 'streamed update' },
        { body: 'streamed insert' },
      ]);
      assert.deepEqual(await target(RLS_SQL), await source(RLS_SQL));
      assert.equal(await visibleSecrets(pgadmin), 15);
    } finally {
      await store.close();
    }
  });

  it('option Migrate without a bypass: the copy fails naming the table instead of copying the visible rows', async () => {
    await pair.source.query('ALTER ROLE migrator NOBYPASSRLS');
    const status = await runMigration(
      spec('rls-unvalidated', { option: 'Migrate', overwriteDbsInTarget: true, overwriteLiveDbsInTarget: ['vault'] }),
    );
    assert.equal(status.state, 'Failed', status.message);
    assert.match(status.message ?? '', /copying vault\.secrets: query would be affected by row-level security policy[^]*BYPASSRLS/);
    assert.equal(status.verification?.ok ?? false, false);
    // nothing silently short: the target holds none of the 15 rows the user could see
    assert.deepEqual(await target(`SELECT count(*)::int AS n FROM vault.secrets`), [{ n: 0 }]);
  });

  it("fails validation when the target admin would own the tables without inheriting the owner's privileges", async () => {
    // vault_owner exists on the target (earlier runs created it): the admin may SET ROLE to it but not inherit it
    // (the memberships pgferry's roles step gave the admin, SET and INHERIT granted by pgadmin,
    // include migrator, itself a member of vault_owner: none may pass the privileges on)
    const grants = await pair.target.query<{ role: string }>(
      `SELECT r.rolname AS role FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.roleid
        WHERE a.member = 'pgadmin'::regrole AND a.grantor = 'pgadmin'::regrole`,
    );
    for (const { role } of grants) await pair.target.query(`GRANT ${ident(role)} TO pgadmin WITH INHERIT FALSE GRANTED BY pgadmin`);
    assert.deepEqual(
      await pair.target.query(
        `SELECT pg_has_role('pgadmin', 'vault_owner', 'SET') AS s, pg_has_role('pgadmin', 'vault_owner', 'USAGE') AS u`,
      ),
      [{ s: true, u: false }],
    );
    await pair.source.query('ALTER ROLE migrator BYPASSRLS');
    const results = await runValidation(spec('rls-not-owner', { overwriteDbsInTarget: true, overwriteLiveDbsInTarget: ['vault'] }));
    const [blocked] = resultsWith(results, 'ROW_SECURITY_TARGET_NOT_OWNER');
    assert.equal(blocked?.status, 'Failed', JSON.stringify(results.filter((r) => r.code.startsWith('ROW_SECURITY'))));
    assert.match(blocked!.message, /vault\.notes, vault\.secrets/);
    assert.match(blocked!.fix!, /GRANT "vault_owner" TO "pgadmin" WITH INHERIT TRUE/);
    // the prediction holds: without validation the restore fails (here already at the tables of
    // the schema vault_owner owns, before the policies)
    const unvalidated = await runMigration(
      spec('rls-not-owner-run', { option: 'Migrate', overwriteDbsInTarget: true, overwriteLiveDbsInTarget: ['vault'] }),
    );
    assert.equal(unvalidated.state, 'Failed', unvalidated.message);
  });
});

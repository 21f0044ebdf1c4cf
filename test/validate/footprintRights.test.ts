// Validation asks every change of the footprint this migration will make for the rights it needs
// (provider/engine/footprint/, rights.refusal), on the server it changes, before anything changes:
// a refusal names what is missing and the statement that gives it.
import assert from 'node:assert/strict';
import { runValidation } from '../../provider/engine/validate/runValidation';
import { makeReplicationSourceUser, serverSpec, startCluster, type Cluster } from '../support';
import { expectCode, specFor, summary, withCode } from './helpers';

/** The old source's pgferry schema another role's, then missing: the reverse stream's position refused naming the GRANT that fixes it. */
async function positionGrants(logical: Cluster, target: Cluster): Promise<void> {
  // the reverse stream's position is a table in the pgferry schema of the old source's database
  const user = await makeReplicationSourceUser(logical, 'clean', { user: 'repl_position', memberOfOwners: false });
  const spec = () => specFor(user, serverSpec(target), ['clean'], { mode: 'Online', fallbackWindow: '1h', fenceWriters: true });
  const position = (results: Awaited<ReturnType<typeof runValidation>>) =>
    withCode(results, 'FOOTPRINT_PRIVILEGES').filter((r) => /reverse stream's position/.test(r.message));
  const [noDatabase] = position(await runValidation(spec()));
  assert.equal(noDatabase?.fix, 'on the source: GRANT CREATE ON DATABASE "clean" TO "repl_position"');
  // CREATE on the database does not reach a schema another role made
  await logical.query('GRANT CREATE ON DATABASE clean TO repl_position');
  await logical.query('CREATE SCHEMA pgferry AUTHORIZATION app_owner', [], 'clean');
  try {
    const [noSchema] = position(await runValidation(spec()));
    assert.match(noSchema?.message ?? '', /no USAGE and CREATE on its schema pgferry, which belongs to app_owner/);
    assert.equal(noSchema?.fix, 'on the source, in clean, as app_owner: GRANT USAGE, CREATE ON SCHEMA "pgferry" TO "repl_position"');
    await logical.query('GRANT USAGE, CREATE ON SCHEMA pgferry TO repl_position', [], 'clean');
    assert.deepEqual(position(await runValidation(spec())), []);
  } finally {
    await logical.query('DROP SCHEMA pgferry', [], 'clean');
  }
}

describe('validation: the rights of each change of the footprint', function () {
  this.timeout(120_000);
  let logical: Cluster;
  let target: Cluster;
  before(async () => {
    [logical, target] = await Promise.all([startCluster({ label: 'rights-src' }), startCluster({ label: 'rights-dst' })]);
    await logical.query('CREATE ROLE app_owner NOLOGIN');
    await logical.query('CREATE DATABASE clean OWNER app_owner');
    await logical.query('SET ROLE app_owner; CREATE TABLE ok (id int PRIMARY KEY, v text)', [], 'clean');
  });
  after(async () => Promise.all([logical, target].map((c) => c?.stop())));

  it('asks each change of the footprint for its rights: a publication without CREATE, target tables the admin will not own', async () => {
    // the source: REPLICATION, but no CREATE on the database for the publication (not its owner's member)
    const noCreate = await makeReplicationSourceUser(logical, 'clean', { user: 'repl_nocreate', memberOfOwners: false });
    await logical.query('GRANT SELECT ON ALL TABLES IN SCHEMA public TO repl_nocreate', [], 'clean');
    const refused = await runValidation(specFor(noCreate, serverSpec(target), ['clean'], { mode: 'Online' }));
    const [publication] = expectCode(refused, 'FOOTPRINT_PRIVILEGES', 'Failed').filter((r) => r.server === 'source');
    assert.match(publication!.message, /repl_nocreate may not create a publication \(no CREATE on clean\)/);
    assert.equal(publication!.fix, 'on the source: GRANT CREATE ON DATABASE "clean" TO "repl_nocreate"');
    await logical.query('GRANT CREATE ON DATABASE clean TO repl_nocreate');
    const granted = await runValidation(specFor(noCreate, serverSpec(target), ['clean'], { mode: 'Online' }));
    assert.deepEqual(
      withCode(granted, 'FOOTPRINT_PRIVILEGES').filter((r) => /publication/.test(r.message)),
      [],
      summary(granted),
    );

    // the target: a NOINHERIT admin already a member of the source tables' owner there: the restore
    // gives the tables to app_owner, whose privileges (DISABLE TRIGGER, DROP CONSTRAINT) it lacks
    await target.query('CREATE ROLE tgt_admin LOGIN PASSWORD $$tgt-admin-pw$$ CREATEDB CREATEROLE NOINHERIT');
    await target.query('CREATE ROLE app_owner NOLOGIN');
    await target.query('GRANT app_owner TO tgt_admin');
    await target.query('GRANT CREATE ON DATABASE postgres TO tgt_admin');
    const admin = serverSpec(target, { user: 'tgt_admin', password: 'tgt-admin-pw' });
    const results = await runValidation(specFor(serverSpec(logical), admin, ['clean'], { mode: 'Online' }));
    const onTarget = expectCode(results, 'FOOTPRINT_PRIVILEGES', 'Failed');
    assert.deepEqual(
      onTarget.map((r) => [r.server, r.database, r.fix]),
      [
        [
          'target',
          'clean',
          'on the target, as an administrator: ALTER ROLE "tgt_admin" INHERIT; or set migrateRoles: false so that tgt_admin owns the tables',
        ],
        [
          'target',
          'clean',
          'on the target, as an administrator: ALTER ROLE "tgt_admin" INHERIT; or set migrateRoles: false so that tgt_admin owns the tables',
        ],
      ],
      summary(results),
    );
    assert.match(onTarget[0]!.message, /DISABLE TRIGGER/);
    assert.match(onTarget[1]!.message, /DROP CONSTRAINT/);
    // with migrateRoles false the admin owns every table it restores: nothing to refuse
    const own = await runValidation(specFor(serverSpec(logical), admin, ['clean'], { mode: 'Online', migrateRoles: false }));
    assert.deepEqual(withCode(own, 'FOOTPRINT_PRIVILEGES'), [], summary(own));
    expectCode(own, 'FOOTPRINT_RIGHTS', 'Succeeded');
  });

  it('asks for superuser on the source where the event trigger captures schema changes', async () => {
    const user = await makeReplicationSourceUser(logical, 'clean', { user: 'repl_noevt', memberOfOwners: true });
    const refused = await runValidation(
      specFor(user, serverSpec(target), ['clean'], { mode: 'Online', schemaChangeCapture: 'eventTrigger' }),
    );
    const [trigger] = expectCode(refused, 'FOOTPRINT_PRIVILEGES', 'Failed').filter((r) => /event trigger/.test(r.message));
    assert.match(trigger!.message, /source user repl_noevt may not create an event trigger in clean \(schemaChangeCapture eventTrigger\)/);
    assert.match(trigger!.fix ?? '', /^on the source: ALTER ROLE "repl_noevt" SUPERUSER .*set schemaChangeCapture: catalog$/);
    const superuser = await runValidation(
      specFor(serverSpec(logical), serverSpec(target), ['clean'], { mode: 'Online', schemaChangeCapture: 'eventTrigger' }),
    );
    assert.deepEqual(
      withCode(superuser, 'FOOTPRINT_PRIVILEGES').filter((r) => /event trigger/.test(r.message)),
      [],
      summary(superuser),
    );
  });

  it('refuses a source user in azure_pg_admin without REPLICATION before anything changes, naming ALTER ROLE ... WITH REPLICATION', async () => {
    // Azure's server admin is in azure_pg_admin, and another admin made as Azure documents it is
    // too, with NOREPLICATION: the membership gives no right to make a slot, the attribute does
    await logical.query('CREATE ROLE azure_pg_admin NOLOGIN');
    const member = await makeReplicationSourceUser(logical, 'clean', { user: 'flex_member', replication: false });
    await logical.query('GRANT azure_pg_admin TO flex_member; GRANT CREATE ON DATABASE clean TO flex_member');
    const refused = await runValidation(specFor(member, serverSpec(target), ['clean'], { mode: 'Online' }));
    const [privilege] = expectCode(refused, 'REPLICATION_PRIVILEGE', 'Failed');
    assert.match(
      privilege!.message,
      /source user flex_member may not create a replication slot \(no REPLICATION; membership in azure_pg_admin does not give it/,
    );
    assert.match(privilege!.fix!, /^on the source: ALTER ROLE "flex_member" WITH REPLICATION /);
    const [slot] = expectCode(refused, 'FOOTPRINT_PRIVILEGES', 'Failed').filter((r) => /replication slot/.test(r.message));
    assert.match(slot!.fix!, /^on the source: ALTER ROLE "flex_member" WITH REPLICATION /);
    // read back: the refusal changed nothing on the source
    const made = await logical.query<{ slots: number; publications: number; schemas: number }>(
      `SELECT (SELECT count(*) FROM pg_replication_slots)::int AS slots, (SELECT count(*) FROM pg_publication)::int AS publications,
              (SELECT count(*) FROM pg_namespace WHERE nspname = 'pgferry')::int AS schemas`,
      [],
      'clean',
    );
    assert.deepEqual(made, [{ slots: 0, publications: 0, schemas: 0 }]);
    await logical.query('ALTER ROLE flex_member WITH REPLICATION');
    const granted = await runValidation(specFor(member, serverSpec(target), ['clean'], { mode: 'Online' }));
    expectCode(granted, 'REPLICATION_PRIVILEGE', 'Succeeded');
    assert.deepEqual(
      withCode(granted, 'FOOTPRINT_PRIVILEGES').filter((r) => /replication slot/.test(r.message)),
      [],
      summary(granted),
    );
  });

  it("refuses a target admin in azure_pg_admin without REPLICATION for a fallback window's reverse slot", async () => {
    await target.query('CREATE ROLE azure_pg_admin NOLOGIN');
    await target.query('CREATE ROLE flex_admin LOGIN PASSWORD $$flex-admin-pw$$ CREATEDB CREATEROLE NOREPLICATION');
    await target.query('GRANT azure_pg_admin TO flex_admin; GRANT CREATE ON DATABASE postgres TO flex_admin');
    const admin = serverSpec(target, { user: 'flex_admin', password: 'flex-admin-pw' });
    const refused = await runValidation(
      specFor(serverSpec(logical), admin, ['clean'], { mode: 'Online', migrateRoles: false, fallbackWindow: '1h', fenceWriters: true }),
    );
    const [privilege] = withCode(refused, 'REPLICATION_PRIVILEGE').filter((r) => r.server === 'target' && r.status === 'Failed');
    assert.match(
      privilege!.message,
      /target user flex_admin may not create a replication slot \(no REPLICATION; membership in azure_pg_admin/,
    );
    const [reverse] = expectCode(refused, 'FOOTPRINT_PRIVILEGES', 'Failed').filter((r) => /reverse replication slot/.test(r.message));
    assert.match(reverse!.message, /\(no REPLICATION; membership in azure_pg_admin does not give it\)/);
    assert.match(reverse!.fix!, /^on the target: ALTER ROLE "flex_admin" WITH REPLICATION /);
  });

  it("names the schema's GRANT when the old source's pgferry schema is another role's, and the database's when it is missing", () =>
    positionGrants(logical, target));
});

// Validation asks every change of the footprint this migration will make for the rights it needs
// (provider/engine/footprint/, rights.refusal), on the server it changes, before anything changes:
// a refusal names what is missing and the statement that gives it.
import assert from 'node:assert/strict';
import { runValidation } from '../../provider/engine/validate/runValidation';
import { makeReplicationSourceUser, serverSpec, startCluster, type Cluster } from '../support';
import { expectCode, specFor, summary, withCode } from './helpers';

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
    assert.match(publication!.message, /"repl_nocreate" may not create a publication \(no CREATE on "clean"\)/);
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
          'on the target, as an administrator: ALTER ROLE "tgt_admin" INHERIT; or set migrateRoles: false so that "tgt_admin" owns the tables',
        ],
        [
          'target',
          'clean',
          'on the target, as an administrator: ALTER ROLE "tgt_admin" INHERIT; or set migrateRoles: false so that "tgt_admin" owns the tables',
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
    assert.match(
      trigger!.message,
      /source user "repl_noevt" may not create an event trigger in "clean" \(schemaChangeCapture eventTrigger\)/,
    );
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
});

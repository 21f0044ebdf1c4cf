// Ownership a managed target's admin (no superuser) restores after pg_restore refused it: the new
// owner lacks CREATE on the object's schema (or, for a schema, on the database), which the admin
// lends for one transaction (schema/ownership.ts). Exactly what was missing is granted and revoked,
// a grant the owner already had stays, and a session killed half way leaves no grant behind.
import assert from 'node:assert/strict';
import type pg from 'pg';
import type { ServerSpec } from '../../provider/engine/input/migrationSpec';
import { closeSession, openSession } from '../../provider/engine/connect/session';
import { restoreOwners } from '../../provider/engine/schema/ownership';
import { makeManagedTarget, startCluster, until, type Cluster } from '../support';

const DATABASE = 'owners';

describe('owners restored by a managed admin with the new owner’s CREATE lent for one transaction', function () {
  this.timeout(120_000);
  let cluster: Cluster;
  let admin: ServerSpec;
  let client: pg.Client;
  const asSuperuser = (sql: string) => cluster.query(sql, [], DATABASE);
  const value = async (sql: string): Promise<unknown> => Object.values((await asSuperuser(sql))[0] ?? {})[0];
  /** A schema's and the database's privileges, NULL read as the defaults it stands for. */
  const acls = async () => ({
    app: await value(`SELECT coalesce(nspacl, acldefault('n', nspowner))::text FROM pg_namespace WHERE nspname = 'app'`),
    database: await value(`SELECT coalesce(datacl, acldefault('d', datdba))::text FROM pg_database WHERE datname = current_database()`),
  });
  const refused = (statement: string) => ({ statement, message: 'permission denied for schema app' });

  before(async () => {
    cluster = await startCluster({ label: 'owners' });
    admin = await makeManagedTarget(cluster);
    await cluster.query(`CREATE ROLE app_owner NOLOGIN; CREATE ROLE app_writer NOLOGIN; CREATE ROLE app_reader NOLOGIN`);
    // as migrateRoles leaves it: the admin is a member of the roles it created
    await cluster.query(`GRANT app_owner, app_writer, app_reader TO pgadmin`);
    const maintenance = await openSession(admin, { purpose: 'test', writable: true });
    await maintenance.query(`CREATE DATABASE ${DATABASE}`).finally(() => closeSession(maintenance));
    client = await openSession(admin, { database: DATABASE, purpose: 'test', writable: true });
    // what pg_restore leaves behind on a managed target: objects the admin made and could not give away
    await client.query(`
      CREATE SCHEMA app; ALTER SCHEMA app OWNER TO app_owner;
      GRANT USAGE, CREATE ON SCHEMA app TO app_reader;
      CREATE TABLE app.t (a int); GRANT SELECT ON app.t TO app_reader;
      CREATE TYPE app.mood AS ENUM ('calm');
      CREATE SEQUENCE app.s;
      CREATE TABLE app.readers (a int);
      CREATE TABLE app.locked (a int);
      CREATE TABLE app.superusers (a int);
      CREATE SCHEMA side;`);
  });
  after(async () => {
    await closeSession(client);
    await cluster?.stop();
  });

  it('gives each object to its owner, grants made meanwhile now granted by it, the schema and database privileges as before', async () => {
    const before = await acls();
    const failed = await restoreOwners(client, [
      refused('ALTER TABLE app.s OWNER TO app_writer;'),
      refused('ALTER TABLE app.t OWNER TO app_writer;'),
      refused('ALTER TYPE app.mood OWNER TO app_writer;'),
      // app_reader has CREATE on app already: nothing lent, and its grant is kept
      refused('ALTER TABLE app.readers OWNER TO app_reader;'),
      { statement: 'ALTER SCHEMA side OWNER TO app_writer;', message: 'permission denied for database owners' },
    ]);
    assert.deepEqual(failed, []);
    assert.deepEqual(
      await asSuperuser(`SELECT c.relname AS name, c.relowner::regrole::text AS owner, c.relacl::text AS acl
                           FROM pg_class c WHERE c.relname IN ('t', 's', 'readers') ORDER BY 1`),
      [
        { name: 'readers', owner: 'app_reader', acl: null },
        { name: 's', owner: 'app_writer', acl: null },
        { name: 't', owner: 'app_writer', acl: '{app_writer=arwdDxt/app_writer,app_reader=r/app_writer}' },
      ],
    );
    assert.equal(await value(`SELECT typowner::regrole::text FROM pg_type WHERE typname = 'mood'`), 'app_writer');
    assert.equal(await value(`SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'side'`), 'app_writer');
    assert.deepEqual(await acls(), before);
    assert.match(String(before.app), /app_reader=UC\/app_owner/);
  });

  it('does not try again a change to a role the admin cannot become, and reports it as refused', async () => {
    const failed = await restoreOwners(client, [
      { statement: 'ALTER TABLE app.superusers OWNER TO postgres;', message: 'must be member of role "postgres"' },
    ]);
    assert.deepEqual(failed, ['must be member of role "postgres" (statement: ALTER TABLE app.superusers OWNER TO postgres;)']);
    assert.equal(await value(`SELECT relowner::regrole::text FROM pg_class WHERE relname = 'superusers'`), 'pgadmin');
  });

  it('leaves no grant behind when its session is killed half way', async () => {
    const before = await acls();
    const holder = await cluster.connect(DATABASE);
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    try {
      await holder.query('BEGIN; LOCK TABLE app.locked IN ACCESS EXCLUSIVE MODE');
      const restoring = restoreOwners(client, [refused('ALTER TABLE app.locked OWNER TO app_writer;')]);
      // the CREATE on app is granted, uncommitted, and the owner change waits for the lock
      await until('the owner change to wait for its lock', async () =>
        (await holder.query(`SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'`, [rows[0]!.pid])).rowCount
          ? true
          : undefined,
      );
      await holder.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
      await assert.rejects(restoring);
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
    }
    assert.deepEqual(await acls(), before);
    assert.doesNotMatch(String(before.app), /app_writer/);
    assert.equal(await value(`SELECT relowner::regrole::text FROM pg_class WHERE relname = 'locked'`), 'pgadmin');
  });
});

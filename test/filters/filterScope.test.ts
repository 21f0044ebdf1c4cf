// What a filtered migration takes beside its tables: only the extensions, roles and large objects
// what moves needs, the database's own settings whole; a refusal before the target changes when
// validation is skipped; and locks only on what moves, so a left-out table's exclusive lock on the
// source neither blocks nor fails the copy.
import assert from 'node:assert/strict';
import { runMigration } from '../../provider/engine';
import { runValidation } from '../../provider/engine/validate/runValidation';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { pairSpec, startPair, waitForStatus, type ServerPair } from '../support';
import { requestCutover } from '../../provider/engine/control/migrationRequests';

const SCOPE = `
CREATE ROLE sales_owner NOLOGIN; CREATE ROLE sales_reader NOLOGIN; CREATE ROLE app_login LOGIN;
CREATE ROLE hr_owner NOLOGIN; CREATE ROLE hr_reader NOLOGIN; CREATE ROLE setting_user LOGIN;
GRANT sales_reader TO app_login;
GRANT hr_reader TO app_login;`;

const SCOPE_DB = `
CREATE SCHEMA sales AUTHORIZATION sales_owner; CREATE SCHEMA hr AUTHORIZATION hr_owner; CREATE SCHEMA ext;
CREATE EXTENSION citext SCHEMA ext;
CREATE EXTENSION hstore SCHEMA hr;
CREATE EXTENSION pg_trgm SCHEMA public;
CREATE TABLE sales.customers (id int PRIMARY KEY, email ext.citext NOT NULL);
ALTER TABLE sales.customers OWNER TO sales_owner;
GRANT SELECT ON sales.customers TO sales_reader;
CREATE TABLE hr.people (id int PRIMARY KEY, attrs hr.hstore);
ALTER TABLE hr.people OWNER TO hr_owner;
GRANT SELECT ON hr.people TO hr_reader;
INSERT INTO sales.customers SELECT g, 'C' || g || '@Example.com' FROM generate_series(1, 25) g;
INSERT INTO hr.people SELECT g, 'a=>1' FROM generate_series(1, 5) g;
SELECT lo_from_bytea(0, 'a large object');`;

const count = async (pair: ServerPair, side: 'source' | 'target', db: string, sql: string): Promise<number> =>
  Number((await pair[side].query<{ n: string }>(`SELECT (${sql})::int8::text AS n`, [], db))[0]!.n);

/** Two databases for the narrowing test, and two small ones for the refusal and the locks. */
async function seed(pair: ServerPair): Promise<void> {
  await pair.source.query(SCOPE);
  for (const db of ['scope', 'scopelo']) {
    await pair.source.query(`CREATE DATABASE ${db}`);
    await pair.source.query(SCOPE_DB, [], db);
    await pair.source.query(`ALTER DATABASE ${db} SET search_path = sales, hr, public`);
    await pair.source.query(`ALTER ROLE setting_user IN DATABASE ${db} SET work_mem = '8MB'`);
  }
  // here a moved table holds large object OIDs, so the large objects move
  await pair.source.query(
    `CREATE TABLE sales.docs (id int PRIMARY KEY, doc oid); INSERT INTO sales.docs SELECT 1, min(oid) FROM pg_largeobject_metadata`,
    [],
    'scopelo',
  );
  for (const db of ['refused', 'locked', 'lockedlive']) {
    await pair.source.query(`CREATE DATABASE ${db}`);
    await pair.source.query(
      `CREATE SCHEMA sales; CREATE SCHEMA audit;
       CREATE TABLE sales.orders (id int PRIMARY KEY, item text);
       CREATE TABLE sales.lines (id int PRIMARY KEY, order_id int REFERENCES sales.orders);
       CREATE TABLE audit.log (id int PRIMARY KEY, msg text);
       INSERT INTO sales.orders SELECT g, 'i' || g FROM generate_series(1, 300) g;
       INSERT INTO sales.lines SELECT g, g FROM generate_series(1, 300) g;
       INSERT INTO audit.log SELECT g, 'm' FROM generate_series(1, 30) g;`,
      [],
      db,
    );
  }
}

/** The settings of a target database, its own (role null) and its roles' in it. */
async function databaseSettings(pair: ServerPair, db: string): Promise<{ role: string | null; setconfig: string[] }[]> {
  return pair.target.query<{ role: string | null; setconfig: string[] }>(
    `SELECT r.rolname AS role, s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
       LEFT JOIN pg_roles r ON r.oid = s.setrole WHERE d.datname = $1 ORDER BY 1 NULLS FIRST`,
    [db],
  );
}

describe('filters: what a filtered migration takes beside its tables (integration)', function () {
  this.timeout(400_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
    await seed(pair);
  });
  after(async () => pair?.stop());

  it('moves only the extensions, roles and large objects that what moves needs, and the database settings whole', async () => {
    const spec = pairSpec(pair, 'filters-scope', ['scope', 'scopelo'], { includeSchemas: ['sales'] });
    const summaries = (await runValidation(spec)).filter((r) => r.code === 'FILTERS').map((r) => r.message);
    assert.equal(summaries.length, 2);
    assert.match(summaries[0]!, /extension\(s\) left out: hstore, pg_trgm/);
    assert.match(summaries.join(' '), /large objects left out/);
    const status = await runMigration(spec);
    assert.equal(status.state, 'Succeeded', status.message);
    for (const db of ['scope', 'scopelo']) {
      const t = (sql: string) => count(pair, 'target', db, sql);
      // citext: a moved column's type; hstore: only a left-out table's; pg_trgm: nothing moved needs it
      assert.deepEqual(
        (
          await pair.target.query<{ extname: string }>(`SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1`, [], db)
        ).map((r) => r.extname),
        ['citext'],
      );
      assert.equal(await t(`SELECT count(*) FROM sales.customers WHERE email OPERATOR(ext.=) 'c7@example.COM'::ext.citext`), 1);
      assert.equal(await t(`SELECT count(*) FROM pg_namespace WHERE nspname IN ('hr')`), 0);
      assert.equal(await t(`SELECT count(*) FROM pg_namespace WHERE nspname = 'ext'`), 1);
      assert.equal(await t(`SELECT count(*) FROM has_table_privilege('app_login', 'sales.customers', 'SELECT') p WHERE p`), 1);
      // the database's settings are the database's: search_path as written, the role's setting in it too
      const settings = await databaseSettings(pair, db);
      assert.deepEqual(settings, [
        { role: null, setconfig: ['search_path=sales, hr, public'] },
        { role: 'setting_user', setconfig: ['work_mem=8MB'] },
      ]);
    }
    // large objects: a moved table holds their OIDs in scopelo, none does in scope
    assert.equal(await count(pair, 'target', 'scope', `SELECT count(*) FROM pg_largeobject_metadata`), 0);
    assert.equal(await count(pair, 'target', 'scopelo', `SELECT count(*) FROM pg_largeobject_metadata`), 1);
    assert.equal(
      await count(
        pair,
        'target',
        'scopelo',
        `SELECT count(*) FROM sales.docs d WHERE convert_from(lo_get(d.doc), 'UTF8') = 'a large object'`,
      ),
      1,
    );
    const roles = (
      await pair.target.query<{ rolname: string }>(`SELECT rolname FROM pg_roles WHERE rolname ~ '^(sales|hr|app|setting)_' ORDER BY 1`)
    ).map((r) => r.rolname);
    // owners and grantees of what moves, the roles that are members of those, the roles with settings in the database
    assert.deepEqual(roles, ['app_login', 'sales_owner', 'sales_reader', 'setting_user']);
    assert.equal(
      await count(
        pair,
        'target',
        'postgres',
        `SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid WHERE r.rolname = 'sales_reader'`,
      ),
      1,
    );
  });

  it('with option Migrate, a filter refusal happens before the target changes, and the control catalog says why', async () => {
    const status = await runMigration(
      pairSpec(pair, 'filters-refused', ['refused'], { option: 'Migrate', excludeTables: ['sales.orders'] }),
    );
    // the filters' refusal, not the key failing to build on the target (which names the same two)
    const refusal =
      /^database refused: constraint lines_order_id_fkey on table sales\.lines needs table sales\.orders, which the filters leave out/;
    assert.deepEqual([status.state, status.subState], ['ValidationFailed', 'Completed'], status.message);
    assert.match(status.message ?? '', refusal);
    assert.equal(await count(pair, 'target', 'postgres', `SELECT count(*) FROM pg_database WHERE datname = 'refused'`), 0);
    const stored = await pair.target.query<{ state: string; message: string }>(
      `SELECT state, message FROM pgferry.migration WHERE name = 'filters-refused'`,
    );
    assert.equal(stored.length, 1);
    assert.match(`${stored[0]!.state} ${stored[0]!.message}`, new RegExp(`^ValidationFailed ${refusal.source.slice(1)}`));
  });

  it('a session holding ACCESS EXCLUSIVE on a left-out table neither blocks nor fails the copy', async () => {
    const holder = await pair.source.connect('locked');
    try {
      await holder.query('BEGIN; LOCK TABLE audit.log IN ACCESS EXCLUSIVE MODE');
      // the holder holds until the test lets go: a run that ended at all never waited for it
      const status = await runMigration(pairSpec(pair, 'filters-locked', ['locked'], { excludeSchemas: ['audit'], lockTimeoutSeconds: 3 }));
      const events = await pair.target.query<{ message: string }>(
        `SELECT level || ' ' || message AS message FROM pgferry.event WHERE migration = 'filters-locked' ORDER BY id`,
      );
      assert.equal(status.state, 'Succeeded', `${status.message} ${events.map((e) => e.message).join(' | ')}`);
      assert.equal(status.verification?.ok, true);
      assert.equal(await count(pair, 'target', 'locked', `SELECT count(*) FROM sales.lines`), 300);
      assert.equal(await count(pair, 'target', 'locked', `SELECT count(*) FROM pg_namespace WHERE nspname = 'audit'`), 0);
      // the lock was held all along
      assert.equal(
        await count(
          pair,
          'source',
          'locked',
          `SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND relation = 'audit.log'::regclass AND granted`,
        ),
        1,
      );
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
    }
  });

  it('online: a session holding ACCESS EXCLUSIVE on a left-out table while changes stream neither blocks nor fails the cutover', async () => {
    const holder = await pair.source.connect('lockedlive');
    const spec = pairSpec(pair, 'filters-locked-live', ['lockedlive'], {
      mode: 'Online',
      excludeSchemas: ['audit'],
      lockTimeoutSeconds: 3,
    });
    const store = new CatalogConnection(spec.target);
    try {
      // Taken once the slot exists: creating a slot waits for every transaction with an ID, as this one has.
      const running = runMigration(spec);
      const waiting = await waitForStatus(store, 'filters-locked-live', (s) => s.state === 'WaitingForUserAction' || s.state === 'Failed');
      assert.equal(waiting.state, 'WaitingForUserAction', waiting.message);
      await holder.query('BEGIN; LOCK TABLE audit.log IN ACCESS EXCLUSIVE MODE');
      await pair.source.query(`INSERT INTO sales.orders VALUES (1000, 'streamed')`, [], 'lockedlive');
      await waitForStatus(store, 'filters-locked-live', (s) => (s.databases[0]?.inserts ?? 0) >= 1);
      await requestCutover(store, 'filters-locked-live');
      const done = await running;
      assert.equal(done.state, 'Succeeded', done.message);
      assert.equal(done.verification?.ok, true, done.verification?.firstMismatch);
      assert.equal(await count(pair, 'target', 'lockedlive', `SELECT count(*) FROM sales.orders`), 301);
      assert.equal(
        await count(
          pair,
          'source',
          'lockedlive',
          `SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND relation = 'audit.log'::regclass AND granted`,
        ),
        1,
      );
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
      await store.close();
    }
  });
});

// migrateRoles: false: the source's roles are not created on the target (read back from
// pg_roles), what they own belongs to the target user there, a grant to a role the target already
// has is kept (also when the same object grants to a role it lacks), one to a role it lacks is left out with a warning, and the data arrives whole.
// With the default, the same roles are created.
import assert from 'node:assert/strict';
import { runMigration } from '../../provider/engine';
import { pairSpec, startPair, type ServerPair } from '../support';

const SOURCE_ROLES = ['ledger_owner', 'ledger_clerk', 'shared_reader'];

describe('migrateRoles false leaves the roles alone', function () {
  this.timeout(180_000);
  let pair: ServerPair;
  const rolesOn = async (server: ServerPair['target']) =>
    (
      await server.query<{ rolname: string }>(`SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[]) ORDER BY 1`, [SOURCE_ROLES])
    ).map((r) => r.rolname);

  before(async () => {
    pair = await startPair();
    await pair.source.query(
      `CREATE ROLE ledger_owner NOLOGIN; CREATE ROLE ledger_clerk LOGIN PASSWORD 'clerk-pw' IN ROLE ledger_owner;
       CREATE ROLE shared_reader NOLOGIN`,
    );
    // the target already has one of them, as a user who creates roles themselves would
    await pair.target.query('CREATE ROLE shared_reader NOLOGIN');
    await pair.source.query('CREATE DATABASE ledger OWNER ledger_owner');
    await pair.source.query(
      `CREATE TABLE entries (id int PRIMARY KEY, amount numeric NOT NULL);
       INSERT INTO entries SELECT g, g * 1.5 FROM generate_series(1, 1000) g;
       ALTER TABLE entries OWNER TO ledger_owner;
       GRANT INSERT ON entries TO ledger_clerk;
       -- one ACL entry in the dump, restored as one statement list: the missing role's grant
       -- must not take the existing role's grant with it
       GRANT SELECT ON entries TO shared_reader;
       GRANT UPDATE (amount) ON entries TO ledger_clerk, shared_reader;
       CREATE VIEW totals AS SELECT sum(amount) AS total FROM entries;
       GRANT SELECT ON totals TO shared_reader;`,
      [],
      'ledger',
    );
  });
  after(async () => pair?.stop());

  it('creates no role on the target; objects belong to the target user; the data and the verification pass', async () => {
    assert.deepEqual(await rolesOn(pair.target), ['shared_reader']);
    const warnings: string[] = [];
    const status = await runMigration(pairSpec(pair, 'ledger-no-roles', ['ledger'], { migrateRoles: false }), {
      onProgress: (e) => void (e.kind === 'warning' && warnings.push(e.message)),
    });
    assert.equal(status.state, 'Succeeded', status.message);
    assert.equal(status.verification?.ok, true, status.verification?.firstMismatch);

    assert.deepEqual(await rolesOn(pair.target), ['shared_reader'], 'no source role was created');
    const t = (sql: string) => pair.target.query(sql, [], 'ledger');
    assert.deepEqual(await t(`SELECT count(*)::int AS n, sum(amount)::text AS total FROM entries`), [{ n: 1000, total: '750750.0' }]);
    assert.deepEqual(await t(`SELECT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE oid = 'entries'::regclass`), [
      { owner: pair.target.user },
    ]);
    assert.deepEqual(await pair.target.query(`SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = 'ledger'`), [
      { owner: pair.target.user },
    ]);
    assert.deepEqual(await t(`SELECT has_table_privilege('shared_reader', 'totals', 'SELECT') AS ok`), [{ ok: true }]);
    assert.deepEqual(
      await t(`SELECT has_table_privilege('shared_reader', 'entries', 'SELECT') AS s,
                      has_column_privilege('shared_reader', 'entries', 'amount', 'UPDATE') AS u,
                      has_table_privilege('shared_reader', 'entries', 'INSERT') AS i`),
      [{ s: true, u: true, i: false }],
      'the grants to the role the target has are kept beside the grants to a role it lacks',
    );
    // the grant to a role the target lacks is left out, and said so
    assert.ok(
      warnings.some((w) => w.includes('"ledger_clerk" does not exist')),
      warnings.join('\n'),
    );
  });

  it('with the default (migrateRoles true) the same roles are created, with the membership', async () => {
    const status = await runMigration(pairSpec(pair, 'ledger-roles', ['ledger'], { overwriteDbsInTarget: true }));
    assert.equal(status.state, 'Succeeded', status.message);
    assert.deepEqual(await rolesOn(pair.target), ['ledger_clerk', 'ledger_owner', 'shared_reader']);
    assert.deepEqual(await pair.target.query(`SELECT pg_has_role('ledger_clerk', 'ledger_owner', 'MEMBER') AS ok`), [{ ok: true }]);
    assert.deepEqual(
      await pair.target.query(`SELECT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE oid = 'entries'::regclass`, [], 'ledger'),
      [{ owner: 'ledger_owner' }],
    );
  });
});

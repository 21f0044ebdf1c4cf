// Owners and privileges on a managed target, the pure parts: the owner changes pg_restore could
// not make read from pg_dump's statements (schema/ownership.ts), default privileges of a role
// the admin stands in for, and the database's ACL with its owner's entries (schema/database.ts).
import assert from 'node:assert/strict';
import { databaseGrantStatements, parseAclItem } from '../../provider/engine/schema/database';
import { largeObjectsKept, ownerChange, standInDefaultPrivileges } from '../../provider/engine/schema/ownership';

describe('owner changes read from pg_dump statements', () => {
  it('names the schema the new owner needs CREATE on, for every kind pg_dump writes qualified', () => {
    const cases: [string, string][] = [
      ['ALTER TABLE app.labels OWNER TO app_writer;', 'app'],
      ['ALTER TABLE "We""ird Sch.ema"."Order ""Lines"".v2" OWNER TO app_writer;', 'We"ird Sch.ema'],
      ['ALTER TYPE app.mood OWNER TO app_writer;', 'app'],
      ['ALTER DOMAIN app.positive OWNER TO app_writer;', 'app'],
      ['ALTER FUNCTION app.tax(numeric) OWNER TO app_writer;', 'app'],
      ['ALTER PROCEDURE app.bump(IN n integer) OWNER TO app_writer;', 'app'],
      ['ALTER AGGREGATE app.total_tax(numeric) OWNER TO app_writer;', 'app'],
      ['ALTER OPERATOR app.=== (app.pair, app.pair) OWNER TO app_writer;', 'app'],
      ['ALTER OPERATOR CLASS app.ops USING btree OWNER TO app_writer;', 'app'],
      ['ALTER OPERATOR FAMILY app.ops USING btree OWNER TO app_writer;', 'app'],
      ['ALTER COLLATION app.c_copy OWNER TO app_writer;', 'app'],
      ['ALTER CONVERSION app.conv OWNER TO app_writer;', 'app'],
      ['ALTER TEXT SEARCH CONFIGURATION app.plain OWNER TO app_writer;', 'app'],
      ['ALTER TEXT SEARCH DICTIONARY app.dict OWNER TO app_writer;', 'app'],
      ['ALTER STATISTICS app.orders_dep OWNER TO app_writer;', 'app'],
      ['ALTER FOREIGN TABLE app.remote OWNER TO app_writer;', 'app'],
      ['ALTER MATERIALIZED VIEW "Sch"."M v" OWNER TO app_writer;', 'Sch'],
    ];
    for (const [statement, schema] of cases) {
      assert.deepEqual(
        ownerChange(statement),
        { statement: statement.replace(/;$/, ''), owner: 'app_writer', needs: { schema } },
        statement,
      );
    }
  });

  it('a schema needs CREATE on the database; a large object needs nothing; the owner is unquoted', () => {
    assert.deepEqual(ownerChange('ALTER SCHEMA "OWNER TO x" OWNER TO "Odd ""Role""";'), {
      statement: 'ALTER SCHEMA "OWNER TO x" OWNER TO "Odd ""Role"""',
      owner: 'Odd "Role"',
      needs: 'database',
    });
    assert.deepEqual(ownerChange('ALTER LARGE OBJECT 16668 OWNER TO app_owner;'), {
      statement: 'ALTER LARGE OBJECT 16668 OWNER TO app_owner',
      owner: 'app_owner',
    });
  });

  it('reads nothing else, nor a name it cannot place', () => {
    assert.equal(ownerChange('GRANT SELECT ON TABLE app.t TO app_writer;'), undefined);
    assert.equal(ownerChange('ALTER TABLE app.t OWNER TO "unterminated;'), undefined);
    assert.equal(ownerChange('ALTER TABLE app.t ADD COLUMN owner int;'), undefined);
    // unqualified: the schema is not guessed
    assert.deepEqual(ownerChange('ALTER TABLE t OWNER TO a;'), { statement: 'ALTER TABLE t OWNER TO a', owner: 'a' });
  });
});

describe('default privileges of a role the admin stands in for', () => {
  const standIn = new Set(['postgres']);

  it('become the admin’s, as the role they are for and as grantee', () => {
    assert.equal(
      standInDefaultPrivileges(
        'ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA app GRANT SELECT ON TABLES  TO app_reader;',
        standIn,
        'pg"admin',
      ),
      'ALTER DEFAULT PRIVILEGES FOR ROLE "pg""admin" IN SCHEMA app GRANT SELECT ON TABLES  TO app_reader',
    );
    assert.equal(
      standInDefaultPrivileges('ALTER DEFAULT PRIVILEGES FOR ROLE postgres REVOKE ALL ON TABLES  FROM postgres;', standIn, 'pgadmin'),
      'ALTER DEFAULT PRIVILEGES FOR ROLE "pgadmin" REVOKE ALL ON TABLES  FROM "pgadmin"',
    );
  });

  it('leave every other role’s alone, a schema of the same name and PUBLIC too', () => {
    assert.equal(
      standInDefaultPrivileges(
        'ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA postgres GRANT SELECT ON TABLES TO PUBLIC;',
        standIn,
        'x',
      ),
      'ALTER DEFAULT PRIVILEGES FOR ROLE "x" IN SCHEMA postgres GRANT SELECT ON TABLES TO PUBLIC',
    );
    assert.equal(
      standInDefaultPrivileges('ALTER DEFAULT PRIVILEGES FOR ROLE app_owner GRANT SELECT ON TABLES TO postgres;', standIn, 'x'),
      undefined,
    );
    assert.equal(
      standInDefaultPrivileges('ALTER DEFAULT PRIVILEGES FOR ROLE "Postgres" GRANT SELECT ON TABLES TO a;', standIn, 'x'),
      undefined,
    );
    assert.equal(standInDefaultPrivileges('GRANT SELECT ON TABLE t TO postgres;', standIn, 'x'), undefined);
  });
});

describe('the database ACL', () => {
  it('parses aclitem text, quoted names with = and / in them included', () => {
    assert.deepEqual(parseAclItem('=Tc/postgres'), { grantee: '', privileges: 'Tc', grantor: 'postgres' });
    assert.deepEqual(parseAclItem('"a=b/c"=c*/"Odd ""Role"""'), { grantee: 'a=b/c', privileges: 'c*', grantor: 'Odd "Role"' });
    assert.equal(parseAclItem('nonsense'), undefined);
  });

  it('gives the source owner’s entries to the admin standing in for it, and to nobody else', () => {
    const acl = ['=Tc/postgres', 'app_reader=c/postgres', 'postgres=CTc/postgres'];
    assert.deepEqual(databaseGrantStatements('d b', acl, { source: 'postgres', target: 'pgadmin' }), [
      'REVOKE ALL ON DATABASE "d b" FROM PUBLIC',
      'GRANT TEMPORARY ON DATABASE "d b" TO PUBLIC',
      'GRANT CONNECT ON DATABASE "d b" TO PUBLIC',
      'GRANT CONNECT ON DATABASE "d b" TO "app_reader"',
      'GRANT CREATE ON DATABASE "d b" TO "pgadmin"',
      'GRANT TEMPORARY ON DATABASE "d b" TO "pgadmin"',
      'GRANT CONNECT ON DATABASE "d b" TO "pgadmin"',
    ]);
  });

  it('revokes the owner’s defaults it lacked on the source, and grants of another grantor are made as that grantor', () => {
    const acl = ['owner=c/owner', 'a=c*/owner', 'b=c/a'];
    assert.deepEqual(databaseGrantStatements('d', acl, { source: 'owner', target: 'owner' }), [
      'REVOKE ALL ON DATABASE "d" FROM PUBLIC',
      'REVOKE ALL ON DATABASE "d" FROM "owner"',
      'GRANT CONNECT ON DATABASE "d" TO "owner"',
      'GRANT CONNECT ON DATABASE "d" TO "a" WITH GRANT OPTION',
      'SET SESSION AUTHORIZATION "a"',
      'GRANT CONNECT ON DATABASE "d" TO "b"',
      'RESET SESSION AUTHORIZATION',
    ]);
  });
});

describe('large objects kept with the target user', () => {
  it('says how many keep it instead of each role, the reason once, and one GRANT of every role', () => {
    const refused = [
      ...[1, 2, 3].map((oid) => ({
        statement: `ALTER LARGE OBJECT ${oid} OWNER TO lo_keeper;`,
        message: 'must be able to SET ROLE "lo_keeper"',
      })),
      { statement: 'ALTER LARGE OBJECT 4 OWNER TO "Other";', message: 'must be able to SET ROLE "Other"' },
    ];
    assert.equal(
      largeObjectsKept(refused, 'pgadmin'),
      '4 large object(s) keep the owner "pgadmin" the restore gave them, 3 instead of "lo_keeper" (must be able to SET ROLE "lo_keeper"), ' +
        '1 instead of "Other" (must be able to SET ROLE "Other"): the target user may not become that role; ' +
        'fix: GRANT "lo_keeper", "Other" TO "pgadmin", then run again (or ALTER LARGE OBJECT ... OWNER TO by hand)',
    );
  });
});

// pg_restore's failures read from its stderr, and the grant lists run again one statement at a
// time (schema/grantReplay.ts): split only where it is safe, never inside a quoted name.
import assert from 'node:assert/strict';
import { isTolerableRestoreError, parseRestoreErrors } from '../../provider/engine/schema/dumpRestore';
import { grantStatements, sessionAuthorization, splitStatements } from '../../provider/engine/schema/grantReplay';

// as pg_restore 15 printed it for an ACL entry granting to a missing and an existing role
const STDERR = [
  'pg_restore: error: could not execute query: ERROR:  role "ledger_clerk" does not exist',
  'Command was: GRANT INSERT ON TABLE public.entries TO ledger_clerk;',
  'GRANT SELECT ON TABLE public.entries TO shared_reader;',
  '',
  '',
  'pg_restore: error: could not execute query: ERROR:  must be owner of table t',
  'Command was: ALTER TABLE public.t OWNER TO app;',
  'pg_restore: warning: errors ignored on restore: 2',
  '',
].join('\n');

describe('grant lists restored one statement at a time (migrateRoles false, managed targets)', () => {
  it('reads every line of a failed entry, up to a blank line or the next message', () => {
    assert.deepEqual(parseRestoreErrors(STDERR), [
      {
        message: 'role "ledger_clerk" does not exist',
        command: 'GRANT INSERT ON TABLE public.entries TO ledger_clerk;\nGRANT SELECT ON TABLE public.entries TO shared_reader;',
      },
      { message: 'must be owner of table t', command: 'ALTER TABLE public.t OWNER TO app;' },
    ]);
  });

  it('splits at semicolons outside quoted names and literals', () => {
    const odd = 'GRANT SELECT ON TABLE public."a;\nDROP TABLE x; ""b""" TO "r;o\'le";\nREVOKE ALL ON SCHEMA s FROM PUBLIC;';
    assert.deepEqual(splitStatements(odd), [
      'GRANT SELECT ON TABLE public."a;\nDROP TABLE x; ""b""" TO "r;o\'le"',
      'REVOKE ALL ON SCHEMA s FROM PUBLIC',
    ]);
  });

  it('does not split what an ACL entry never holds (dollar quotes, comments, an open quote)', () => {
    assert.equal(splitStatements('GRANT SELECT ON t TO a; DO $$ BEGIN END $$;'), undefined);
    assert.equal(splitStatements('GRANT SELECT ON t TO a; -- x\nGRANT SELECT ON t TO b;'), undefined);
    assert.equal(splitStatements('GRANT SELECT ON "t TO a;'), undefined);
    assert.deepEqual(splitStatements('GRANT SELECT ON "$t--" TO a; GRANT SELECT ON t TO b;'), [
      'GRANT SELECT ON "$t--" TO a',
      'GRANT SELECT ON t TO b',
    ]);
  });

  it('runs again only lists of grants and revokes, never a single statement or anything else', () => {
    assert.deepEqual(grantStatements('REVOKE ALL ON TABLE t FROM PUBLIC;\nGRANT SELECT ON TABLE t TO a;'), [
      'REVOKE ALL ON TABLE t FROM PUBLIC',
      'GRANT SELECT ON TABLE t TO a',
    ]);
    assert.equal(grantStatements('GRANT SELECT ON TABLE t TO a;'), undefined);
    assert.equal(grantStatements('GRANT SELECT ON TABLE t TO a;\nALTER TABLE t OWNER TO a;'), undefined);
    assert.equal(grantStatements('SET SESSION AUTHORIZATION b;\nALTER TABLE t OWNER TO a;\nRESET SESSION AUTHORIZATION;'), undefined);
  });

  it('runs again the grants of another grantor than the owner, which pg_dump wraps in SET SESSION AUTHORIZATION', () => {
    const entry =
      'GRANT SELECT ON TABLE t TO a WITH GRANT OPTION;\nSET SESSION AUTHORIZATION a;\nGRANT SELECT ON TABLE t TO b;\nRESET SESSION AUTHORIZATION;';
    assert.deepEqual(grantStatements(entry), [
      'GRANT SELECT ON TABLE t TO a WITH GRANT OPTION',
      'SET SESSION AUTHORIZATION a',
      'GRANT SELECT ON TABLE t TO b',
      'RESET SESSION AUTHORIZATION',
    ]);
    // an entry may open with one: pg_restore's failure of it is tolerable too
    const opening = { message: 'permission denied to set session authorization', command: entry.split('\n').slice(1).join('\n') };
    assert.equal(isTolerableRestoreError(opening), true);
    assert.equal(isTolerableRestoreError({ message: 'x', command: 'SET SESSION AUTHORIZATION a;\nCREATE TABLE t (a int);' }), false);
  });

  it('reads the grantor of SET SESSION AUTHORIZATION, quoted or not', () => {
    assert.equal(sessionAuthorization('SET SESSION AUTHORIZATION app_reader'), 'app_reader');
    assert.equal(sessionAuthorization('SET SESSION AUTHORIZATION "Odd ""Role"""'), 'Odd "Role"');
    assert.equal(sessionAuthorization('SET ROLE app_reader'), undefined);
    assert.equal(sessionAuthorization('SET SESSION AUTHORIZATION a b'), undefined);
  });
});

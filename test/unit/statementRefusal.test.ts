// A step that reports a refused statement as a warning and goes on (the database's properties, a
// grant replayed) must tell a refusal from a lost session: the target refusing a setting is a
// warning, a terminated backend or a closed socket stops the step.
import assert from 'node:assert/strict';
import pg from 'pg';
import { isStatementRefusal } from '../../provider/engine/connect/sqlstate';

/** A server error as node-postgres builds it from the server's message. */
function serverError(code: string, severity: string, message: string): pg.DatabaseError {
  return Object.assign(new pg.DatabaseError(message, message.length, 'error'), { code, severity });
}

describe('sqlstate: a refused statement told from a lost session', () => {
  it('counts a permission denied, an unknown setting and an unsupported feature as refusals', () => {
    assert.equal(isStatementRefusal(serverError('42501', 'ERROR', 'permission denied to set parameter "x"')), true);
    assert.equal(isStatementRefusal(serverError('42704', 'ERROR', 'unrecognized configuration parameter "x"')), true);
    assert.equal(isStatementRefusal(serverError('0A000', 'ERROR', 'not supported')), true);
  });

  it('counts a terminated backend, a shutdown, a cancel, a connection failure and a FATAL error as lost sessions', () => {
    assert.equal(isStatementRefusal(serverError('57P01', 'FATAL', 'terminating connection due to administrator command')), false);
    assert.equal(isStatementRefusal(serverError('57014', 'ERROR', 'canceling statement due to user request')), false);
    assert.equal(isStatementRefusal(serverError('08006', 'ERROR', 'connection failure')), false);
    assert.equal(isStatementRefusal(serverError('53100', 'ERROR', 'could not extend file')), false);
    assert.equal(isStatementRefusal(serverError('XX000', 'FATAL', 'an error that ends the session')), false);
  });

  it("counts node-postgres's own connection errors, which carry no SQLSTATE, as lost sessions", () => {
    assert.equal(isStatementRefusal(new Error('Connection terminated unexpectedly')), false);
    assert.equal(isStatementRefusal(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })), false);
    assert.equal(isStatementRefusal(undefined), false);
  });
});

// The fault campaign's phase triggers (faults/phases.ts) against the statements the runner really
// sends, as the fault proxy reads them: the background verifier's pin on a source older than
// PostgreSQL 17 (its message from a second `pgferry pin` session), an unfenced cutover's drain with
// no batch left to commit (each apply session's end at the marker), and the validation's sessions
// on the target (two in a run: a third match never comes).
import assert from 'node:assert/strict';
import { phaseTrigger } from '../../faults/phases';
import { SIZES } from '../../faults/fixture';
import type { FrontendMessage } from '../support/pgWire';
import type { ProxyConnection } from '../support/faultProxy';

let ids = 0;
const session = (application: string, database = 'ft_a'): ProxyConnection => ({
  id: ++ids,
  clientPort: 40000 + ids,
  startup: { application_name: application, database, user: 'postgres' },
  closed: false,
});
const q = (sql: string): FrontendMessage => ({ type: 'Q', sql });
const startup = (c: ProxyConnection): FrontendMessage => ({ type: 'startup', startup: c.startup! });

describe('fault campaign phase triggers', () => {
  it("verify-pin matches the pin's message from a pgferry pin session only while a verifier session of its database is inside its pin, and the verifier's own", () => {
    const { match } = phaseTrigger('verify-pin', SIZES.ci);
    const verifyA = session('pgferry verify', 'ft_a');
    const pinA = session('pgferry pin', 'ft_a');
    const pinB = session('pgferry pin', 'ft_b');
    const emit = q(`SELECT pg_catalog.pg_logical_emit_message(true, 'pgferry_pin_x', '')`);
    assert.equal(match(pinA, emit), false, 'a resync pin outside any verifier pin');
    assert.equal(match(verifyA, q('BEGIN ISOLATION LEVEL REPEATABLE READ')), false);
    assert.equal(match(verifyA, q('SELECT pg_catalog.txid_current_snapshot()::text AS snapshot')), false);
    assert.equal(match(pinB, emit), false, "another database's pin session");
    assert.equal(match(pinA, emit), true, 'the message of the pin, from its second session (PostgreSQL before 17)');
    assert.equal(match(verifyA, q('ROLLBACK')), false);
    assert.equal(match(pinA, emit), false, 'after the pin ended');
    const flushing = q(`SELECT pg_catalog.pg_logical_emit_message(false, 'pgferry_pin_x', '', true)`);
    assert.equal(match(verifyA, flushing), true, 'the message in the pinned session itself (PostgreSQL 17)');
  });

  it("cutover-drain matches each batch's COMMIT and, with none, each apply session's end at the marker; no other session's", () => {
    const { match, maxMatch } = phaseTrigger('cutover-drain', SIZES.ci);
    const apply = session('pgferry apply');
    assert.equal(match(apply, q('INSERT INTO x VALUES (1); SELECT 1; COMMIT')), true);
    assert.equal(match(apply, q('ROLLBACK')), true);
    assert.equal(match(apply, q('SELECT pg_replication_origin_xact_reset()')), true);
    assert.equal(match(session('pgferry cutover'), q('ROLLBACK')), false);
    assert.equal(match(apply, q('SELECT pg_replication_origin_session_setup($1)')), false);
    // an unfenced two-database cutover with nothing left to apply: two sessions end, two statements each
    assert.ok(maxMatch <= 4, `the drawn match (1..${maxMatch}) within what such a drain sends`);
  });

  it('validation draws a match among the two target sessions a run opens named pgferry validate', () => {
    const trigger = phaseTrigger('validation', SIZES.ci);
    assert.equal(trigger.maxMatch, 2);
    const validate = session('pgferry validate');
    assert.equal(trigger.match(validate, startup(validate)), true);
    assert.equal(trigger.match(validate, q('SELECT 1')), false);
  });
});

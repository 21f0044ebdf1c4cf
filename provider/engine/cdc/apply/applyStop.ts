// What a stream failure means for the migration. Most failures are the user's to fix in a minute
// (an operator or column missing on the target, a constraint or rule refusing a row, a privilege):
// the stream stops with its slot kept, says what failed and how to fix it, and continues
// exactly-once once fixed. Throwing the migration away for them would lose days of copying on a
// large database. Only a failure that no fix on either server can undo ends it: another runner
// holds the apply (this one lost its lease), or the slot is gone or has lost WAL it needs. Pure.
import { DEPENDENT_OBJECTS_STILL_EXIST, OBJECT_NOT_IN_PREREQUISITE_STATE, sqlStateWithin, UNDEFINED_OBJECT } from '../../connect/sqlstate';
import { errorMessage, isPgferryError } from '../../core/errors';
import type { StopCause } from '../../core/model';
import { ApplyFencedError } from './applyTarget';
import { StatementFailure } from './targetTransaction';

export type StreamFailure = { readonly kind: 'fatal' } | { readonly kind: 'stop'; readonly cause: StopCause };

/**
 * The slot cannot stream any more: dropped (42704 on START_REPLICATION) or invalidated past
 * max_slot_wal_keep_size (55000, "can no longer get changes from replication slot"). The changes it
 * held are gone, so no fix lets the stream continue: the database must be copied again.
 */
function slotLost(error: unknown): boolean {
  const message = errorMessage(error);
  const state = sqlStateWithin(error);
  return (
    (state === UNDEFINED_OBJECT && /replication slot/i.test(message)) ||
    (state === OBJECT_NOT_IN_PREREQUISITE_STATE && /replication slot|WAL/i.test(message))
  );
}

/** What the user can do, from the error's code and SQLSTATE class; the resume step is added by the caller. */
function fixFor(code: string, state: string | undefined, given: string | undefined): string {
  if (code === 'CDC_SCHEMA_CHANGE' || code === 'CDC_TARGET_DIVERGED' || code === 'CDC_TABLE_MISSING') return given ?? 'fix the target';
  if (state === '42883') {
    return 'the target lacks a function or operator this change needs (an extension missing, or in another schema than on the source): create it on the target';
  }
  if (state === '42P01' || state === '42703' || state === '42704') {
    return "the target's table differs from the source's (a table, column or type missing): make it match the source";
  }
  if (state === '42501') return 'the target user lacks a privilege this change needs: grant it on the target';
  if (state === '23502') {
    return 'a column NOT NULL on the target got no value from the change (a column the source does not have, made on the target alone?): give it a default (ALTER TABLE ... ALTER COLUMN ... SET DEFAULT ...) or allow NULL (... DROP NOT NULL) on the target; pgferry keeps the column and its values';
  }
  if (state?.startsWith('23')) {
    return 'a constraint on the target refused the change: the target has rows the source does not (something else writes to it?) or a constraint the source does not enforce; make the rows or the constraint match the source';
  }
  if (state === DEPENDENT_OBJECTS_STILL_EXIST) {
    // the source dropped a column or object that something on the target alone still uses (a
    // DBA's view): that object is not pgferry's, so no fix starts by dropping it with CASCADE
    return 'an object on the target depends on what the source dropped (named above) and pgferry did not make it: pgferry never drops it, nor with CASCADE; change it on the target so it no longer depends on it (or drop it yourself if it is no longer needed)';
  }
  if (state === 'P0001' || state?.startsWith('09') || state?.startsWith('2F') || state?.startsWith('38') || state?.startsWith('39')) {
    return 'a trigger, rule or function on the target refused the change: fix or disable it on the target';
  }
  return given ?? 'fix the cause on the target';
}

/** Decides whether a stream failure stops the stream (kept for a fix and a resume) or ends the migration. */
export function classifyStreamFailure(error: unknown): StreamFailure {
  if (error instanceof ApplyFencedError || slotLost(error)) return { kind: 'fatal' };
  if (isPgferryError(error) && error.category === 'canceled') return { kind: 'fatal' };
  const state = sqlStateWithin(error);
  const failed = findStatementFailure(error);
  const code = isPgferryError(error) ? error.code : 'CDC_APPLY';
  const fix = fixFor(code, state, isPgferryError(error) ? error.fix : undefined);
  return {
    kind: 'stop',
    cause: {
      code,
      ...(state ? { sqlState: state } : {}),
      ...(failed?.table ? { table: failed.table } : isPgferryError(error) && error.field ? { table: error.field } : {}),
      ...(failed ? { statement: failed.statement } : {}),
      error: isPgferryError(error) ? error.message : errorMessage(error),
      fix,
    },
  };
}

function findStatementFailure(error: unknown): StatementFailure | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof StatementFailure) return e;
  }
  return undefined;
}

// Which stream failures stop a stream for a fix and which end the migration, the fix each names,
// when a caller that asked for a retry stops waiting, how long a stopped stream waits before it
// is tried again, and the stop's record both directions keep (pure).
import assert from 'node:assert/strict';
import pg from 'pg';
import { PgferryError, waitingForApplyFix, type ApplyStop, type MigrationStatus } from '../../provider/engine';
import { classifyStreamFailure } from '../../provider/engine/cdc/apply/applyStop';
import { ApplyFencedError } from '../../provider/engine/cdc/apply/applyTarget';
import { StatementFailure } from '../../provider/engine/cdc/apply/targetTransaction';
import { LabelsRenamed } from '../../provider/engine/cdc/apply/watchWait';
import { waitDone } from '../../provider/cli/wait';
import { failureMessage } from '../../provider/resource/failures';
import { retryDelayMs } from '../../provider/engine/flow/watchLoop';
import { appliedPast, reverseStopCause, stopRecord } from '../../provider/engine/flow/streamStops';

/** A server error as pg's DatabaseError carries it. */
function serverError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code, severity: 'ERROR' });
}

function refused(code: string, message: string): StatementFailure {
  return new StatementFailure(
    'CDC_APPLY',
    `applying update to public.t on the target failed: ${message}`,
    '"public"."t"',
    'UPDATE "public"."t" AS t SET ...',
    {
      category: 'target',
      cause: serverError(code, message),
    },
    'public.t',
  );
}

const stop = (retryRequestsSeen: number): ApplyStop => ({
  since: '2026-11-23T10:00:00Z',
  lastAttemptAt: '2026-11-23T10:05:00Z',
  attempts: 3,
  retryRequestsSeen,
  code: 'CDC_APPLY',
  sqlState: '42883',
  table: '"public"."t"',
  error: 'operator does not exist: public.hstore = public.hstore',
  fix: 'create it on the target',
  appliedLsn: '0/1000',
});

function stopped(requests: number, seen: number): MigrationStatus {
  return {
    name: 'm',
    state: 'WaitingForUserAction',
    subState: 'WaitingForApplyFix',
    mode: 'Online',
    option: 'Migrate',
    message: 'database "shop": streaming stopped: operator does not exist',
    createdAt: '2026-11-23T09:00:00Z',
    validation: [],
    applyRetryRequests: requests,
    databases: [
      {
        database: 'shop',
        state: 'ApplyStopped',
        tables: { total: 1, queued: 0, loading: 0, completed: 1, errored: 0 },
        rowsCopied: 1,
        bytesCopied: 1,
        inserts: 0,
        updates: 0,
        deletes: 0,
        applyStop: stop(seen),
      },
    ],
    spec: {},
  };
}

describe('stream failures: stop for a fix, or end the migration', () => {
  it('stops on what the user can fix, naming the table, the statement, the SQLSTATE and a fix for its class', () => {
    const cases: [string, string, RegExp][] = [
      ['42883', 'operator does not exist: public.hstore = public.hstore', /function or operator/],
      ['23505', 'duplicate key value violates unique constraint "t_pkey"', /constraint on the target/],
      ['23503', 'insert or update on table "c" violates foreign key constraint "c_p_fkey"', /constraint on the target/],
      ['42703', 'column "x" does not exist', /table, column or type missing/],
      ['42501', 'permission denied for table t', /privilege/],
      ['P0001', 'refused by trigger', /trigger, rule or function/],
      ['2BP01', 'cannot drop column c of table t because other objects depend on it', /pgferry never drops it, nor with CASCADE/],
    ];
    for (const [code, message, fix] of cases) {
      const failure = classifyStreamFailure(refused(code, message));
      assert.equal(failure.kind, 'stop', code);
      if (failure.kind !== 'stop') continue;
      assert.equal(failure.cause.sqlState, code);
      assert.equal(failure.cause.table, '"public"."t"');
      assert.equal(failure.cause.statement, 'UPDATE "public"."t" AS t SET ...');
      assert.match(failure.cause.fix, fix, code);
      assert.match(failure.cause.error, new RegExp(message.slice(0, 20).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    }
  });

  it('stops on a source table change that is not followed, with its own fix', () => {
    const failure = classifyStreamFailure(
      new PgferryError('CDC_SCHEMA_CHANGE', 'source table public.t changed while streaming', {
        fix: 'make the same change on the target',
      }),
    );
    assert.deepEqual(failure.kind === 'stop' && [failure.cause.code, failure.cause.fix], [
      'CDC_SCHEMA_CHANGE',
      'make the same change on the target',
    ]);
  });

  it('fixes an enum label the target lacks by the rename when the apply found it renamed in place, else by adding it', () => {
    const enumRefused = (): StatementFailure => {
      const server = Object.assign(new pg.DatabaseError('invalid input value for enum public.state: "fresh"', 0, 'error'), {
        code: '22P02',
      });
      return new StatementFailure(
        'CDC_APPLY',
        `applying update to public.t on the target failed: ${server.message}`,
        '"public"."t"',
        'UPDATE ...',
        {
          category: 'target',
          cause: server,
        },
        'public.t',
      );
    };
    const added = classifyStreamFailure(enumRefused());
    const rename = `ALTER TYPE "public"."state" RENAME VALUE 'new' TO 'fresh'`;
    const renamed = classifyStreamFailure(new LabelsRenamed([rename], enumRefused()));
    assert.ok(added.kind === 'stop' && renamed.kind === 'stop');
    assert.match(added.cause.fix, /: ALTER TYPE public\.state ADD VALUE 'fresh'$/);
    assert.ok(renamed.cause.fix.endsWith(`not added beside the old one: ${rename}`), renamed.cause.fix);
    // the same stop otherwise: the refusal's message, SQLSTATE, table and statement
    assert.deepEqual({ ...renamed.cause, fix: '' }, { ...added.cause, fix: '' });
  });

  it('ends the migration when no fix can help: a lost lease, a slot dropped or invalidated', () => {
    assert.equal(classifyStreamFailure(new ApplyFencedError('CDC_APPLY_FENCED', 'another session holds the apply lock')).kind, 'fatal');
    assert.equal(classifyStreamFailure(serverError('42704', 'replication slot "s" does not exist')).kind, 'fatal');
    assert.equal(classifyStreamFailure(serverError('55000', 'can no longer get changes from replication slot "s"')).kind, 'fatal');
    // the same SQLSTATEs about other objects are fixable
    assert.equal(classifyStreamFailure(serverError('42704', 'type "public.hstore" does not exist')).kind, 'stop');
  });
});

describe('waiting on a stopped stream', () => {
  it('is over once every stopped stream was tried after the last retry asked for', () => {
    assert.equal(waitingForApplyFix(stopped(2, 2)), true);
    assert.equal(waitingForApplyFix(stopped(3, 2)), false, 'a retry asked for and not tried yet: keep waiting');
    assert.equal(waitingForApplyFix({ ...stopped(0, 0), subState: 'WaitingForCutoverTrigger' }), false);
  });

  it('ends a CLI wait and a Pulumi operation with the stop as the message', () => {
    assert.equal(waitDone('run')(stopped(1, 1)), true);
    assert.equal(waitDone('cutover')(stopped(1, 1)), true);
    assert.equal(waitDone('cancel')(stopped(1, 1)), false);
    assert.match(failureMessage(stopped(1, 1)) ?? '', /waiting for a fix: database "shop": streaming stopped/);
    assert.equal(failureMessage(stopped(2, 1)), undefined, 'a retry not tried yet is not a failure yet');
  });
});

describe('a stopped stream tried again on its own, in either direction (flow/watchLoop.ts retryDelayMs)', () => {
  it('waits 5 s after its first stop, doubles the wait at each stop after, and never waits more than 5 min', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7].map((attempts) => retryDelayMs(attempts)),
      [5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000],
    );
    assert.equal(retryDelayMs(1_000), 300_000);
    assert.equal(retryDelayMs(0), 5_000, 'a stream counted as never stopped waits as after its first stop');
  });
});

describe('a stream stop recorded, in either direction (flow/streamStops.ts stopRecord)', () => {
  const cause = { code: 'CDC_APPLY', sqlState: '23505', error: 'duplicate key', fix: 'make the rows match' };

  it('keeps the first stop’s since, counts each attempt and never moves where it stopped back', () => {
    const first = stopRecord(undefined, cause, { applied: 0x200n, began: Date.parse('2026-11-28T04:00:00Z'), requestsSeen: 1 });
    assert.deepEqual(
      [first.attempts, first.appliedLsn, first.lastAttemptAt, first.retryRequestsSeen],
      [1, '0/200', '2026-11-28T04:00:00.000Z', 1],
    );
    // a try that failed before it read its position (nothing applied yet) has not moved back
    const second = stopRecord(first, cause, { applied: 0n, requestsSeen: 2 });
    assert.deepEqual([second.since, second.attempts, second.appliedLsn, second.retryRequestsSeen], [first.since, 2, '0/200', 2]);
    assert.equal(appliedPast(second, 0x200n), false);
    assert.equal(appliedPast(second, 0x201n), true);
  });

  it('names a reverse stream’s cause and fix as a forward one’s in its own direction’s words, and a lost slot’s as a stop with its way out', () => {
    const duplicate = reverseStopCause(refused('23505', 'duplicate key value violates unique constraint "t_pkey"'));
    assert.deepEqual([duplicate.sqlState, duplicate.table], ['23505', '"public"."t"']);
    assert.match(duplicate.fix, /^a constraint on the old source refused the change: the old source has rows the new server does not/);
    assert.doesNotMatch(duplicate.fix, /\bthe (source|target)\b/);
    const lost = reverseStopCause(serverError('42704', 'replication slot "s" does not exist'));
    assert.match(lost.fix, /close the window \(`pgferry update --close-fallback`\)/);
    assert.equal(reverseStopCause('stopped').error, 'it ended (stopped)');
  });
});

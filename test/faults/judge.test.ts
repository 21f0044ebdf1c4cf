// The judge must be able to fail: identical databases compare equal, and a target with one row
// lost, one duplicated, one changed, an index missing and a trigger left disabled is reported
// for each, read back from real servers, and a large object rewritten or missing is named by OID. The outcome rule must be able to refuse a pass: a trial
// whose fault never happened, a monitor that never sampled, an error the source's application saw;
// and a campaign of N trials runs N whose fault happened. A writer fence (fenceWriters) must be kept
// where a database was cut over and gone everywhere else, and it explains the application's
// refused transactions only once the cutover was asked for with it.
import assert from 'node:assert/strict';
import { startPair, type ServerPair } from '../support';
import { drawTrials, extraDrawsAllowed } from '../../faults/draws';
import { judgeDatabase } from '../../faults/judge';
import { fenceProblems, liftFences, readFences, type FenceState } from '../../faults/leftovers';
import { fenceNamesOf } from '../../provider/engine/internal';
import { classify, unexpectedWorkloadErrors, type TrialResult } from '../../faults/outcome';
import { summarize } from '../../faults/report';
import { trialSeed } from '../../faults/rng';

const SCHEMA = `
CREATE TABLE keyed (id int PRIMARY KEY, body text);
CREATE TABLE keyless (line text);
CREATE INDEX keyed_body_idx ON keyed (body);
CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER keyed_noop AFTER INSERT ON keyed FOR EACH ROW EXECUTE FUNCTION noop();
INSERT INTO keyed SELECT g, repeat(md5(g::text), 100) FROM generate_series(1, 1000) g;
INSERT INTO keyless SELECT 'line ' || (g % 10) FROM generate_series(1, 100) g;
SELECT lo_from_bytea(0, 'large object');`;

describe('fault campaign judge', function () {
  this.timeout(120_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair();
    for (const c of [pair.source, pair.target]) {
      await c.query('CREATE DATABASE judged');
      await c.query(SCHEMA, [], 'judged');
    }
  });
  after(async () => pair?.stop());

  it('finds identical databases equal', async () => {
    const j = await judgeDatabase(pair.source, pair.target, 'judged');
    assert.deepEqual(j.catalogDiffs, []);
    assert.deepEqual(j.tables, []);
    assert.equal(j.rowsCompared, 1100);
    assert.equal(j.largeObjectsCompared, 1);
  });

  it('reads each large object back on both servers: one rewritten and one missing on the target are named by OID, the others compared equal', async () => {
    for (const c of [pair.source, pair.target]) {
      await c.query('CREATE DATABASE objects');
      await c.query(
        `SELECT lo_from_bytea(g, decode(repeat(md5(g::text), 64), 'hex')) FROM generate_series(424240, 424243) g`,
        [],
        'objects',
      );
    }
    const equal = await judgeDatabase(pair.source, pair.target, 'objects');
    assert.deepEqual([equal.catalogDiffs, equal.largeObjectsCompared], [[], 4]);
    await pair.target.query(`SELECT lo_put(424241, 100, 'x'); SELECT lo_unlink(424243)`, [], 'objects');
    const j = await judgeDatabase(pair.source, pair.target, 'objects');
    assert.deepEqual(
      j.catalogDiffs.map((d) => d.replace(/ owner .*/, '')),
      ['- large object 424241', '- large object 424243', '+ large object 424241'],
      j.catalogDiffs.join('\n'),
    );
    assert.equal(j.largeObjectsCompared, 4);
  });

  it('reports a lost, a duplicated and a changed row, a missing index and a disabled trigger', async () => {
    await pair.target.query(
      `DELETE FROM keyed WHERE id = 7;
       UPDATE keyed SET body = 'changed' WHERE id = 8;
       INSERT INTO keyless VALUES ('line 3');
       DROP INDEX keyed_body_idx;
       ALTER TABLE keyed DISABLE TRIGGER keyed_noop;`,
      [],
      'judged',
    );
    const j = await judgeDatabase(pair.source, pair.target, 'judged');
    const keyed = j.tables.find((t) => t.table === '"public"."keyed"');
    const keyless = j.tables.find((t) => t.table === '"public"."keyless"');
    assert.deepEqual({ lost: keyed?.lost, extra: keyed?.extra, changed: keyed?.changed }, { lost: 1, extra: 0, changed: 1 });
    assert.deepEqual({ lost: keyless?.lost, extra: keyless?.extra }, { lost: 0, extra: 1 });
    assert.ok(
      j.catalogDiffs.some((d) => d.startsWith('- index') && d.includes('keyed_body_idx')),
      j.catalogDiffs.join('\n'),
    );
    assert.ok(
      j.catalogDiffs.some((d) => d.startsWith('+ trigger') && d.includes('enabled=D')),
      j.catalogDiffs.join('\n'),
    );
  });

  it('reports what an application release changes and rows do not show: a default, a comment, a view, a function', async () => {
    await pair.source.query(
      `ALTER TABLE keyed ALTER COLUMN body SET DEFAULT 'none';
       COMMENT ON COLUMN keyed.body IS 'the text';
       CREATE VIEW bodies AS SELECT body FROM keyed;
       CREATE OR REPLACE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;`,
      [],
      'judged',
    );
    const j = await judgeDatabase(pair.source, pair.target, 'judged');
    const only = (prefix: string) => j.catalogDiffs.filter((d) => d.startsWith(prefix));
    assert.deepEqual(only('- default'), ["- default public.keyed.body 'none'::text"]);
    assert.deepEqual(only('- comment'), ['- comment column body of table public.keyed = the text']);
    assert.equal(only('- view').length, 1, j.catalogDiffs.join('\n'));
    assert.equal(only('- function').length, 1, j.catalogDiffs.join('\n'));
    assert.equal(only('+ function').length, 1, j.catalogDiffs.join('\n'));
  });

  it("leaves a bystander's column, index, table and large object out, and still finds a changed row beside its column", async () => {
    for (const c of [pair.source, pair.target]) {
      await c.query('CREATE DATABASE bystanders');
      await c.query(
        `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 50) g`,
        [],
        'bystanders',
      );
    }
    await pair.target.query(
      `ALTER TABLE t ADD COLUMN bystander_note text; UPDATE t SET bystander_note = 'dba';
       CREATE INDEX bystander_idx ON t (bystander_note); CREATE TABLE bystander_jobs (id int PRIMARY KEY);`,
      [],
      'bystanders',
    );
    const rows = await pair.target.query<{ oid: string }>(`SELECT lo_from_bytea(0, 'dba')::text AS oid`, [], 'bystanders');
    const options = { bystanders: { mark: 'bystander_', largeObjects: rows.map((r) => r.oid) } };
    const clean = await judgeDatabase(pair.source, pair.target, 'bystanders', options);
    assert.deepEqual([clean.catalogDiffs, clean.tables], [[], []]);
    const unmarked = await judgeDatabase(pair.source, pair.target, 'bystanders');
    assert.ok(
      unmarked.catalogDiffs.some((d) => d.includes('bystander_note')),
      unmarked.catalogDiffs.join('\n'),
    );
    await pair.target.query(`UPDATE t SET v = 'changed' WHERE id = 9`, [], 'bystanders');
    const changed = await judgeDatabase(pair.source, pair.target, 'bystanders', options);
    assert.deepEqual(
      changed.tables.map((t) => [t.table, t.changed, t.lost, t.extra]),
      [['"public"."t"', 1, 0, 0]],
    );
  });
});

/** A trial as the harness records it when everything held: a fault happened, Succeeded, both sides equal. */
function trial(over: Partial<TrialResult> = {}): TrialResult {
  return {
    index: 0,
    seed: 1,
    fault: 'sigkill',
    faultKind: 'sigkill',
    phase: 'streaming#3',
    fired: true,
    faulted: true,
    faultDetail: 'killed 4242',
    outcome: 'failed',
    reasons: [],
    totalMs: 60_000,
    finalState: 'Succeeded',
    lostRows: 0,
    extraRows: 0,
    changedRows: 0,
    rowsCompared: 20_000,
    resumes: 1,
    actions: [],
    monitor: {
      samples: 100,
      failedSamples: 0,
      maxLiveRunners: 1,
      longestOverlapMs: 0,
      twoWriterSamples: 0,
      twoWorkerSamples: 0,
      maxRetainedBytes: 1024,
    },
    judgements: [],
    workload: { transactions: 500, failures: 0, largeTransactionRows: 5000, truncates: 2, errors: [] },
    ...over,
  };
}

const LIMITS = { walBoundBytes: 256 * 1024 * 1024 };
const failedWith = (t: TrialResult, reason: RegExp): void => {
  assert.equal(classify(t, LIMITS), 'failed', t.reasons.join('\n'));
  assert.ok(
    t.reasons.some((r) => reason.test(r)),
    t.reasons.join('\n'),
  );
};

describe('fault campaign outcome: what counts as passed', () => {
  it('passes a trial whose fault happened and after which everything held', () => {
    const t = trial();
    assert.equal(classify(t, LIMITS), 'passed', t.reasons.join('\n'));
  });

  it("fails a trial whose bystander's object was harmed, or on which the migration stopped", () => {
    const item = { kind: 'large-object', moment: 'streaming', variant: 'bytes', database: 'a', made: true };
    failedWith(
      trial({ bystander: { items: [{ ...item, harm: ['dropped: large object 17196'] }] } }),
      /bystander large-object .*dropped: large object 17196/,
    );
    failedWith(
      trial({ finalState: 'Canceled', bystander: { items: [{ ...item, harm: [] }], blocked: 'DROP TABLE "public"."bystander_jobs";' } }),
      /stopped on a bystander's object: DROP TABLE/,
    );
    const t = trial({ bystander: { items: [{ ...item, harm: [] }] } });
    assert.equal(classify(t, LIMITS), 'passed', t.reasons.join('\n'));
  });

  it('does not count a trial whose fault did nothing (no runner alive to kill) as passed', () => {
    assert.equal(classify(trial({ faulted: false, faultDetail: 'no runner alive to signal' }), LIMITS), 'no-fault');
  });

  it('does not count a trial whose injection threw as passed', () => {
    assert.equal(classify(trial({ faulted: false, faultDetail: 'injection failed: pg_ctl failed' }), LIMITS), 'no-fault');
  });

  it('does not count a trial whose phase was never reached as passed', () => {
    assert.equal(classify(trial({ fired: false, faulted: false }), LIMITS), 'not-reached');
  });

  it('fails a migration that stopped although no fault happened', () => {
    failedWith(trial({ faulted: false, finalState: 'Failed', message: 'boom' }), /with no fault/);
  });

  it('fails a trial whose monitor never sampled (two runners at once would go unseen)', () => {
    const m = trial().monitor!;
    failedWith(trial({ monitor: { ...m, samples: 0, failedSamples: 40 } }), /monitor took no complete sample/);
    failedWith(trial({ monitor: undefined }), /monitor took no complete sample/);
  });

  it('fails a trial in which the source application saw an error no fault explains', () => {
    const errors = [{ at: 10, op: 'transaction', code: '55P03', message: 'canceling statement due to lock timeout' }];
    failedWith(trial({ workload: { ...trial().workload!, failures: 1, errors } }), /application saw 1 error/);
    const terminated = [{ at: 10, op: 'transaction', code: '57P01', message: 'terminating connection due to administrator command' }];
    failedWith(trial({ workload: { ...trial().workload!, failures: 1, errors: terminated } }), /application saw 1 error/);
    // errors past the ones kept are unknown: they count too
    failedWith(trial({ workload: { ...trial().workload!, failures: 3, errors: [] } }), /application saw 3 error/);
    failedWith(trial({ workload: undefined }), /no report from the source workload/);
  });

  it('passes a source restart whose connections the application lost, and a TRUNCATE that gave up on its own lock timeout (the copy holds its tables)', () => {
    const errors = [
      { at: 10, op: 'transaction', code: '57P01', message: 'terminating connection due to immediate shutdown command' },
      { at: 11, op: 'connect', code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:5432' },
      { at: 1_200, op: 'connect', code: '57P03', message: 'the database system is starting up' },
      { at: 1_300, op: 'transaction', message: 'Connection terminated unexpectedly' },
      { at: 14, op: 'truncate', code: '55P03', message: 'canceling statement due to lock timeout' },
    ];
    const window = { from: 10, to: 1_000 };
    const t = trial({
      fault: 'source-restart 1.0s',
      faultKind: 'source-restart',
      faultWindow: window,
      workload: { ...trial().workload!, failures: 5, errors },
    });
    assert.equal(classify(t, LIMITS), 'passed', t.reasons.join('\n'));
    assert.deepEqual(
      unexpectedWorkloadErrors(errors, undefined).map((e) => e.at),
      [10, 11, 1_200, 1_300],
    );
    assert.deepEqual(unexpectedWorkloadErrors(errors, window), []);
  });

  it('explains a lost connection only around the source restart: before it, or long after it is over, it is unexplained', () => {
    const lost = (at: number) => ({ at, op: 'transaction', code: '57P01', message: 'terminating connection due to administrator command' });
    const errors = [lost(5), lost(10), lost(11_000), lost(11_001), lost(30_000)];
    assert.deepEqual(
      unexpectedWorkloadErrors(errors, { from: 10, to: 1_000 }).map((e) => e.at),
      [5, 11_001, 30_000],
    );
    const t = trial({
      faultKind: 'source-restart',
      faultWindow: { from: 10, to: 1_000 },
      workload: { ...trial().workload!, failures: 1, errors: [lost(30_000)] },
    });
    failedWith(t, /application saw 1 error/);
  });
});

describe('fault campaign: the writer fence', function () {
  this.timeout(120_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair();
    await pair.source.query('CREATE DATABASE fenced');
  });
  after(async () => pair?.stop());

  it('reads a fence left on the source, its setting, its triggers and its passes table, and the trial lifts them', async () => {
    // the fence's triggers as footprint/fenceTriggers.ts makes them, on two tables, then its setting
    const fn = `pgferry.${fenceNamesOf('m', 'fenced').function}`;
    await pair.source.query(
      `CREATE SCHEMA pgferry; CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;
       CREATE UNLOGGED TABLE pgferry.${fenceNamesOf('m', 'fenced').passes} (pid int PRIMARY KEY, xact bigint NOT NULL);
       CREATE TABLE a (id int); CREATE TABLE b (id int);
       CREATE TRIGGER t BEFORE INSERT ON a FOR EACH STATEMENT EXECUTE FUNCTION ${fn}();
       CREATE TRIGGER t BEFORE INSERT ON b FOR EACH STATEMENT EXECUTE FUNCTION ${fn}();`,
      [],
      'fenced',
    );
    await pair.source.query('ALTER DATABASE fenced SET default_transaction_read_only = on');
    const states = new Map([['fenced', 'Canceled']]);
    const [before] = await readFences(pair, 'm', ['fenced'], states);
    assert.deepEqual(before, { database: 'fenced', onSource: 'on', record: undefined, state: 'Canceled', triggers: 2, passes: true });
    assert.match(fenceProblems([before!], true).join('\n'), /fence left on the source after Canceled/);
    assert.match(fenceProblems([before!], true).join('\n'), /the fence's trigger left on 2 table\(s\) of the source after Canceled/);
    assert.match(fenceProblems([before!], true).join('\n'), /the fence's passes table left on the source after Canceled/);
    await liftFences(pair.source, 'm', ['fenced']);
    const [after] = await readFences(pair, 'm', ['fenced'], states);
    assert.equal(after!.onSource, undefined);
    assert.equal(after!.triggers, 0);
    assert.equal(after!.passes, false);
    assert.deepEqual(fenceProblems([after!], true), []);
  });

  it('asks a cut-over database to keep its fence, and every other one to have none', () => {
    const f = (over: Partial<FenceState>): FenceState => ({
      database: 'a',
      onSource: 'on',
      record: 'kept',
      state: 'Succeeded',
      triggers: 3,
      passes: true,
      ...over,
    });
    assert.deepEqual(fenceProblems([f({})], true), []);
    assert.match(fenceProblems([f({ onSource: undefined })], true).join(), /default_transaction_read_only is not set/);
    assert.match(fenceProblems([f({ record: 'open' })], true).join(), /not kept/);
    assert.match(fenceProblems([f({ record: undefined })], true).join(), /not recorded as kept/);
    assert.deepEqual(fenceProblems([f({ state: 'Failed', onSource: undefined, record: undefined, triggers: 0, passes: false })], true), []);
    assert.match(
      fenceProblems([f({ state: 'Failed', onSource: undefined, record: 'open', triggers: 0 })], true).join(),
      /recorded and not kept/,
    );
    assert.match(fenceProblems([f({ state: 'Canceled', record: undefined })], true).join(), /left on the source after Canceled/);
    assert.match(fenceProblems([f({ triggers: 0 })], true).join(), /no table carries the fence's trigger/);
    assert.match(fenceProblems([f({ passes: false })], true).join(), /passes table is not on the source/);
    assert.match(
      fenceProblems([f({ state: 'Failed', onSource: undefined, record: undefined, triggers: 0 })], true).join(),
      /passes table left on the source after Failed/,
    );
    assert.match(fenceProblems([f({ state: 'Failed', onSource: undefined, record: undefined })], true).join(), /trigger left on 3 table/);
    assert.match(fenceProblems([f({})], false).join(), /no fence asked for/);
    assert.match(fenceProblems([f({ onSource: undefined, record: undefined })], false).join(), /no fence asked for/);
    assert.deepEqual(fenceProblems([f({ onSource: undefined, record: undefined, triggers: 0, passes: false })], false), []);
  });

  it("explains the sessions the fence ended and the transactions it refused, only after the fenced cutover's request", () => {
    const errors = [
      { at: 5, op: 'transaction', code: '25006', message: 'cannot execute INSERT in a read-only transaction' },
      { at: 6, op: 'transaction', code: '57P01', message: 'terminating connection due to administrator command' },
      { at: 10, op: 'transaction', code: '57P01', message: 'terminating connection due to administrator command' },
      { at: 11, op: 'transaction', message: 'Client has encountered a connection error and is not queryable' },
      { at: 12, op: 'transaction', code: '25006', message: 'cannot execute UPDATE in a read-only transaction' },
      { at: 13, op: 'transaction', code: '23505', message: 'duplicate key value violates unique constraint' },
    ];
    assert.deepEqual(
      unexpectedWorkloadErrors(errors, undefined, 10).map((e) => e.at),
      [5, 6, 13],
    );
    assert.deepEqual(
      unexpectedWorkloadErrors(errors, undefined).map((e) => e.at),
      [5, 6, 10, 11, 12, 13],
    );
    const fenced = trial({ workload: { ...trial().workload!, failures: 3, errors: errors.slice(2, 5), fencedFrom: 10 } });
    assert.equal(classify(fenced, LIMITS), 'passed', fenced.reasons.join('\n'));
  });
});

describe('fault campaign: a fallback window', () => {
  const workload = (over: Partial<NonNullable<TrialResult['workload']>> = {}) => ({
    transactions: 100,
    failures: 0,
    largeTransactionRows: 0,
    truncates: 0,
    errors: [],
    ...over,
  });
  const fellBack = (over: Partial<NonNullable<TrialResult['fallback']>> = {}): TrialResult =>
    trial({
      phase: 'fallback-drain#1',
      fallback: { requests: 1, fellBack: true, downtimeSeconds: [1.2, 0.8], targetWorkload: workload(), writesAgain: workload(), ...over },
    });

  it('passes a fall-back after which the old source took writes again without an error', () => {
    const t = fellBack();
    assert.equal(classify(t, LIMITS), 'passed', t.reasons.join('\n'));
  });

  it('fails a trial whose fall-back never completed, or after which the old source took no writes', () => {
    failedWith(fellBack({ fellBack: false }), /the fall-back did not complete \(1 request/);
    failedWith(fellBack({ writesAgain: workload({ transactions: 0 }) }), /the old source took no writes after the fall-back/);
  });

  it("counts windows the user closed rather than drop a bystander's foreign key as stopped safely, never as passed", () => {
    const closed = fellBack({
      fellBack: false,
      closed: 'the reverse stream stopped: TRUNCATE of public.notes refused',
      writesAgain: undefined,
    });
    assert.equal(classify(closed, LIMITS), 'stopped-safely', closed.reasons.join('\n'));
    failedWith(fellBack({ fellBack: false, closed: 'x', targetWorkload: workload({ failures: 1 }) }), /no fault explains/);
  });

  it('fails a key drawn twice on the old source after the fall-back', () => {
    const collision = { at: 50, op: 'transaction', code: '23505', message: 'duplicate key value violates unique constraint "orders_pkey"' };
    failedWith(
      fellBack({ writesAgain: workload({ failures: 1, errors: [collision] }) }),
      /the application back on the old source saw 1 error\(s\): transaction 23505/,
    );
  });

  it("explains a duplicate key the DBA's own unique index on the new server refused, and no other index's", () => {
    const refused = (index: string) => ({
      at: 50,
      op: 'transaction',
      code: '23505',
      message: `duplicate key value violates unique constraint "${index}"`,
    });
    const byDba = fellBack({ targetWorkload: workload({ failures: 1, errors: [refused('bystander_invalid_idx')] }) });
    assert.equal(classify(byDba, LIMITS), 'passed', byDba.reasons.join('\n'));
    failedWith(
      fellBack({ targetWorkload: workload({ failures: 1, errors: [refused('notes_pkey')] }) }),
      /the new server's application saw 1 error\(s\) no fault explains: transaction 23505/,
    );
  });

  it("explains the new server's application's errors by the fall-back's fence from its request on, and its own clock", () => {
    const refused = { at: 5000, op: 'transaction', code: '25006', message: 'cannot execute INSERT in a read-only transaction' };
    const explained = fellBack({ targetWorkload: workload({ failures: 1, errors: [refused], fencedFrom: 4000 }) });
    assert.equal(classify(explained, LIMITS), 'passed', explained.reasons.join('\n'));
    failedWith(
      fellBack({ targetWorkload: workload({ failures: 1, errors: [refused], fencedFrom: 6000 }) }),
      /the new server's application saw 1 error\(s\) no fault explains/,
    );
    // a target restart 100-102 s into the source's clock is 0-2 s into the new server's application's
    const lost = { at: 1000, op: 'transaction', code: '57P01', message: 'terminating connection due to administrator command' };
    const restart = { faultKind: 'target-restart', faultWindow: { from: 100_000, to: 102_000 } };
    const inWindow = {
      ...fellBack({ targetWorkload: workload({ failures: 1, errors: [lost] }), targetWorkloadFromMs: 100_000 }),
      ...restart,
    };
    assert.equal(classify(inWindow, LIMITS), 'passed', inWindow.reasons.join('\n'));
    failedWith(
      { ...fellBack({ targetWorkload: workload({ failures: 1, errors: [lost] }), targetWorkloadFromMs: 0 }), ...restart },
      /no fault explains/,
    );
  });
});

describe('fault campaign draws: N trials are N trials whose fault happened', () => {
  it('draws another trial for each one whose fault never happened, and reports them all', async () => {
    const ran: number[] = [];
    const { results, short } = await drawTrials({ trials: 3, seed: 14 }, async (index, seed) => {
      ran.push(seed);
      const t = trial({ index, seed, faulted: index !== 1 && index !== 2 });
      t.outcome = classify(t, LIMITS);
      return t;
    });
    assert.equal(short, false);
    assert.equal(results.length, 5);
    assert.equal(results.filter((r) => r.faulted).length, 3);
    assert.deepEqual(
      ran,
      [0, 1, 2, 3, 4].map((i) => trialSeed(14, i)),
      'trial i keeps its seed, so the first ones replay as before',
    );
    const summary = summarize(results, 1);
    assert.equal(summary.trials, 3);
    assert.deepEqual(summary.withoutFault, { 'no-fault': 2 });
  });

  it('gives up after a bounded number of draws, and says so', async () => {
    const { results, short } = await drawTrials({ trials: 2, seed: 14 }, async (index, seed) => trial({ index, seed, faulted: false }));
    assert.equal(short, true);
    assert.equal(results.length, 2 + extraDrawsAllowed(2));
  });

  it('replays exactly the seeds asked for', async () => {
    const { results } = await drawTrials({ trials: 50, seed: 14, replay: [7, 8] }, async (index, seed) =>
      trial({ index, seed, faulted: false }),
    );
    assert.deepEqual(
      results.map((r) => r.seed),
      [7, 8],
    );
  });
});

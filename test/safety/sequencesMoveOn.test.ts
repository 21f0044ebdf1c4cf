// Issue 14's campaign (seed 13936862): a source restarted during the cutover's sequence copy came
// back with its sequences up to 32 values ahead (nextval logs ahead of use), and the cutover's exact
// sequence check stopped a migration that had lost nothing. The cutover now copies sequence values
// once more when they alone differ, and compares again (switchover/sequenceRecheck.ts). Anything else
// that differs keeps stopping it, with the target's sequences left as they were. The last test
// goes through a real cutover: the source's sequences move on while the cutover's sequence copy
// is held on its way to the target, and the cutover's second look copies them again. A sequence
// the source makes right before the cutover, which the target does not have yet, fails nothing: the
// cutover's schema check makes it and the recheck copies its value (fault campaign, seed 691907590).
import assert from 'node:assert/strict';
import { cancelMigration, requestCutover, startMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import type { ServerSpec } from '../../provider/engine/input/migrationSpec';
import { syncSequences } from '../../provider/engine/switchover/sequenceSync';
import { recheckMovedSequences } from '../../provider/engine/switchover/sequenceRecheck';
import { verifyDatabases } from '../../provider/engine/verify/verifyTables';
import { FaultProxy } from '../support/faultProxy';
import { pairSpec, processAlive, serverSpec, startPair, until, waitForStatus, type ServerPair } from '../support';
import { events as catalogEvents, get } from '../../provider/engine/control/store';

const SCHEMA = `
CREATE TABLE orders (id serial PRIMARY KEY, item text);
CREATE SEQUENCE invoice_no START 1000 INCREMENT 5;
CREATE SEQUENCE "Odd ""name"" seq" INCREMENT -1 START -1;`;

async function nextValues(cluster: ServerPair['source'], database = 'shop'): Promise<string[]> {
  const rows = await cluster.query<{ v: string }>(
    `SELECT format('%s %s', sequencename, coalesce(last_value::text, 'not called')) AS v FROM pg_sequences ORDER BY 1`,
    [],
    database,
  );
  return rows.map((r) => r.v);
}

/** Starts an online migration, waits until it streams, runs `beforeCutover`, asks the cutover on `target` and asserts it Succeeded. */
async function cutOverOnline(
  spec: Parameters<typeof startMigration>[0],
  target: ServerSpec,
  store: CatalogConnection,
  beforeCutover: () => Promise<void>,
): Promise<void> {
  const name = spec.migrationName;
  await startMigration(spec);
  const streaming = await waitForStatus(store, name, (st) => st.subState === 'WaitingForCutoverTrigger' || st.state !== 'InProgress');
  assert.equal(streaming.subState, 'WaitingForCutoverTrigger', streaming.message);
  await beforeCutover();
  await requestCutover(target, name);
  const done = await waitForStatus(
    store,
    name,
    (st) => st.state === 'Succeeded' || st.state === 'Failed' || /cutover stopped/.test(st.message ?? ''),
  );
  assert.equal(done.state, 'Succeeded', done.message);
}

/** A migration that did not succeed is canceled; either way its runner is waited for until it exits. */
async function endMigration(target: ServerSpec, store: CatalogConnection, name: string): Promise<void> {
  const last = await get(store, name);
  if (last && last.state !== 'Succeeded') {
    await cancelMigration(target, name).catch(() => undefined);
    await waitForStatus(store, name, (st) => st.state === 'Canceled' || st.state === 'Failed').catch(() => undefined);
  }
  // the runner records the end, then releases slot, publication and origin, then exits
  const pid = last?.runner?.pid;
  if (pid !== undefined) await until('the runner to exit', async () => (processAlive(pid) ? undefined : true)).catch(() => undefined);
}

/** An online migration whose cutover is asked right after the source makes and uses a sequence: Succeeded, the sequence made on the target with its value. */
async function cutoverAfterLateSequence(pair: ServerPair): Promise<void> {
  await pair.source.query('CREATE DATABASE seqlate');
  await pair.source.query(SCHEMA, [], 'seqlate');
  const spec = pairSpec(pair, 'seqlate-online', ['seqlate'], { mode: 'Online', option: 'Migrate' });
  const store = new CatalogConnection(serverSpec(pair.target));
  try {
    // made and used on the source, the cutover asked at once: before the schema watch's next look
    await cutOverOnline(spec, serverSpec(pair.target), store, () =>
      pair.source
        .query(`CREATE SEQUENCE release_seq START 50; SELECT nextval('release_seq') FROM generate_series(1, 3)`, [], 'seqlate')
        .then(() => undefined),
    );
    assert.deepEqual(await nextValues(pair.target, 'seqlate'), await nextValues(pair.source, 'seqlate'));
    const [next] = await pair.target.query<{ v: string }>(`SELECT nextval('release_seq')::text AS v`, [], 'seqlate');
    assert.equal(next!.v, '53', 'the target hands out the value after the three the source handed out');
  } finally {
    await endMigration(serverSpec(pair.target), store, 'seqlate-online');
    await store.close();
  }
}

describe('cutover: sequences that moved on after they were copied (seed 13936862)', function () {
  this.timeout(120_000);
  let pair: ServerPair;
  const spec = () => pairSpec(pair, 'seqmove', ['shop']);

  before(async () => {
    pair = await startPair();
    for (const cluster of [pair.source, pair.target]) {
      await cluster.query('CREATE DATABASE shop');
      await cluster.query(SCHEMA, [], 'shop');
    }
  });
  after(async () => pair?.stop());

  beforeEach(async () => {
    // as the cutover leaves them: rows applied, sequence values copied
    await pair.source.query(`TRUNCATE orders; INSERT INTO orders (item) SELECT 'i' || g FROM generate_series(1, 50) g`, [], 'shop');
    await pair.target.query(`TRUNCATE orders; INSERT INTO orders SELECT g, 'i' || g FROM generate_series(1, 50) g`, [], 'shop');
    await syncSequences(spec().source, spec().target, 'shop');
    assert.deepEqual(await nextValues(pair.target), await nextValues(pair.source));
  });

  it('a source sequence handed out after the copy (no row written) is copied again and the cutover verifies', async () => {
    await pair.source.query(`SELECT nextval('orders_id_seq') FROM generate_series(1, 32)`, [], 'shop');
    await pair.source.query(`SELECT nextval('invoice_no'), nextval('"Odd ""name"" seq"')`, [], 'shop');
    const verified = await verifyDatabases(spec(), { databases: ['shop'] });
    assert.equal(verified.ok, false, 'the first look must see the sequences that moved on');
    assert.match(verified.firstMismatch ?? '', /\(sequences\)/);

    const copied: string[] = [];
    const report = await recheckMovedSequences(spec(), verified, undefined, (database, count) =>
      copied.push(`${database}:${count.copied}`),
    );
    assert.equal(report.ok, true, report.firstMismatch);
    assert.deepEqual(copied, ['shop:3']);
    assert.deepEqual(await nextValues(pair.target), await nextValues(pair.source));
    const [next] = await pair.target.query<{ id: string }>(`SELECT nextval('orders_id_seq')::text AS id`, [], 'shop');
    assert.equal(next!.id, '83', 'the target hands out the value after the 32 the source handed out');
  });

  it('a table that differs as well stops the cutover and leaves the target sequences as they were', async () => {
    await pair.source.query(`SELECT nextval('invoice_no')`, [], 'shop');
    await pair.target.query(`DELETE FROM orders WHERE id = 7`, [], 'shop');
    const before = await nextValues(pair.target);
    const verified = await verifyDatabases(spec(), { databases: ['shop'] });
    const report = await recheckMovedSequences(spec(), verified, undefined, () => assert.fail('nothing may be copied again'));
    assert.equal(report, verified);
    assert.equal(report.ok, false);
    assert.deepEqual(await nextValues(pair.target), before);
  });

  it('a sequence missing on the target stops the cutover and nothing is copied again', async () => {
    await pair.source.query(`CREATE SEQUENCE only_here; SELECT nextval('invoice_no')`, [], 'shop');
    try {
      const before = await nextValues(pair.target);
      const verified = await verifyDatabases(spec(), { databases: ['shop'] });
      const report = await recheckMovedSequences(spec(), verified, undefined, () => assert.fail('nothing may be copied again'));
      assert.equal(report, verified);
      assert.equal(report.ok, false);
      assert.match(report.firstMismatch ?? '', /\(sequences\).*\(and 1 more\)/);
      assert.deepEqual(await nextValues(pair.target), before);
    } finally {
      await pair.source.query('DROP SEQUENCE only_here', [], 'shop');
    }
  });
  it('a sequence only the source has is left to the schema check: the others are copied, nothing thrown (seed 691907590)', async () => {
    await pair.source.query(`CREATE SEQUENCE made_late START 70; SELECT nextval('made_late'), nextval('invoice_no')`, [], 'shop');
    try {
      assert.equal((await syncSequences(spec().source, spec().target, 'shop')).copied, 3, 'the three the target has');
      const [late] = await pair.target.query<{ t: string | null }>(`SELECT to_regclass('made_late')::text AS t`, [], 'shop');
      assert.equal(late!.t, null, 'not made by the copy of values');
      const [source] = await nextValues(pair.source).then((v) => v.filter((s) => s.startsWith('invoice_no')));
      const [target] = await nextValues(pair.target).then((v) => v.filter((s) => s.startsWith('invoice_no')));
      assert.equal(target, source);
    } finally {
      await pair.source.query('DROP SEQUENCE made_late', [], 'shop');
    }
  });

  it('a real cutover asked right after the source makes a sequence makes it on the target with its value, and succeeds', () =>
    cutoverAfterLateSequence(pair));

  it('a real cutover copies sequences again when the source moves them on after its first copy, and succeeds', async () => {
    await pair.source.query('CREATE DATABASE seqcut');
    await pair.source.query(`${SCHEMA} INSERT INTO orders (item) SELECT 'i' || g FROM generate_series(1, 50) g`, [], 'seqcut');
    // the target is reached through a proxy that holds the cutover's first setval on its way there
    const proxy = new FaultProxy('target', pair.target.port);
    await proxy.start();
    let movedAt: string[] | undefined;
    proxy.onMessage = (conn, message) => {
      const cutoverSetval =
        conn.startup?.application_name === 'pgferry cutover' &&
        (message.type === 'Q' || message.type === 'B') &&
        /\bsetval\b/.test(message.sql ?? '');
      if (!cutoverSetval || movedAt) return false;
      movedAt = [];
      // the application hands out values (no row written) after the cutover read the sequences
      void pair.source
        .query(`SELECT nextval('orders_id_seq'), nextval('invoice_no') FROM generate_series(1, 7)`, [], 'seqcut')
        .then(async () => (movedAt = await nextValues(pair.source, 'seqcut')))
        .finally(() => proxy.release(conn));
      return true;
    };
    const spec = pairSpec(pair, 'seqcut-online', ['seqcut'], { mode: 'Online', option: 'Migrate' });
    const held = { ...spec, target: { ...spec.target, port: proxy.port } };
    const store = new CatalogConnection(serverSpec(pair.target));
    try {
      await cutOverOnline(held, serverSpec(pair.target), store, async () => undefined);
      assert.ok(movedAt && movedAt.length === 3, 'the source moved its sequences on during the cutover');
      assert.deepEqual(
        await nextValues(pair.target, 'seqcut'),
        movedAt,
        'the target holds the values the source reached after the first copy',
      );
      const events = await catalogEvents(store, 'seqcut-online', 200);
      assert.ok(
        events.some((e) => /sequences moved on the source after they were copied.*\d+ value\(s\) copied again/.test(e.message)),
        events.map((e) => e.message).join('\n'),
      );
      const [next] = await pair.target.query<{ id: string }>(`SELECT nextval('orders_id_seq')::text AS id`, [], 'seqcut');
      assert.equal(next!.id, '58', 'the target hands out the value after the 57 the source used or handed out');
    } finally {
      proxy.onMessage = undefined;
      await endMigration(serverSpec(pair.target), store, 'seqcut-online');
      await store.close();
      await proxy.close();
    }
  });
});

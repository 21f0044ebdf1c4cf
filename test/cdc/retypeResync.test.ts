// Issue 49: a column retyped on the source to values the target cannot derive (another type with a
// USING expression only the source ran, a numeric narrowed) no longer stops the stream: at the
// relation message that carries the new shape the target table is emptied and given the source's
// type (as format_type prints it, as pg_dump does), and the table is copied again at a pinned source
// position while the other tables stream (a resync), then streamed from there, exactly once. A
// writer writes that table and another throughout, on a superuser target and on a managed-like one;
// after the cutover (Succeeded: its own schema check and verification passed) the rows of both
// tables and the columns' types are read back from the target and compared with the source's.
// A second retype asked for between the first resync's copy and the end of its request (held there
// by hold point resync-copied) is copied again too: the target's rows come back, none left out.
import assert from 'node:assert/strict';
import { mkdtempSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { requestCutover, runMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { events as catalogEvents, get as getMigration } from '../../provider/engine/control/store';
import { tableResyncs } from '../../provider/engine/control/tableResyncs';
import { isFinalState } from '../../provider/engine/core/model';
import type { MigrationSpec } from '../../provider/engine/input/migrationSpec';
import {
  endIfRunning,
  makeManagedTarget,
  pairSpec,
  serverSpec,
  startPair,
  startSourceWriter,
  until,
  waitForStatus,
  type ServerPair,
} from '../support';
import { heldFile, isHeld, startHeldAt } from '../support/holdPoints';
import { rowsOf } from './harness';

const DB = 'retype';
const ROWS = 3_000;

const SCHEMA = `
CREATE TABLE t (id int PRIMARY KEY, code int, amount numeric(12, 4) NOT NULL DEFAULT 1.5, note text);
CREATE TABLE other (id int PRIMARY KEY, v int NOT NULL);
INSERT INTO t SELECT g, g * 3, g * 1.2345, 'row ' || g FROM generate_series(1, ${ROWS}) g;
INSERT INTO other SELECT g, g FROM generate_series(1, 1000) g;`;

/** The application's n-th transaction, valid in either shape of t: a new row of t, an update of each table. */
async function write(c: pg.Client, n: number): Promise<void> {
  await c.query('INSERT INTO t (id, amount, note) VALUES ($1, $2, $3)', [100_000 + n, (n % 1000) + 0.0625, `w${n}`]);
  await c.query('UPDATE t SET amount = amount + 1, note = $1 WHERE id = $2', [`u${n}`, 1 + ((n * 7919) % ROWS)]);
  await c.query('UPDATE other SET v = v + 1 WHERE id = $1', [1 + (n % 1000)]);
}

const SHAPE = `SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) AS s
                 FROM pg_attribute WHERE attrelid = 't'::regclass AND attnum > 0 AND NOT attisdropped`;

async function scenario(pair: ServerPair, name: string, target: MigrationSpec['target']): Promise<void> {
  await pair.source.query(`CREATE DATABASE ${DB}`);
  await pair.source.query(SCHEMA, [], DB);
  const spec = { ...pairSpec(pair, name, [DB], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true }), target };
  const store = new CatalogConnection(target);
  const running = runMigration(spec);
  const writer = startSourceWriter(pair.source, DB, write);
  const writes = (count: number) => until('the application to write', async () => (writer.committed() >= count ? true : undefined), 60_000);
  try {
    const ready = await waitForStatus(store, name, (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state));
    assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
    await writes(writer.committed() + 20);
    // values only the source can compute: another type through USING, and a narrowing that rounds
    await pair.source.query(`ALTER TABLE t ALTER COLUMN code TYPE text USING 'c-' || code`, [], DB);
    await writes(writer.committed() + 20);
    await pair.source.query('ALTER TABLE t ALTER COLUMN amount TYPE numeric(10, 2)', [], DB);
    await pair.source.query(`UPDATE t SET code = 'late' WHERE id = 7`, [], DB);
    await writes(writer.committed() + 20);
    const transactions = await writer.stop();
    await until(
      'the table copied again and the last write on the target',
      async () => {
        const told = (await catalogEvents(store, name, 200)).map((e) => e.message).join('\n');
        const late = await pair.target.query(`SELECT 1 FROM t WHERE id = 7 AND code::text = 'late'`, [], DB).catch(() => []);
        return /resynchronised "public"\."t"|resynchronised public\.t/.test(told) && late.length > 0 ? true : undefined;
      },
      180_000,
      500,
    ).catch(async (error: Error) => {
      const s = await getMigration(store, name);
      const told = (await catalogEvents(store, name, 20)).map((e) => `${e.level}: ${e.message.slice(0, 300)}`).join('\n  ');
      throw new Error(`${error.message}: ${s?.subState} ${s?.message ?? ''}\n  ${told}`);
    });
    const events = (await catalogEvents(store, name, 200)).map((e) => e.message).join('\n');
    // told at the relation message of the retype, or, where the apply met it after the narrowing
    // (the catalog moved on again), as a reshape: copied again at a pin either way, never a stop
    assert.match(
      events,
      /column code retyped to text, values the target cannot derive: the table copied again at a pinned position|column code changed type, a change whose values the target cannot derive, and the source's catalog has changed again since: the table given the source's columns and copied again/,
    );
    assert.doesNotMatch(events, /streaming stopped/);
    await requestCutover(target, name);
    const done = await Promise.race([
      running,
      waitForStatus(store, name, (s) => /cutover stopped/.test(s.message ?? '') || isFinalState(s.state)),
    ]);
    assert.equal(done.state, 'Succeeded', `${done.message} ${done.verification?.firstMismatch ?? ''}`);
    assert.deepEqual(await pair.target.query(SHAPE, [], DB), [{ s: 'id integer, code text, amount numeric(10,2), note text' }]);
    assert.deepEqual(await pair.target.query(SHAPE, [], DB), await pair.source.query(SHAPE, [], DB));
    for (const table of ['t', 'other']) assert.deepEqual(await rowsOf(pair.target, DB, table), await rowsOf(pair.source, DB, table), table);
    const [code] = await pair.target.query<{ code: string }>('SELECT code FROM t WHERE id = 2', [], DB);
    assert.equal(code?.code, 'c-6');
    console.log(`      ${name}: ${transactions} writer transactions, ${(await rowsOf(pair.target, DB, 't')).length} rows of t`);
  } finally {
    await writer.stop().catch(() => undefined);
    await endIfRunning(spec, running);
    await store.close();
  }
}

/** The target's t as the stream left it: the type of `column`, and whether row `id` has `code`. */
async function targetT(pair: ServerPair, column: string, id: number, code: string): Promise<{ type?: string; has: boolean }> {
  const [type] = await pair.target.query<{ t: string }>(
    `SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = $1`,
    [column],
    DB,
  );
  const has = await pair.target.query(`SELECT 1 FROM t WHERE id = $1 AND code::text = $2`, [id, code], DB);
  return { ...(type ? { type: type.t } : {}), has: has.length > 0 };
}

/**
 * The first retype's resync holds after its copy committed, its request not ended yet; the second
 * retype reaches the apply there, which empties t and asks for t again. Once the hold is let go, t
 * is copied a second time: its rows, the last write among them, are read back from the target.
 */
async function askedAgainAfterCopy(pair: ServerPair): Promise<void> {
  const name = 'retype-again';
  await pair.source.query(`CREATE DATABASE ${DB}`);
  await pair.source.query(SCHEMA, [], DB);
  const spec = pairSpec(pair, name, [DB], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true });
  const store = new CatalogConnection(spec.target);
  const holdDir = mkdtempSync(path.join(os.tmpdir(), 'pgferry-hold-'));
  const point = 'resync-copied:public.t';
  try {
    await startHeldAt(spec, point, holdDir);
    const ready = await waitForStatus(store, name, (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state));
    assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
    await pair.source.query(`ALTER TABLE t ALTER COLUMN code TYPE text USING 'c-' || code`, [], DB);
    await pair.source.query(`UPDATE t SET note = 'first' WHERE id = 1`, [], DB);
    await until('the first resync held after its copy', async () => ((await isHeld(point, holdDir)) ? true : undefined), 180_000);
    await pair.source.query('ALTER TABLE t ALTER COLUMN amount TYPE numeric(10, 2)', [], DB);
    await pair.source.query(`UPDATE t SET code = 'late' WHERE id = 7`, [], DB);
    await until('the apply to retype amount on the target', async () =>
      (await targetT(pair, 'amount', 7, 'late')).type === 'numeric(10,2)' ? true : undefined,
    );
    const [asked] = (await tableResyncs(store, name)).filter((r) => r.table === 'public.t');
    assert.equal(asked?.doneAt, undefined, 'the first request still pending when the second came');
    await fs.rm(heldFile(point, holdDir));
    await until(
      't copied again and its last write on the target',
      async () => {
        const [r] = (await tableResyncs(store, name)).filter((x) => x.table === 'public.t');
        return r?.doneAt && (await targetT(pair, 'amount', 7, 'late')).has ? true : undefined;
      },
      120_000,
      500,
    ).catch(async (error: Error) => {
      const s = await getMigration(store, name);
      const [r] = (await tableResyncs(store, name)).filter((x) => x.table === 'public.t');
      const rows = await pair.target.query<{ n: number }>('SELECT count(*)::int AS n FROM t', [], DB);
      throw new Error(`${error.message}: ${s?.subState} ${s?.message ?? ''}; request done ${String(r?.doneAt)}, ${rows[0]?.n} rows of t`);
    });
    const told = (await catalogEvents(store, name, 200)).map((e) => e.message).filter((m) => /resynchronised public\.t:/.test(m));
    assert.equal(told.length, 2, told.join('\n'));
    await requestCutover(spec.target, name);
    const done = await waitForStatus(store, name, (s) => /cutover stopped/.test(s.message ?? '') || isFinalState(s.state));
    assert.equal(done.state, 'Succeeded', `${done.message} ${done.verification?.firstMismatch ?? ''}`);
    assert.deepEqual(await pair.target.query(SHAPE, [], DB), [{ s: 'id integer, code text, amount numeric(10,2), note text' }]);
    for (const table of ['t', 'other']) assert.deepEqual(await rowsOf(pair.target, DB, table), await rowsOf(pair.source, DB, table), table);
    assert.equal((await rowsOf(pair.target, DB, 't')).length, ROWS);
  } finally {
    await fs.rm(heldFile(point, holdDir), { force: true });
    await endIfRunning(
      spec,
      waitForStatus(store, name, (st) => isFinalState(st.state)).catch(() => undefined),
    );
    await store.close();
    await fs.rm(holdDir, { recursive: true, force: true });
  }
}

describe('a column retyped to values the target cannot derive: the table copied again at a pin (issue 49)', function () {
  this.timeout(600_000);
  let pair: ServerPair | undefined;
  afterEach(async () => {
    await pair?.stop();
    pair = undefined;
  });

  it('superuser target: int to text USING and numeric narrowed, while a writer writes it and another table', async () => {
    pair = await startPair(15, 15);
    await scenario(pair, 'retype-super', serverSpec(pair.target));
  });

  it('managed-like target: the same', async () => {
    pair = await startPair(15, 15);
    await scenario(pair, 'retype-managed', await makeManagedTarget(pair.target));
  });

  it('a retype asked for after the first resync copied, before its request ended: t copied again, every row equal after the cutover', async () => {
    pair = await startPair(15, 15);
    await askedAgainAfterCopy(pair);
  });
});

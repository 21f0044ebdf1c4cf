// A table renamed on the source with its sequence, primary key, index, enum type and domain (as
// TypeORM's renameTable does), a large transaction ahead of each rename so that the apply is far
// behind, rows written under the new names at once. A look of the schema watch then sees the table
// only on the target (the apply renames it at its next relation message) and its parts only on the
// source under their new names: it leaves them to the table's follow. Once the apply has renamed
// the table, nothing on the source changes again: the parts stayed under their old names on the
// target until the source's schema moved, and the cutover's schema check stopped on them.
//
// The first round forces that order: the target's copy of the large table is locked, so the apply
// stops before the rename, and the look that finds the table gone is held (a hold point) until the
// apply has renamed the table and passed every row; the look then finds nothing left to wait for.
// The next rounds run free, as an application would, the apply and the looks racing as they come.
// Each round reads back the names of every relation, type and constraint on both servers; at the
// end the rows of both tables (md5 of each, in key order), the cutover and the next sequence value,
// and no warning that told a renamed table or its parts as only on one server, to create or drop.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import type pg from 'pg';
import { requestCutover } from '../../provider/engine';
import { events as catalogEvents } from '../../provider/engine/control/store';
import { isFinalState } from '../../provider/engine/core/model';
import { parseLsn } from '../../provider/engine/core/lsn';
import { endIfRunning, startPair, until, waitForStatus, type Cluster, type ServerPair } from '../support';
import { heldFile, holdsInThisProcess, isHeld } from '../support/holdPoints';
import { eventsTold } from '../support/toldEvents';
import { followingMigration, type FollowingMigration } from './harness';

const DB = 'renamerace';

const SCHEMA = `
CREATE TYPE t0_status AS ENUM ('new', 'paid');
CREATE DOMAIN t0_amount AS int CHECK (VALUE >= 0);
CREATE TABLE t0 (id serial PRIMARY KEY, status t0_status NOT NULL DEFAULT 'new', amount t0_amount);
CREATE INDEX t0_status_idx ON t0 (status);
CREATE TABLE bulk (id bigint PRIMARY KEY, pad text);
INSERT INTO t0 (status, amount) SELECT 'paid', g FROM generate_series(1, 100) g;`;

/** The first round forced, then rounds run free. */
const ROUNDS = 3;
/** Rows of the large transaction ahead of each rename. */
const BLOCK = 100_000;

/** The watch's hold point in a look that found a streamed table only on the target (flow/schemaWatch.ts). */
const HELD_LOOK = `schema-watch-table-gone:${DB}`;

/** One rename round, as TypeORM's renameTable does it, then rows under the new names in the next transactions. */
function round(i: number): string {
  const [from, to] = [`t${i}`, `t${i + 1}`];
  // the table written first, as by an application at work: the stream knows it and its types by their old names
  return `UPDATE ${from} SET amount = amount WHERE id = 1;
INSERT INTO bulk SELECT g, repeat('x', 20) FROM generate_series(${i * BLOCK + 1}, ${(i + 1) * BLOCK}) g;
BEGIN;
ALTER TABLE ${from} RENAME TO ${to};
ALTER SEQUENCE ${from}_id_seq RENAME TO ${to}_id_seq;
ALTER INDEX ${from}_status_idx RENAME TO ${to}_status_idx;
ALTER TABLE ${to} RENAME CONSTRAINT ${from}_pkey TO ${to}_pkey;
ALTER TYPE ${from}_status RENAME TO ${to}_status;
ALTER DOMAIN ${from}_amount RENAME TO ${to}_amount;
COMMIT;
INSERT INTO ${to} (status, amount) SELECT 'new', g FROM generate_series(1, 20) g;
UPDATE ${to} SET status = 'new', amount = amount + 1 WHERE id <= 10;`;
}

/** The database's relations, types and constraints by kind and name. */
async function names(cluster: Cluster): Promise<string[]> {
  const rows = await cluster.query<{ n: string }>(
    `SELECT c.relkind::text || ' ' || c.relname AS n FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace
     UNION ALL SELECT 'type ' || t.typtype::text || ' ' || t.typname FROM pg_type t
                WHERE t.typnamespace = 'public'::regnamespace AND t.typtype IN ('e', 'd')
     UNION ALL SELECT 'constraint ' || conname FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1`,
    [],
    DB,
  );
  return rows.map((r) => r.n);
}

/** A table's rows as one md5, in key order, and how many. */
async function digest(cluster: Cluster, table: string): Promise<string> {
  const rows = await cluster.query<{ d: string }>(
    `SELECT count(*) || ' ' || coalesce(md5(string_agg(r::text, E'\\n' ORDER BY r.id)), '') AS d FROM ${table} AS r`,
    [],
    DB,
  );
  return rows[0]!.d;
}

/** Waits until the target's names are the source's, telling the target's names and the last events if they never are. */
async function renamesFollowed(pair: ServerPair, run: FollowingMigration, name: string, what: string): Promise<void> {
  const expected = JSON.stringify(await names(pair.source));
  await until(what, async () => (JSON.stringify(await names(pair.target)) === expected ? true : undefined), 90_000, 500).catch(
    async (error: Error) => {
      const told = await eventsTold(run.store, name, 20);
      throw new Error(`${error.message}: target ${JSON.stringify(await names(pair.target))}, source ${expected}\n  ${told}`);
    },
  );
}

/**
 * The first round with the watch's look held where it found the table gone: the apply is stopped
 * before the rename by a lock on the target's large table, released once the look holds; the look
 * goes on once the apply has renamed the table and confirmed the source's position read after the
 * look held (past every change of the round).
 */
async function forcedRound(pair: ServerPair, holdDir: string): Promise<void> {
  const lock: pg.Client = await pair.target.connect(DB);
  try {
    await lock.query('BEGIN');
    await lock.query('LOCK TABLE public.bulk IN SHARE MODE');
    await pair.source.query(round(0), [], DB);
    await until(
      'a look of the watch holds, the table renamed on the source only',
      () => isHeld(HELD_LOOK, holdDir).then((h) => h || undefined),
      90_000,
      200,
    );
    const [{ lsn }] = await pair.source.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn', [], DB);
    await lock.query('COMMIT');
    await until(
      'the apply renamed the table and passed the round',
      async () => {
        const slots = await pair.source.query<{ at: string | null }>(
          'SELECT confirmed_flush_lsn::text AS at FROM pg_replication_slots WHERE database = $1',
          [DB],
        );
        const passed = slots.length > 0 && slots.every((s) => s.at !== null && parseLsn(s.at) >= parseLsn(lsn));
        return passed && (await names(pair.target)).includes('r t1') ? true : undefined;
      },
      90_000,
      200,
    );
  } finally {
    await lock.end();
  }
  await fs.rm(heldFile(HELD_LOOK, holdDir));
}

describe('a table renamed with its parts on the source while the apply is behind', function () {
  this.timeout(400_000);
  const holds = holdsInThisProcess();
  let pair: ServerPair | undefined;
  afterEach(async () => {
    await pair?.stop();
    pair = undefined;
  });

  it(`renames its sequence, key, index, enum and domain on the target each of ${ROUNDS} rounds, none made twice, none warned as only on one server: names and md5 of rows equal, cutover Succeeded`, async () => {
    pair = await startPair(15, 15);
    const source = pair.source;
    const name = 'rename-race';
    // read by the watch, in this process, when it gets to the point
    const holdDir = await holds.arm(HELD_LOOK);
    const run = await followingMigration(pair, name, DB, SCHEMA);
    const { spec, store, running } = run;
    try {
      await forcedRound(pair, holdDir);
      await renamesFollowed(
        pair,
        run,
        name,
        'round 1 (the look held until the apply passed the rename): the renames followed on the target',
      );
      for (let i = 1; i < ROUNDS; i++) {
        await source.query(round(i), [], DB);
        await renamesFollowed(pair, run, name, `round ${i + 1}: the renames followed on the target`);
      }
      const last = `t${ROUNDS}`;
      for (const table of [last, 'bulk'])
        await until(
          `the rows of ${table} applied`,
          async () => ((await digest(pair!.target, table)) === (await digest(source, table)) ? true : undefined),
          90_000,
          500,
        );
      await requestCutover(spec.target, name);
      const done = await Promise.race([
        running,
        waitForStatus(store, name, (s) => /cutover stopped/.test(s.message ?? '') || isFinalState(s.state)),
      ]);
      assert.equal(done.state, 'Succeeded', `${done.message} ${done.verification?.firstMismatch ?? ''}`);
      // the held look saw t1 and its sequence and domain constraint only on the source, t0's only on
      // the target: a rename to follow, never told as objects to create and drop
      const warned = (await catalogEvents(store, name, 1000)).filter((e) => e.level === 'warning').map((e) => e.message);
      assert.deepEqual(
        warned.filter((m) => /only on the (source|target)/.test(m)),
        [],
      );
      assert.deepEqual(await names(pair.target), await names(source));
      for (const table of [last, 'bulk']) assert.equal(await digest(pair.target, table), await digest(source, table), table);
      // the application's next insert draws from the sequence the source's rows came from
      const next = `SELECT nextval('${last}_id_seq')::text AS n`;
      assert.deepEqual(await pair.target.query(next, [], DB), await source.query(next, [], DB));
    } finally {
      await endIfRunning(spec, running);
      await store.close();
    }
  });
});

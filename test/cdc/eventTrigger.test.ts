// Issue 49, schemaChangeCapture: eventTrigger. The source gets an event trigger that writes each
// DDL into the stream, and the apply follows it at its exact place among the rows (cdc/apply/
// ddlFollow.ts): a unique index made in the same source transaction that first deletes the row
// that would break it, and inserts a row after it, is made on the target between the two and
// refuses nothing; a CHECK, a column renamed, a column dropped, an index dropped, all while a
// writer runs; an index made on the target alone is kept (only known objects are dropped), one
// the source makes again and drops in one transaction is dropped (its identity follows). The
// target's catalog (indexes, constraints, columns) and its rows are read back and compared with
// the source's, independently of what followed them; the event trigger is gone from the source
// after Succeeded, and after a cancel.
import assert from 'node:assert/strict';
import type pg from 'pg';
import { cancelMigration, runMigration, type MigrationSpec } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { events as catalogEvents } from '../../provider/engine/control/store';
import { isFinalState } from '../../provider/engine/core/model';
import {
  cutoverEnd,
  endIfRunning,
  onBothTargets,
  pairSpec,
  serverSpec,
  startPair,
  streamedRun,
  until,
  waitForStatus,
  type Cluster,
  type ServerPair,
} from '../support';

const DB = 'ddlshop';
const ORDERS = 3_000;

async function loadSource(pair: ServerPair): Promise<void> {
  await pair.source.query(`CREATE DATABASE ${DB}`);
  await pair.source.query(
    `CREATE TABLE orders (id int PRIMARY KEY, n int NOT NULL, code int, label text, note text);
     CREATE INDEX orders_label_old ON orders (label);
     CREATE INDEX orders_n_old ON orders (n);
     CREATE TABLE scratch (id int PRIMARY KEY);
     INSERT INTO orders SELECT g, g % 97, g, 'label ' || g, 'note ' || g FROM generate_series(1, ${ORDERS}) g;`,
    [],
    DB,
  );
}

/** The writer touches only columns no release changes: n, and new rows with their own code. */
function writeOne(): (c: pg.Client, n: number) => Promise<unknown> {
  return async (c, n) => {
    await c.query(`UPDATE orders SET n = n + 1 WHERE id = $1`, [1 + ((n * 7919) % ORDERS)]);
    if (n % 5 === 0) await c.query(`INSERT INTO orders (id, n, code) VALUES ($1, $2, $1)`, [100_000 + n, n % 97]);
  };
}

/** The table's shape as one text: columns, indexes, constraints, by name, deparsed by the server. */
async function shape(cluster: Cluster): Promise<string> {
  const [row] = await cluster.query<{ s: string }>(
    `SELECT concat_ws(E'\\n',
       (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END, ', ' ORDER BY a.attname)
          FROM pg_attribute a WHERE a.attrelid = 'public.orders'::regclass AND a.attnum > 0 AND NOT a.attisdropped),
       (SELECT string_agg(pg_get_indexdef(x.indexrelid), E'\\n' ORDER BY pg_get_indexdef(x.indexrelid)) FROM pg_index x WHERE x.indrelid = 'public.orders'::regclass),
       (SELECT string_agg(conname || ' ' || pg_get_constraintdef(oid) || ' ' || convalidated, E'\\n' ORDER BY conname) FROM pg_constraint
         WHERE conrelid = 'public.orders'::regclass)) AS s`,
    [],
    DB,
  );
  return row!.s;
}

async function contents(cluster: Cluster): Promise<string> {
  const [row] = await cluster.query<{ n: string; h: string }>(
    `SELECT count(*)::text AS n, md5(string_agg(o::text, E'\\n' ORDER BY o.id)) AS h FROM orders o`,
    [],
    DB,
  );
  return `${row!.n} rows, ${row!.h}`;
}

/** What pgferry's event trigger left on the source: event triggers, functions and the schema. */
async function leftOnSource(pair: ServerPair): Promise<string[]> {
  const rows = await pair.source.query<{ what: string }>(
    `SELECT 'event trigger ' || evtname AS what FROM pg_event_trigger WHERE evtname LIKE 'pgferry%'
     UNION ALL SELECT 'function ' || p.proname FROM pg_proc p JOIN pg_namespace s ON s.oid = p.pronamespace WHERE s.nspname = 'pgferry'
     UNION ALL SELECT 'schema ' || nspname FROM pg_namespace WHERE nspname = 'pgferry'`,
    [],
    DB,
  );
  return rows.map((r) => r.what);
}

function spec(pair: ServerPair, name: string, target: MigrationSpec['target']): MigrationSpec {
  const base = pairSpec(pair, name, [DB], {
    mode: 'Online',
    option: 'Migrate',
    overwriteDbsInTarget: true,
    schemaChangeCapture: 'eventTrigger',
  });
  return { ...base, target };
}

async function streaming(store: CatalogConnection, name: string): Promise<void> {
  const ready = await waitForStatus(store, name, (st) => st.subState === 'WaitingForCutoverTrigger' || isFinalState(st.state));
  assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
}

async function scenario(pair: ServerPair, name: string, target: MigrationSpec['target']): Promise<void> {
  const migration = spec(pair, name, target);
  await streamedRun(migration, { source: pair.source, db: DB, write: writeOne() }, async ({ store, running, writer, ready }) => {
    const s = (sql: string) => pair.source.query(sql, [], DB);
    assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
    assert.equal((await leftOnSource(pair)).filter((w) => w.startsWith('event trigger')).length, 2, 'the event triggers are made');
    // an index made on the target alone: no message's table parts have it, and none may drop it
    await pair.target.query(`CREATE INDEX orders_target_only ON orders (n)`, [], DB);
    // a duplicate code, then one transaction that deletes it, makes the index unique, and writes a row after it
    await s(`INSERT INTO orders (id, n, code) VALUES (90001, 1, 7)`);
    await s(`BEGIN;
             DELETE FROM orders WHERE id = 90001;
             CREATE UNIQUE INDEX orders_code ON orders (code);
             INSERT INTO orders (id, n, code) VALUES (90002, 2, 90002);
             COMMIT;`);
    await s(`ALTER TABLE orders ADD CONSTRAINT n_nonneg CHECK (n >= 0)`);
    await s(`ALTER TABLE orders RENAME COLUMN label TO title`);
    await s(`DROP INDEX orders_label_old`);
    // an index the copy made, made again by the source and dropped: the apply's own remake is the
    // migration's, dropped too, not taken for someone else's under the recorded name
    await s(`BEGIN; DROP INDEX orders_n_old; CREATE INDEX orders_n_old ON orders (n, id); DROP INDEX orders_n_old; COMMIT;`);
    // the next release once the rename reached the target (the column follow orders it by the
    // Relation message of the table's next write, which the writer makes within moments)
    await until(
      'the rename on the target',
      async () => ((await shape(pair.target)).includes('title text') ? true : undefined),
      120_000,
      200,
    );
    // a column dropped (dropped and added again under its name is left out: that path stops
    // "cannot tell a rename from a drop and an add" after its resync in catalog mode too)
    await s(`ALTER TABLE orders DROP COLUMN note`);
    await s(`UPDATE orders SET title = 'touched' WHERE id = 1`);
    // the unique index and the CHECK reach the target while the writer runs, without any wait for a position
    await until(
      'the unique index and the CHECK on the target',
      async () => {
        const t = await shape(pair.target);
        return /CREATE UNIQUE INDEX orders_code ON public\.orders USING btree \(code\)/.test(t) &&
          /n_nonneg CHECK \(\(n >= 0\)\) true/.test(t)
          ? t
          : undefined;
      },
      120_000,
      500,
    ).catch(async (error: Error) => {
      const events = (await catalogEvents(store, name, 30)).map((e) => `${e.level}: ${e.message.slice(0, 300)}`).join('\n  ');
      throw new Error(`${error.message}\ntarget:\n${await shape(pair.target)}\nevents:\n  ${events}`);
    });
    // the index the source dropped is gone (the copy restored it: known), the target's own is kept
    await until(
      'the dropped index gone from the target',
      async () => (!(await shape(pair.target)).includes('orders_label_old') ? true : undefined),
      120_000,
      200,
    );
    assert.match(await shape(pair.target), /CREATE INDEX orders_target_only ON public\.orders USING btree \(n\)/);
    await pair.target.query(`DROP INDEX orders_target_only`, [], DB);
    const events = await catalogEvents(store, name, 300);
    assert.ok(
      events.some((e) =>
        /CREATE INDEX\), followed on the target at its exact position in the stream: index public\.orders_code created/.test(e.message),
      ),
      `the unique index is followed from the stream: ${events.map((e) => e.message.slice(0, 200)).join(' | ')}`,
    );
    const transactions = await writer.stop();
    const end = await cutoverEnd(store, migration, running);
    assert.equal(end.state, 'Succeeded', `${end.message} ${end.verification?.firstMismatch ?? ''}`);
    assert.equal(await shape(pair.target), await shape(pair.source));
    assert.equal(await contents(pair.target), await contents(pair.source));
    assert.deepEqual(await leftOnSource(pair), [], 'the event trigger is dropped at the release');
    console.log(`      ${name}: ${transactions} writer transactions`);
  });
}

describe('schema changes captured by an event trigger, followed at their exact place in the stream (issue 49)', function () {
  this.timeout(600_000);
  let pair: ServerPair | undefined;
  afterEach(async () => {
    await pair?.stop();
    pair = undefined;
  });

  onBothTargets(
    {
      superuser: 'superuser target: unique index, CHECK, rename, column and index dropped; Succeeded, trigger gone',
      managed: 'managed-like target: the same',
    },
    async ({ pair, target, kind }) => {
      await loadSource(pair);
      await scenario(pair, `evt-${kind}`, target);
    },
  );

  it('a table dropped is told at its place; a cancel drops the event trigger from the source', async () => {
    pair = await startPair(15, 15);
    await loadSource(pair);
    const migration = spec(pair, 'evt-cancel', serverSpec(pair.target));
    const running = runMigration(migration);
    const store = new CatalogConnection(migration.target);
    try {
      await streaming(store, migration.migrationName);
      assert.equal((await leftOnSource(pair)).length, 4, 'two event triggers, the function and the schema');
      // a table dropped is told at its place in the stream, before any look of the table watch
      await pair.source.query('DROP TABLE scratch', [], DB);
      await until(
        'the drop told',
        async () =>
          (await catalogEvents(store, migration.migrationName, 50)).some(
            (e) =>
              e.level === 'warning' &&
              /source table public\.scratch was dropped at source position [0-9A-F]+\/[0-9A-F]+ \(told by the event trigger\)/.test(
                e.message,
              ),
          ) || undefined,
        60_000,
        200,
      );
      await cancelMigration(migration.target, migration.migrationName);
      const end = await running.catch((error: Error) => ({ state: 'threw', message: error.message }));
      assert.equal(end.state, 'Canceled', end.message);
      assert.deepEqual(await leftOnSource(pair), []);
    } finally {
      await endIfRunning(migration, running);
      await store.close();
    }
  });
});

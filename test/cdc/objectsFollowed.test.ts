// Issue 49: schema objects an application release creates on the source while changes stream are
// made on the target by pgferry (flow/schemaFollow.ts), not left for the cutover to stop on: an
// index, a unique index, a CHECK constraint (only once the apply passed it), a view, a function, an
// enum label, a sequence, a comment, a grant, an index dropped. A second release made just before
// the cutover (an index created, one the first release created dropped) is followed by the cutover
// itself, once drained. An index someone makes on the target alone is never dropped (DESIGN: never
// destroy): it is reported, and the cutover keeps it and lists it as kept, made on the target alone
// (issue 62: it stopped on it before); nor is one a DBA makes under the name of an index the copy
// made, after dropping that one: told by its OID, kept as theirs when the source drops its own. A
// writer runs throughout; the target's catalog is read back object by object, the rows compared
// independently, and the migration must end Succeeded (its own schema check passed). Superuser and
// managed-like targets.
import assert from 'node:assert/strict';
import type pg from 'pg';
import type { MigrationSpec } from '../../provider/engine';
import { events as catalogEvents } from '../../provider/engine/control/store';
import { cutoverEnd, onBothTargets, pairSpec, streamedRun, until, type Cluster, type ServerPair } from '../support';

const DB = 'shop';
const ORDERS = 5_000;

async function loadSource(pair: ServerPair): Promise<void> {
  await pair.source.query(`DO $$ BEGIN CREATE ROLE reporter NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
  await pair.source.query(`CREATE DATABASE ${DB}`);
  await pair.source.query(
    `CREATE TYPE state AS ENUM ('new', 'paid');
     CREATE TABLE orders (id int PRIMARY KEY, n int NOT NULL, note text, st state NOT NULL DEFAULT 'new');
     CREATE INDEX orders_note_old ON orders (note);
     CREATE INDEX orders_st ON orders (st);
     INSERT INTO orders SELECT g, g % 97, 'order ' || g, 'new' FROM generate_series(1, ${ORDERS}) g;`,
    [],
    DB,
  );
}

function writeOne(): (c: pg.Client, n: number) => Promise<unknown> {
  return async (c, n) => {
    await c.query(`UPDATE orders SET n = n + 1, note = 'w' || $1 WHERE id = $2`, [n, 1 + ((n * 7919) % ORDERS)]);
    if (n % 5 === 0) await c.query(`INSERT INTO orders (id, n, note) VALUES ($1, $2, 'new')`, [ORDERS + n, n % 97]);
  };
}

/** Each object the releases make, as the target's catalog has it (null where it is missing). */
async function objects(cluster: Cluster): Promise<Record<string, string | null>> {
  const [row] = await cluster.query<Record<string, string | null>>(
    `SELECT (SELECT pg_get_indexdef(to_regclass('public.orders_n'))) AS index,
            (SELECT pg_get_indexdef(to_regclass('public.orders_id_n'))) AS unique_index,
            (SELECT indisvalid::text FROM pg_index WHERE indexrelid = to_regclass('public.orders_id_n')) AS unique_valid,
            (SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'n_nonneg') AS check_constraint,
            (SELECT convalidated::text FROM pg_constraint WHERE conname = 'n_nonneg') AS check_validated,
            (SELECT pg_get_viewdef(to_regclass('public.busy'))) AS view,
            (SELECT prosrc FROM pg_proc WHERE proname = 'next_n') AS function,
            (SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = 'public.state'::regtype) AS labels,
            (SELECT to_regclass('public.invoice_no')::text) AS sequence,
            (SELECT obj_description('public.orders'::regclass, 'pg_class')) AS comment,
            (SELECT has_table_privilege('reporter', 'public.orders', 'SELECT')::text) AS grant,
            (SELECT to_regclass('public.orders_note_old')::text) AS dropped_index,
            (SELECT to_regclass('public.orders_mine')::text) AS target_only_index,
            (SELECT pg_get_indexdef(to_regclass('public.orders_late'))) AS late_index,
            (SELECT pg_get_indexdef(to_regclass('public.orders_st'))) AS replaced_index`,
    [],
    DB,
  );
  return row!;
}

async function contents(cluster: Cluster): Promise<string> {
  const [row] = await cluster.query<{ n: string; h: string }>(
    `SELECT count(*)::text AS n, md5(string_agg(o::text, E'\\n' ORDER BY o.id)) AS h FROM orders o`,
    [],
    DB,
  );
  return `${row!.n} rows, ${row!.h}`;
}

async function scenario(pair: ServerPair, name: string, target: MigrationSpec['target']): Promise<void> {
  const spec = pairSpec(pair, name, [DB], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true });
  await streamedRun({ ...spec, target }, { source: pair.source, db: DB, write: writeOne() }, async ({ store, running, writer, ready }) => {
    const s = (sql: string) => pair.source.query(sql, [], DB);
    assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
    // made on the target alone, by someone else than pgferry: never dropped by the follow
    await pair.target.query(`CREATE INDEX orders_mine ON orders (note)`, [], DB);
    // a DBA drops an index the copy made and makes their own under its name: another object,
    // theirs (its OID on the target is not the one pgferry recorded), never altered or dropped
    await pair.target.query(`DROP INDEX orders_st; CREATE INDEX orders_st ON orders (st, id)`, [], DB);
    const releasedAt = Date.now();
    // an application release, while the writer runs
    await s(`CREATE INDEX orders_n ON orders (n);
             CREATE UNIQUE INDEX orders_id_n ON orders (id, n);
             ALTER TABLE orders ADD CONSTRAINT n_nonneg CHECK (n >= 0);
             CREATE VIEW busy AS SELECT id, n FROM orders WHERE n > 50;
             CREATE FUNCTION next_n(i int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT i + 1';
             ALTER TYPE state ADD VALUE 'shipped';
             CREATE SEQUENCE invoice_no START 1000;
             COMMENT ON TABLE orders IS 'orders, one row each';
             GRANT SELECT ON orders TO reporter;
             DROP INDEX orders_note_old;
             DROP INDEX orders_st;`);
    const seen = await until(
      'every object of the release on the target',
      async () => {
        const o = await objects(pair.target);
        const all =
          o.index !== null &&
          o.unique_valid === 'true' &&
          o.check_validated === 'true' &&
          o.view !== null &&
          o.function !== null &&
          o.labels === 'new,paid,shipped' &&
          o.sequence !== null &&
          o.comment !== null &&
          o.grant === 'true' &&
          o.dropped_index === null &&
          o.target_only_index !== null;
        return all ? o : undefined;
      },
      120_000,
      500,
    ).catch(async (error: Error) => {
      const events = (await catalogEvents(store, name, 20)).map((e) => `${e.level}: ${e.message.slice(0, 300)}`).join('\n  ');
      throw new Error(`${error.message}\ntarget: ${JSON.stringify(await objects(pair.target))}\nevents:\n  ${events}`);
    });
    const followedIn = ((Date.now() - releasedAt) / 1000).toFixed(1);
    assert.match(seen.index!, /CREATE INDEX orders_n ON public\.orders USING btree \(n\)/);
    assert.match(seen.unique_index!, /CREATE UNIQUE INDEX orders_id_n ON public\.orders USING btree \(id, n\)/);
    assert.equal(seen.check_constraint, 'CHECK ((n >= 0))');
    assert.equal(seen.function, 'SELECT i + 1');
    assert.equal(seen.comment, 'orders, one row each');
    // the follow records its event after the index is built: waited for, not read once
    const followedTold = /followed on the target: index public\.orders_n: only on the source \(ran: CREATE INDEX CONCURRENTLY orders_n/;
    await until(
      'each followed change an event',
      async () =>
        (await catalogEvents(store, name, 1000)).some((e) => e.level === 'info' && followedTold.test(e.message)) ? true : undefined,
      60_000,
      500,
    ).catch(async (error: Error) => {
      const told = (await catalogEvents(store, name, 200)).map((e) => `${e.level}: ${e.message.slice(0, 200)}`).join(' | ');
      throw new Error(`${error.message}: ${told}`);
    });
    // the watch tells what the target alone has after it records its look's follow, a moment after
    // the objects themselves are on the target: waited for, not read once
    const keptTold = /made there alone \(pgferry did not make it, the source never had it\): kept as it is: .*index public\.orders_mine/;
    await until(
      'the index made on the target alone reported',
      async () => ((await catalogEvents(store, name, 200)).some((e) => keptTold.test(e.message)) ? true : undefined),
      60_000,
      500,
    ).catch(async (error: Error) => {
      const told = (await catalogEvents(store, name, 200)).map((e) => e.message.slice(0, 200)).join(' | ');
      throw new Error(`${error.message}: ${told}`);
    });
    // a second release just before the cutover: followed by the cutover once drained, if not before
    await s(`CREATE INDEX orders_late ON orders (st, n); DROP INDEX orders_n;`);
    const transactions = await writer.stop();
    // the cutover keeps the index made on the target alone, and lists it as kept
    const end = await cutoverEnd(store, { target, migrationName: name }, running);
    assert.equal(end.state, 'Succeeded', `${end.message} ${end.verification?.firstMismatch ?? ''}`);
    const kept = end.verification?.schema?.find((c) => c.database === DB)?.kept ?? [];
    const after = await objects(pair.target);
    // on a failure, what befell the DBA's index: its definition now and every event naming it
    const told = async () =>
      `; orders_st now: ${after.replaced_index}; events naming it: ${(await catalogEvents(store, name, 500))
        .filter((e) => /orders_st|resync/.test(e.message))
        .map((e) => `${e.level}: ${e.message.slice(0, 300)}`)
        .join(' | ')}`;
    const keptNames = kept.map((k) => k.object).sort();
    if (keptNames.length !== 2) assert.fail(`kept: ${keptNames.join(', ')}${await told()}`);
    assert.deepEqual(keptNames, ['index public.orders_mine', 'index public.orders_st']);
    assert.match(after.late_index ?? '', /CREATE INDEX orders_late ON public\.orders USING btree \(st, n\)/);
    assert.equal(after.index, null, 'an index the source had, then dropped, is dropped by the cutover');
    assert.notEqual(after.target_only_index, null);
    assert.match(
      after.replaced_index ?? '',
      /CREATE INDEX orders_st ON public\.orders USING btree \(st, id\)/,
      "the DBA's index kept as they made it",
    );
    assert.equal(await contents(pair.target), await contents(pair.source));
    console.log(`      ${name}: ${transactions} writer transactions; the release followed within ${followedIn} s`);
  });
}

describe('schema objects created while streaming are followed on the target (issue 49)', function () {
  this.timeout(600_000);
  onBothTargets(
    {
      superuser: 'superuser target: indexes, constraint, view, function, enum label, sequence, comment, grant; cutover Succeeded',
      managed: 'managed-like target: the same',
    },
    async ({ pair, target, kind }) => {
      await loadSource(pair);
      await scenario(pair, `objects-${kind}`, target);
    },
  );
});

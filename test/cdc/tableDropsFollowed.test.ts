// Issue 49: tables dropped or renamed on the source while changes stream, with
// tableDropsAndRenames: follow. A table the writer goes on writing under its new name is renamed on
// the target at the relation message that carries the name (same OID): every row lands once, in
// the table that had it. A table renamed and not written again is renamed by the online flow once
// the apply has passed the rename; a dropped one is dropped there once the apply has passed the
// drop, with its verification records, and on a managed-like target its foreign key set aside is
// not added back. A writer runs throughout, on a superuser target and a managed-like one; after the
// cutover (Succeeded: its schema check and verification passed) the target's tables and their rows
// are read back and compared with the source's. With `report` (the default) a rename stops nothing
// until the table's next change and is warned (tableWatch.ts, unchanged).
import assert from 'node:assert/strict';
import type pg from 'pg';
import { requestCutover, resumeMigration, runMigration, startMigration, type MigrationSpec } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { changesOf } from '../../provider/engine/footprint/ledger';
import { events as catalogEvents, get as getMigration } from '../../provider/engine/control/store';
import { isFinalState } from '../../provider/engine/core/model';
import {
  endIfRunning,
  makeManagedTarget,
  pairSpec,
  serverSpec,
  startPair,
  startSourceWriter,
  until,
  waitForStatus,
  type Cluster,
  type ServerPair,
} from '../support';
import { askCutoverUntilAccepted, cutOverOnceAccepted, followingMigration, killRunnerWhileStreaming, rowsOf } from './harness';

const DB = 'drops';

const SCHEMA = `
CREATE TABLE orders (id int PRIMARY KEY, n int NOT NULL);
CREATE TABLE items (id int PRIMARY KEY, order_id int NOT NULL, qty int);
CREATE TABLE quiet (id int PRIMARY KEY, v text);
CREATE TABLE old_log (id int PRIMARY KEY, msg text);
CREATE TABLE archive (id int PRIMARY KEY, order_id int REFERENCES orders (id));
INSERT INTO orders SELECT g, g FROM generate_series(1, 2000) g;
INSERT INTO items SELECT g, 1 + g % 2000, g % 5 FROM generate_series(1, 2000) g;
INSERT INTO quiet SELECT g, 'q' || g FROM generate_series(1, 500) g;
INSERT INTO old_log SELECT g, 'log ' || g FROM generate_series(1, 500) g;
INSERT INTO archive SELECT g, g FROM generate_series(1, 500) g;
CREATE TABLE readings (id int, at date NOT NULL, v int, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE readings_2026 PARTITION OF readings FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO readings SELECT g, date '2026-01-01' + g % 300, g FROM generate_series(1, 500) g;`;

/**
 * The application's n-th transaction: an order, then an item under whichever name the table has
 * (orders first: the test's rename locks orders before items, so it never renames under a writer
 * that has read the old name).
 */
async function write(c: pg.Client, n: number): Promise<void> {
  await c.query('INSERT INTO orders (id, n) VALUES ($1, $1)', [10_000 + n]);
  const [{ renamed }] = (await c.query<{ renamed: boolean }>(`SELECT to_regclass('public.line_items') IS NOT NULL AS renamed`)).rows as [
    { renamed: boolean },
  ];
  const insert = renamed
    ? 'INSERT INTO line_items (id, order_id, qty) VALUES ($1, $2, $3)'
    : 'INSERT INTO items (id, order_id, qty) VALUES ($1, $2, $3)';
  await c.query(insert, [10_000 + n, 10_000 + n, n % 7]);
  await c.query(renamed ? 'UPDATE line_items SET qty = qty + 1 WHERE id = $1' : 'UPDATE items SET qty = qty + 1 WHERE id = $1', [
    1 + (n % 2000),
  ]);
}

/** The user's tables of the database, by name. */
async function tables(cluster: Cluster): Promise<string[]> {
  const rows = await cluster.query<{ t: string }>(`SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`, [], DB);
  return rows.map((r) => r.t);
}

async function views(cluster: Cluster): Promise<string[]> {
  const rows = await cluster.query<{ v: string }>(`SELECT viewname AS v FROM pg_views WHERE schemaname = 'public' ORDER BY 1`, [], DB);
  return rows.map((r) => r.v);
}

async function scenario(pair: ServerPair, name: string, target: MigrationSpec['target'], managed: boolean): Promise<void> {
  await pair.source.query(`CREATE DATABASE ${DB}`);
  await pair.source.query(SCHEMA, [], DB);
  const spec = {
    ...pairSpec(pair, name, [DB], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true, tableDropsAndRenames: 'follow' }),
    target,
  };
  const store = new CatalogConnection(target);
  const running = runMigration(spec);
  const writer = startSourceWriter(pair.source, DB, write);
  const writes = (count: number) => until('the application to write', async () => (writer.committed() >= count ? true : undefined), 60_000);
  try {
    const ready = await waitForStatus(store, name, (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state));
    assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
    await writes(writer.committed() + 20);
    await pair.source.query(
      `BEGIN; LOCK TABLE orders IN SHARE MODE; ALTER TABLE items RENAME TO line_items; ALTER TABLE quiet RENAME TO quiet_renamed;
       DROP TABLE old_log; DROP TABLE archive; ALTER TABLE readings RENAME TO measurements; COMMIT;`,
      [],
      DB,
    );
    await writes(writer.committed() + 40);
    const expected = ['line_items', 'measurements', 'orders', 'quiet_renamed', 'readings_2026'];
    await until(
      'the drops and renames followed on the target',
      async () => {
        if (JSON.stringify(await tables(pair.target)) !== JSON.stringify(expected)) return undefined;
        if (!managed) return true;
        const keys = await changesOf<{ name: string }>(store, name, 'targetForeignKeys');
        const archive = keys.find((k) => k.undo.name === 'archive_order_id_fkey');
        return archive?.undone && (archive.detail as { outcome?: string }).outcome === 'dropped on the source' ? true : undefined;
      },
      120_000,
      500,
    ).catch(async (error: Error) => {
      const s = await getMigration(store, name);
      const told = (await catalogEvents(store, name, 20)).map((e) => `${e.level}: ${e.message.slice(0, 300)}`).join('\n  ');
      throw new Error(`${error.message}: ${JSON.stringify(await tables(pair.target))} ${s?.subState} ${s?.message ?? ''}\n  ${told}`);
    });
    const transactions = await writer.stop();
    const events = (await catalogEvents(store, name, 200)).map((e) => e.message).join('\n');
    assert.match(events, /streamed table public\.old_log dropped on the source, followed on the target/);
    assert.match(events, /public\.quiet renamed to public\.quiet_renamed on the source, followed on the target/);
    // a partitioned table: nothing in the stream names it, the table watch follows it
    assert.match(events, /public\.readings renamed to public\.measurements on the source, followed on the target/);
    // written on after its rename: renamed by the apply at its relation message, not later by the flow
    assert.match(
      events,
      /source table public\.items renamed to public\.line_items while streaming, followed on the target at its position/,
    );
    await requestCutover(target, name);
    const done = await Promise.race([
      running,
      waitForStatus(store, name, (s) => /cutover stopped/.test(s.message ?? '') || isFinalState(s.state)),
    ]);
    assert.equal(done.state, 'Succeeded', `${done.message} ${done.verification?.firstMismatch ?? ''}`);
    assert.deepEqual(await tables(pair.target), await tables(pair.source));
    for (const table of expected) assert.deepEqual(await rowsOf(pair.target, DB, table), await rowsOf(pair.source, DB, table), table);
    const [count] = await pair.target.query<{ n: string }>(`SELECT count(*)::text AS n FROM line_items WHERE id > 10000`, [], DB);
    console.log(`      ${name}: ${transactions} writer transactions, ${count?.n} items written, before and after the rename`);
  } finally {
    await writer.stop().catch(() => undefined);
    await endIfRunning(spec, running);
    await store.close();
  }
}

/**
 * tableDropsAndRenames: report. A table dropped while streaming is told once, by the table watch,
 * with its fix: the schema watch, which looks again at the same change (an index made in the same
 * release shows it has), does not tell the table and its parts a second time. The cutover's schema
 * check stops on it, and the target keeps the table and its rows.
 */
async function reportScenario(pair: ServerPair, name: string): Promise<void> {
  await pair.source.query(`CREATE DATABASE ${DB}`);
  await pair.source.query(SCHEMA, [], DB);
  const spec = pairSpec(pair, name, [DB], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true });
  const store = new CatalogConnection(spec.target);
  const running = runMigration(spec);
  const writer = startSourceWriter(pair.source, DB, write);
  try {
    const ready = await waitForStatus(store, name, (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state));
    assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
    await pair.source.query(`DROP TABLE old_log; CREATE INDEX orders_n ON orders (n)`, [], DB);
    await until('the schema watch to look after the drop', async () => {
      const [row] = await pair.target.query<{ i: string | null }>(`SELECT to_regclass('public.orders_n')::text AS i`, [], DB);
      return row?.i ? true : undefined;
    });
    // the watch's next look (every 10 s) finds the same difference again
    await until(
      'two more looks of the schema watch',
      async () => {
        await pair.source.query(`COMMENT ON TABLE orders IS '${Date.now()}'`, [], DB);
        const looks = (await catalogEvents(store, name, 200)).filter((e) =>
          /followed on the target: comment on table public\.orders/.test(e.message),
        );
        return looks.length >= 2 ? true : undefined;
      },
      60_000,
      2_000,
    );
    await writer.stop();
    const told = (await catalogEvents(store, name, 200)).filter((e) => e.level === 'warning' && /old_log/.test(e.message));
    assert.equal(told.length, 1, told.map((e) => e.message).join('\n'));
    assert.match(told[0]!.message, /streamed table public\.old_log was dropped on the source while streaming/);
    await requestCutover(spec.target, name);
    const stopped = await waitForStatus(store, name, (s) => /cutover stopped/.test(s.message ?? '') || isFinalState(s.state));
    assert.match(stopped.message ?? '', /cutover stopped.*old_log/, `${stopped.state}: ${stopped.message}`);
    assert.ok((await tables(pair.target)).includes('old_log'), 'the target keeps the table');
  } finally {
    await writer.stop().catch(() => undefined);
    await endIfRunning(spec, running);
    await store.close();
  }
}

/** The suite's database made on the source, and an online migration of it that follows drops and renames. */
async function followingDatabase(pair: ServerPair, name: string): Promise<MigrationSpec> {
  await pair.source.query(`CREATE DATABASE ${DB}`);
  await pair.source.query(SCHEMA, [], DB);
  return pairSpec(pair, name, [DB], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true, tableDropsAndRenames: 'follow' });
}

/**
 * A table dropped and one renamed while no runner runs (the runner SIGKILLed): the resumed runner's
 * first look compares the source with what the copy copied, not with nothing, so both are followed
 * and the cutover succeeds; a first look that only recorded what it saw would miss them both. A row
 * written under the new name once the rename is followed reaches the target, the stream never
 * stopped on it.
 */
async function whileNoRunner(pair: ServerPair, name: string): Promise<void> {
  const spec = await followingDatabase(pair, name);
  const store = new CatalogConnection(spec.target);
  try {
    await startMigration(spec);
    const ready = await waitForStatus(store, name, (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state));
    assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
    process.kill(ready.runner!.pid, 'SIGKILL');
    await waitForStatus(store, name, (s) => s.runner?.alive === false);
    await pair.source.query(`DROP TABLE old_log; ALTER TABLE quiet RENAME TO quiet_renamed; INSERT INTO orders VALUES (9999, 1)`, [], DB);
    await resumeMigration(spec);
    const expected = ['archive', 'items', 'orders', 'quiet_renamed', 'readings', 'readings_2026'];
    await until('the resumed runner to follow the drop and the rename', async () =>
      JSON.stringify(await tables(pair.target)) === JSON.stringify(expected) ? true : undefined,
    );
    // written under the new name once the target has it: the stream, which started before the rename
    // was followed there, reads the table anew rather than what it read of the target as it started
    await pair.source.query(`INSERT INTO quiet_renamed VALUES (9001, 'after the rename')`, [], DB);
    await until('the row written under the new name to reach the target', async () => {
      const [row] = await pair.target.query<{ n: number }>(`SELECT count(*)::int AS n FROM quiet_renamed WHERE id = 9001`, [], DB);
      return row?.n === 1 ? true : undefined;
    });
    const stops = (await catalogEvents(store, name, 200)).filter((e) => /does not exist on the target/.test(e.message));
    assert.deepEqual(
      stops.map((e) => e.message),
      [],
      'the stream never stopped on the renamed table',
    );
    await askCutoverUntilAccepted(spec);
    const done = await waitForStatus(store, name, (s) => /cutover stopped/.test(s.message ?? '') || isFinalState(s.state));
    assert.equal(done.state, 'Succeeded', `${done.message}`);
    for (const table of expected) assert.deepEqual(await rowsOf(pair.target, DB, table), await rowsOf(pair.source, DB, table), table);
  } finally {
    await endIfRunning(spec, Promise.resolve());
    await store.close();
  }
}

/**
 * A partitioned table renamed on the source while no runner runs (SIGKILLed while streaming), then
 * written into under its new name. Its partitions stream under their own names, so nothing in the
 * stream names it: the resumed runner's first look finds the rename by comparing with what the copy
 * copied, the partitioned tables above the copied partitions included (issue 65: with that look
 * later than the stream's start, a rename before it was missed). The rows arrive on the target, and
 * from then on, read with them while streaming, the partition hangs under the parent's old name or
 * its new one and never under none (the apply reaches the partition before the flow renames the
 * parent, and used to detach it then); once the rename is followed, still before any cutover, it
 * hangs under the new name. The cutover Succeeds, and the rows are read back there.
 */
async function parentRenamedWhileNoRunner(pair: ServerPair, name: string): Promise<void> {
  const spec = await followingDatabase(pair, name);
  const store = new CatalogConnection(spec.target);
  const writer = startSourceWriter(pair.source, DB, write);
  try {
    await killRunnerWhileStreaming(spec, store);
    await writer.stop();
    await pair.source.query(
      `ALTER TABLE readings RENAME TO measurements;
       INSERT INTO measurements SELECT g, date '2026-06-01', g FROM generate_series(1001, 1100) g`,
      [],
      DB,
    );
    await resumeMigration(spec);
    // each look reads the partition's rows and its parent in one snapshot: once the rows are there,
    // the partition hangs under the old name or the new one, never detached, while changes stream
    const looks: string[] = [];
    await until('the resumed runner to apply the rows and rename the partitioned table, the partition under it', async () => {
      const [now] = await pair.target.query<{ n: number; parent: string | null }>(
        `SELECT (SELECT count(*)::int FROM readings_2026 WHERE id > 1000) AS n,
                (SELECT i.inhparent::regclass::text FROM pg_inherits i WHERE i.inhrelid = 'public.readings_2026'::regclass) AS parent`,
        [],
        DB,
      );
      if (!now || now.n === 0) return undefined;
      const look = `${now.n} rows under ${now.parent ?? 'no parent'}`;
      if (looks.at(-1) !== look) looks.push(look);
      assert.notEqual(now.parent, null, `readings_2026 detached on the target while streaming: ${looks.join(', ')}`);
      return now.n === 100 && now.parent === 'measurements' ? true : undefined;
    });
    const streaming = await getMigration(store, name);
    assert.equal(streaming?.subState, 'WaitingForCutoverTrigger', 'read back while streaming, before any cutover');
    await cutOverOnceAccepted(spec, store);
    assert.deepEqual(await rowsOf(pair.target, DB, 'measurements'), await rowsOf(pair.source, DB, 'measurements'));
    const [parent] = await pair.target.query<{ p: string }>(
      `SELECT i.inhparent::regclass::text AS p FROM pg_inherits i WHERE i.inhrelid = 'public.readings_2026'::regclass`,
      [],
      DB,
    );
    assert.equal(parent?.p, 'measurements', 'readings_2026 is a partition of the renamed table on the target');
    assert.deepEqual(await tables(pair.target), await tables(pair.source));
  } finally {
    await writer.stop().catch(() => undefined);
    await endIfRunning(spec, Promise.resolve());
    await store.close();
  }
}

/** A partitioned table and a plain one, small: the parent the source drops, and the parent of a DBA's inheritance child. */
const PARENTS_SCHEMA = `
CREATE TABLE events (id int, at date NOT NULL, v int, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO events SELECT g, date '2025-01-01' + g, g FROM generate_series(1, 600) g;
CREATE VIEW events_2026_ids AS SELECT id FROM events_2026;
CREATE TABLE notes (id int PRIMARY KEY, msg text);
INSERT INTO notes SELECT g, 'note ' || g FROM generate_series(1, 50) g;`;

/**
 * A parent dropped on the source whose target copy holds what pgferry must not drop with it: a
 * partition a DBA made and attached on the target alone, a partition the source detached before
 * the drop (no row of it written since, so the stream never carried the detach), and a DBA's
 * inheritance child of a plain table the source drops too. A DBA's trigger and view on the partition that
 * goes with the parent hold the drop back until the DBA drops them, the view named in pgferry's own
 * refusal; the source's view on that partition, dropped with it there, goes with it. The parents are then dropped on the target;
 * the DBA's tables and the detached partition stay there with their rows, and a row written into
 * the detached partition on the source afterwards still reaches the target. The partition the
 * source dropped with its parent is gone from the target.
 */
async function parentDroppedChildrenKept(pair: ServerPair, name: string): Promise<void> {
  const { spec, store, running } = await followingMigration(pair, name, DB, PARENTS_SCHEMA);
  try {
    await pair.target.query(
      `CREATE TABLE events_dba PARTITION OF events FOR VALUES FROM ('2030-01-01') TO ('2031-01-01');
       INSERT INTO events_dba SELECT g, date '2030-01-01' + g, g FROM generate_series(1, 20) g;
       CREATE FUNCTION dba_audit() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
       CREATE TRIGGER dba_audit BEFORE INSERT ON events_2026 FOR EACH ROW EXECUTE FUNCTION dba_audit();
       CREATE VIEW dba_2026 AS SELECT id, v FROM events_2026;
       CREATE TABLE notes_dba (extra text) INHERITS (notes);
       INSERT INTO notes_dba SELECT g, 'dba ' || g, 'x' FROM generate_series(1, 10) g;`,
      [],
      DB,
    );
    const dbaEvents = await rowsOf(pair.target, DB, 'events_dba');
    const dbaNotes = await rowsOf(pair.target, DB, 'notes_dba');
    await pair.source.query(`ALTER TABLE events DETACH PARTITION events_2025; DROP TABLE events CASCADE; DROP TABLE notes`, [], DB);
    // a DBA's trigger and view on a partition that would go with the parent hold the drop back, as on the parent
    const heldBack = (what: string) =>
      new RegExp(
        `public\\.events dropped on the source: following it on the target failed, tried again: ${what} on it on the target, which pgferry did not make: kept, with the table`,
      );
    await until('the drop held back by the trigger and the view', async () => {
      const told = (await catalogEvents(store, name, 200)).map((e) => e.message).join('\n');
      return heldBack('trigger dba_audit on public\\.events_2026, view public\\.dba_2026 depend').test(told) ? true : undefined;
    });
    assert.ok((await tables(pair.target)).includes('events'), 'the parent is kept while the trigger and the view hold it');
    assert.equal((await rowsOf(pair.target, DB, 'events_2026')).length, 236);
    assert.ok((await views(pair.target)).includes('dba_2026'), "the DBA's view is kept");
    assert.equal((await rowsOf(pair.target, DB, 'dba_2026')).length, 236, "the DBA's view reads the partition's rows, kept");
    // the schema watch finds events_2025, detached on the source, still attached on the target while the drop is held:
    // its fix is the detach itself, never a drop of the partition
    await until("the schema watch's fix for the detached partition", async () => {
      const told = (await catalogEvents(store, name, 200)).map((e) => e.message).join('\n');
      return /table public\.events_2025: partition of: source none, target public\.events \(fix: ALTER TABLE public\.events DETACH PARTITION "public"\."events_2025";\)/.test(
        told,
      )
        ? true
        : undefined;
    });
    await pair.target.query(`DROP TRIGGER dba_audit ON events_2026; DROP VIEW dba_2026`, [], DB);
    await until(
      'the parents dropped on the target',
      async () => {
        const left = await tables(pair.target);
        return !left.includes('events') && !left.includes('notes') ? true : undefined;
      },
      60_000,
      500,
    ).catch(async (error: Error) => {
      const told = (await catalogEvents(store, name, 20)).map((e) => `${e.level}: ${e.message.slice(0, 300)}`).join('\n  ');
      throw new Error(`${error.message}: ${JSON.stringify(await tables(pair.target))}\n  ${told}`);
    });
    assert.deepEqual(await tables(pair.target), ['events_2025', 'events_dba', 'notes_dba'], 'events_2026 went with its parent');
    assert.deepEqual(await views(pair.target), [], "the source's view on events_2026 went with it");
    assert.deepEqual(await rowsOf(pair.target, DB, 'events_dba'), dbaEvents, "the DBA's partition keeps its rows");
    assert.deepEqual(await rowsOf(pair.target, DB, 'notes_dba'), dbaNotes, "the DBA's inheritance child keeps its rows");
    assert.deepEqual(await rowsOf(pair.target, DB, 'events_2025'), await rowsOf(pair.source, DB, 'events_2025'));
    assert.equal((await rowsOf(pair.target, DB, 'events_2025')).length, 364);
    await pair.source.query(`INSERT INTO events_2025 VALUES (9001, '2028-01-01', 1)`, [], DB);
    await until('the row written into the detached partition to reach the target', async () => {
      const [row] = await pair.target.query<{ n: number }>(`SELECT count(*)::int AS n FROM events_2025 WHERE id = 9001`, [], DB);
      return row?.n === 1 ? true : undefined;
    });
    const events = (await catalogEvents(store, name, 200)).map((e) => e.message).join('\n');
    assert.match(events, /streamed table public\.events dropped on the source, followed on the target/);
    assert.match(
      events,
      /public\.events dropped on the source: partition public\.events_2025 \(a table of its own on the source\), partition public\.events_dba \(not made by pgferry\) hung under it on the target: detached from it first, kept with their rows/,
    );
    assert.match(
      events,
      /public\.notes dropped on the source: inheritance child public\.notes_dba \(made a table of its own: NO INHERIT\)/,
    );
  } finally {
    await endIfRunning(spec, running);
    await store.close();
  }
}

describe('tables dropped or renamed on the source while streaming, followed (issue 49)', function () {
  this.timeout(600_000);
  let pair: ServerPair | undefined;
  afterEach(async () => {
    await pair?.stop();
    pair = undefined;
  });

  it('superuser target: renamed at the stream point or after it, dropped once passed; cutover Succeeded', async () => {
    pair = await startPair(15, 15);
    await scenario(pair, 'drops-super', serverSpec(pair.target), false);
  });

  it('report: a table dropped while streaming is warned once, and the cutover stops on it', async () => {
    pair = await startPair(15, 15);
    await reportScenario(pair, 'drops-report');
  });

  it('follow: dropped and renamed while no runner ran, followed by the resumed runner; a row under the new name applied, no stop', async () => {
    pair = await startPair(15, 15);
    await whileNoRunner(pair, 'drops-no-runner');
  });

  it('follow: a partitioned table renamed while no runner ran, written into under its new name: its partition never detached while streaming, read back under it on the target', async () => {
    pair = await startPair(15, 15);
    await parentRenamedWhileNoRunner(pair, 'drops-parent-resumed');
  });

  it("follow: a parent dropped on the source keeps on the target a DBA's partition and inheritance child and a partition the source detached, with their rows; the detached one still streamed", async () => {
    pair = await startPair(15, 15);
    await parentDroppedChildrenKept(pair, 'drops-parent-children');
  });

  it('managed-like target: the same, and the dropped table key not added back', async () => {
    pair = await startPair(15, 15);
    await scenario(pair, 'drops-managed', await makeManagedTarget(pair.target), true);
  });
});

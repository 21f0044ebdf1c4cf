// A table's key and replica identity changed on the source while streaming, as an application's own
// migrations change them. A table created without a key is not published (its UPDATE would fail on
// the source), so the cutover stops on it naming the table, what it lacks and the statement that
// fixes it; once the application adds a primary key the table watch judges it again and follows it
// (created on the target already, published, copied at a pin, streamed), so every row written
// before and after the key arrives once. A streamed table whose replica identity changes (FULL,
// USING INDEX) gets the same identity on the target, which the fallback window's reverse stream and
// the end state need; one made NOTHING is taken out of the publication (its UPDATE would fail), its
// changes read whole by the cutover, which stops naming it and the fix, and followed again once
// the identity is back. Each asserts on what both servers hold: the md5 of every table's rows and
// the tables' replica identity read from both catalogs.
import assert from 'node:assert/strict';
import { isFinalState, runMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { events } from '../../provider/engine/control/store';
import type { MigrationStatus } from '../../provider/engine/core/model';
import {
  type Cluster,
  cutoverEnd,
  endIfRunning,
  pairSpec,
  type SourceWriter,
  startSourceWriter,
  suiteServers,
  until,
  waitingForCutover,
} from '../support';
import { streamStops } from '../support/toldEvents';

/** The md5 of a table's rows as text, ordered by every column, and their count. */
async function digestOf(cluster: Cluster, db: string, table: string): Promise<string> {
  const [row] = await cluster.query<{ d: string }>(
    `SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '') AS d FROM ${table} t`,
    [],
    db,
  );
  return row!.d;
}

/** A table's replica identity as its catalog says it: d, f, n, or i with the index's name. */
async function identityOf(cluster: Cluster, db: string, table: string): Promise<string> {
  const [row] = await cluster.query<{ r: string }>(
    `SELECT c.relreplident::text || coalesce(' ' || (SELECT i.indexrelid::regclass::text FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident), '') AS r
       FROM pg_class c WHERE c.oid = $1::regclass`,
    [table],
    db,
  );
  return row!.r;
}

/** Asks for the cutover once the migration streams, waits for it to stop and returns that status (the runner streams on). */
async function stoppedCutover(
  store: CatalogConnection,
  spec: Parameters<typeof cutoverEnd>[1],
  running: Promise<MigrationStatus>,
): Promise<MigrationStatus> {
  await waitingForCutover(store, spec.migrationName);
  const status = await cutoverEnd(store, spec, running);
  assert.ok(!isFinalState(status.state), `the cutover did not stop but ended ${status.state}: ${status.message}`);
  return status;
}

/** Asks for the cutover again once the migration streams, and returns how it ended (or stopped, other than `stopped`). */
async function cutoverAgain(
  store: CatalogConnection,
  spec: Parameters<typeof cutoverEnd>[1],
  running: Promise<MigrationStatus>,
  stopped: MigrationStatus,
): Promise<MigrationStatus> {
  await waitingForCutover(store, spec.migrationName);
  return cutoverEnd(store, spec, running, stopped);
}

/** The writer of every table of the identity scenario but none_t, through each change of identity. */
function identityWriter(source: Cluster, db: string, offset: number): SourceWriter {
  return startSourceWriter(source, db, async (c, n) => {
    await c.query(`UPDATE full_t SET v = v || '+' WHERE id = $1::int`, [(n % 100) + 1]);
    await c.query(`UPDATE idx_t SET v = v || '+' WHERE id = $1::int`, [(n % 100) + 1]);
    await c.query(`INSERT INTO full_t VALUES ($1::int, 'w')`, [offset + n]);
    await c.query(`DELETE FROM idx_t WHERE id = $1::int`, [((n * 7) % 100) + 1]);
  });
}

describe('online: a key or replica identity changed on the source while streaming', function () {
  this.timeout(600_000);
  const servers = suiteServers();

  it('a keyless table created while streaming: the cutover stops naming it, its missing key and the fix; given a primary key with a writer running, its rows written before and after arrive once (md5 equal on both servers) and the cutover succeeds', async () => {
    const { pair } = servers;
    const db = 'keylater';
    await pair.source.query(`CREATE DATABASE ${db}`);
    await pair.source.query(`CREATE TABLE base (id int PRIMARY KEY, v text NOT NULL); INSERT INTO base VALUES (1, 'one')`, [], db);
    const spec = pairSpec(pair, 'key-later', [db], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true });
    const store = new CatalogConnection(spec.target);
    const running = runMigration(spec);
    try {
      await waitingForCutover(store, spec.migrationName);
      // the application's first migration: a table without a key, written at once
      await pair.source.query(
        `CREATE TABLE late (id int NOT NULL, v text NOT NULL); INSERT INTO late SELECT g, 'first ' || g FROM generate_series(1, 50) g`,
        [],
        db,
      );
      await until(
        'the keyless table reported as not streamed',
        async () =>
          (await events(store, spec.migrationName, 200)).some((e) => /public\.late/.test(e.message) && /no primary key/.test(e.message)) ||
          undefined,
        60_000,
      );
      // the writer inserts, updates and deletes through the key's arrival
      const writer = startSourceWriter(pair.source, db, async (c, n) => {
        await c.query(`INSERT INTO late VALUES ($1::int, 'w ' || $1::int)`, [1000 + n]);
        await c.query(`UPDATE late SET v = v || '+' WHERE id = $1::int`, [(n % 50) + 1]);
        if (n % 7 === 0) await c.query(`DELETE FROM late WHERE id = $1::int`, [1000 + n - 3]);
      });
      await writer.connected;
      const stopped = await stoppedCutover(store, spec, running);
      const before = stopped.message ?? '';
      assert.match(before, /public\.late/, before);
      assert.match(before, /has no primary key/, before);
      assert.match(before, /ALTER TABLE public\.late ADD PRIMARY KEY/, before);
      assert.doesNotMatch(before, /writes still running on the source/, before);

      // the application's next migration gives it a key, the writer still running
      await pair.source.query(`ALTER TABLE late ADD PRIMARY KEY (id)`, [], db);
      await until(
        'the table followed once it has a key',
        async () => (await events(store, spec.migrationName, 300)).some((e) => /^followed public\.late/.test(e.message)) || undefined,
        120_000,
      );
      await new Promise((r) => setTimeout(r, 3_000));
      const written = await writer.stop();
      assert.ok(written > 0, 'the writer wrote');
      const end = await cutoverAgain(store, spec, running, stopped);
      assert.equal(end.state, 'Succeeded', `${end.message} ${end.verification?.firstMismatch ?? ''}`);
      for (const table of ['late', 'base'])
        assert.equal(await digestOf(pair.target, db, table), await digestOf(pair.source, db, table), table);
      assert.equal(await identityOf(pair.target, db, 'late'), await identityOf(pair.source, db, 'late'));
    } finally {
      await endIfRunning(spec, running);
      await store.close();
    }
  });

  it('replica identities changed on streamed tables: FULL and USING INDEX are set on the target with no stop of the stream; a table made NOTHING stops the cutover naming it and the fix, its rows changed meanwhile arrive once it has an identity again (md5 and identities equal on both servers)', async () => {
    const { pair } = servers;
    const db = 'identchanged';
    await pair.source.query(`CREATE DATABASE ${db}`);
    await pair.source.query(
      `CREATE TABLE full_t (id int PRIMARY KEY, v text NOT NULL);
       CREATE TABLE idx_t (id int PRIMARY KEY, u int NOT NULL, v text NOT NULL);
       CREATE UNIQUE INDEX idx_t_u ON idx_t (u);
       CREATE TABLE none_t (id int PRIMARY KEY, v text NOT NULL);
       INSERT INTO full_t SELECT g, 'f' || g FROM generate_series(1, 100) g;
       INSERT INTO idx_t SELECT g, g, 'i' || g FROM generate_series(1, 100) g;
       INSERT INTO none_t SELECT g, 'n' || g FROM generate_series(1, 100) g;`,
      [],
      db,
    );
    const spec = pairSpec(pair, 'ident-changed', [db], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true });
    const store = new CatalogConnection(spec.target);
    const running = runMigration(spec);
    try {
      await waitingForCutover(store, spec.migrationName);
      const write = (offset: number) => identityWriter(pair.source, db, offset);
      const writer = write(1000);
      await writer.connected;
      await pair.source.query(`ALTER TABLE full_t REPLICA IDENTITY FULL; ALTER TABLE idx_t REPLICA IDENTITY USING INDEX idx_t_u`, [], db);
      await until(
        'the identities set on the target',
        async () =>
          ((await identityOf(pair.target, db, 'full_t')) === 'f' && (await identityOf(pair.target, db, 'idx_t')) === 'i idx_t_u') ||
          undefined,
        60_000,
      );

      // NOTHING: taken out of the publication; rows changed after it are never streamed
      await pair.source.query(`ALTER TABLE none_t REPLICA IDENTITY NOTHING`, [], db);
      await until(
        'none_t taken out of the publication',
        async () =>
          (await events(store, spec.migrationName, 300)).some((e) => /^public\.none_t is no longer streamed/.test(e.message)) || undefined,
        60_000,
      );
      await pair.source.query(`UPDATE none_t SET v = v || ' changed' WHERE id <= 10; DELETE FROM none_t WHERE id = 20`, [], db);
      // the cutover has no writer fence: the application stops before it is asked for
      assert.ok((await writer.stop()) > 0, 'the writer wrote');
      const stopped = await stoppedCutover(store, spec, running);
      const said = stopped.message ?? '';
      assert.match(said, /public\.none_t/, said);
      assert.match(said, /its replica identity is NOTHING/, said);
      assert.match(said, /ALTER TABLE public\.none_t REPLICA IDENTITY DEFAULT/, said);
      assert.doesNotMatch(said, /writes still running on the source/, said);

      // the identity back, a writer running through it: the table is followed again, copied at a pin and streamed
      const again = write(100_000);
      await again.connected;
      await pair.source.query(`UPDATE none_t SET v = v || ' before' WHERE id BETWEEN 30 AND 40`, [], db);
      await pair.source.query(`ALTER TABLE none_t REPLICA IDENTITY DEFAULT`, [], db);
      await until(
        'none_t followed again',
        async () => (await events(store, spec.migrationName, 300)).some((e) => /^followed public\.none_t/.test(e.message)) || undefined,
        120_000,
      );
      await pair.source.query(`UPDATE none_t SET v = v || ' again' WHERE id > 90; DELETE FROM none_t WHERE id = 50`, [], db);
      assert.ok((await again.stop()) > 0, 'the writer wrote again');
      const end = await cutoverAgain(store, spec, running, stopped);
      assert.equal(end.state, 'Succeeded', `${end.message} ${end.verification?.firstMismatch ?? ''}`);
      // the identities changed under the writer without stopping the stream
      assert.deepEqual(await streamStops(store, spec.migrationName), []);
      for (const table of ['full_t', 'idx_t', 'none_t']) {
        assert.equal(await digestOf(pair.target, db, table), await digestOf(pair.source, db, table), table);
        assert.equal(await identityOf(pair.target, db, table), await identityOf(pair.source, db, table), `${table}'s replica identity`);
      }
    } finally {
      await endIfRunning(spec, running);
      await store.close();
    }
  });
});

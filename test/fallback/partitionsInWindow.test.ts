// The reverse stream and a DBA's partition maintenance on the new server during a fallback window.
// After the cutover the new server (the target) is the primary. Someone there creates a new
// partition (as pg_partman's maintenance does daily), or renames one, and the application writes
// rows into it. The old source has no table of that name: the reverse stream must stop, and a
// fall-back be refused, in one line naming the partition (a renamed one with its name on the old
// source, found by its bounds, and the rename to make), never go on with those rows left behind;
// once the DBA makes or renames the partition on the old source, the stream applies them and the
// fall-back brings every row of the window to the old source, once.
import assert from 'node:assert/strict';
import { PgferryError, requestFallBack, showMigration } from '../../provider/engine';
import { events } from '../../provider/engine/control/store';
import { fallbackWindows } from '../../provider/engine/control/fallbackWindows';
import {
  cutOverWithWindow,
  fallBackSettles,
  serverSpec,
  until,
  windowIs,
  suiteServers,
  writeBehindFence,
  writeReadWrite,
  type ServerPair,
} from '../support';

const SETUP = `
CREATE TABLE events (id int NOT NULL, day date NOT NULL, v text, PRIMARY KEY (id, day)) PARTITION BY RANGE (day);
CREATE TABLE events_jan PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
CREATE TABLE events_feb PARTITION OF events FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
CREATE TABLE events_mar PARTITION OF events FOR VALUES FROM ('2026-03-01') TO ('2026-04-01');
INSERT INTO events SELECT g, date '2026-01-01' + (g % 90), 'before' FROM generate_series(1, 300) g;`;

/** The rows of the partitioned table as one server's root holds them. */
async function rootRows(pair: ServerPair, side: 'source' | 'target', db: string): Promise<string[]> {
  return (await pair[side].query<{ r: string }>('SELECT ROW(id, day, v)::text AS r FROM events ORDER BY id, day', [], db)).map((r) => r.r);
}

/** A fall-back refused in one line naming `table`. */
async function refusedNaming(pair: ServerPair, name: string, table: string): Promise<void> {
  await assert.rejects(requestFallBack(serverSpec(pair.target), name), (error: unknown) => {
    assert.ok(error instanceof PgferryError, String(error));
    assert.equal(error.code, 'FALLBACK_REFUSED');
    assert.ok(!error.message.includes('\n'), 'one line');
    assert.ok(error.message.includes(table), error.message);
    return true;
  });
}

describe('fallback window: partitions made or renamed on the new server', function () {
  this.timeout(600_000);
  const servers = suiteServers();

  /** An online migration of `db` cut over with a window; returns once the window is open. */
  const windowOpen = (name: string, db: string) => cutOverWithWindow(servers.pair, servers.store, name, db, SETUP);

  /**
   * The stop as `show` and the migration's events give it: the partition named as streamed from the
   * new server and missing on the old source, the fix made there, never the forward stream's words
   * ("the source", "the target"), which would send the user to the wrong server.
   */
  async function saysItsOwnDirection(name: string, partition: string): Promise<void> {
    const { pair, store } = servers;
    const { stop } = (await fallbackWindows(store, name))[0]!;
    assert.equal(stop?.code, 'CDC_TABLE_MISSING', JSON.stringify(stop));
    assert.equal(stop.error, `table public.${partition} is streamed from the new server but does not exist on the old source`);
    assert.equal(stop.table, `"public"."${partition}"`);
    assert.equal(
      stop.fix,
      'a partition made, attached or renamed on the new server in the window is not made on the old source by pgferry: make it there as it is on the new server',
    );
    const shown = (await showMigration(serverSpec(pair.target), name))!.databases[0]!.fallback!;
    const said = (await events(store, name, 200)).filter((e) => e.message.startsWith('the reverse stream stopped: '));
    assert.equal(said.length, 1, said.map((e) => e.message).join('\n'));
    for (const message of [shown.message ?? '', said[0]!.message]) {
      assert.ok(
        message.startsWith(`the reverse stream stopped: ${stop.error}; fix on the old source, where it applies: ${stop.fix}; `),
        message,
      );
      assert.doesNotMatch(message, /\bthe (source|target)\b/);
    }
  }

  const stopped = (name: string) => windowIs(servers.store, name, 'Stopped');
  const open = (name: string) => windowIs(servers.store, name, 'Open');

  it('a partition created on the new server: the stream stops naming it, and once it is made on the old source every row of the window is there after the fall-back, once', async () => {
    const { pair, store } = servers;
    const name = 'parts-made';
    const db = 'parts_made';
    await windowOpen(name, db);
    await pair.target.query(
      `CREATE TABLE events_apr PARTITION OF events FOR VALUES FROM ('2026-04-01') TO ('2026-05-01');
       INSERT INTO events SELECT 4000 + g, date '2026-04-01' + g, 'window apr' FROM generate_series(0, 9) g;
       INSERT INTO events SELECT 1000 + g, date '2026-01-01' + g, 'window jan' FROM generate_series(0, 9) g;`,
      [],
      db,
    );
    await until('the reverse stream stopped on the new partition', stopped(name), 120_000);
    await refusedNaming(pair, name, 'events_apr');
    await saysItsOwnDirection(name, 'events_apr');

    // the fix the stop names: the partition made on the old source (as its administrator can, behind the fence)
    await writeBehindFence(pair.source, db, "CREATE TABLE events_apr PARTITION OF events FOR VALUES FROM ('2026-04-01') TO ('2026-05-01')");
    await until('the reverse stream applies again', open(name), 180_000);
    await pair.target.query("UPDATE events SET v = 'updated in the window' WHERE id IN (1000, 4000)", [], db);
    const written = await rootRows(pair, 'target', db);
    assert.equal(written.length, 320, 'the new server holds the rows of before and of the window');
    await requestFallBack(serverSpec(pair.target), name);
    const settled = await fallBackSettles(store, name);
    const fallback = settled.databases[0]!.fallback!;
    assert.equal(fallback.state, 'FellBack', fallback.message);
    assert.deepEqual(await rootRows(pair, 'source', db), written, 'every row of the window on the old source, once');
  });

  it('a partition renamed on the new server: the stream stops and a fall-back is refused, in one line naming the rename; renamed on the old source too, every row of the window is there after the fall-back', async () => {
    const { pair, store } = servers;
    const name = 'parts-renamed';
    const db = 'parts_renamed';
    await windowOpen(name, db);
    await pair.target.query(
      `ALTER TABLE events_jan RENAME TO events_2026_01;
       INSERT INTO events SELECT 1000 + g, date '2026-01-01' + g, 'window jan' FROM generate_series(0, 9) g;`,
      [],
      db,
    );
    await until('the reverse stream stopped on the renamed partition', stopped(name), 120_000);
    await refusedNaming(pair, name, 'events_2026_01');
    // the stop names the partition of the same bounds on the old source, and the rename that follows it
    await refusedNaming(pair, name, 'public.events_jan on the old source: it was renamed on the new server');
    const window = (await fallbackWindows(store, name))[0]!;
    assert.ok(JSON.stringify(window).includes('RENAME TO'), `the fix is the rename: ${JSON.stringify(window)}`);

    // the fix the stop names, made on the old source by its administrator (a DDL: the fence refuses rows, not renames)
    await writeReadWrite(pair.source, db, 'ALTER TABLE events_jan RENAME TO events_2026_01');
    await until('the reverse stream applies again', open(name), 180_000);
    const written = await rootRows(pair, 'target', db);
    assert.equal(written.length, 310, 'the new server holds the rows of before and of the window');
    await requestFallBack(serverSpec(pair.target), name);
    const settled = await fallBackSettles(store, name);
    const fallback = settled.databases[0]!.fallback!;
    assert.equal(fallback.state, 'FellBack', fallback.message);
    assert.deepEqual(await rootRows(pair, 'source', db), written, 'every row of the window on the old source, once');
  });
});

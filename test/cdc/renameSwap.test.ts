// A table rebuilt the way online schema change tools do it (pg-osc, gh-ost's pattern), while changes
// stream with tableDropsAndRenames: follow: a new table made beside the old one, the rows copied
// into it, the two swapped by renames (the old one to t_old, the new one to t), the old one dropped,
// the swap in one transaction. The application writes into t throughout, so into the new table after
// the swap. Made in the swap's transaction, the new table is made on the target only once the old
// table has left its name there (flow/tableDropsFollow.ts waitsForName): before, its copy landed in
// the old table, which the rename then carried away and the drop dropped, and the stream stopped for
// ever on t missing. Made first and followed under its first name, its rename at its next row moves
// the old table out of the name on the target first (cdc/apply/renameFollower.ts nameLeftBy):
// before, the rename failed on the name taken and the stream stopped for ever. Now nothing stops,
// the cutover succeeds, and t's rows read back on the target are the source's.
import assert from 'node:assert/strict';
import type pg from 'pg';
import type { CatalogConnection } from '../../provider/engine/control/connection';
import { events } from '../../provider/engine/control/store';
import { endIfRunning, startPair, until, waitForStatus, type ServerPair } from '../support';
import { eventsTold } from '../support/toldEvents';
import { cutOverOnceAccepted, followingMigration, rowsOf, writeIds } from './harness';

const SCHEMA = `CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL);
INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 2000) g;`;

/**
 * The tool's rebuild: the new table made, the rows copied and the two swapped by renames. In one
 * transaction, the table watch never sees the new table under its first name: it finds the old one
 * renamed away and a new one under its name at one scan, and the new one's follow must not make it
 * on the target before the old one has left the name there. Made first and followed under its
 * first name (the tools copy for minutes), the new table's rename reaches the apply at its next
 * row, the old table still under that name on the target: the apply moves it away first.
 */
async function rebuild(c: pg.Client, made: (() => Promise<void>) | undefined): Promise<void> {
  if (made) {
    await c.query('CREATE TABLE t_new (LIKE t INCLUDING ALL)');
    await made();
  }
  await c.query('BEGIN');
  await c.query('LOCK TABLE t IN EXCLUSIVE MODE');
  if (!made) await c.query('CREATE TABLE t_new (LIKE t INCLUDING ALL)');
  await c.query('INSERT INTO t_new SELECT * FROM t ON CONFLICT (id) DO NOTHING');
  await c.query('ALTER TABLE t RENAME TO t_old');
  await c.query('ALTER TABLE t_new RENAME TO t');
  await c.query('COMMIT');
}

/** Waits for an event of the migration matching `told`. */
async function told(m: { store: CatalogConnection }, name: string, what: string, pattern: RegExp): Promise<void> {
  await until(what, async () => ((await events(m.store, name, 200)).some((e) => pattern.test(e.message)) ? true : undefined), 120_000);
}

async function swapWhileStreaming(pair: ServerPair, name: string, madeFirst: boolean): Promise<void> {
  const db = name.replace(/-/g, '_');
  const m = await followingMigration(pair, name, db, SCHEMA);
  const app = await pair.source.connect(db);
  const dba = await pair.source.connect(db);
  const writes = writeIds(app, async (c, id) => {
    await c.query('INSERT INTO t (id, v) VALUES ($1, $2)', [id, `w${id}`]);
    await c.query(`UPDATE t SET v = v || 'u' WHERE id = $1`, [id - 3]);
  });
  try {
    await writes.more(20, 'rows');
    const made = madeFirst
      ? () => told(m, name, 'the new table followed under its first name', /^followed public\.t_new, created/)
      : undefined;
    await rebuild(dba, made);
    // the old table's rename is seen by the watch before its drop, as the tools leave it a while
    await (madeFirst
      ? told(m, name, 'the swap followed', /^streamed table public\.t renamed to public\.t_old on the source, followed/)
      : told(m, name, 'the new table followed', /^followed public\.t, created/));
    await writes.more(30, 'rows');
    await dba.query('DROP TABLE t_old');
    await writes.more(30, 'rows');
    await writes.stop();
    await until(
      "the target's tables as the source's, nothing stopped",
      async () => {
        const tables = await pair.target.query<{ t: string }>(
          `SELECT string_agg(relname, ',' ORDER BY relname) AS t FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace`,
          [],
          db,
        );
        const status = await waitForStatus(m.store, name, () => true);
        if (status.subState === 'WaitingForApplyFix') throw new Error(`the stream stopped: ${status.message}`);
        return tables[0]?.t === 't' ? true : undefined;
      },
      120_000,
    ).catch(async (error: Error) => {
      throw new Error(`${error.message}\n  ${await eventsTold(m.store, name, 20)}`);
    });
    await cutOverOnceAccepted(m.spec, m.store);
    const [source, target] = await Promise.all([rowsOf(pair.source, db, 't'), rowsOf(pair.target, db, 't')]);
    assert.equal(target.length, source.length, `t: ${target.length} rows on the target, ${source.length} on the source`);
    assert.deepEqual(target, source);
  } finally {
    await writes.stop().catch(() => undefined);
    await app.end();
    await dba.end();
    await endIfRunning(m.spec, m.running);
    await m.store.close();
  }
}

describe('online: a table rebuilt by create, copy and rename swap (online schema change tools) while streaming', function () {
  this.timeout(600_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair();
  });
  after(async () => pair?.stop());

  it('swapped in one transaction with the new table made: nothing stops, the cutover succeeds, and t on the target has the source rows', async () =>
    swapWhileStreaming(pair, 'swap-in-one', false));

  it('swapped once the new table is followed under its first name: nothing stops, the cutover succeeds, and t on the target has the source rows', async () =>
    swapWhileStreaming(pair, 'swap-after-follow', true));
});

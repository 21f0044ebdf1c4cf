// pgferry's publication dropped by hand on the source while changes stream (a DBA tidying up what
// looks like a leftover). pgoutput reads the publication as the catalog had it at each change, so no
// change made after the drop can be decoded from the slot, even once a publication of that name is
// made again: no fix on either server lets the stream go on, and a stop that waits for one (with a
// fix about a table missing on the target) waits forever. The migration ends instead, its one line
// naming the publication dropped and what to do (cdc/apply/applyStop.ts publicationLost); nothing
// reports it Succeeded, the application's writes on the source never fail, and the target's table
// holds only rows the source has (none made up, none twice). A streamed table only taken out of the
// publication (ALTER PUBLICATION ... DROP TABLE) is published again and copied whole at a pinned
// position by the table watch, as a table created while streaming is: the user is told once who did
// what (cdc/prepare/tableWatch.ts reportUnpublished), and the cutover succeeds with the rows equal.
import assert from 'node:assert/strict';
import type pg from 'pg';
import { runMigration } from '../../provider/engine';
import { isFinalState } from '../../provider/engine/core/model';
import { events } from '../../provider/engine/control/store';
import { ident } from '../../provider/engine/connect/quote';
import { endIfRunning, startPair, until, waitForStatus, waitingForCutover, type ServerPair } from '../support';
import { eventsTold } from '../support/toldEvents';
import { cutOverOnceAccepted, onlineOver, rowsOf, writeIds } from './harness';

const DB = 'pubdropped';
const DROPPED =
  /^database pubdropped: pgferry's publication pgferry_\S+ was dropped on the source while streaming, not by pgferry: the replication slot cannot decode any change made since/;

const UNPUBLISHED =
  /^streamed table public\.t was taken out of pgferry's publication on the source while streaming, not by pgferry: its changes since were not streamed, so it is published again and its rows copied again at a pinned position/;

const SCHEMA = `CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL); INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 1000) g;`;

/** The one publication of the database: pgferry's. */
async function publicationName(client: pg.Client): Promise<string> {
  const { rows } = await client.query<{ pubname: string }>('SELECT pubname FROM pg_catalog.pg_publication');
  assert.equal(rows.length, 1, `one publication: ${JSON.stringify(rows)}`);
  return rows[0]!.pubname;
}

describe('online: pgferry’s publication dropped or altered by hand on the source while streaming', function () {
  this.timeout(300_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair();
  });
  after(async () => pair?.stop());

  it('the migration ends Failed naming the dropped publication and the fix; the application writes on; the target has no row the source lacks', async () => {
    const { spec, store } = await onlineOver(pair, 'pub-dropped', DB, SCHEMA);
    const running = runMigration(spec);
    running.catch(() => undefined);
    const app = await pair.source.connect(DB);
    const dba = await pair.source.connect(DB);
    const writes = writeIds(app, (c, id) => c.query('INSERT INTO t (id, v) VALUES ($1, $2)', [id, `w${id}`]));
    try {
      await waitingForCutover(store, spec.migrationName);
      await writes.more(20, 'rows while streaming');
      const pubname = await publicationName(dba);
      await dba.query(`DROP PUBLICATION ${ident(pubname)}`);
      await writes.more(20, 'rows after the drop');
      const end = await waitForStatus(
        store,
        spec.migrationName,
        (s) => isFinalState(s.state) || s.subState === 'WaitingForApplyFix',
        120_000,
      );
      assert.equal(
        end.state,
        'Failed',
        `${end.state}/${end.subState}: ${end.message}\n  ${await eventsTold(store, spec.migrationName, 10)}`,
      );
      assert.match(end.message ?? '', DROPPED);
      assert.match(end.message ?? '', /start the migration again/);
      await writes.stop();
      const [source] = await pair.source.query<{ n: number }>('SELECT count(*)::int AS n FROM t WHERE id > 100000', [], DB);
      assert.equal(source!.n, writes.last() - 100_000, 'every write of the application committed on the source');
      const targetIds = (await pair.target.query<{ id: number }>('SELECT id FROM t', [], DB)).map((r) => r.id);
      const sourceIds = new Set((await pair.source.query<{ id: number }>('SELECT id FROM t', [], DB)).map((r) => r.id));
      assert.deepEqual(
        targetIds.filter((i) => !sourceIds.has(i)),
        [],
        'no row on the target the source lacks',
      );
    } finally {
      await writes.stop().catch(() => undefined);
      await app.end();
      await dba.end();
      await endIfRunning(spec, running);
      await store.close();
    }
  });

  it('a table taken out of it is told once, published and copied again: the cutover succeeds with the rows equal', async () => {
    const db = 'pubaltered';
    const { spec, store } = await onlineOver(pair, 'pub-altered', db, SCHEMA);
    const running = runMigration(spec);
    running.catch(() => undefined);
    const app = await pair.source.connect(db);
    const dba = await pair.source.connect(db);
    const writes = writeIds(app, async (c, id) => {
      await c.query('INSERT INTO t (id, v) VALUES ($1, $2)', [id, `w${id}`]);
      await c.query(`UPDATE t SET v = v || 'u' WHERE id = $1`, [id - 3]);
    });
    try {
      await waitingForCutover(store, spec.migrationName);
      await writes.more(20, 'rows');
      const pubname = await publicationName(dba);
      await dba.query(`ALTER PUBLICATION ${ident(pubname)} DROP TABLE t`);
      await writes.more(20, 'rows');
      const told = async () => (await events(store, spec.migrationName, 200)).filter((e) => UNPUBLISHED.test(e.message));
      await until('the table taken out to be told', async () => ((await told()).length > 0 ? true : undefined), 60_000);
      await until(
        'the table published again',
        async () =>
          (await dba.query('SELECT 1 FROM pg_publication_tables WHERE pubname = $1', [pubname])).rows.length > 0 ? true : undefined,
        120_000,
      );
      await writes.more(20, 'rows');
      await writes.stop();
      await cutOverOnceAccepted(spec, store);
      assert.equal((await told()).length, 1, 'told once');
      const [source, target] = await Promise.all([rowsOf(pair.source, db, 't'), rowsOf(pair.target, db, 't')]);
      assert.equal(target.length, source.length, `t: ${target.length} rows on the target, ${source.length} on the source`);
      assert.deepEqual(target, source);
    } finally {
      await writes.stop().catch(() => undefined);
      await app.end();
      await dba.end();
      await endIfRunning(spec, running);
      await store.close();
    }
  });
});

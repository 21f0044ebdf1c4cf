// allowReplicaIdentityFull and a fallback window. A keyless table is given REPLICA IDENTITY FULL by
// pgferry for the forward stream; after a cutover with a window the reverse publication on the new
// server lists the same table, so the application's UPDATE and DELETE there succeed only while its
// copy keeps FULL ("cannot update table ... because it does not have a replica identity and
// publishes updates" otherwise). The cutover's release keeps it FULL on both servers (the schema
// check compares them); closing the window or falling back drops the reverse publication and then
// sets both back. A table the DBA gave REPLICA IDENTITY FULL
// themselves keeps it on both servers throughout; so does one made while streaming, followed and
// given FULL by the table watch. Rows and identities are read back on both servers.
import assert from 'node:assert/strict';
import { closeFallbackWindow, requestFallBack } from '../../provider/engine';
import { fallbackWindows } from '../../provider/engine/control/fallbackWindows';
import { tableResyncs } from '../../provider/engine/control/tableResyncs';
import { cutOverWithWindow, fallBackSettles, serverSpec, until, suiteServers, type ServerPair } from '../support';
import { rowsOf } from '../cdc/harness';
import { tablesAlike } from '../support/windowShop';

const SETUP = `
CREATE TABLE items (id int PRIMARY KEY, v text NOT NULL);
CREATE TABLE readings (sensor int NOT NULL, v numeric NOT NULL, note text);
CREATE TABLE own_full (k int, note text);
ALTER TABLE own_full REPLICA IDENTITY FULL;
INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 50) g;
INSERT INTO readings SELECT g % 10, g, 'r' || g FROM generate_series(1, 200) g;
INSERT INTO own_full SELECT g, 'o' || g FROM generate_series(1, 20) g;`;

const TABLES = ['items', 'readings', 'own_full', 'late'] as const;

/** What the application does on the new server in the window: updates and deletes of the keyless tables too. */
const APPLICATION_WRITES = [
  "UPDATE readings SET note = 'updated in the window' WHERE sensor = 3",
  'DELETE FROM readings WHERE sensor = 7',
  "INSERT INTO readings VALUES (42, 4242, 'new in the window')",
  "UPDATE own_full SET note = 'updated too' WHERE k <= 5",
  'DELETE FROM own_full WHERE k > 15',
  'UPDATE late SET total = -total WHERE k <= 10',
  'DELETE FROM late WHERE k > 25',
  "UPDATE items SET v = 'updated' WHERE id <= 10",
];

/** relreplident of each table on one server, `table=d` etc., in table order. */
async function identities(pair: ServerPair, side: 'source' | 'target', db: string): Promise<string[]> {
  const rows = await pair[side].query<{ t: string }>(
    `SELECT c.relname || '=' || c.relreplident::text AS t FROM pg_class c
      WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' ORDER BY c.relname`,
    [],
    db,
  );
  return rows.map((r) => r.t);
}

const sameOnBoth = (pair: ServerPair, db: string): Promise<boolean> => tablesAlike(pair, db, TABLES);

describe('fallback window: keyless tables given REPLICA IDENTITY FULL', function () {
  this.timeout(600_000);
  const servers = suiteServers();

  /**
   * An online migration with allowReplicaIdentityFull cut over with a window; the application's
   * updates and deletes of keyless tables on the new server succeed and reach the old source.
   */
  async function cutOverAndWrite(name: string, db: string): Promise<void> {
    const { pair, store } = servers;
    await cutOverWithWindow(pair, store, name, db, SETUP, {
      spec: { allowReplicaIdentityFull: true },
      whileStreaming: async () => {
        // a keyless table made while streaming: followed, given FULL by the table watch
        await pair.source.query('CREATE TABLE late AS SELECT g AS k, g * 10 AS total FROM generate_series(1, 30) g', [], db);
        await until(
          'the new table followed',
          async () =>
            (await tableResyncs(store, name)).some((r) => r.table === 'public.late' && r.doneAt !== undefined) ? true : undefined,
          240_000,
        );
        assert.deepEqual(await identities(pair, 'source', db), ['items=d', 'late=f', 'own_full=f', 'readings=f'], 'FULL while streaming');
      },
    });
    // the table the reverse publication lists keeps FULL, on both servers (which the schema check compares)
    assert.deepEqual(
      await identities(pair, 'target', db),
      ['items=d', 'late=f', 'own_full=f', 'readings=f'],
      'the new server in the window',
    );
    assert.deepEqual(
      await identities(pair, 'source', db),
      ['items=d', 'late=f', 'own_full=f', 'readings=f'],
      'the old source in the window',
    );
    for (const sql of APPLICATION_WRITES) await pair.target.query(sql, [], db);
    await until('the old source has the window writes', async () => ((await sameOnBoth(pair, db)) ? true : undefined), 180_000);
    const notes = await pair.source.query<{ n: string }>(
      "SELECT count(*)::text AS n FROM readings WHERE note = 'updated in the window'",
      [],
      db,
    );
    assert.equal(notes[0]!.n, '20', 'the update of the keyless table reached the old source');
    const deleted = await pair.source.query<{ n: string }>('SELECT count(*)::text AS n FROM readings WHERE sensor = 7', [], db);
    assert.equal(deleted[0]!.n, '0', 'the delete of the keyless table reached the old source');
  }

  it('updates and deletes of a keyless table on the new server succeed in the window and reach the old source; closing the window sets its identity back on both servers, a DBA own FULL kept', async () => {
    const { pair, store } = servers;
    const name = 'ident-close';
    const db = 'ident_close';
    await cutOverAndWrite(name, db);
    await closeFallbackWindow(serverSpec(pair.target), name);
    await until('the window closed', async () => ((await fallbackWindows(store, name))[0]?.state === 'Closed' ? true : undefined));
    await until('the new server set back', async () => ((await identities(pair, 'target', db)).includes('readings=d') ? true : undefined));
    assert.deepEqual(
      await identities(pair, 'target', db),
      ['items=d', 'late=d', 'own_full=f', 'readings=d'],
      'the new server after the window',
    );
    assert.deepEqual(
      await identities(pair, 'source', db),
      ['items=d', 'late=d', 'own_full=f', 'readings=d'],
      'the old source after the window',
    );
    // nothing left to set back: a keyless table's update on the new server now has no publication to fail on
    await pair.target.query("UPDATE readings SET note = 'after the window' WHERE sensor = 1", [], db);
  });

  it('updates and deletes of a keyless table on the new server succeed in the window; after a fall-back its identity is set back on both servers, a DBA own FULL kept, every row on the old source', async () => {
    const { pair, store } = servers;
    const name = 'ident-fellback';
    const db = 'ident_fellback';
    await cutOverAndWrite(name, db);
    const written = await rowsOf(pair.target, db, 'readings');
    await requestFallBack(serverSpec(pair.target), name);
    const settled = await fallBackSettles(store, name);
    assert.equal(settled.databases[0]!.fallback!.state, 'FellBack', settled.databases[0]!.fallback!.message);
    assert.deepEqual(await rowsOf(pair.source, db, 'readings'), written, 'every row of the window on the old source, once');
    assert.deepEqual(
      await identities(pair, 'target', db),
      ['items=d', 'late=d', 'own_full=f', 'readings=d'],
      'the new server after the fall-back',
    );
    assert.deepEqual(
      await identities(pair, 'source', db),
      ['items=d', 'late=d', 'own_full=f', 'readings=d'],
      'the old source after the fall-back',
    );
    // the old source is the primary again: the application's update of the keyless table works there
    await pair.source.query("UPDATE readings SET note = 'primary again' WHERE sensor = 1", [], db);
  });
});

// A composite type given an attribute on the source while changes stream (ALTER TYPE ... ADD
// ATTRIBUTE), a table's column being of that type, is given it on the target in place by the
// schema watch, and the rows written with it stream. Before, the stream stopped on the first such
// row for good, and the cutover's schema check printed DROP TYPE and CREATE TYPE, which the column
// using the type refuses (CASCADE would drop it). Found by an outside trial (docs/trials.md).
import assert from 'node:assert/strict';
import { runMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { type Cluster, cutoverEnd, endIfRunning, pairSpec, suiteServers, until, waitingForCutover } from '../support';

const DB = 'composites';
const OLD_ROWS = 'composites_old_rows';

const SCHEMA = `
CREATE TYPE mood AS ENUM ('sad', 'ok');
CREATE TYPE "pair ""p""" AS (m mood, "label, text" text, amount numeric(12,4));
CREATE TABLE items (id int PRIMARY KEY, p "pair ""p""", ps "pair ""p"""[]);
INSERT INTO items SELECT g, ROW('ok', 'l' || g, g / 3.0)::"pair ""p""", ARRAY[ROW('sad', NULL, 1)::"pair ""p"""] FROM generate_series(1, 200) g;`;

/** The type's attributes, its OID, and every row of items as text, from one server. */
async function read(cluster: Cluster, db = DB): Promise<{ attributes: string; oid: string; rows: string }> {
  const [type] = await cluster.query<{ attributes: string; oid: string }>(
    `SELECT string_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY a.attnum) AS attributes,
            t.oid::text AS oid
       FROM pg_type t JOIN pg_attribute a ON a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
      WHERE t.typname = 'pair "p"' GROUP BY t.oid`,
    [],
    db,
  );
  const [rows] = await cluster.query<{ rows: string }>(`SELECT string_agg(i::text, E'\\n' ORDER BY id) AS rows FROM items i`, [], db);
  return { attributes: type?.attributes ?? '', oid: type?.oid ?? '', rows: rows?.rows ?? '' };
}

describe('a composite type given an attribute on the source while streaming (integration)', function () {
  this.timeout(180_000);
  const servers = suiteServers({
    databases: {
      [DB]: SCHEMA,
      [OLD_ROWS]: SCHEMA,
    },
  });

  it("is given it on the target in place, the rows written with it stream, and the cutover Succeeded with the source's rows", async () => {
    const { pair } = servers;
    const spec = pairSpec(pair, 'composite-attributes', [DB], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true });
    const store = new CatalogConnection(spec.target);
    const running = runMigration(spec);
    try {
      await waitingForCutover(store, spec.migrationName);
      const before = await read(pair.target);
      await pair.source.query(
        `ALTER TYPE "pair ""p""" ADD ATTRIBUTE "note ""n""" varchar(20);
         ALTER TYPE "pair ""p""" ADD ATTRIBUTE extra int;
         UPDATE items SET p = ROW('sad', 'new', 1.5, 'n', 7)::"pair ""p""", ps = ps || ROW('ok', 'x', 2, NULL, 8)::"pair ""p""" WHERE id <= 20;
         INSERT INTO items VALUES (1000, ROW('ok', 'inserted', 3, 'i', 9)::"pair ""p""", NULL)`,
        [],
        DB,
      );
      const want = await read(pair.source);
      await until(
        'the rows written with the new attributes on the target',
        async () => ((await read(pair.target)).rows === want.rows ? true : undefined),
        60_000,
      );
      const after = await read(pair.target);
      assert.equal(after.attributes, want.attributes);
      assert.equal(after.oid, before.oid, 'altered in place, not dropped and made again');
      // the first row written with them may have stopped the stream until they were added: it goes on by itself
      await waitingForCutover(store, spec.migrationName);
      const done = await cutoverEnd(store, spec, running);
      assert.equal(done.state, 'Succeeded', done.message);
      assert.equal((await read(pair.target)).rows, want.rows);
    } finally {
      await endIfRunning(spec, running);
      await store.close();
    }
  });

  it('a row written before the attributes were added, applied after the watch added them on the target, is written with them NULL', async () => {
    const { pair } = servers;
    const spec = pairSpec(pair, 'composite-old-rows', [OLD_ROWS], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true });
    const store = new CatalogConnection(spec.target);
    const running = runMigration(spec);
    let holder: Awaited<ReturnType<Cluster['connect']>> | undefined;
    try {
      await waitingForCutover(store, spec.migrationName);
      // a session on the target holding items against the apply's writes (not against the type's change)
      holder = await pair.target.connect(OLD_ROWS);
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE items IN SHARE MODE');
      await pair.source.query(
        `UPDATE items SET p = ROW('sad', 'old shape', 2.5)::"pair ""p""", ps = ARRAY[ROW('ok', 'old', 1)::"pair ""p"""] WHERE id <= 5;
         INSERT INTO items VALUES (2000, ROW('ok', 'old insert', 4)::"pair ""p""", NULL)`,
        [],
        OLD_ROWS,
      );
      await pair.source.query(
        `ALTER TYPE "pair ""p""" ADD ATTRIBUTE "note ""n""" varchar(20); ALTER TYPE "pair ""p""" ADD ATTRIBUTE extra int`,
        [],
        OLD_ROWS,
      );
      await pair.source.query(`UPDATE items SET p = ROW('ok', 'new shape', 3, 'n', 8)::"pair ""p""" WHERE id = 6`, [], OLD_ROWS);
      const want = await read(pair.source, OLD_ROWS);
      await until(
        'the attributes added on the target while the apply waits before the old rows',
        async () => ((await read(pair.target, OLD_ROWS)).attributes === want.attributes ? true : undefined),
        60_000,
      );
      await holder.query('COMMIT');
      await until(
        "the source's rows on the target",
        async () => ((await read(pair.target, OLD_ROWS)).rows === want.rows ? true : undefined),
        60_000,
      );
      assert.deepEqual(
        await pair.target.query(
          `SELECT (p).extra IS NULL AND (p)."note ""n""" IS NULL AS null_added FROM items WHERE id IN (1, 2000) ORDER BY id`,
          [],
          OLD_ROWS,
        ),
        [{ null_added: true }, { null_added: true }],
        'the old rows read with the added attributes NULL, as the source reads them',
      );
      const done = await cutoverEnd(store, spec, running);
      assert.equal(done.state, 'Succeeded', done.message);
      assert.equal((await read(pair.target, OLD_ROWS)).rows, want.rows);
    } finally {
      await holder?.query('ROLLBACK').catch(() => undefined);
      await holder?.end();
      await endIfRunning(spec, running);
      await store.close();
    }
  });
});

// Issue 49: an identity column, and one whose default the source evaluated per row, added on the
// source to a table nobody writes again, while an application writes another table. No relation
// message comes for the quiet table, so the apply never meets the change: the schema watch follows
// it, adding the columns on the target with the table's copy at a pinned position, so that the
// target holds the source's values before the cutover. A write to the table afterwards brings the
// relation message: the apply, finding the columns there, copies nothing again (the request keeps
// its pinned position). A generated column added to another quiet table is followed by the cutover
// (the target computes its values). Read back: both servers' rows, columns and identity sequences,
// and the cutover's own verification, which must end Succeeded with no schema difference.
import assert from 'node:assert/strict';
import type { MigrationSpec } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { tableResyncs } from '../../provider/engine/control/tableResyncs';
import { cutoverEnd, onBothTargets, quietTableRun, until, type Cluster, type ServerPair } from '../support';
import { rowsOf } from './harness';

const DB = 'idquiet';

const SCHEMA = `
CREATE TABLE quiet (id int PRIMARY KEY, label text);
INSERT INTO quiet SELECT g, 'l' || g FROM generate_series(1, 2000) g;
CREATE TABLE still (id int PRIMARY KEY, n int NOT NULL);
INSERT INTO still SELECT g, g FROM generate_series(1, 500) g;
CREATE TABLE busy (id int PRIMARY KEY, n int NOT NULL);
INSERT INTO busy SELECT g, g FROM generate_series(1, 1000) g;`;

/** gen_random_uuid(): values no target can compute again, so only the copy at a pin makes them equal. */
const RELEASE = `
ALTER TABLE quiet ADD COLUMN ticket bigint GENERATED ALWAYS AS IDENTITY (START WITH 1000 INCREMENT BY 7),
                  ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid();
ALTER TABLE still ADD COLUMN twice bigint GENERATED ALWAYS AS (n::bigint * 2) STORED;`;

/** The table's columns as the catalog has them (identity kind, generation, default), and its identity sequences' options and position. */
async function catalogOf(cluster: Cluster, table: string): Promise<unknown> {
  const columns = await cluster.query(
    `SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attidentity::text AS identity, a.attgenerated::text AS generated,
            a.attnotnull, pg_get_expr(d.adbin, d.adrelid) AS expr
       FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [table],
    DB,
  );
  const sequences = await cluster.query(
    `SELECT c.relname, q.seqstart::text, q.seqincrement::text, pg_sequence_last_value(c.oid)::text AS last
       FROM pg_depend dp JOIN pg_class c ON c.oid = dp.objid AND c.relkind = 'S' JOIN pg_sequence q ON q.seqrelid = c.oid
      WHERE dp.refobjid = $1::regclass AND dp.deptype = 'i' ORDER BY 1`,
    [table],
    DB,
  );
  return { columns, sequences };
}

/** The quiet table's copy at a pin, done: its pinned position. */
async function quietResynced(store: CatalogConnection, name: string): Promise<string | undefined> {
  const s = (await tableResyncs(store, name)).filter((r) => r.table === 'public.quiet');
  assert.ok(s.length <= 1, 'one request per table');
  if (!s[0]?.doneAt) return undefined;
  if (s[0].error) throw new Error(`the copy of quiet failed: ${s[0].error}`);
  return s[0].resyncedLsn;
}

async function scenario(pair: ServerPair, name: string, target: MigrationSpec['target']): Promise<void> {
  await quietTableRun(pair, { name, target, db: DB, schema: SCHEMA, busyRows: 1000 }, async ({ spec, store, running, writer, ready }) => {
    assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
    await pair.source.query(RELEASE, [], DB);
    // no write to quiet: the watch alone brings the columns and the source's values
    const pinned = await until('the copy of quiet at a pin', () => quietResynced(store, name), 120_000, 500);
    const source = await rowsOf(pair.source, DB, 'quiet');
    assert.deepEqual(await rowsOf(pair.target, DB, 'quiet'), source);
    // a write now brings the relation message: the apply finds the columns there and copies nothing again
    await pair.source.query(`INSERT INTO quiet (id, label) VALUES (5000, 'after')`, [], DB);
    await until('the write after on the target', async () =>
      (await pair.target.query(`SELECT 1 FROM quiet WHERE id = 5000`, [], DB)).length > 0 ? true : undefined,
    );
    assert.equal(await quietResynced(store, name), pinned, 'not copied again');
    await writer.stop();
    const end = await cutoverEnd(store, spec, running);
    assert.equal(end.state, 'Succeeded', `${end.message} ${end.verification?.firstMismatch ?? ''}`);
    assert.deepEqual(
      end.verification?.schema?.map((s) => s.differences.length),
      [0],
    );
    for (const table of ['quiet', 'still', 'busy'])
      assert.deepEqual(await rowsOf(pair.target, DB, table), await rowsOf(pair.source, DB, table), table);
    for (const table of ['quiet', 'still'])
      assert.deepEqual(await catalogOf(pair.target, table), await catalogOf(pair.source, table), table);
  });
}

describe('identity and per-row default columns added to a quiet table are followed while streaming (issue 49)', function () {
  this.timeout(300_000);
  onBothTargets(
    {
      superuser: 'superuser target: the source values before the cutover, copied once, Succeeded with catalogs equal',
      managed: 'managed-like target: the same',
    },
    async ({ pair, target, kind }) => {
      await scenario(pair, `idquiet-${kind}`, target);
    },
  );
});

// A column retyped on the source from one enum to another (the new type made in the same
// transaction, the values converted through their text) while changes stream, on a table the target
// holds a DBA's column of: the table cannot be copied again at a pin (the copy would empty the DBA's
// column), so the stream stops with the fix to make on the target, an ALTER COLUMN ... TYPE. The
// table the retype tests start from, the retype itself, the printed fix, and the read-back once the
// fix is made and the migration resumed.
import assert from 'node:assert/strict';
import { resumeMigration, showMigration } from '../../provider/engine';
import type { MigrationSpec } from '../../provider/engine/input/migrationSpec';
import type { Cluster } from '../../provider/localpg/cluster';
import type { ServerPair } from './servers';
import { until } from './wait';

/** The source's table: `t.status` of enum old_status, 500 rows. */
export const RETYPE_SCHEMA = `
CREATE TYPE old_status AS ENUM ('new', 'paid', 'shipped');
CREATE TABLE t (id int PRIMARY KEY, status old_status NOT NULL DEFAULT 'new', n int NOT NULL);
INSERT INTO t SELECT g, (ARRAY['new', 'paid', 'shipped'])[1 + g % 3]::old_status, g FROM generate_series(1, 500) g;`;

/** The source's retype: a new enum with one more label, the column converted to it through its text, then a row of the new label. */
const RETYPE = `BEGIN;
CREATE TYPE order_status AS ENUM ('new', 'paid', 'shipped', 'refunded');
ALTER TABLE t ALTER COLUMN status DROP DEFAULT;
ALTER TABLE t ALTER COLUMN status TYPE order_status USING status::text::order_status;
COMMIT;
INSERT INTO t VALUES (1000, 'refunded', 1000)`;

const STATUS_TYPE = `SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'status'`;

/** The table's rows over the source's columns: their count and md5. */
export async function retypedContents(cluster: Cluster, db: string): Promise<string> {
  const [row] = await cluster.query<{ n: string; h: string }>(
    `SELECT count(*)::text AS n, md5(string_agg(concat_ws('|', id, status, n), E'\\n' ORDER BY id)) AS h FROM t`,
    [],
    db,
  );
  return `${row!.n} rows, ${row!.h}`;
}

/**
 * A DBA's column added on the target alone (a copy of the table again at a pin would empty it), a
 * write the apply meets first in the old shape (so the retype is a change of its relation message),
 * then the retype on the source.
 */
export async function retypeBehindDbaColumn(servers: ServerPair, db: string): Promise<void> {
  await servers.target.query(`ALTER TABLE t ADD COLUMN dba_note text; UPDATE t SET dba_note = 'seen ' || id`, [], db);
  await servers.source.query(`UPDATE t SET n = -1 WHERE id = 1`, [], db);
  await until(
    'the write before the retype applied',
    async () => ((await servers.target.query(`SELECT 1 FROM t WHERE id = 1 AND n = -1`, [], db)).length > 0 ? true : undefined),
    60_000,
    200,
  );
  await servers.source.query(RETYPE, [], db);
}

/** The ALTER COLUMN ... TYPE the stop's fix prints, as printed (asserted there). */
export function printedRetype(fix: string): string {
  const statement = /\((ALTER TABLE .* ALTER COLUMN .* TYPE .*) as on the source\)/.exec(fix)?.[1];
  assert.ok(statement, `no ALTER COLUMN ... TYPE in the fix: ${fix}`);
  return statement;
}

/**
 * Once the fix is made on the target: rows written on the source, the migration resumed, and read
 * back: the target's rows equal the source's (over its columns), the column of the new type, and the
 * DBA's column keeps its values. `told`: the events quoted if the rows never become equal.
 */
export async function resumedAfterRetypeFix(
  servers: ServerPair,
  db: string,
  spec: MigrationSpec,
  told: () => Promise<string>,
): Promise<void> {
  await servers.source.query(`UPDATE t SET status = 'refunded' WHERE id = 7; INSERT INTO t VALUES (1001, 'paid', 1001)`, [], db);
  await resumeMigration(spec);
  await until(
    "the target's rows as the source's",
    async () => ((await retypedContents(servers.target, db)) === (await retypedContents(servers.source, db)) ? true : undefined),
    120_000,
    500,
  ).catch(async (error: Error) => {
    const s = await showMigration(spec.target, spec.migrationName);
    assert.fail(`${error.message}: ${await retypedContents(servers.target, db)}; ${s?.subState} ${s?.message ?? ''}\n  ${await told()}`);
  });
  assert.deepEqual(await servers.target.query(STATUS_TYPE, [], db), [{ t: 'order_status' }]);
  const [kept] = await servers.target.query<{ n: string }>(`SELECT count(*)::text AS n FROM t WHERE dba_note = 'seen ' || id`, [], db);
  assert.equal(kept!.n, '500', "the DBA's column keeps its values");
}

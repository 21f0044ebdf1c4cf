// Names with spaces, as the table resync reads them. The resync of a partition created on the
// source while streaming leaves out of its post-data restore the indexes the target already has
// (made by ATTACH PARTITION); it found them by splitting `pg_restore --list` lines on spaces, so a
// partition of "order lines" whose index is "order lines 2027_customer id_idx" was not recognised,
// restored a second time and refused: the follow failed once and was tried again. Read back: the
// partition followed on its first attempt, no event saying a restore met an existing index, each
// of its indexes (primary key, "by customer id"'s partition, its own) once on the target under the
// source's name, and after the cutover (Succeeded) the rows equal on both servers.
import assert from 'node:assert/strict';
import { requestCutover, runMigration, type MigrationStatus } from '../../provider/engine';
import { displayName, ident, qualified } from '../../provider/engine/connect/quote';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { events as catalogEvents } from '../../provider/engine/control/store';
import { tableResyncs } from '../../provider/engine/control/tableResyncs';
import { endIfRunning, onTarget, pairSpec, until, type Cluster, waitingForCutover } from '../support';

const DB = 'spaced';
const TABLE = 'order lines';
const PART = 'order lines 2027';
const INDEX = 'by customer id';
/** An index of the new partition alone, which only the post-data restore makes. */
const OWN_INDEX = 'by id 2027';

/** The partition's indexes by name, each with how many there are. */
async function indexesOf(cluster: Cluster): Promise<string[]> {
  const rows = await cluster.query<{ name: string; n: string }>(
    `SELECT i.relname AS name, count(*)::text AS n FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
      WHERE x.indrelid = $1::regclass GROUP BY i.relname ORDER BY i.relname`,
    [qualified('public', PART)],
    DB,
  );
  return rows.map((r) => `${r.name} x${r.n}`);
}

async function contents(cluster: Cluster): Promise<string> {
  const [row] = await cluster.query<{ n: string; h: string | null }>(
    `SELECT count(*)::text AS n, md5(string_agg(x::text, ',' ORDER BY x::text)) AS h FROM ${qualified('public', TABLE)} x`,
    [],
    DB,
  );
  return `${row!.n} rows, ${row!.h ?? '-'}`;
}

describe('names with spaces: the table resync knows the indexes the target has', function () {
  this.timeout(600_000);
  onTarget(
    'superuser',
    'a partition of "order lines" created while streaming: followed at the first attempt, each index once on the target, rows equal',
    async ({ pair, target }) => {
      const name = 'spaced-names';
      await pair.source.query(`CREATE DATABASE ${DB}`);
      await pair.source.query(
        `CREATE TABLE ${ident(TABLE)} (id int, "customer id" int NOT NULL, year int NOT NULL, PRIMARY KEY (id, year)) PARTITION BY RANGE (year);
       CREATE INDEX ${ident(INDEX)} ON ${ident(TABLE)} ("customer id");
       CREATE TABLE ${ident('order lines 2026')} PARTITION OF ${ident(TABLE)} FOR VALUES FROM (2026) TO (2027);
       INSERT INTO ${ident(TABLE)} SELECT g, g % 17, 2026 FROM generate_series(1, 300) g;`,
        [],
        DB,
      );
      const spec = { ...pairSpec(pair, name, [DB], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true }), target };
      const running = runMigration(spec);
      const store = new CatalogConnection(target);
      try {
        await waitingForCutover(store, name);

        await pair.source.query(
          `CREATE TABLE ${ident(PART)} PARTITION OF ${ident(TABLE)} FOR VALUES FROM (2027) TO (2028);
         CREATE INDEX ${ident(OWN_INDEX)} ON ${ident(PART)} (id DESC);
         INSERT INTO ${ident(TABLE)} SELECT g, g % 17, 2027 FROM generate_series(301, 500) g;`,
          [],
          DB,
        );
        const followed = await until(
          'the new partition followed',
          async () => (await tableResyncs(store, name)).find((r) => r.table === displayName('public', PART) && r.doneAt !== undefined),
          120_000,
        );
        assert.equal(followed.error, undefined, followed.error);
        // made on the first attempt: no restore refused an index the target had
        assert.equal(followed.attempts, 0);
        const said = (await catalogEvents(store, name, 500)).map((e) => e.message);
        assert.deepEqual(
          said.filter((m) => m.includes('already exists')),
          [],
        );

        const expected = await indexesOf(pair.source);
        assert.deepEqual(expected, ['by id 2027 x1', 'order lines 2027_customer id_idx x1', 'order lines 2027_pkey x1']);
        assert.deepEqual(await indexesOf(pair.target), expected);

        await requestCutover(target, name);
        const end: MigrationStatus = await running;
        assert.equal(end.state, 'Succeeded', `${end.message} ${end.verification?.firstMismatch ?? ''}`);
        const [src, dst] = await Promise.all([contents(pair.source), contents(pair.target)]);
        assert.equal(src.split(',')[0], '500 rows');
        assert.equal(dst, src);
      } finally {
        await endIfRunning({ target, migrationName: name }, running);
        await store.close();
      }
    },
  );
});

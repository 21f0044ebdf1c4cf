// What pgferry meets on a source that it made there itself: the control schema of an earlier run
// (the reverse stream's position a fallback window leaves on an old source, as a later migration
// from it finds it) is pgferry's, never the user's data. An online migration from such a source
// copies, publishes and verifies the user's tables and not pgferry's position table, read back on
// the target and in the source's publication. A table of someone else's in a schema named like the
// control schema is refused before either server changes, naming it and the fix; left out with
// excludeSchemas, the rest migrates.
import assert from 'node:assert/strict';
import { isFinalState, runMigration, startMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { requestCutover } from '../../provider/engine/control/migrationRequests';
import { runValidation } from '../../provider/engine/validate/runValidation';
import { publicationName } from '../../provider/engine/core/names';
import { pairSpec, type ServerPair, suiteServers, waitForStatus } from '../support';

/** pgferry's progress table as an earlier run's reverse stream left it on the old source, with its row. */
const EARLIER_POSITION = `
CREATE SCHEMA pgferry;
CREATE TABLE pgferry.apply_progress (migration text NOT NULL, database text NOT NULL, lsn pg_lsn NOT NULL,
  source_commit_at timestamptz, applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (migration, database));
INSERT INTO pgferry.apply_progress (migration, database, lsn) VALUES ('earlier', 'leftover', '0/16B3748');`;

const USER_TABLE = `
CREATE TABLE orders (id int PRIMARY KEY, note text NOT NULL);
INSERT INTO orders SELECT g, 'order ' || g FROM generate_series(1, 500) g;`;

const count = async (pair: ServerPair, side: 'source' | 'target', db: string, sql: string): Promise<number> =>
  Number((await pair[side].query<{ n: string }>(`SELECT (${sql})::int8::text AS n`, [], db))[0]!.n);

describe("pgferry's own tables on the source (integration)", function () {
  this.timeout(400_000);
  const servers = suiteServers({
    setUp: async (pair) => {
      for (const db of ['leftover', 'theirs']) {
        await pair.source.query(`CREATE DATABASE ${db}`);
        await pair.source.query(EARLIER_POSITION + USER_TABLE, [], db);
      }
      await pair.source.query(
        'CREATE TABLE pgferry.mine (id int PRIMARY KEY); INSERT INTO pgferry.mine VALUES (1), (2); CREATE TABLE pgferry.notes (msg text)',
        [],
        'theirs',
      );
    },
  });

  it("publishes and copies the user's table and not the earlier run's position table, whose row stays on the source alone", async () => {
    const { pair } = servers;
    const spec = pairSpec(pair, 'own-tables', ['leftover'], { mode: 'Online' });
    const store = new CatalogConnection(spec.target);
    try {
      await startMigration(spec);
      const ready = await waitForStatus(
        store,
        spec.migrationName,
        (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state),
      );
      assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
      const published = await pair.source.query<{ t: string }>(
        `SELECT schemaname || '.' || tablename AS t FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1`,
        [publicationName(spec.migrationName, 'leftover', ready.instance)],
        'leftover',
      );
      assert.deepEqual(
        published.map((r) => r.t),
        ['public.orders'],
      );
      await pair.source.query(`INSERT INTO orders VALUES (501, 'streamed')`, [], 'leftover');
      await requestCutover(store, spec.migrationName);
      const done = await waitForStatus(store, spec.migrationName, (s) => isFinalState(s.state));
      assert.equal(done.state, 'Succeeded', done.message);
    } finally {
      await store.close();
    }
    assert.equal(await count(pair, 'target', 'leftover', `SELECT count(*) FROM orders`), 501);
    assert.equal(await count(pair, 'target', 'leftover', `SELECT count(*) FROM orders WHERE id = 501 AND note = 'streamed'`), 1);
    // a superuser target records its position in an origin: no progress table of its own, and none copied
    assert.equal(await count(pair, 'target', 'leftover', `SELECT count(*) FROM pg_class WHERE relname = 'apply_progress'`), 0);
    assert.equal(await count(pair, 'source', 'leftover', `SELECT count(*) FROM pgferry.apply_progress WHERE migration = 'earlier'`), 1);
  });

  it('refuses a table of someone else in a schema named pgferry before either server changes, naming it and the fix', async () => {
    const { pair } = servers;
    const validated = pairSpec(pair, 'own-tables-theirs', ['theirs'], { option: 'Validate' });
    const refused = (await runValidation(validated)).filter((r) => r.code === 'CONTROL_SCHEMA_NOT_OURS');
    assert.equal(refused.length, 1);
    assert.match(
      refused[0]!.message,
      /^schema pgferry on the source holds table pgferry\.mine, table pgferry\.notes, which pgferry did not make: the schema's name collides with pgferry's own control schema/,
    );
    assert.doesNotMatch(refused[0]!.message, /apply_progress/);
    assert.match(
      refused[0]!.fix ?? '',
      /^rename the schema on the source \(ALTER SCHEMA pgferry RENAME TO .*excludeSchemas: pgferry, which validation accepts/,
    );
    // online, the one refusal says it all: the replica identity of a table in that schema is not judged
    const online = await runValidation(pairSpec(pair, 'own-tables-online', ['theirs'], { option: 'Validate', mode: 'Online' }));
    assert.deepEqual(
      online.filter((r) => r.code === 'CONTROL_SCHEMA_NOT_OURS' || /pgferry\.(mine|notes)/.test(r.message)).map((r) => [r.status, r.code]),
      [['Failed', 'CONTROL_SCHEMA_NOT_OURS']],
    );
    assert.ok(
      online.some((r) => r.code === 'CDC_TABLE' && /^table public\.orders:/.test(r.message)),
      "the user's own table is judged",
    );
    // left out by the filters, the schema fails nothing
    const leftOut = await runValidation(
      pairSpec(pair, 'own-tables-online-left-out', ['theirs'], { option: 'Validate', mode: 'Online', excludeSchemas: ['pgferry'] }),
    );
    assert.deepEqual(
      leftOut.filter((r) => r.status === 'Failed' || /pgferry\.(mine|notes)/.test(r.message)).map((r) => `${r.code}: ${r.message}`),
      [],
    );
    // Migrate skips validation: the run refuses the same before the target database is made
    const status = await runMigration(pairSpec(pair, 'own-tables-skip', ['theirs'], { option: 'Migrate' }));
    assert.deepEqual([status.state, status.subState], ['ValidationFailed', 'Completed'], status.message);
    assert.match(status.message ?? '', /database theirs: schema pgferry on the source holds table pgferry\.mine/);
    assert.equal(await count(pair, 'target', 'postgres', `SELECT count(*) FROM pg_database WHERE datname = 'theirs'`), 0);
    assert.equal(await count(pair, 'source', 'theirs', `SELECT count(*) FROM pgferry.mine`), 2);
    // left out by the filters, it stays behind and the rest migrates
    const filtered = await runMigration(pairSpec(pair, 'own-tables-filtered', ['theirs'], { excludeSchemas: ['pgferry'] }));
    assert.equal(filtered.state, 'Succeeded', filtered.message);
    assert.equal(await count(pair, 'target', 'theirs', `SELECT count(*) FROM orders`), 500);
    assert.equal(await count(pair, 'target', 'theirs', `SELECT count(*) FROM pg_class WHERE relname = 'mine'`), 0);
  });
});

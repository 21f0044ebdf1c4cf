import assert from 'node:assert/strict';
import { runMigration } from '../../provider/engine';
import { pairSpec, suiteServers, until } from '../support';

/** Rows in each of the two tables the writer adds to while they are copied (each split into parts). */
const BUSY_ROWS = 40_000;

describe('offline copy consistency', function () {
  this.timeout(300_000);
  const servers = suiteServers();

  const spec = (name: string, db: string, extra: Record<string, unknown> = {}) =>
    pairSpec(servers.pair, name, [db], { tableJobs: 4, indexJobs: 2, overwriteDbsInTarget: true, ...extra });

  it('copies one consistent snapshot while a writer inserts into the source', async () => {
    const { pair } = servers;
    await pair.source.query('CREATE DATABASE busy');
    await pair.source.query(
      `CREATE TABLE a (id bigint PRIMARY KEY, pad text); CREATE TABLE b (id bigint PRIMARY KEY, pad text);
       INSERT INTO a SELECT g, repeat('x', 200) FROM generate_series(1, ${BUSY_ROWS}) g;
       INSERT INTO b SELECT g, repeat('y', 200) FROM generate_series(1, ${BUSY_ROWS}) g;
       CREATE TABLE receipts (no bigserial PRIMARY KEY, note text);`,
      [],
      'busy',
    );
    // Each writer transaction adds the same id to both tables: a consistent copy has equal sets.
    // It also takes a receipt number: the source's sequence moves on past what the copy read, which
    // the verification must not call a difference while the target's sequence is past its rows.
    const writer = await pair.source.connect('busy');
    let stop = false;
    let written = 0;
    const writing = (async () => {
      let id = 1_000_000;
      while (!stop) {
        id += 1;
        await writer.query(
          `BEGIN; INSERT INTO a VALUES (${id}, 'w'); INSERT INTO b VALUES (${id}, 'w'); INSERT INTO receipts (note) VALUES ('w'); COMMIT;`,
        );
        written += 1;
      }
    })();
    let failed: Error | undefined;
    writing.catch((error: Error) => (failed = error));
    try {
      await until(
        'the writer to commit 20 transactions',
        async () => {
          if (failed) throw failed;
          return written >= 20 ? true : undefined;
        },
        60_000,
        10,
      );
      const status = await runMigration(spec('busy-copy', 'busy', { splitTablesLargerThan: 1024 * 1024 }));
      assert.equal(status.state, 'Succeeded', status.message);
      assert.equal(status.verification?.ok, true, status.verification?.firstMismatch);
      const sequences = status.verification?.tables.find((t) => t.table === '(sequences)');
      assert.deepEqual(sequences && [sequences.sourceRows, sequences.targetRows, sequences.matches], [1, 1, true]);
    } finally {
      stop = true;
      await writing;
      await writer.end();
    }
    const [onlyA] = await pair.target.query(
      `SELECT count(*)::int AS n FROM a FULL JOIN b USING (id) WHERE a.id IS NULL OR b.id IS NULL`,
      [],
      'busy',
    );
    assert.equal(onlyA!.n, 0, 'a row of a writer transaction was copied in one table but not the other');
    const [t] = await pair.target.query(`SELECT count(*)::int AS n FROM a`, [], 'busy');
    const [s] = await pair.source.query(`SELECT count(*)::int AS n FROM a`, [], 'busy');
    assert.ok(t!.n >= BUSY_ROWS && t!.n < s!.n, `target ${t!.n} rows, source ${s!.n}: writes after the snapshot must not be copied`);
    // the source moved on (the false mismatch the verification must not report) and the target's
    // sequence is past every receipt it holds (the check it makes instead)
    const [receipts] = await pair.target.query(
      `SELECT (SELECT max(no) FROM receipts)::int8::text AS held, (SELECT last_value FROM receipts_no_seq)::int8::text AS seq`,
      [],
      'busy',
    );
    const [sourceSeq] = await pair.source.query(`SELECT last_value::int8::text AS v FROM receipts_no_seq`, [], 'busy');
    assert.ok(BigInt(sourceSeq!.v) > BigInt(receipts!.seq), `source ${sourceSeq!.v}, target ${receipts!.seq}: the source moved on`);
    assert.ok(BigInt(receipts!.seq) >= BigInt(receipts!.held), `target sequence ${receipts!.seq}, rows up to ${receipts!.held}`);
  });

  it('a split copy of a large table equals an unsplit copy (integer key and CTID ranges)', async () => {
    const { pair } = servers;
    await pair.source.query('CREATE DATABASE big');
    await pair.source.query(
      `CREATE TABLE keyed (id int PRIMARY KEY, v text, n numeric);
       CREATE TABLE heap (v text, n numeric);
       INSERT INTO keyed SELECT g, md5(g::text), g / 3.0 FROM generate_series(-1000, 30000) g;
       INSERT INTO heap SELECT md5(g::text), g / 7.0 FROM generate_series(1, 30000) g;
       DELETE FROM heap WHERE n::int % 11 = 0;`,
      [],
      'big',
    );
    const digest = async () =>
      pair.target.query(
        `SELECT (SELECT count(*) FROM keyed)::int AS keyed_n, (SELECT md5(string_agg(k::text, ',' ORDER BY id)) FROM keyed k) AS keyed_h,
                (SELECT count(*) FROM heap)::int AS heap_n, (SELECT md5(string_agg(h::text, ',' ORDER BY v, n)) FROM heap h) AS heap_h`,
        [],
        'big',
      );
    const split = await runMigration(spec('big-split', 'big', { splitTablesLargerThan: 256 * 1024, splitMaxParts: 7 }));
    assert.equal(split.state, 'Succeeded', split.message);
    const parts = await pair.target.query(
      `SELECT schema_name || '.' || table_name AS table_name, parts FROM pgferry.migration_table WHERE migration = 'big-split' ORDER BY 1`,
    );
    assert.deepEqual(parts, [
      { table_name: 'public.heap', parts: 7 },
      { table_name: 'public.keyed', parts: 7 },
    ]);
    const progress = await pair.target.query(
      `SELECT schema_name || '.' || table_name AS table_name, state, parts_done, rows::int, bytes > 0 AS moved FROM pgferry.migration_table WHERE migration = 'big-split' ORDER BY 1`,
    );
    const [counts] = await pair.source.query(
      `SELECT (SELECT count(*) FROM heap)::int AS h, (SELECT count(*) FROM keyed)::int AS k`,
      [],
      'big',
    );
    assert.deepEqual(progress, [
      { table_name: 'public.heap', state: 'Completed', parts_done: 7, rows: counts!.h, moved: true },
      { table_name: 'public.keyed', state: 'Completed', parts_done: 7, rows: counts!.k, moved: true },
    ]);
    const splitDigest = await digest();
    const whole = await runMigration(spec('big-whole', 'big', { splitTablesLargerThan: 0 }));
    assert.equal(whole.state, 'Succeeded', whole.message);
    assert.deepEqual(await digest(), splitDigest);
    const [src] = await pair.source.query(
      `SELECT (SELECT count(*) FROM keyed)::int AS n, (SELECT count(*) FROM heap)::int AS h`,
      [],
      'big',
    );
    assert.equal(splitDigest[0]!.keyed_n, src!.n);
    assert.equal(splitDigest[0]!.heap_n, src!.h);
  });

  it('overwrite false with an existing target database fails validation and leaves it untouched', async () => {
    const { pair } = servers;
    await pair.source.query('CREATE DATABASE keep');
    await pair.source.query('CREATE TABLE t (id int); INSERT INTO t VALUES (1)', [], 'keep');
    await pair.target.query('CREATE DATABASE keep');
    await pair.target.query(`CREATE TABLE marker (note text); INSERT INTO marker VALUES ('mine')`, [], 'keep');
    for (const option of ['ValidateAndMigrate', 'Migrate'] as const) {
      const status = await runMigration(spec(`keep-${option.toLowerCase()}`, 'keep', { overwriteDbsInTarget: false, option }));
      assert.equal(status.state, 'ValidationFailed', `${option}: ${status.state} ${status.message}`);
      assert.deepEqual(await pair.target.query('SELECT note FROM marker', [], 'keep'), [{ note: 'mine' }]);
      assert.deepEqual(await pair.target.query(`SELECT to_regclass('public.t') AS t`, [], 'keep'), [{ t: null }]);
    }
  });
});

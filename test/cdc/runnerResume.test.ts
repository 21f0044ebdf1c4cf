// The online runner stopped (SIGTERM, as a service manager or a host shutdown stops it) or killed
// (SIGKILL) while streaming, then resumed: the migration is not canceled, the copy is not redone,
// streaming continues from the recorded position, and the cutover finds every row. A resumed runner
// opens, before its stream starts, the source catalog session its first relation message waits for,
// and reads the published tables' columns on it (flow/resumeAhead.ts), and reads the target tables'
// facts on a target session of their own once its apply session holds the fence.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resumeMigration } from '../../provider/engine';
import { errorMessage } from '../../provider/engine/core/errors';
import { startPair, until, waitForStatus, type ServerPair } from '../support';
import { heldFile, isHeld, withHoldArmed } from '../support/holdPoints';
import { cutOverOnceAccepted, killRunnerWhileStreaming, onlineOver, rowsOf, writeIds } from './harness';

describe('online runner: SIGTERM or SIGKILL while streaming, then resume (integration)', function () {
  this.timeout(400_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
  });
  after(async () => pair?.stop());

  it('SIGTERM while streaming: not canceled, its slot kept; the resume goes on without re-copying and cuts over with every row', async () => {
    const { spec, store } = await onlineOver(
      pair,
      'resumable-online',
      'resumable',
      `CREATE TABLE t (id bigint PRIMARY KEY, v text); INSERT INTO t SELECT g, 'copy' FROM generate_series(1, 5000) g;`,
    );
    const writer = await pair.source.connect('resumable');
    const writes = writeIds(writer, async (c, id) => {
      await c.query(`INSERT INTO t VALUES ($1, 'live')`, [id]);
      await c.query(`UPDATE t SET v = 'u' || $1::text WHERE id = ($1::bigint % 5000) + 1`, [id]);
    });
    try {
      await killRunnerWhileStreaming(spec, store, 'SIGTERM');
      // a stop is not a cancel: the migration stays to be resumed, and the source keeps its slot
      const stopped = await waitForStatus(store, spec.migrationName, () => true);
      assert.notEqual(stopped.state, 'Canceled', stopped.message);
      const slots = await pair.source.query(`SELECT slot_name FROM pg_replication_slots WHERE database = 'resumable'`);
      assert.equal(slots.length, 1, JSON.stringify(slots));
      // writes keep coming while no runner is alive
      await writes.more(20, 'rows while no runner is alive');
      // a comment on the target database: a redone copy would recreate the database and lose it
      // (not an object in it: the cutover's schema check rightly stops at one the source lacks)
      await pair.target.query(`COMMENT ON DATABASE resumable IS 'resume marker'`);
      await resumeMigration(spec);
      await writes.stop();
      // as a user would: the resumed runner accepts the cutover once it streams again
      const done = await cutOverOnceAccepted(spec, store);
      assert.deepEqual(await rowsOf(pair.target, 'resumable', 't'), await rowsOf(pair.source, 'resumable', 't'));
      const [marker] = await pair.target.query(
        `SELECT shobj_description(oid, 'pg_database') = 'resume marker' AS kept FROM pg_database WHERE datname = 'resumable'`,
      );
      assert.equal(marker!.kept, true, 'the copy was not redone');
      assert.ok(done.databases[0]!.inserts > 50, JSON.stringify(done.databases[0]));
    } finally {
      await writes.stop().catch(() => undefined);
      await writer.end().catch(() => undefined);
      await store.close();
    }
  });

  it('a runner killed as its apply starts (target read, stream opened, before START_REPLICATION) leaves the backlog to the next, applied once', async () => {
    const { spec, store } = await onlineOver(
      pair,
      'resume-twice-online',
      'resumetwice',
      `CREATE TABLE t (id bigint PRIMARY KEY, v text); CREATE TABLE u (id bigint PRIMARY KEY, n int NOT NULL);
       INSERT INTO t SELECT g, 'copy' FROM generate_series(1, 2000) g; INSERT INTO u SELECT g, 0 FROM generate_series(1, 50) g;`,
    );
    const writer = await pair.source.connect('resumetwice');
    // each transaction inserts a row and adds to a counter: one applied twice fails the insert's key
    // or leaves a counter off, one lost leaves a row or a count missing
    const writes = writeIds(writer, (c, id) =>
      c.query(`BEGIN; INSERT INTO t VALUES (${id}, 'live'); UPDATE u SET n = n + 1 WHERE id = ${(id % 50) + 1}; COMMIT`),
    );
    try {
      const killed = await killRunnerWhileStreaming(spec, store);
      await writes.more(20, 'transactions while no runner is alive');
      // a column added while no runner is alive: the relation message differs from what is read ahead of it
      await writer.query(`ALTER TABLE t ADD COLUMN w int DEFAULT 7`);
      const applied = await rowsOf(pair.target, 'resumetwice', 't');
      process.env.PGFERRY_FAILPOINTS = 'apply-stream-start';
      try {
        // a runner that reaches the failpoint before its spawner's next look finds it holding the
        // lease is reported as exited by a signal: that is the kill this case arms (ci108)
        await resumeMigration(spec).catch((error: unknown) => {
          if (!/exited with code null/.test(errorMessage(error))) throw error;
        });
        await waitForStatus(store, spec.migrationName, (s) => s.runner?.alive === false && s.runner.pid !== killed);
      } finally {
        delete process.env.PGFERRY_FAILPOINTS;
      }
      assert.deepEqual(await rowsOf(pair.target, 'resumetwice', 't'), applied, 'the runner killed before streaming applied nothing');
      await resumeMigration(spec);
      await writes.stop();
      await cutOverOnceAccepted(spec, store);
      assert.deepEqual(await rowsOf(pair.target, 'resumetwice', 't'), await rowsOf(pair.source, 'resumetwice', 't'));
      assert.deepEqual(await rowsOf(pair.target, 'resumetwice', 'u'), await rowsOf(pair.source, 'resumetwice', 'u'));
    } finally {
      await writes.stop().catch(() => undefined);
      await writer.end().catch(() => undefined);
      await store.close();
    }
  });

  it('a resumed runner has its source catalog session open and the published columns read before its apply session starts; the backlog applied once', () =>
    catalogSessionAhead(pair));

  it("a resumed runner reads the target tables' facts on its target catalog session once its apply holds the fence, not on the apply's connection; the backlog applied once", () =>
    targetFactsOnTheirOwn(pair));
});

/** The target's sessions of a database, by pgferry's application name, with their last statement and whether each holds an advisory lock. */
async function targetSessions(
  pair: ServerPair,
  database: string,
): Promise<{ name: string; state: string; query: string; fenced: boolean }[]> {
  return pair.target.query(
    `SELECT a.application_name AS name, a.state, a.query,
            EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory' AND l.granted) AS fenced
       FROM pg_stat_activity a WHERE a.datname = $1 AND a.application_name LIKE 'pgferry apply%' ORDER BY 1`,
    [database],
  );
}

/**
 * A runner killed while streaming, resumed and held once the target tables' facts are read: read
 * on the target, the apply session holds the fence, the catalog session is open with the facts'
 * read as its last statement (its columns by name, attgenerated), and the apply's is not.
 */
async function targetFactsOnTheirOwn(pair: ServerPair): Promise<void> {
  const { spec, store } = await onlineOver(
    pair,
    'facts-ahead-online',
    'factsahead',
    `CREATE TABLE t (id bigint PRIMARY KEY, v text); INSERT INTO t SELECT g, 'copy' FROM generate_series(1, 1000) g;`,
  );
  const holdDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pgferry-hold-'));
  const writer = await pair.source.connect('factsahead');
  const writes = writeIds(writer, (c, id) => c.query(`INSERT INTO t VALUES ($1, 'live')`, [id]));
  try {
    await killRunnerWhileStreaming(spec, store);
    await writes.more(20, 'rows while no runner is alive');
    await withHoldArmed('apply-tables-ahead-read', holdDir, () => resumeMigration(spec));
    await until(
      'the resumed runner to hold once the target tables are read ahead',
      async () => ((await isHeld('apply-tables-ahead-read', holdDir)) ? true : undefined),
      120_000,
    );
    const sessions = await until(
      'the apply session and the catalog session to be seen on the target',
      async () => {
        const rows = await targetSessions(pair, 'factsahead');
        return rows.some((r) => r.name === 'pgferry apply catalog') && rows.some((r) => r.name === 'pgferry apply') ? rows : undefined;
      },
      60_000,
    );
    const apply = sessions.filter((r) => r.name === 'pgferry apply');
    const catalog = sessions.filter((r) => r.name === 'pgferry apply catalog');
    assert.equal(apply.length, 1, JSON.stringify(sessions));
    assert.equal(apply[0]!.fenced, true, 'the apply session holds its fence');
    assert.doesNotMatch(apply[0]!.query, /attgenerated/, "the facts were not read on the apply's connection");
    assert.equal(catalog.length, 1, JSON.stringify(sessions));
    assert.match(catalog[0]!.query, /attgenerated/, 'the facts were read on the catalog session');
    assert.equal(catalog[0]!.fenced, false, 'the catalog session takes no lock');
    await fs.rm(heldFile('apply-tables-ahead-read', holdDir), { force: true });
    // ended once the hold is let go: no catalog session left beside the apply
    await until(
      'the catalog session to end after its read',
      async () => ((await targetSessions(pair, 'factsahead')).some((r) => r.name === 'pgferry apply catalog') ? undefined : true),
      60_000,
    );
    await writes.stop();
    await cutOverOnceAccepted(spec, store);
    assert.deepEqual(await rowsOf(pair.target, 'factsahead', 't'), await rowsOf(pair.source, 'factsahead', 't'));
  } finally {
    await writes.stop().catch(() => undefined);
    await writer.end().catch(() => undefined);
    await fs.rm(holdDir, { recursive: true, force: true });
    await store.close();
  }
}

/** A runner killed while streaming, resumed and held as its apply session starts: what it opened ahead, read on the source. */
async function catalogSessionAhead(pair: ServerPair): Promise<void> {
  const { spec, store } = await onlineOver(
    pair,
    'resume-ahead-online',
    'resumeahead',
    `CREATE TABLE t (id bigint PRIMARY KEY, v text); INSERT INTO t SELECT g, 'copy' FROM generate_series(1, 1000) g;`,
  );
  const holdDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pgferry-hold-'));
  const writer = await pair.source.connect('resumeahead');
  const writes = writeIds(writer, (c, id) => c.query(`INSERT INTO t VALUES ($1, 'live')`, [id]));
  try {
    await killRunnerWhileStreaming(spec, store);
    await writes.more(20, 'rows while no runner is alive');
    await withHoldArmed('apply-session-start', holdDir, () => resumeMigration(spec));
    await until(
      'the resumed runner to hold as its apply session starts',
      async () => ((await isHeld('apply-session-start', holdDir)) ? true : undefined),
      120_000,
    );
    // read from the source while the runner holds: its catalog session is open in the database, its
    // last statement the published tables' columns, and no walsender streams from the slot yet
    const catalog = await until(
      'the source catalog session to have read the published columns',
      async () => {
        const rows = await pair.source.query<{ state: string; query: string }>(
          `SELECT state, query FROM pg_stat_activity WHERE datname = 'resumeahead' AND application_name = 'pgferry cdc catalog'`,
        );
        return rows.length === 1 && rows[0]!.state === 'idle' && rows[0]!.query.includes('pg_publication_tables') ? rows : undefined;
      },
      60_000,
    );
    assert.equal(catalog.length, 1);
    const slots = await pair.source.query<{ active: boolean }>(`SELECT active FROM pg_replication_slots WHERE database = 'resumeahead'`);
    assert.deepEqual(slots, [{ active: false }], 'no stream started before the apply session');
    await fs.rm(heldFile('apply-session-start', holdDir), { force: true });
    await writes.stop();
    await cutOverOnceAccepted(spec, store);
    assert.deepEqual(await rowsOf(pair.target, 'resumeahead', 't'), await rowsOf(pair.source, 'resumeahead', 't'));
  } finally {
    await writes.stop().catch(() => undefined);
    await writer.end().catch(() => undefined);
    await fs.rm(holdDir, { recursive: true, force: true });
    await store.close();
  }
}

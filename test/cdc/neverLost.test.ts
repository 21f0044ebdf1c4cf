// Issue 20, streaming: applying changes never drops one silently. A change the target cannot take
// (a row missing there, a row a policy hides from the applying user) stops the stream naming the
// table; nothing past it commits or is confirmed to the slot, so once the cause is fixed a new
// applier applies it. Where the applying user bypasses the policy, the change applies at once.
// Issue 62: a TRUNCATE ... CASCADE is replayed without CASCADE, so a table the target alone has
// that references the truncated one keeps its rows; the stream stops naming it.
import assert from 'node:assert/strict';
import { DEFAULT_LIMITS } from '../../provider/engine/cdc/plan/planner';
import { startPair, type ServerPair } from '../support';
import { assertSame, assertStoppedOn, createSlot, drain, setupDb, startApplier, stopCdcPair, stoppedWith, type CdcDb } from './harness';

async function valueOf(f: CdcDb, side: 'src' | 'dst', id: number): Promise<unknown> {
  return (await f[side]('SELECT v FROM t WHERE id = $1', [id]))[0]?.v;
}

describe('cdc: a change the target cannot take stops the stream, naming the table, and is never lost', function () {
  this.timeout(300_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
  });
  after(async () => stopCdcPair(pair));

  for (const staged of [false, true]) {
    const path = staged ? 'staged' : 'parameter';
    it(`an update or delete of a row missing on the target stops the stream; restored, the change applies (${path} statements)`, async () => {
      const f = await setupDb(pair.source, pair.target, 'CREATE TABLE t (id int PRIMARY KEY, v text)');
      await f.src(`INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 300) g`);
      await f.dst(`INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 300) g`);
      const exported = await createSlot(f);
      await exported.release();
      const limits = { ...DEFAULT_LIMITS, stageMinRows: staged ? 1 : Number.MAX_SAFE_INTEGER };
      const options = { initialLsn: exported.consistentLsn, limits };
      // rows gone from the target only: the target has diverged
      await f.dst('DELETE FROM t WHERE id IN (5, 120)');
      const first = startApplier(f, options);
      await f.src(`UPDATE t SET v = 'first' WHERE id = 1`);
      await f.src(`UPDATE t SET v = 'changed' WHERE id BETWEEN 3 AND 7`);
      assertStoppedOn(await stoppedWith(first), 'CDC_TARGET_DIVERGED', 'row(s) of public.t changed');
      assert.equal(await valueOf(f, 'dst', 4), 'v4', 'nothing of the stopped transaction committed');
      await f.dst(`INSERT INTO t VALUES (5, 'v5')`);
      const second = startApplier(f, options);
      await f.src('DELETE FROM t WHERE id BETWEEN 100 AND 150');
      assertStoppedOn(await stoppedWith(second), 'CDC_TARGET_DIVERGED', 'row(s) of public.t changed');
      await f.dst(`INSERT INTO t VALUES (120, 'v120')`);
      const third = startApplier(f, options);
      await drain(f, third);
      await assertSame(f, ['t']);
    });
  }

  it('a TRUNCATE ... CASCADE on the source keeps the 700 rows of a table the target alone has that references it; the stream stops naming it', async () => {
    const f = await setupDb(pair.source, pair.target, 'CREATE TABLE t (id int PRIMARY KEY, v text)');
    await f.src(`INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 300) g`);
    await f.dst(`INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 300) g`);
    // a DBA's table on the target alone, whose foreign key references a migrated table
    await f.dst(`CREATE TABLE dba_notes (id int PRIMARY KEY, t_id int NOT NULL CONSTRAINT dba_notes_t_fkey REFERENCES t);
                 INSERT INTO dba_notes SELECT g, 1 FROM generate_series(1, 700) g`);
    const notes = async () => Number((await f.dst('SELECT count(*) AS n FROM dba_notes'))[0]!.n);
    const exported = await createSlot(f);
    await exported.release();
    const options = { initialLsn: exported.consistentLsn };
    const first = startApplier(f, options);
    await f.src('TRUNCATE t CASCADE');
    const error = await stoppedWith(first);
    assertStoppedOn(error, 'CDC_APPLY', 'public.t');
    assert.match(
      (error as Error).message,
      /TRUNCATE of public\.t refused: table public\.dba_notes, which the stream does not write, references public\.t by a foreign key/,
    );
    assert.equal(await notes(), 700, "the DBA's table keeps its rows");
    assert.equal(Number((await f.dst('SELECT count(*) AS n FROM t'))[0]!.n), 300, 'nothing emptied on the target');
    // the fix that keeps the rows: the foreign key dropped; the TRUNCATE then applies
    await f.dst('ALTER TABLE dba_notes DROP CONSTRAINT dba_notes_t_fkey');
    const second = startApplier(f, options);
    await drain(f, second);
    await assertSame(f, ['t']);
    assert.equal(await notes(), 700, "the DBA's table keeps its rows");
  });

  // Row-level security on a managed-like target, whose admin is no superuser and has no BYPASSRLS.
  // The change touches a row the policy hides from that admin; the admin bypasses the policy only
  // as the owner of a table that does not force it.
  const HIDDEN_BY = {
    'a forced policy on a table the admin owns': 'ALTER TABLE t FORCE ROW LEVEL SECURITY',
    'a policy on a table another role owns': 'ALTER TABLE t OWNER TO rls_owner; GRANT ALL ON t TO pgadmin',
  } as const;
  const LET_SEE = 'ALTER TABLE t NO FORCE ROW LEVEL SECURITY; ALTER TABLE t OWNER TO pgadmin';
  for (const [why, hide] of Object.entries(HIDDEN_BY)) {
    for (const change of ['update', 'delete'] as const) {
      it(`a streamed ${change} of a row hidden by ${why} stops the stream naming the table, and applies once the admin may see it (managed-like target)`, async () => {
        const f = await rlsTable(pair);
        await pair.target.query(hide, [], f.db);
        const exported = await createSlot(f);
        await exported.release();
        const running = startApplier(f, { initialLsn: exported.consistentLsn });
        await f.src(change === 'update' ? `UPDATE t SET v = 'updated' WHERE id = 2` : 'DELETE FROM t WHERE id = 2');
        assertStoppedOn(await stoppedWith(running), 'CDC_APPLY', `applying ${change} to public.t on the target failed`);
        assert.equal(running.applier.stats()[change === 'update' ? 'updates' : 'deletes'], 0);
        assert.equal(await valueOf(f, 'dst', 2), 'hidden', 'nothing of the stopped transaction committed');
        await pair.target.query(LET_SEE, [], f.db);
        const again = startApplier(f, { initialLsn: exported.consistentLsn });
        await drain(f, again);
        await assertSame(f, ['t']);
      });
    }
  }

  it('streamed changes to rows a policy hides apply at once where the admin owns the table and it does not force the policy (managed-like target)', async () => {
    const f = await rlsTable(pair);
    const exported = await createSlot(f);
    await exported.release();
    const running = startApplier(f, { initialLsn: exported.consistentLsn });
    await f.src(`UPDATE t SET v = 'updated' WHERE id = 2`);
    await f.src(`INSERT INTO t VALUES (3, 'hidden'), (4, 'hidden')`);
    await f.src('DELETE FROM t WHERE id = 3');
    await drain(f, running);
    await assertSame(f, ['t']);
    assert.deepEqual([running.applier.stats().updates, running.applier.stats().deletes], [1, 1]);
  });
});

/** A table with a policy hiding rows whose v is 'hidden', row 2 among them, on both sides; the target's admin owns it. */
async function rlsTable(pair: ServerPair): Promise<CdcDb> {
  const ddl = `CREATE TABLE t (id int PRIMARY KEY, v text);
    CREATE POLICY visible ON t USING (v <> 'hidden');
    ALTER TABLE t ENABLE ROW LEVEL SECURITY;`;
  const f = await setupDb(pair.source, pair.target, ddl, { target: 'managed' });
  await pair.target.query(`DO $$BEGIN CREATE ROLE rls_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END$$`);
  // copied rows (as the copy phase would have written them), one of them hidden from the target's admin
  for (const side of ['src', 'dst'] as const) await f[side](`INSERT INTO t VALUES (1, 'shown'), (2, 'hidden')`);
  return f;
}

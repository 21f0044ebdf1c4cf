// A resumed offline copy resumes inside a split table: the runner is killed while one part's COPY
// is held mid-stream (the other parts committed), and the resumed run copies that part only. The
// target table then equals the source, no row is loaded twice, and the done-records say which
// parts each run committed. A source row changed between the kill and the resume makes its table
// be copied again whole (the resume cannot prove the done parts still exact).
import assert from 'node:assert/strict';
import { CopyHold, startPair, until, type ServerPair } from '../support';
import { propertiesFile, runCli, PGFERRY_JSON } from '../cli/helpers';

const ROWS = 40_000;
const PARTS = 4;

interface ItemRow {
  item: string;
  state: string;
  epoch: number;
  rows: number;
  done_at: string | null;
}

describe('offline copy resumes inside a split table', function () {
  this.timeout(300_000);
  let pair: ServerPair;
  const holds: CopyHold[] = [];
  const flags = () => ['--target-host', pair.target.host, '--target-port', String(pair.target.port), '--target-user', pair.target.user];

  before(async () => {
    pair = await startPair();
  });
  after(async () => {
    for (const hold of holds) await hold.close();
    await pair?.stop();
  });

  /** A source database with one table large enough to be split into PARTS parts. */
  async function sourceDatabase(database: string): Promise<void> {
    await pair.source.query(`CREATE DATABASE ${database}`);
    await pair.source.query(
      `CREATE TABLE public.wide (id int PRIMARY KEY, pad text NOT NULL);
       INSERT INTO public.wide SELECT g, repeat(md5(g::text), 6) FROM generate_series(1, ${ROWS}) g;`,
      [],
      database,
    );
  }

  const items = (name: string) =>
    pair.target.query<ItemRow>(
      `SELECT item, state, epoch::int, coalesce(rows, 0)::int AS rows, done_at::text FROM pgferry.copy_item
        WHERE migration = $1 ORDER BY item`,
      [name],
    );

  const tableDigest = async (database: string, on: 'source' | 'target') =>
    (on === 'source' ? pair.source : pair.target).query<{ n: number; ids: number; digest: string }>(
      `SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids, md5(string_agg(id::text || ':' || pad, ',' ORDER BY id)) AS digest
         FROM public.wide`,
      [],
      database,
    );

  /** Creates the migration through a proxy that holds one part's COPY, waits for the other parts, kills the runner. */
  async function killMidTable(name: string, database: string): Promise<{ file: string; before: ItemRow[] }> {
    const hold = await CopyHold.start(pair.target, /"wide"/);
    holds.push(hold);
    const file = propertiesFile({
      source: { host: pair.source.host, port: pair.source.port, user: 'postgres', password: pair.source.password },
      target: { host: pair.target.host, port: hold.port, user: 'postgres', password: pair.target.password },
      databases: [database],
      tableJobs: 2,
      splitTablesLargerThan: 1024 * 1024,
      splitMaxParts: PARTS,
    });
    const created = await runCli(['create', '--name', name, '--properties', file, ...PGFERRY_JSON]);
    assert.equal(created.code, 0, created.stderr);
    await hold.whenHeld();
    const before = await until('every part but the held one to be done', async () => {
      const rows = await items(name);
      return rows.length === PARTS && rows.filter((r) => r.state === 'done').length === PARTS - 1 ? rows : undefined;
    });
    const show = await runCli(['show', '--name', name, ...PGFERRY_JSON, ...flags()], { PGPASSWORD: pair.target.password });
    const pid = JSON.parse(show.stdout).runner.pid as number;
    process.kill(pid, 'SIGKILL');
    await until('the killed runner to be reported dead', async () => {
      const again = await runCli(['show', '--name', name, ...PGFERRY_JSON, ...flags()], { PGPASSWORD: pair.target.password });
      return JSON.parse(again.stdout).runner.alive === false ? true : undefined;
    });
    return { file, before };
  }

  async function resume(name: string, file: string): Promise<void> {
    const resumed = await runCli(['resume', '--name', name, '--properties', file, '--wait', ...PGFERRY_JSON], {}, 240_000);
    assert.equal(resumed.code, 0, `stderr: ${resumed.stderr}\nstdout: ${resumed.stdout}`);
    assert.equal(JSON.parse(resumed.stdout).state, 'Succeeded');
  }

  it('redoes only the part that was unfinished, loading no row twice', async () => {
    const name = 'inside-1';
    await sourceDatabase('bulk1');
    const { file, before } = await killMidTable(name, 'bulk1');
    await resume(name, file);

    const [source] = await tableDigest('bulk1', 'source');
    const [target] = await tableDigest('bulk1', 'target');
    assert.deepEqual(target, source);
    assert.equal(target!.n - target!.ids, 0, 'rows loaded twice');

    const after = await items(name);
    assert.equal(after.length, PARTS);
    assert.ok(after.every((r) => r.state === 'done'));
    // the parts committed before the kill are the same records: not copied again
    const doneBefore = before.filter((r) => r.state === 'done');
    for (const part of doneBefore)
      assert.deepEqual(
        after.find((r) => r.item === part.item),
        part,
        `part ${part.item}`,
      );
    // the held part was claimed again and committed once, under the newer claim
    const redone = after.filter((r) => !doneBefore.some((d) => d.item === r.item));
    assert.equal(redone.length, 1);
    assert.equal(redone[0]!.epoch, 2);
    assert.equal(
      after.reduce((sum, r) => sum + r.rows, 0),
      ROWS,
      'rows committed by all parts together',
    );
    // the ledger is gone from the target database once the copy is done
    const ledger = await pair.target.query(`SELECT to_regclass('pgferry.copy_done') AS t`, [], 'bulk1');
    assert.deepEqual(ledger, [{ t: null }]);
  });

  it('copies a table again whole when a done part changed on the source before the resume', async () => {
    const name = 'inside-2';
    await sourceDatabase('bulk2');
    const { file, before } = await killMidTable(name, 'bulk2');
    // every part holds rows; change one row in each so whichever part was done sees it
    await pair.source.query(`UPDATE public.wide SET pad = 'changed' WHERE id % 10000 = 7`, [], 'bulk2');
    await resume(name, file);

    const [source] = await tableDigest('bulk2', 'source');
    const [target] = await tableDigest('bulk2', 'target');
    assert.deepEqual(target, source);
    const after = await items(name);
    // every part was committed again, under a newer claim than before the kill
    for (const part of before.filter((r) => r.state === 'done')) {
      const now = after.find((r) => r.item === part.item)!;
      assert.ok(now.epoch > part.epoch, `part ${part.item} copied again`);
    }
    assert.equal(
      after.reduce((sum, r) => sum + r.rows, 0),
      ROWS,
    );
  });
});

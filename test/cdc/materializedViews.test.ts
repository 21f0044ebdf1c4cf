// Materialized views' rows at the verification that ends a migration (verify/materializedViews.ts).
// Nothing streams a refresh, so before this a Succeeded could hold a view whose rows were the
// target's of some earlier moment. Online, with a writer: a view the source refreshed after its
// tables changed is refreshed on the target inside the cutover's fence; a view the source did not
// refresh (its rows are not its query's) stops the cutover with the fix, the stream goes on, and
// the cutover after a REFRESH on the source succeeds, no longer showing the stop while it runs; a view created WITH NO DATA stays unpopulated.
// Offline, `staleMaterializedViews: refresh` keeps the target's refreshed rows and warns. Rows are
// read back from both servers and compared.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { requestCutover, runMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { events as catalogEvents, get as getMigration } from '../../provider/engine/control/store';
import { isFinalState } from '../../provider/engine/core/model';
import { endIfRunning, pairSpec, startPair, startSourceWriter, until, waitForStatus, type ServerPair } from '../support';
import { heldFile, isHeld, withHoldArmed } from '../support/holdPoints';

const DB = 'views';

const SCHEMA = `
CREATE TABLE sale (id int PRIMARY KEY, region text NOT NULL, amount numeric NOT NULL);
INSERT INTO sale SELECT g, 'r' || (g % 7), g * 1.5 FROM generate_series(1, 2000) g;
CREATE MATERIALIZED VIEW by_region AS SELECT region, count(*) AS n, sum(amount) AS total FROM sale GROUP BY region;
CREATE MATERIALIZED VIEW big_sales AS SELECT id, amount FROM sale WHERE amount > 2900;
CREATE MATERIALIZED VIEW later AS SELECT region FROM sale WITH NO DATA;`;

async function write(c: pg.Client, n: number): Promise<void> {
  await c.query('INSERT INTO sale VALUES ($1, $2, $3)', [10_000 + n, `r${n % 5}`, 3000 + n]);
  await c.query('UPDATE sale SET amount = amount + 1 WHERE id = $1', [1 + (n % 2000)]);
}

const viewRows = (pair: ServerPair, side: 'source' | 'target', view: string) =>
  pair[side].query(`SELECT * FROM ${view} ORDER BY 1, 2`, [], DB);

const populated = async (pair: ServerPair, side: 'source' | 'target', view: string) =>
  (await pair[side].query<{ p: boolean }>(`SELECT relispopulated AS p FROM pg_class WHERE oid = $1::regclass`, [view], DB))[0]?.p;

describe('materialized views compared and refreshed at the end of a migration', function () {
  this.timeout(300_000);
  let pair: ServerPair | undefined;
  afterEach(async () => {
    await pair?.stop();
    pair = undefined;
  });

  it('online: refreshed on the target inside the fence; a view the source left stale stops the cutover until refreshed', async () => {
    pair = await startPair(15, 15);
    await pair.source.query(`CREATE DATABASE ${DB}`);
    await pair.source.query(SCHEMA, [], DB);
    const name = 'views-online';
    const spec = pairSpec(pair, name, [DB], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true });
    const store = new CatalogConnection(spec.target);
    const running = runMigration(spec);
    const writer = startSourceWriter(pair.source, DB, write);
    try {
      const ready = await waitForStatus(store, name, (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state));
      assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
      await until('the application to write', async () => (writer.committed() >= 50 ? true : undefined));
      await writer.stop();
      // the application refreshes one view after its writes, not the other
      await pair.source.query('REFRESH MATERIALIZED VIEW by_region', [], DB);
      assert.notDeepEqual(await viewRows(pair, 'target', 'by_region'), await viewRows(pair, 'source', 'by_region'));
      await requestCutover(spec.target, name);
      const stopped = await Promise.race([
        running,
        waitForStatus(store, name, (s) => /cutover stopped/.test(s.message ?? '') || isFinalState(s.state)),
      ]);
      assert.notEqual(stopped.state, 'Succeeded');
      assert.match(stopped.message ?? '', /big_sales.*the source's rows are not its query's/);
      assert.match(stopped.message ?? '', /REFRESH MATERIALIZED VIEW "public"\."big_sales" on the source/);
      // refreshed inside the fence: the source's rows
      assert.deepEqual(await viewRows(pair, 'target', 'by_region'), await viewRows(pair, 'source', 'by_region'));
      await pair.source.query('REFRESH MATERIALIZED VIEW big_sales', [], DB);
      // the second cutover held past its gate (a lag budget, the one gate that leaves nothing on the
      // source): the first one's stop is not what the migration says now
      const point = `cutover-held:${DB}`;
      const holdDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pgferry-views-'));
      const during = await withHoldArmed(point, holdDir, async () => {
        await requestCutover(spec.target, name, undefined, { cutoverLagBudgetSeconds: 600 });
        await until('the second cutover held past its gate', async () => ((await isHeld(point, holdDir)) ? true : undefined), 120_000);
        const held = await getMigration(store, name);
        await fs.rm(heldFile(point, holdDir));
        return held;
      });
      await fs.rm(holdDir, { recursive: true, force: true });
      assert.equal(during?.subState, 'CompletingMigration');
      assert.equal(during?.message ?? null, null, 'the stopped attempt is not the message of the cutover under way');
      const done = await Promise.race([
        running,
        waitForStatus(
          store,
          name,
          (s) => (s.message !== stopped.message && /cutover stopped/.test(s.message ?? '')) || isFinalState(s.state),
        ),
      ]);
      assert.equal(done.state, 'Succeeded', `${done.message} ${done.verification?.firstMismatch ?? ''}`);
      for (const view of ['by_region', 'big_sales'])
        assert.deepEqual(await viewRows(pair, 'target', view), await viewRows(pair, 'source', view), view);
      assert.equal(await populated(pair, 'target', 'later'), false);
    } finally {
      await writer.stop().catch(() => undefined);
      await endIfRunning(spec, running);
      await store.close();
    }
  });

  it('offline, staleMaterializedViews: refresh: the target refreshed from the same rows, the stale view named', async () => {
    pair = await startPair(15, 15);
    await pair.source.query(`CREATE DATABASE ${DB}`);
    await pair.source.query(SCHEMA, [], DB);
    // the source's view left stale, and one populated only on the target would be wrong
    await pair.source.query(`UPDATE sale SET amount = amount * 2 WHERE id <= 100`, [], DB);
    const name = 'views-offline';
    const spec = { ...pairSpec(pair, name, [DB], { overwriteDbsInTarget: true }), staleMaterializedViews: 'refresh' as const };
    const store = new CatalogConnection(spec.target);
    try {
      const done = await runMigration(spec);
      assert.equal(done.state, 'Succeeded', `${done.message} ${done.verification?.firstMismatch ?? ''}`);
      const query = await pair.source.query(
        `SELECT region, count(*) AS n, sum(amount) AS total FROM sale GROUP BY region ORDER BY 1, 2`,
        [],
        DB,
      );
      assert.deepEqual(await viewRows(pair, 'target', 'by_region'), query);
      assert.notDeepEqual(await viewRows(pair, 'source', 'by_region'), query);
      assert.equal(await populated(pair, 'target', 'later'), false);
      const told = (await catalogEvents(store, name, 200)).map((e) => `${e.level}: ${e.message}`).join('\n');
      assert.match(
        told,
        /warning: materialized view public\.by_region: its rows differ from the source's after a refresh.*refreshed rows kept/,
      );
      const status = await getMigration(store, name);
      assert.ok(status?.verification?.tables.some((t) => t.table === 'public.by_region (materialized view)' && t.matches));
    } finally {
      await store.close();
    }
  });
});

// The end state of an offline copy on the target: every table analyzed and its visibility map set
// (every page of it and of its TOAST table all-visible), as after a VACUUM ANALYZE, with the
// source's rows. An unsplit table gets there by being loaded frozen (COPY FREEZE into a table
// truncated in the same transaction: all-frozen too) and a VACUUM that only has its TOAST pages to
// mark; a table copied in several parts cannot be loaded frozen, and its VACUUM marks every page.
import assert from 'node:assert/strict';
import { runMigration } from '../../provider/engine';
import { pairSpec, suiteServers } from '../support';

const DB = 'frozen';
const ROWS = 20_000;

/** Pages of a relation and how many the visibility map marks all-visible and all-frozen. */
interface MapSummary {
  readonly pages: number;
  readonly visible: number;
  readonly frozen: number;
}

describe('offline copy: tables loaded frozen, the visibility map set, analyzed', function () {
  this.timeout(300_000);
  const servers = suiteServers({
    setUp: async (pair) => {
      await pair.source.query(`CREATE DATABASE ${DB}`);
      // TOASTed text (incompressible, so it goes out of line) beside plain columns, and an index
      await pair.source.query(
        `BEGIN READ WRITE;
         CREATE TABLE public.whole (id int8 PRIMARY KEY, label text NOT NULL, body text);
         INSERT INTO public.whole SELECT g, 'row ' || g,
                CASE WHEN g % 10 = 0 THEN (SELECT string_agg(md5(g::text || i::text), '') FROM generate_series(1, 120) i) END
           FROM generate_series(1, ${ROWS}) g;
         CREATE INDEX whole_label ON public.whole (label);
         CREATE TABLE public.parted (id int8 PRIMARY KEY, label text NOT NULL, body text);
         INSERT INTO public.parted SELECT id, label, body FROM public.whole;
         COMMIT;`,
        [],
        DB,
      );
    },
  });

  const summary = async (relation: string): Promise<MapSummary> => {
    const rows = await servers.pair.target.query<{ pages: number; visible: number; frozen: number }>(
      `SELECT (pg_relation_size($1::regclass) / current_setting('block_size')::int)::int AS pages,
              all_visible::int AS visible, all_frozen::int AS frozen
         FROM pg_visibility_map_summary($1::regclass)`,
      [relation],
      DB,
    );
    return rows[0]!;
  };
  const toastOf = async (table: string): Promise<string> =>
    (
      await servers.pair.target.query<{ toast: string }>(
        `SELECT reltoastrelid::regclass::text AS toast FROM pg_class WHERE oid = $1::regclass`,
        [table],
        DB,
      )
    )[0]!.toast;
  const contents = `SELECT count(*)::int AS n, md5(string_agg(id || '|' || label || '|' || coalesce(body, '-'), ',' ORDER BY id)) AS digest FROM `;

  /** The target's end state for one table, beside the source's rows. */
  const assertEndState = async (table: string, how: 'copied whole' | 'copied in parts') => {
    const heap = await summary(table);
    assert.ok(heap.pages > 10, `${table} has pages: ${JSON.stringify(heap)}`);
    assert.equal(heap.visible, heap.pages, `${table} (${how}): every page all-visible: ${JSON.stringify(heap)}`);
    // loaded frozen: no anti-wraparound VACUUM will have to rewrite these pages later; parts are
    // vacuumed, which sets the map but freezes nothing (as VACUUM ANALYZE after pgcopydb)
    if (how === 'copied whole') assert.equal(heap.frozen, heap.pages, `${table} (${how}): every page all-frozen: ${JSON.stringify(heap)}`);
    const toast = await summary(await toastOf(table));
    assert.ok(toast.pages > 10, `${table}'s TOAST table has pages: ${JSON.stringify(toast)}`);
    assert.equal(toast.visible, toast.pages, `${table}'s TOAST table (${how}): every page all-visible: ${JSON.stringify(toast)}`);
    const stats = await servers.pair.target.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stats WHERE schemaname = 'public' AND tablename = $1`,
      [table.replace('public.', '')],
      DB,
    );
    assert.ok(stats[0]!.n >= 3, `${table} (${how}) analyzed: ${stats[0]!.n} column statistics`);
    assert.deepEqual(
      await servers.pair.target.query(`${contents} ${table}`, [], DB),
      await servers.pair.source.query(`${contents} ${table}`, [], DB),
      `${table}: the source rows`,
    );
  };

  it('a table copied whole is loaded frozen: all-visible, all-frozen and analyzed with no VACUUM left to run', async () => {
    const { pair } = servers;
    const status = await runMigration(pairSpec(pair, 'frozen-whole', [DB], { tableJobs: 2, indexJobs: 2 }));
    assert.equal(status.state, 'Succeeded', status.message);
    await pair.target.query('CREATE EXTENSION IF NOT EXISTS pg_visibility', [], DB);
    for (const table of ['public.whole', 'public.parted']) await assertEndState(table, 'copied whole');
  });

  it('a table copied in several parts, which cannot be loaded frozen, is vacuumed: all-visible and analyzed', async () => {
    const { pair } = servers;
    const parts = new Map<string, number>();
    const status = await runMigration(
      pairSpec(pair, 'frozen-parts', [DB], { tableJobs: 2, indexJobs: 2, splitTablesLargerThan: 256 * 1024, overwriteDbsInTarget: true }),
      { onProgress: (e) => void (e.kind === 'table-start' && parts.set(e.table, e.parts ?? 1)) },
    );
    assert.equal(status.state, 'Succeeded', status.message);
    assert.ok((parts.get('public.parted') ?? 0) > 1 && (parts.get('public.whole') ?? 0) > 1, JSON.stringify([...parts]));
    await pair.target.query('CREATE EXTENSION IF NOT EXISTS pg_visibility', [], DB);
    for (const table of ['public.whole', 'public.parted']) await assertEndState(table, 'copied in parts');
  });
});

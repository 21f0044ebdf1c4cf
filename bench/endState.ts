// The end state every offline tool must leave, checked after its timed run: each table analyzed
// and its visibility map set (every page of the table and of its TOAST table all-visible), as a
// VACUUM ANALYZE leaves it, by VACUUM or because the rows were loaded frozen. Read with
// pg_visibility, created in the target database as soon as the tool's run ends and dropped again
// before the catalog snapshot.
// With autovacuum on (PostgreSQL's default) a background vacuum or analyze may do part of that work
// within a tool's run: the line counts them, so the reader sees which runs had that help.
import type { Cluster } from '../provider/localpg/cluster';
import { BENCH_DB } from './dataset';

export interface EndState {
  readonly ok: boolean;
  /** Autovacuum's runs in the target database during the tool's run (it is created fresh for each). */
  readonly automatic: { readonly vacuums: number; readonly analyzes: number; readonly running: number };
  /** "all 5 tables analyzed, 62,345/62,345 pages all-visible (TOAST 26,000/26,000)", or what is missing. */
  readonly line: string;
}

interface TableState {
  readonly table: string;
  readonly analyzed: boolean;
  readonly pages: number;
  readonly visible: number;
  readonly toastPages: number;
  readonly toastVisible: number;
}

export async function readEndState(target: Cluster): Promise<EndState> {
  const client = await target.connect(BENCH_DB);
  try {
    await client.query('CREATE EXTENSION IF NOT EXISTS pg_visibility');
    const { rows } = await client.query<TableState>(
      `SELECT c.oid::regclass::text AS table, s.last_analyze IS NOT NULL AS analyzed,
              (pg_relation_size(c.oid) / 8192)::int AS pages, (SELECT all_visible FROM pg_visibility_map_summary(c.oid))::int AS visible,
              coalesce((pg_relation_size(c.reltoastrelid) / 8192)::int, 0) AS "toastPages",
              coalesce((SELECT all_visible FROM pg_visibility_map_summary(nullif(c.reltoastrelid, 0)::regclass))::int, 0) AS "toastVisible"
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_stat_user_tables s ON s.relid = c.oid
        WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgferry') ORDER BY 1`,
    );
    await client.query('DROP EXTENSION pg_visibility');
    const auto = await client.query<{ vacuums: number; analyzes: number; running: number }>(
      `SELECT coalesce(sum(autovacuum_count), 0)::int AS vacuums, coalesce(sum(autoanalyze_count), 0)::int AS analyzes,
              (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker' AND datname = current_database())::int AS running
         FROM pg_stat_user_tables`,
    );
    return summarize(rows, auto.rows[0]!);
  } finally {
    await client.end();
  }
}

function summarize(tables: readonly TableState[], automatic: EndState['automatic']): EndState {
  const sum = (pick: (t: TableState) => number) => tables.reduce((s, t) => s + pick(t), 0);
  const notAnalyzed = tables.filter((t) => !t.analyzed).map((t) => t.table);
  const notVisible = tables.filter((t) => t.visible < t.pages || t.toastVisible < t.toastPages).map((t) => t.table);
  const pages = `${sum((t) => t.visible).toLocaleString('en-US')}/${sum((t) => t.pages).toLocaleString('en-US')} pages all-visible (TOAST ${sum((t) => t.toastVisible).toLocaleString('en-US')}/${sum((t) => t.toastPages).toLocaleString('en-US')})`;
  const ok = notAnalyzed.length === 0 && notVisible.length === 0;
  const missing = [
    notAnalyzed.length ? `not analyzed: ${notAnalyzed.join(', ')}` : '',
    notVisible.length ? `visibility map not set: ${notVisible.join(', ')}` : '',
  ].filter(Boolean);
  const auto = `; autovacuum: ${automatic.vacuums} vacuum(s), ${automatic.analyzes} analyze(s), ${automatic.running} running at the end`;
  const state = ok ? `all ${tables.length} tables analyzed, ${pages}` : `NOT THE SAME END STATE: ${missing.join('; ')}; ${pages}`;
  return { ok, automatic, line: `${state}${auto}` };
}

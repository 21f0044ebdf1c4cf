// Materialized views' rows, source against target. A materialized view holds what its query gave
// when it was last refreshed, and nothing streams a refresh: pg_restore fills the target's from the
// copied rows, a view created while streaming is filled from the target's rows of that moment, and
// the source's may be refreshed (or not) at any time after. So the rows are compared like a table's
// at the verification that ends a migration (offline, in the copy's snapshot; online, inside the
// cutover's fence, once every change is applied), and where they differ the target's view is
// refreshed from its rows, which are the source's by then. If they still differ, the source's own
// rows are not its query's over the same data (refreshed before its tables last changed, or a
// volatile query): pgferry cannot give the target those rows, so it says so and stops
// (`staleMaterializedViews: stop`, the default), or keeps the target's refreshed rows and says
// which views differ (`refresh`). Whether a view is populated (WITH NO DATA) is made the source's too.
import type pg from 'pg';
import { displayName, qualified } from '../connect/quote';
import type { MigrationSpec, StaleMaterializedViews } from '../input/migrationSpec';
import type { VerificationTable } from '../core/model';
import { closeSessionPair, openSessionPair, type SessionPair } from '../connect/session';
import type { FilterPlan } from '../filter/plan';
import { checksum, rowsChecksumSql, type Checksum } from './keyedChecksum';

export interface MaterializedView {
  readonly oid: string;
  readonly schema: string;
  readonly name: string;
  readonly populated: boolean;
  /** Its columns by name, in order: hashed in this order on both servers. */
  readonly columns: readonly string[];
  /** Its query, as pg_get_viewdef prints it (the source's, run there to tell a stale view). */
  readonly definition: string;
}

/** The materialized views of a database, an extension's own aside. */
const MATERIALIZED_VIEWS_SQL = `
SELECT c.oid::pg_catalog.text AS oid, n.nspname AS schema, c.relname AS name, c.relispopulated AS populated,
       pg_catalog.pg_get_viewdef(c.oid) AS definition,
       ARRAY(SELECT a.attname::pg_catalog.text FROM pg_catalog.pg_attribute a
              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS columns
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'm'
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid AND d.deptype = 'e')
 ORDER BY 2, 3`;

/** The source's materialized views that move (a filter may leave some out). */
export async function readMaterializedViews(source: pg.Client, filter: FilterPlan): Promise<MaterializedView[]> {
  const { rows } = await source.query<MaterializedView>(MATERIALIZED_VIEWS_SQL);
  return rows.filter((v) => !filter.leftOut.has(v.oid));
}

const POPULATED_SQL = `SELECT c.relispopulated AS populated FROM pg_catalog.pg_class c WHERE c.oid = pg_catalog.to_regclass($1) AND c.relkind = 'm'`;

const checksumOf = (from: string, columns: readonly string[]) => rowsChecksumSql(`${from} AS t`, columns);

const same = (a: Checksum, b: Checksum) => a.rows === b.rows && a.hash === b.hash;

/** What verifying one materialized view did on the target, for the run to tell. */
export interface ViewVerification {
  readonly row: VerificationTable;
  /** Refreshed on the target (WITH NO DATA when the source's is not populated), and in how many seconds. */
  readonly refreshed?: number;
  /** `refresh` kept the target's rows where the source's are not its query's: why, for a warning. */
  readonly kept?: string;
}

/** How the two servers are named in what is said: the fall-back compares the other way round. */
export interface Sides {
  readonly source: string;
  readonly target: string;
}

const FORWARD: Sides = { source: 'source', target: 'target' };

/**
 * One materialized view compared, and refreshed on the target where it differs (see the top of
 * the file). `p.source` may be the copy's snapshot: the source's rows and its query are then read
 * at the point the target's tables hold.
 */
export async function verifyMaterializedView(
  database: string,
  view: MaterializedView,
  p: SessionPair,
  mode: StaleMaterializedViews,
  sides: Sides = FORWARD,
): Promise<ViewVerification> {
  const { source: from, target: to } = sides;
  const name = qualified(view.schema, view.name);
  const display = displayName(view.schema, view.name);
  const row = (sourceRows: number, targetRows: number, reason?: string): VerificationTable => ({
    database,
    table: `${display} (materialized view)`,
    sourceRows,
    targetRows,
    matches: reason === undefined,
    ...(reason === undefined ? {} : { reason }),
  });
  const { rows: found } = await p.target.query<{ populated: boolean }>(POPULATED_SQL, [name]);
  if (!found[0]) return { row: row(0, 0, `the materialized view is missing on the ${to}`) };
  let refreshed: number | undefined;
  const refresh = async (withData: boolean) => {
    const began = Date.now();
    await p.target.query(`REFRESH MATERIALIZED VIEW ${name}${withData ? '' : ' WITH NO DATA'}`);
    refreshed = (Date.now() - began) / 1000;
  };
  try {
    if (!view.populated) {
      if (found[0].populated) await refresh(false);
      return { row: row(0, 0), ...(refreshed === undefined ? {} : { refreshed }) };
    }
    if (!found[0].populated) await refresh(true);
    const sql = checksumOf(name, view.columns);
    const source = await checksum(p.source, sql);
    let target = await checksum(p.target, sql);
    if (!same(source, target) && refreshed === undefined) {
      await refresh(true);
      target = await checksum(p.target, sql);
    }
    const done = refreshed === undefined ? {} : { refreshed };
    if (same(source, target)) return { row: row(source.rows, target.rows), ...done };
    const counts = `${from} ${source.rows} row(s), ${to} ${target.rows}`;
    // kept: the source's own query is not run (it may be as heavy as the refresh, inside the fence)
    if (mode === 'refresh') {
      const why = `its rows differ from the ${from}'s after a refresh from the same data (the ${from}'s were refreshed before its tables last changed, or its query is volatile)`;
      return { row: row(source.rows, target.rows), ...done, kept: `${display}: ${why} (${counts}); the ${to}'s refreshed rows kept` };
    }
    // the verification fails: the source's query tells the user which fix it is
    const query = await checksum(p.source, checksumOf(`(${view.definition.trim().replace(/;$/, '')})`, view.columns));
    const why = same(query, target)
      ? `the ${from}'s rows are not its query's over the same data (it was refreshed before its tables last changed): the ${to}'s were refreshed from the same data`
      : `its query gives other rows on the ${to} than on the ${from} over the same data (a volatile function such as now(), or a collation)`;
    const fix = `REFRESH MATERIALIZED VIEW ${name} on the ${from} and try again, or set staleMaterializedViews: refresh to keep the ${to}'s refreshed rows`;
    return { row: row(source.rows, target.rows, `${why} (${counts}); fix: ${fix}`), ...done };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { row: row(0, 0, `cannot compare or refresh it on the ${to}: ${message}`) };
  }
}

const BACK: Sides = { source: 'new server', target: 'old source' };

/**
 * The fall-back's materialized views (flow/fallBackStep.ts), once the reverse stream is drained:
 * the new server's rows are what the application saw last, so each view of the old source is
 * compared with them and refreshed from the old source's rows (the new server's by then) where it
 * differs, in a session that passes the old source's fence. The views are read on the old source,
 * where the migration's OIDs are, and `filter` is the old source's plan (the fall-back reads it
 * once); the new server's view is found by name.
 */
export async function verifyMaterializedViewsBack(spec: MigrationSpec, database: string, filter: FilterPlan): Promise<ViewVerification[]> {
  const options = { database, purpose: 'verify' };
  const p = await openSessionPair(spec.target, options, spec.source, { ...options, writable: true });
  try {
    const views = await readMaterializedViews(p.target, filter);
    const done: ViewVerification[] = [];
    for (const view of views) done.push(await verifyMaterializedView(database, view, p, spec.staleMaterializedViews, BACK));
    return done;
  } finally {
    await closeSessionPair(p);
  }
}

// Row-level security on the target, enabled last. pg_dump restores ENABLE ROW LEVEL SECURITY in
// post-data; with it on, every session of a target user the policies apply to (a managed target's
// admin, FORCE ROW LEVEL SECURITY) reads and writes through them: the verification would count
// fewer rows, and the apply path would be refused (row_security = off). pgferry leaves it out of
// post-data and enables it here once its own work on the tables is done; FORCE, from the table's
// own definition, has no effect until then.
import type pg from 'pg';
import { qualified } from '../connect/quote';
import { withSession } from '../connect/session';
import type { ProgressListener } from '../core/model';
import type { MigrationSpec } from '../input/migrationSpec';

/** The tables with row-level security enabled on the source, and not yet on the target. */
const ROW_SECURITY_TABLES = `
SELECT n.nspname AS schema, c.relname AS name
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relrowsecurity AND c.relkind IN ('r', 'p')
 ORDER BY 1, 2`;

/** The statements that enable row-level security on each target table that has it on the source and not there. */
async function statementsToEnable(source: pg.Client, target: pg.Client): Promise<string[]> {
  const wanted = (await source.query<{ schema: string; name: string }>(ROW_SECURITY_TABLES)).rows;
  const key = (t: { schema: string; name: string }) => `${t.schema}\0${t.name}`;
  const already = new Set((await target.query<{ schema: string; name: string }>(ROW_SECURITY_TABLES)).rows.map(key));
  return wanted.filter((t) => !already.has(key(t))).map((t) => `ALTER TABLE ONLY ${qualified(t.schema, t.name)} ENABLE ROW LEVEL SECURITY`);
}

/** Enables row-level security on every target table that has it on the source; returns how many changed. */
async function enableRowSecurityAsOnSource(source: pg.Client, target: pg.Client): Promise<number> {
  const statements = await statementsToEnable(source, target);
  for (const statement of statements) await target.query(statement);
  return statements.length;
}

/** What enabling row-level security in one database would still run (the footprint's pending list). */
export function rowSecurityToEnable(spec: MigrationSpec, database: string): Promise<string[]> {
  return withSession(spec.source, { database, purpose: 'row security' }, (source) =>
    withSession(spec.target, { database, purpose: 'row security' }, (target) => statementsToEnable(source, target)),
  );
}

/**
 * Row-level security enabled on one database's target tables as on the source, once pgferry no
 * longer reads or writes them: offline after the verification, online at the cutover after it.
 */
export async function enableRowSecurity(
  run: { readonly spec: MigrationSpec; readonly onProgress: ProgressListener },
  database: string,
): Promise<void> {
  const count = await withSession(run.spec.source, { database, purpose: 'row security' }, (source) =>
    withSession(run.spec.target, { database, purpose: 'row security', writable: true }, (target) =>
      enableRowSecurityAsOnSource(source, target),
    ),
  );
  if (count > 0) run.onProgress({ kind: 'info', message: `row-level security enabled on ${count} table(s), as on the source`, database });
}

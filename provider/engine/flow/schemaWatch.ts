// The source's schema watched while streaming. The apply follows columns added, dropped, renamed
// and retyped, and NOT NULL (cdc/apply/shapeFollow.ts, with followSchemaChanges); this watch follows
// columns' defaults, which no streamed row depends on. Any other change (an index added, a
// constraint, a change the apply stopped on) reaches the target only if someone makes it there, and
// the cutover stops on it (verify/schema). So the user hears of it within seconds, not at the
// cutover: every WATCH_INTERVAL_MS a fingerprint of each streamed database's tables (one cheap
// query: columns, defaults, constraints, indexes), and only when it moved, the full comparison, each
// new difference followed (a default) or warned with its fix. Changes stream on meanwhile.
import type pg from 'pg';
import { withSession } from '../connect/session';
import { forgetTableVerifications } from '../control/tableVerification';
import { CONTROL_SCHEMA } from '../core/names';
import { checkSchema, schemaDifferenceMessage } from '../verify/schema/checkSchema';
import { isColumnDefaultDifference } from '../verify/schema/compare';
import type { SchemaDifference } from '../core/model';
import type { MigrationRun } from '../run/migrationRun';

const WATCH_INTERVAL_MS = 10_000;
const CLOSE_WAIT_MS = 2_000;
/** A default followed on the target waits this long for its table's lock (the apply commits every half second). */
const FOLLOW_LOCK_TIMEOUT = '2s';

/** One line per column, constraint and index of the user's tables; NULL-safe, ordered, hashed. */
const FINGERPRINT_SQL = `
SELECT pg_catalog.md5(coalesce(pg_catalog.string_agg(x, E'\\n' ORDER BY x), '')) AS print FROM (
  SELECT pg_catalog.concat_ws(':', 'a', a.attrelid, a.attname, a.atttypid, a.atttypmod, a.attnotnull, a.attcollation,
                              pg_catalog.pg_get_expr(d.adbin, d.adrelid)) AS x
    FROM pg_catalog.pg_attribute a
    JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm')
     AND n.nspname NOT IN ('pg_catalog', 'information_schema', $1) AND n.nspname NOT LIKE 'pg\\_toast%'
  UNION ALL
  SELECT pg_catalog.concat_ws(':', 'c', co.oid, co.conname, co.convalidated) FROM pg_catalog.pg_constraint co
   WHERE co.connamespace NOT IN (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname IN ('pg_catalog', 'information_schema', $1))
  UNION ALL
  SELECT pg_catalog.concat_ws(':', 'i', x.indexrelid, x.indrelid) FROM pg_catalog.pg_index x
   WHERE x.indexrelid >= 16384
) s`;

export class SchemaWatch {
  private readonly prints = new Map<string, string>();
  /** The differences already warned about, per database, so each is told once. */
  private readonly told = new Map<string, Set<string>>();
  private lastLook = 0;
  /** The look in progress: it runs beside the supervisor's loop, never delaying a cutover or cancel request. */
  private running: Promise<void> | undefined;

  constructor(private readonly run: MigrationRun) {}

  /**
   * Starts a look at each database once WATCH_INTERVAL_MS has passed and none is running; a server
   * away (or any failure) is looked at next time.
   */
  look(databases: readonly string[]): void {
    if (this.running || Date.now() - this.lastLook < WATCH_INTERVAL_MS) return;
    this.lastLook = Date.now();
    this.running = this.lookAt([...databases])
      .catch(() => undefined)
      .finally(() => (this.running = undefined));
  }

  /**
   * Waits a little for the look in progress (its sessions end on their own within lock_timeout):
   * a cutover or cancel never waits on the watch.
   */
  async close(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)));
    await Promise.race([this.running, bound]);
    clearTimeout(timer);
  }

  private async lookAt(databases: readonly string[]): Promise<void> {
    for (const database of databases) {
      if (this.run.signal.aborted) return;
      const print = await withSession(this.run.spec.source, { database, purpose: 'schema watch' }, fingerprint);
      if (this.prints.get(database) === print) continue;
      this.prints.set(database, print);
      await this.compare(database);
    }
  }

  private async compare(database: string): Promise<void> {
    // best effort: a lock held on a table (a cancel may be waiting on it) makes it give up at once
    const check = await checkSchema(this.run.spec, database, { whileSetAside: true, lockTimeout: '1s' });
    const followed = this.run.spec.followSchemaChanges ? await this.followDefaults(database, check.differences) : new Set();
    const told = this.told.get(database) ?? new Set<string>();
    this.told.set(database, told);
    const fresh = check.differences.filter((d) => !followed.has(d) && !told.has(`${d.object}\0${d.detail}`));
    if (fresh.length === 0) return;
    for (const d of fresh) told.add(`${d.object}\0${d.detail}`);
    const message = schemaDifferenceMessage({ ...check, differences: fresh });
    await this.run.warn(
      `schema changed on the source while streaming: ${message}; changes stream on, and the cutover stops until the target matches (run each fix on the target, giving an added column the source's values)`,
      database,
    );
  }

  /**
   * Columns' defaults set or dropped on the source, made on the target with the schema check's own
   * statement (followSchemaChanges): at this look, not at a position in the stream, since every
   * streamed row carries each column's value and none depends on a default. One the target refuses
   * (a function or sequence it lacks) or whose table is locked is warned with its fix instead, as
   * any other difference; the fingerprint tries it again at the next change.
   */
  private async followDefaults(database: string, differences: readonly SchemaDifference[]): Promise<Set<SchemaDifference>> {
    const defaults = differences.filter(isColumnDefaultDifference);
    const followed = new Set<SchemaDifference>();
    if (defaults.length === 0) return followed;
    // Read whole at the cutover, as a table the cutover's schema check found different is: the
    // default may be the one visible trace of rows the stream did not carry (a column dropped and
    // added again under its name while no runner streamed gives every row the new default).
    // Forgotten first, so that a runner stopped after the statement leaves it forgotten.
    const tables = [...new Set(defaults.flatMap((d) => (d.table ? [d.table] : [])))];
    await forgetTableVerifications(this.run.store, this.run.spec.migrationName, database, tables);
    await withSession(this.run.spec.target, { database, purpose: 'schema watch', writable: true }, async (target) => {
      await target.query(`SET lock_timeout = '${FOLLOW_LOCK_TIMEOUT}'`);
      for (const d of defaults) {
        try {
          await target.query(d.fix);
        } catch {
          continue;
        }
        followed.add(d);
        const message = `source ${d.object} changed while streaming (${d.detail}), followed on the target`;
        this.run.onProgress({ kind: 'info', message, database });
        await this.run.store.recordEvent(this.run.spec.migrationName, 'info', message, database);
      }
    });
    return followed;
  }
}

async function fingerprint(client: pg.Client): Promise<string> {
  const { rows } = await client.query<{ print: string }>(FINGERPRINT_SQL, [CONTROL_SCHEMA]);
  return rows[0]!.print;
}

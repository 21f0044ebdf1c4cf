// The application's schema change in a fallback window: a new release of the application, moved to
// the new server, adds a column to a migrated table and writes values in it, and/or makes a table
// of its own there and fills it. Neither reaches the old source by the reverse stream (the column
// is the new server's own, the table is outside the reverse publication), so the fall-back stops
// before its point of no return, naming the statements that bring them back (docs/fallback.md).
//
// The user's answer to that stop is drawn: `fix` runs the statements the stop's message prints, as
// a person would copy them (printedFix.ts: on the old source in a `BEGIN READ WRITE` transaction,
// since it is fenced; the column's `UPDATE` on the new server), the application writes on, and the
// user asks the fall-back again, which then carries the window's rows back; `close` closes the
// windows and stays on the new server (stopped safely, the old source left behind by that choice).
// A trial whose fault is at a step of the fall-back answers `fix`: closing, it would never reach it.
//
// After a fall-back the window's column values and the window table's rows are read back from both
// servers: the old source must hold every one the new server holds, equal.
import { ident, literal } from '../provider/engine';
import type { Cluster } from '../test/support';
import type { TrialResult, WindowChangeReport } from './outcome';
import { inReadWriteTransaction, runPrintedFix, type WindowStop } from './printedFix';
import type { Rng } from './rng';

const WINDOW_CHANGES = ['column', 'table', 'both'] as const;
export type WindowChangeKind = (typeof WINDOW_CHANGES)[number];
const WINDOW_ANSWERS = ['fix', 'close'] as const;
export type WindowAnswer = (typeof WINDOW_ANSWERS)[number];

export interface WindowChangeDraw {
  /**
   * Per trial database, what the application makes there. Each database of the migration gets one,
   * as when a fall-back that completed in one database and stopped in another could not be asked
   * again; it can now (docs/fallback.md: the windows still Open fall back), and the draw is kept so
   * that seeds replay as they were drawn.
   */
  readonly kinds: readonly [WindowChangeKind, WindowChangeKind];
  /** What the user does when the fall-back stops on it. */
  readonly answer: WindowAnswer;
  /** After the window opened, before acting (the fall-back is asked 4-12 s after it opened, and waits for it). */
  readonly delayMs: number;
}

/** The share of trials in a fallback window whose application changes the schema there (a fork of its own). */
export const WINDOW_CHANGE_SHARE = 0.5;
/** The share of those whose user runs the printed fix rather than closing the windows. */
const FIX_SHARE = 2 / 3;
const LATEST_MS = 3_000;

/** The column the application adds to docs, and the table it makes: names of the application's, not a bystander's. */
const WINDOW_COLUMN = 'app_channel';
const WINDOW_TABLE = 'app_events';
/**
 * The application's new rows carry the column's values, in its table of each database (docs, notes),
 * with keys far from the workload's (campaignWorkload.ts) and the bystander's: no other writer
 * touches them, so the fix's `UPDATE` waits on nobody's row.
 */
const FIRST_ROW_ID = 1_800_000_000;
const COLUMN_TABLES: readonly [string, string] = ['docs', 'notes'];
const FIRST_ROWS = { column: 20, events: 200 };
/** Written after the user's fix, before the fall-back is asked again: the carry must take them too. */
const LATER_ROWS = { column: 5, events: 50 };

/** What the trial knows when it draws: whether it goes on in a fallback window, and whether its fault is at a step of the fall-back. */
export interface WindowChangeContext {
  readonly fallback: boolean;
  /**
   * The trial's fault is at a step of the fall-back, so the fall-back must come: the user answers
   * the stop on the change with its printed fix (closing the windows, they would never fall back).
   */
  readonly fallsBack?: boolean;
}

/**
 * The trial's window change: none outside a fallback window or the share (`never`), the kind named
 * (`--window-change column|table|both`), or drawn (`always`, or within the share); the answer
 * forced (`--window-answer fix|close`), `fix` in a trial whose fault is at a step of the fall-back,
 * or drawn. Every draw is made whatever is forced, so each seed draws the same as before.
 */
export function drawWindowChange(
  rng: Rng,
  ctx: WindowChangeContext,
  share: number,
  forced?: string,
  answer?: string,
): WindowChangeDraw | undefined {
  const on = rng.chance(share);
  const kinds = [rng.pick(WINDOW_CHANGES), rng.pick(WINDOW_CHANGES)] as const;
  const drawn: WindowAnswer = rng.chance(FIX_SHARE) ? 'fix' : 'close';
  const delayMs = rng.int(0, LATEST_MS);
  if (!ctx.fallback || forced === 'never' || (forced === undefined && !on)) return undefined;
  const named = forced === undefined || forced === 'always' ? kinds : ([windowChangeNamed(forced), windowChangeNamed(forced)] as const);
  const answered: WindowAnswer = answer !== undefined ? windowAnswerNamed(answer) : ctx.fallsBack === true ? 'fix' : drawn;
  return { kinds: named, answer: answered, delayMs };
}

/** A `--window-change` value, checked. */
export function windowChangeNamed(name: string): WindowChangeKind {
  const kind = WINDOW_CHANGES.find((k) => k === name);
  if (!kind) throw new Error(`--window-change: always, never, or one of ${WINDOW_CHANGES.join(', ')}; got "${name}"`);
  return kind;
}

/** A `--window-answer` value, checked. */
export function windowAnswerNamed(name: string): WindowAnswer {
  const answer = WINDOW_ANSWERS.find((k) => k === name);
  if (!answer) throw new Error(`--window-answer: one of ${WINDOW_ANSWERS.join(', ')}; got "${name}"`);
  return answer;
}

/** The application's release: its sessions' name. */
const RELEASE = 'application release';
const inTransaction = (server: Cluster, database: string, sql: string): Promise<void> =>
  inReadWriteTransaction(server, database, sql, RELEASE);

/** Rows of the database's table with the window's column: docs (id, title, body) or notes (id, author, body). */
const columnRows = (db: 0 | 1, from: number, count: number, batch: string): string =>
  `INSERT INTO public.${COLUMN_TABLES[db]} (id, ${db === 0 ? 'title' : 'author'}, body, ${ident(WINDOW_COLUMN)})
   SELECT ${FIRST_ROW_ID} + g, 'release ' || g, md5(g::text), ${literal(`channel ${batch} `)} || g
     FROM generate_series(${from}, ${from + count - 1}) g ON CONFLICT (id) DO NOTHING`;

const eventRows = (from: number, count: number, batch: string): string =>
  `INSERT INTO public.${ident(WINDOW_TABLE)} (id, kind, payload)
   SELECT g, 'kind ' || (g % 7), md5(g::text || ${literal(batch)}) FROM generate_series(${from}, ${from + count - 1}) g
   ON CONFLICT (id) DO NOTHING`;

const MAKE_TABLE = `CREATE TABLE IF NOT EXISTS public.${ident(WINDOW_TABLE)} (id int PRIMARY KEY, kind text NOT NULL,
  payload text, at timestamptz NOT NULL DEFAULT now());
  CREATE INDEX IF NOT EXISTS ${ident(`${WINDOW_TABLE}_kind_idx`)} ON public.${ident(WINDOW_TABLE)} (kind, id)`;

/**
 * The application's release in the window, and the user's answer to the fall-back's stop on it:
 * acts once at its drawn delay in each database, runs the printed fix (then writes on) or asks to
 * close, and reads back what the fall-back carried.
 */
export class WindowChangeActor {
  readonly report: WindowChangeReport;
  private from: number | undefined;
  /** The databases whose application wrote on after the user's first fix there. */
  private readonly writtenOn = new Set<string>();

  constructor(
    private readonly draw: WindowChangeDraw,
    private readonly clusters: { readonly source: Cluster; readonly target: Cluster },
    private readonly databases: readonly [string, string],
    result: TrialResult,
  ) {
    this.report = { kinds: [...draw.kinds], answer: draw.answer, made: false, fixesRun: [] };
    result.windowChange = this.report;
  }

  private hasColumn(db: 0 | 1): boolean {
    return this.draw.kinds[db] !== 'table';
  }

  private hasTable(db: 0 | 1): boolean {
    return this.draw.kinds[db] !== 'column';
  }

  /** Whether the user may ask the fall-back: the release made (or failed to be made). */
  get settled(): boolean {
    return this.report.made || this.report.error !== undefined;
  }

  /** At each poll while the application writes on the new server, before the fall-back is asked. */
  async onWindowPoll(): Promise<void> {
    this.from ??= Date.now();
    if (this.settled || Date.now() - this.from < this.draw.delayMs) return;
    try {
      for (const db of [0, 1] as const) await this.make(db);
      this.report.made = true;
    } catch (error) {
      this.report.error = `could not make it: ${(error as Error).message}`.slice(0, 300);
    }
  }

  private async make(db: 0 | 1): Promise<void> {
    const { target } = this.clusters;
    const database = this.databases[db];
    if (this.hasColumn(db)) {
      // the column on its own first: its ACCESS EXCLUSIVE lock held no longer than the catalog change
      const add = `ALTER TABLE public.${COLUMN_TABLES[db]} ADD COLUMN IF NOT EXISTS ${ident(WINDOW_COLUMN)} text`;
      await inTransaction(target, database, add);
      await inTransaction(target, database, columnRows(db, 1, FIRST_ROWS.column, 'first'));
    }
    if (this.hasTable(db)) await inTransaction(target, database, `${MAKE_TABLE}; ${eventRows(1, FIRST_ROWS.events, 'first')}`);
  }

  /**
   * The fall-back stopped on the window's column or table: `close` (the user asks to close the
   * windows), or `fixed` once the printed statements ran and the application wrote on; a message
   * whose fix cannot be read is the trial's failure.
   */
  async answer(stop: WindowStop): Promise<'close' | 'fixed' | { failure: string }> {
    if (this.draw.answer === 'close') return 'close';
    try {
      this.report.fixesRun.push(...(await runPrintedFix(this.clusters, stop, RELEASE)));
      await this.writeOn(stop.database);
    } catch (error) {
      return { failure: (error as Error).message };
    }
    return 'fixed';
  }

  /** Whether the user answers a stop with its printed fix (else closes the windows). */
  get fixes(): boolean {
    return this.draw.answer === 'fix';
  }

  /** Whether a stop's message names the release's column or table (it may name a DBA's beside them). */
  names(message: string): boolean {
    return message.includes(WINDOW_COLUMN) || message.includes(WINDOW_TABLE);
  }

  /** After the first fix in a database, the application writes more rows in its column and table there before the fall-back is asked again. */
  private async writeOn(database: string): Promise<void> {
    const db = this.databases.indexOf(database);
    if ((db !== 0 && db !== 1) || this.writtenOn.has(database)) return;
    this.writtenOn.add(database);
    const { target } = this.clusters;
    if (this.hasColumn(db)) await inTransaction(target, database, columnRows(db, FIRST_ROWS.column + 1, LATER_ROWS.column, 'later'));
    if (this.hasTable(db)) await inTransaction(target, database, eventRows(FIRST_ROWS.events + 1, LATER_ROWS.events, 'later'));
  }

  /**
   * After every window fell back: the column's values and the table's rows, read on both servers,
   * must be equal (the new server's as the reference) and none missing. Returns what differs.
   */
  async judgeCarried(): Promise<string[]> {
    if (!this.report.made) return [];
    const out: string[] = [];
    const totals = { column: [0, 0] as [number, number], table: [0, 0] as [number, number] };
    for (const db of [0, 1] as const) {
      const database = this.databases[db];
      const checks: { what: string; sql: string; into: [number, number] }[] = [];
      if (this.hasColumn(db)) {
        const c = ident(WINDOW_COLUMN);
        const table = COLUMN_TABLES[db];
        const sql = `SELECT count(*)::int AS n, md5(coalesce(string_agg(id || '=' || ${c}, ',' ORDER BY id), '')) AS h FROM public.${table} WHERE ${c} IS NOT NULL`;
        checks.push({ what: `values of public.${table}.${WINDOW_COLUMN} in ${database}`, sql, into: totals.column });
      }
      if (this.hasTable(db)) {
        const sql = `SELECT count(*)::int AS n, md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) AS h FROM public.${ident(WINDOW_TABLE)} t`;
        checks.push({ what: `rows of public.${WINDOW_TABLE} in ${database}`, sql, into: totals.table });
      }
      for (const check of checks) {
        const got = await this.readBoth(check.sql, database).catch((error: Error) => ({ error: error.message }));
        out.push(...compared(check.what, got));
        if ('error' in got) continue;
        check.into[0] += got.newServer.n;
        check.into[1] += got.oldSource.n;
      }
    }
    this.report.columnValues = totals.column;
    this.report.tableRows = totals.table;
    return out;
  }

  private async readBoth(sql: string, database: string): Promise<{ newServer: Digest; oldSource: Digest }> {
    return { newServer: await digest(this.clusters.target, database, sql), oldSource: await digest(this.clusters.source, database, sql) };
  }
}

interface Digest {
  readonly n: number;
  readonly h: string;
}

async function digest(server: Cluster, database: string, sql: string): Promise<Digest> {
  const rows = await server.query<{ n: number; h: string }>(sql, [], database);
  return rows[0]!;
}

function compared(what: string, got: { newServer: Digest; oldSource: Digest } | { error: string }): string[] {
  if ('error' in got) return [`window change: ${what} could not be read on both servers: ${got.error}`];
  if (got.newServer.n === 0) return [`window change: no ${what} on the new server to compare`];
  if (got.newServer.n === got.oldSource.n && got.newServer.h === got.oldSource.h) return [];
  return [
    `window change: ${what} on the old source differ from the new server's (${got.oldSource.n} there, ${got.newServer.n} on the new server)`,
  ];
}

// The bystander: another actor than pgferry and the application, who makes or writes something
// pgferry does not own while a trial runs, as a DBA preparing the new server or a job on the old
// one would (issue 62). One to three kinds are drawn per trial, each at a drawn moment: a column
// with values added on the target to a migrated table, a large object made on the target alone, an
// index of the DBA's own on the target (plain, built concurrently, or left invalid by a failed
// concurrent build), a table of the DBA's own on the target, a table on the source that the
// migration's filters leave out whose foreign key references a streamed table (in a fallback
// window the DBA also runs `TRUNCATE notes CASCADE` on the new server, which must not empty it on
// the old source), and a client that begins its transactions with `BEGIN READ WRITE` writing on
// the source through a fenced cutover. Right after making its objects the bystander reads them
// back (what it made, as the server holds it); at the end of the trial it reads them again, and any
// difference fails the trial, naming what was harmed: dropped, changed, lost, added.
//
// Every object is named with BYSTANDER_MARK, so the judge's comparison of the two servers leaves
// them out (judge.ts): they are the bystander's to check, not the migration's.
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { ident, literal } from '../provider/engine';
import { retrying } from '../provider/engine/internal';
import type { Cluster } from '../test/support';
import type { BystanderItemReport, BystanderReport, TrialResult, WriterReport } from './outcome';
import type { Rng } from './rng';
import { BYSTANDER_MARK } from './bystanderMark';
import { runPrintedFix, type WindowStop } from './printedFix';

export const BYSTANDER_KINDS = ['dba-column', 'large-object', 'dba-index', 'source-fk-table', 'dba-table', 'read-write-writer'] as const;
export type BystanderKind = (typeof BYSTANDER_KINDS)[number];

/**
 * When a bystander acts: before `pgferry create` (on the source), a drawn delay after the migration
 * streams, once the user asks for the cutover, or a drawn delay after a fallback window opened.
 */
export type BystanderMoment = 'before' | 'streaming' | 'cutover' | 'window';

export interface BystanderDraw {
  readonly kind: BystanderKind;
  readonly moment: BystanderMoment;
  /** After the moment's start (streaming first seen, the window open), before acting. */
  readonly delayMs: number;
  readonly variant: string;
  /** Which trial database: 0 (the large one) or 1 (notes). */
  readonly database: 0 | 1;
  /** The foreign key table's kind in a fallback window: the DBA runs `TRUNCATE notes CASCADE` on the new server. */
  readonly truncatesInWindow: boolean;
  /**
   * The DBA's column or table on the new server, in a trial whose fault is at a step of the
   * fall-back: the DBA answers the fall-back's stop on it by running its printed fix (their object
   * made on the old source, its values or rows carried back), so the fall-back comes; elsewhere the
   * user runs that fix when their drawn answer to the application's stop is `fix`
   * (fallbackTrial.ts `stopAnswerer`), and closes the windows otherwise.
   */
  readonly fixesFallBackStop: boolean;
}

/** What the trial knows when it draws: whether its cutover fences the writers and it goes on in a fallback window. */
export interface BystanderContext {
  readonly fenced: boolean;
  readonly fallback: boolean;
  /**
   * The trial's fault is at a step of the fall-back, so the fall-back must come: nothing drawn may
   * stop the reverse stream before it (the window's TRUNCATE does, rightly, and the user then
   * closes the windows instead of falling back), and the DBA's column or table that stops the
   * fall-back itself is answered with its printed fix.
   */
  readonly fallsBack?: boolean;
}

/** The share of trials with a bystander: all (a fork of its own: the trial's other draws are unchanged). */
export const BYSTANDER_SHARE = 1;
/** At most this many kinds in one trial. */
const MOST_KINDS = 3;
const LATEST_STREAMING_MS = 6_000;
/** Window actions come before the user's fall-back (asked 4-12 s after the window opened). */
const LATEST_WINDOW_MS = 3_000;

const VARIANTS: Readonly<Record<BystanderKind, readonly string[]>> = {
  'dba-column': ['nullable', 'default'],
  'large-object': ['bytes'],
  'dba-index': ['plain', 'concurrently', 'invalid'],
  'source-fk-table': ['references-notes'],
  'dba-table': ['rows'],
  'read-write-writer': ['begin-read-write'],
};

/** The moments a kind can act at in a trial (none: the kind does not apply to it). */
function bystanderMoments(kind: BystanderKind, ctx: BystanderContext): BystanderMoment[] {
  switch (kind) {
    case 'source-fk-table':
      return ['before', 'streaming'];
    case 'read-write-writer':
      // the fence is what this client must not get through: without one there is nothing to test
      return ctx.fenced ? ['cutover'] : [];
    default:
      return ctx.fallback ? ['streaming', 'window'] : ['streaming'];
  }
}

/** The kinds a `--bystander` list names, each checked. */
export function bystanderKindsNamed(names: string): BystanderKind[] {
  return names.split(',').map((name) => {
    const kind = BYSTANDER_KINDS.find((k) => k === name.trim());
    if (!kind)
      throw new Error(`--bystander: always, never, or one or more (comma-separated) of ${BYSTANDER_KINDS.join(', ')}; got "${name}"`);
    return kind;
  });
}

/**
 * The trial's bystanders: none (`never`, or outside the share), the kinds named (`--bystander
 * NAME[,NAME...]`, those that apply to the trial), or one to MOST_KINDS distinct kinds drawn among
 * those that apply. Each kind's moment, delay, variant and database come from a fork of its own.
 */
export function drawBystanders(rng: Rng, ctx: BystanderContext, share: number, forced?: string): BystanderDraw[] {
  if (forced === 'never') return [];
  const applicable = BYSTANDER_KINDS.filter((k) => bystanderMoments(k, ctx).length > 0);
  let kinds: BystanderKind[];
  if (forced !== undefined && forced !== 'always') kinds = bystanderKindsNamed(forced).filter((k) => applicable.includes(k));
  else {
    if (forced === undefined && !rng.chance(share)) return [];
    const count = rng.int(1, MOST_KINDS);
    kinds = [];
    while (kinds.length < count) {
      const kind = rng.pick(applicable);
      if (!kinds.includes(kind)) kinds.push(kind);
    }
  }
  return kinds.map((kind) => {
    const r = rng.fork(kind);
    const moment = r.pick(bystanderMoments(kind, ctx));
    const latest = moment === 'window' ? LATEST_WINDOW_MS : moment === 'streaming' ? LATEST_STREAMING_MS : 0;
    // decided without a draw, so every seed draws the same kinds, moments and delays as before
    const truncatesInWindow = kind === 'source-fk-table' && ctx.fallback && ctx.fallsBack !== true;
    const fixesFallBackStop = (kind === 'dba-column' || kind === 'dba-table') && ctx.fallback && ctx.fallsBack === true;
    const drawn = { kind, moment, delayMs: r.int(0, latest), variant: r.pick(VARIANTS[kind]), database: r.chance(0.5) ? 1 : 0 } as const;
    return { ...drawn, truncatesInWindow, fixesFallBackStop };
  });
}

/** The tables the migration's filters leave out for these bystanders (spec `excludeTables`). */
export function bystanderExcludedTables(draws: readonly BystanderDraw[]): string[] {
  return draws.some((d) => d.kind === 'source-fk-table') ? [FK_TABLE] : [];
}

/**
 * A bystander's objects and rows as one server holds them: each object by a name for the report,
 * with a description that must stay equal (undefined: not there), and its rows by key.
 */
export interface BystanderSnapshot {
  readonly objects: Readonly<Record<string, string | undefined>>;
  /** What the rows are, for the report ("rows of public.bystander_jobs"). */
  readonly rowsLabel: string;
  readonly rows: Readonly<Record<string, string>>;
}

const SAMPLES = 4;

/** What happened to what the bystander made: dropped, changed, lost, added (empty: intact). */
export function bystanderHarm(made: BystanderSnapshot, found: BystanderSnapshot): string[] {
  const out: string[] = [];
  for (const [name, description] of Object.entries(made.objects)) {
    const now = found.objects[name];
    if (description === undefined) continue; // never made (a failed build leaves nothing to keep)
    if (now === undefined) out.push(`dropped: ${name}`);
    else if (now !== description) out.push(`changed: ${name} (made as "${description}", now "${now}")`);
  }
  const lost: string[] = [];
  const changed: string[] = [];
  for (const [key, value] of Object.entries(made.rows)) {
    const now = found.rows[key];
    if (now === undefined) lost.push(key);
    else if (now !== value) changed.push(key);
  }
  const added = Object.keys(found.rows).filter((k) => !(k in made.rows));
  const total = Object.keys(made.rows).length;
  const keys = (list: string[]): string => list.slice(0, SAMPLES).join(', ') + (list.length > SAMPLES ? ', ...' : '');
  if (lost.length > 0) out.push(`lost: ${lost.length} of ${total} ${made.rowsLabel} (keys ${keys(lost)})`);
  if (changed.length > 0) out.push(`changed: ${changed.length} of ${total} ${made.rowsLabel} (keys ${keys(changed)})`);
  if (added.length > 0) out.push(`added: ${added.length} ${made.rowsLabel} it did not write (keys ${keys(added)})`);
  return out;
}

// ---- the objects, made and read back ---------------------------------------------------------

const DOCS_COLUMN = `${BYSTANDER_MARK}note`;
const FK_TABLE = `${BYSTANDER_MARK}refs`;
const DBA_TABLE = `${BYSTANDER_MARK}jobs`;
/** The read-write client's rows in docs: ids far above the application's (campaignWorkload.ts). */
const WRITER_FIRST_ID = 1_900_000_000;

/** Lock waits before the bystander gives up and tries again (the workload's transactions are short). */
const LOCK_TIMEOUT = '2s';
/** A concurrent index build waits for older transactions: bounded, a timeout leaves it invalid (kept as made). */
const BUILD_TIMEOUT = '60s';
const RETRY = { attempts: 10, firstDelayMs: 1000, maxDelayMs: 1000 };

async function withClient<T>(server: Cluster, database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = await server.connect(database);
  client.on('error', () => undefined);
  try {
    await client.query(`SET application_name = 'bystander'; SET lock_timeout = '${LOCK_TIMEOUT}'`);
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Runs statements in one transaction, again while a lock wait gives up or a server restarts. */
function inTransaction(server: Cluster, database: string, sql: string): Promise<void> {
  return retrying(
    RETRY,
    () =>
      withClient(server, database, async (c) => {
        try {
          await c.query(`BEGIN; ${sql}; COMMIT`);
        } catch (error) {
          await c.query('ROLLBACK').catch(() => undefined);
          throw error;
        }
      }),
    { retryOn: () => true },
  );
}

async function rowsOf(c: pg.Client, sql: string, params: unknown[] = []): Promise<Record<string, string>> {
  const { rows } = await c.query<{ k: string; v: string | null }>(sql, params);
  return Object.fromEntries(rows.map((r) => [r.k, r.v ?? 'NULL']));
}

const COLUMN_SQL = `
SELECT format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
       || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '') AS d
  FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE a.attrelid = to_regclass('public.docs') AND a.attname = $1 AND NOT a.attisdropped`;

const TABLE_SQL = `
SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum) AS d
  FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`;

const INDEX_SQL = `
SELECT pg_get_indexdef(i.indexrelid) || CASE WHEN i.indisvalid THEN '' ELSE ' (invalid)' END AS d
  FROM pg_index i WHERE i.indexrelid = to_regclass($1)`;

const FOREIGN_KEY_SQL = `
SELECT conname || ' ' || pg_get_constraintdef(oid) AS d FROM pg_constraint
 WHERE conrelid = to_regclass($1) AND contype = 'f'`;

async function one(c: pg.Client, sql: string, params: unknown[]): Promise<string | undefined> {
  const { rows } = await c.query<{ d: string | null }>(sql, params);
  return rows[0]?.d ?? undefined;
}

/** A table's rows by key, each as the md5 of its text; none when the table is gone. */
async function tableRows(c: pg.Client, table: string): Promise<Record<string, string>> {
  const exists = await one(c, TABLE_SQL, [`public.${table}`]);
  if (exists === undefined) return {};
  return rowsOf(c, `SELECT id::text AS k, md5(t::text) AS v FROM public.${ident(table)} t`);
}

interface Kind {
  /** The server the bystander acts on and reads back from. */
  server(trial: TrialSides): Cluster;
  make(server: Cluster, database: string, seed: string): Promise<void>;
  read(c: pg.Client, made?: BystanderSnapshot): Promise<BystanderSnapshot>;
}

interface TrialSides {
  readonly source: Cluster;
  readonly target: Cluster;
}

function dbaColumn(variant: string): Kind {
  const column = ident(DOCS_COLUMN);
  const sql =
    variant === 'default'
      ? `ALTER TABLE public.docs ADD COLUMN ${column} integer NOT NULL DEFAULT 7; UPDATE public.docs SET ${column} = id % 1000 WHERE id % 3 = 0`
      : `ALTER TABLE public.docs ADD COLUMN ${column} text; UPDATE public.docs SET ${column} = 'dba ' || left(md5(id::text), 12) WHERE id % 3 = 0`;
  return {
    server: (t) => t.target,
    make: (server, database) => inTransaction(server, database, sql),
    read: async (c, made) => {
      const described = await one(c, COLUMN_SQL, [DOCS_COLUMN]);
      const label = `values of public.docs.${DOCS_COLUMN}`;
      const objects = { [`column public.docs.${DOCS_COLUMN}`]: described };
      if (described === undefined) return { objects, rowsLabel: label, rows: {} };
      // made: the rows the DBA filled (every row, with a default); at the end, those rows again
      const rows = made
        ? await rowsOf(c, `SELECT id::text AS k, ${column}::text AS v FROM public.docs WHERE id::text = ANY($1::text[])`, [
            Object.keys(made.rows),
          ])
        : await rowsOf(c, `SELECT id::text AS k, ${column}::text AS v FROM public.docs WHERE ${column} IS NOT NULL`);
      return { objects, rowsLabel: label, rows };
    },
  };
}

function largeObject(): Kind {
  let oid: string | undefined;
  return {
    server: (t) => t.target,
    make: async (server, database, seed) => {
      // once: a retry after a commit whose answer was lost would make a second object
      oid = await withClient(server, database, async (c) => {
        const { rows } = await c.query<{ oid: string }>(
          `SELECT lo_from_bytea(0, convert_to(repeat(md5($1::text), 64), 'UTF8'))::text AS oid`,
          [seed],
        );
        return rows[0]!.oid;
      });
    },
    read: async (c) => ({
      objects: {
        [`large object ${oid}`]: await one(c, `SELECT md5(lo_get(m.oid)) AS d FROM pg_largeobject_metadata m WHERE m.oid = $1::oid`, [oid]),
      },
      rowsLabel: 'rows',
      rows: {},
    }),
  };
}

/** The DBA's index: plain on docs, built concurrently on notes, or a failed unique concurrent build left invalid. */
function dbaIndex(variant: string): Kind {
  const name = `${BYSTANDER_MARK}${variant}_idx`;
  const build =
    variant === 'plain'
      ? `CREATE INDEX IF NOT EXISTS ${ident(name)} ON public.docs (title, id)`
      : variant === 'concurrently'
        ? `CREATE INDEX CONCURRENTLY IF NOT EXISTS ${ident(name)} ON public.notes (author, id)`
        : // twenty authors share the notes: the unique build fails and leaves the index invalid
          `CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ${ident(name)} ON public.notes (author)`;
  return {
    server: (t) => t.target,
    make: (server, database) =>
      retrying(
        RETRY,
        () =>
          withClient(server, database, async (c) => {
            // a concurrent build waits for older transactions as lock waits: bounded by the statement timeout alone
            await c.query(`SET lock_timeout = 0; SET statement_timeout = '${BUILD_TIMEOUT}'`);
            await c.query(build).catch((error: { code?: string }) => {
              // the invalid variant's failure is the point; a build past its timeout is left invalid too
              if (error.code === '23505' || error.code === '57014') return;
              throw error;
            });
          }),
        { retryOn: () => true },
      ),
    read: async (c) => ({
      objects: { [`index public.${name}`]: await one(c, INDEX_SQL, [`public.${name}`]) },
      rowsLabel: 'rows',
      rows: {},
    }),
  };
}

function dbaTable(): Kind {
  return {
    server: (t) => t.target,
    make: (server, database, seed) =>
      inTransaction(
        server,
        database,
        `CREATE TABLE public.${ident(DBA_TABLE)} (id int PRIMARY KEY, payload text NOT NULL);
         INSERT INTO public.${ident(DBA_TABLE)} SELECT g, md5(g::text || ${literal(seed)}) FROM generate_series(1, 100) g`,
      ),
    read: async (c) => ({
      objects: { [`table public.${DBA_TABLE}`]: await one(c, TABLE_SQL, [`public.${DBA_TABLE}`]) },
      rowsLabel: `rows of public.${DBA_TABLE}`,
      rows: await tableRows(c, DBA_TABLE),
    }),
  };
}

/** On the source, left out by the filters, referencing notes (never deleted by the application). */
function sourceFkTable(): Kind {
  return {
    server: (t) => t.source,
    make: (server, database) =>
      inTransaction(
        server,
        database,
        `CREATE TABLE public.${ident(FK_TABLE)} (id int PRIMARY KEY,
           note_id int NOT NULL CONSTRAINT ${ident(`${FK_TABLE}_note_fk`)} REFERENCES public.notes (id), line text NOT NULL);
         INSERT INTO public.${ident(FK_TABLE)} SELECT g, g * 7, 'ref ' || g FROM generate_series(1, 60) g`,
      ),
    read: async (c) => ({
      objects: {
        [`table public.${FK_TABLE}`]: await one(c, TABLE_SQL, [`public.${FK_TABLE}`]),
        [`foreign key of public.${FK_TABLE}`]: await one(c, FOREIGN_KEY_SQL, [`public.${FK_TABLE}`]),
      },
      rowsLabel: `rows of public.${FK_TABLE} on the source`,
      rows: await tableRows(c, FK_TABLE),
    }),
  };
}

// ---- the client that begins with BEGIN READ WRITE ------------------------------------------------

/** A client that writes docs rows with `BEGIN READ WRITE`, as some drivers open every transaction. */
class ReadWriteWriter {
  readonly report: WriterReport = { committed: 0, throughFence: 0, refused: 0, otherErrors: 0 };
  /** id -> md5(body) of each write that got a success. */
  readonly written: Record<string, string> = {};
  /** The ids of those written in a session the fence was in force for. */
  readonly throughFence = new Set<string>();
  private stopping = false;
  private loop: Promise<void> | undefined;
  private next = 0;

  constructor(
    private readonly source: Cluster,
    private readonly database: string,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    let client: pg.Client | undefined;
    let fenced = false;
    while (!this.stopping) {
      try {
        if (!client) {
          client = await this.source.connect(this.database);
          client.on('error', () => undefined);
          await client.query(`SET application_name = 'bystander writer'`);
          const { rows } = await client.query<{ v: string }>(`SELECT current_setting('default_transaction_read_only') AS v`);
          fenced = rows[0]?.v === 'on';
        }
        this.next += 1;
        const id = WRITER_FIRST_ID + this.next;
        const body = `bystander write ${this.next}`;
        await client.query('BEGIN READ WRITE');
        try {
          await client.query(`INSERT INTO public.docs (id, title, body) VALUES ($1::int, 'bystander write', $2::text)`, [id, body]);
        } catch (error) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw error;
        }
        // a COMMIT that fails (the session ended under it) is of unknown fate: never counted as a success
        await client.query('COMMIT');
        this.written[String(id)] = md5Hex(body);
        this.report.committed += 1;
        if (fenced) {
          this.report.throughFence += 1;
          this.throughFence.add(String(id));
        }
      } catch (error) {
        if ((error as { code?: string }).code === '25006') this.report.refused += 1;
        else this.report.otherErrors += 1;
        await client?.end().catch(() => undefined);
        client = undefined;
        await sleep(1000); // as a client with a retry loop
        continue;
      }
      await sleep(100);
    }
    await client?.end().catch(() => undefined);
  }
}

function md5Hex(text: string): string {
  return createHash('md5').update(text).digest('hex');
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- the actor ------------------------------------------------------------------------------

interface Item {
  readonly draw: BystanderDraw;
  readonly report: BystanderItemReport;
  readonly kind?: Kind;
  made?: BystanderSnapshot;
}

function kindOf(draw: BystanderDraw): Kind | undefined {
  switch (draw.kind) {
    case 'dba-column':
      return dbaColumn(draw.variant);
    case 'large-object':
      return largeObject();
    case 'dba-index':
      return dbaIndex(draw.variant);
    case 'dba-table':
      return dbaTable();
    case 'source-fk-table':
      return sourceFkTable();
    default:
      return undefined; // the read-write client: ReadWriteWriter
  }
}

/** Which database a draw acts in: the column and the writer in docs (A), the foreign key table beside notes (B). */
function databaseIndex(draw: BystanderDraw): 0 | 1 {
  switch (draw.kind) {
    case 'dba-column':
    case 'read-write-writer':
      return 0;
    case 'source-fk-table':
      return 1;
    case 'dba-index':
      return draw.variant === 'plain' ? 0 : 1;
    default:
      return draw.database;
  }
}

/**
 * The trial's bystander: acts at each draw's moment (the trial calls it before `create`, at each
 * poll, at the cutover request and in the window), then reads everything back and records the harm.
 */
export class BystanderActor {
  private readonly items: Item[];
  private readonly writer: ReadWriteWriter | undefined;
  private streamingFrom: number | undefined;
  private windowFrom: number | undefined;
  private readonly seed: string;
  private readonly report: BystanderReport;

  constructor(
    draws: readonly BystanderDraw[],
    private readonly clusters: TrialSides,
    private readonly databases: readonly [string, string],
    result: TrialResult,
    trialSeed: number,
  ) {
    this.seed = String(trialSeed);
    const report: BystanderReport = { items: [] };
    result.bystander = this.report = report;
    this.items = draws.map((draw) => {
      const item: Item = {
        draw,
        kind: kindOf(draw),
        report: {
          kind: draw.kind,
          moment: draw.moment,
          variant: draw.variant,
          database: databases[databaseIndex(draw)],
          made: false,
          harm: [],
        },
      };
      report.items.push(item.report);
      return item;
    });
    const writes = this.items.find((i) => i.draw.kind === 'read-write-writer');
    this.writer = writes ? new ReadWriteWriter(clusters.source, databases[0]) : undefined;
  }

  /** The tables the spec's filters must leave out. */
  excludedTables(): string[] {
    return bystanderExcludedTables(this.items.map((i) => i.draw));
  }

  /** Large objects the judge leaves to the bystander (read at the end of the trial). */
  largeObjects(): string[] {
    return this.items.flatMap((i) => Object.keys(i.made?.objects ?? {})).flatMap((n) => /^large object (\d+)$/.exec(n)?.[1] ?? []);
  }

  async beforeCreate(): Promise<void> {
    for (const item of this.items) if (item.draw.moment === 'before') await this.act(item);
  }

  /** At each poll: true while an act is due (the user's cutover waits for it) or was just made. */
  async onPoll(streaming: boolean): Promise<boolean> {
    if (streaming) this.streamingFrom ??= Date.now();
    return this.due('streaming', this.streamingFrom);
  }

  /** The user asked for the cutover: the read-write client starts writing on the source. */
  cutoverRequested(): void {
    const item = this.items.find((i) => i.draw.moment === 'cutover');
    if (!item || !this.writer) return;
    item.report.made = true;
    this.writer.start();
  }

  /** The migration reached its end (or the trial its deadline): the client stops. */
  async stopWriting(): Promise<void> {
    await this.writer?.stop();
  }

  /** In a fallback window, at each poll once it is open: the window's acts (the DBA on the new server). */
  async onWindowPoll(): Promise<void> {
    this.windowFrom ??= Date.now();
    await this.due('window', this.windowFrom);
    for (const item of this.items) {
      if (!item.draw.truncatesInWindow || item.report.truncatedOnNewServer !== undefined || !item.made) continue;
      if (Date.now() - this.windowFrom < item.draw.delayMs) continue;
      // the referenced table emptied on the new server: the reverse stream must not cascade it to the old source
      item.report.truncatedOnNewServer = false;
      await inTransaction(this.clusters.target, this.databases[1], 'TRUNCATE public.notes CASCADE').then(
        () => (item.report.truncatedOnNewServer = true),
        (error: Error) => (item.report.error = `TRUNCATE notes CASCADE on the new server: ${error.message}`),
      );
    }
  }

  /** The DBA answers a fall-back's stop on their column or table with its printed fix (drawn so only where the fault is at a fall-back step). */
  get fixesFallBackStops(): boolean {
    return this.items.some((i) => i.draw.fixesFallBackStop);
  }

  /** The fall-back stopped on the DBA's column or table of the new server alone: its printed fix is run (by the DBA, or the user who answers `fix`). */
  async answerFallBackStop(stop: WindowStop): Promise<'fixed' | { failure: string }> {
    try {
      this.report.fallBackFixes = [...(this.report.fallBackFixes ?? []), ...(await runPrintedFix(this.clusters, stop, 'bystander'))];
    } catch (error) {
      return { failure: (error as Error).message };
    }
    return 'fixed';
  }

  /**
   * A fall-back's stop naming the DBA's objects was fixed (by the DBA, or by the application's
   * release whose stop named them too): those objects are now on the old source as well, and are
   * read back there after the fall-back.
   */
  fixRun(stop: WindowStop): void {
    for (const item of this.items) {
      const named = item.draw.kind === 'dba-column' ? DOCS_COLUMN : item.draw.kind === 'dba-table' ? DBA_TABLE : undefined;
      if (named && item.made && stop.message.includes(named) && this.databases[databaseIndex(item.draw)] === stop.database)
        item.report.onOldSource = true;
    }
  }

  private async due(moment: BystanderMoment, from: number | undefined): Promise<boolean> {
    if (from === undefined) return this.items.some((i) => i.draw.moment === moment && !i.report.made && i.report.error === undefined);
    let busy = false;
    for (const item of this.items) {
      if (item.draw.moment !== moment || item.report.made || item.report.error !== undefined) continue;
      busy = true;
      if (Date.now() - from >= item.draw.delayMs) await this.act(item);
    }
    return busy;
  }

  private async act(item: Item): Promise<void> {
    const kind = item.kind!;
    const server = kind.server(this.clusters);
    const database = this.databases[databaseIndex(item.draw)];
    try {
      await kind.make(server, database, this.seed);
      item.made = await withClient(server, database, (c) => kind.read(c));
      item.report.made = true;
      item.report.detail = describeMade(item.made);
    } catch (error) {
      item.report.error = `could not make it: ${(error as Error).message}`.slice(0, 300);
    }
  }

  /**
   * Reads every bystander's objects and rows back and records the harm. The read-write client's
   * successes must be on the target after a Succeeded cutover (on the source otherwise).
   */
  async judge(result: TrialResult, stuck?: string): Promise<void> {
    await this.stopWriting();
    for (const item of this.items) {
      if (item.draw.kind === 'read-write-writer') {
        await this.judgeWriter(item, result);
        continue;
      }
      if (!item.made) continue;
      const kind = item.kind!;
      const database = this.databases[databaseIndex(item.draw)];
      try {
        const found = await withClient(kind.server(this.clusters), database, (c) => kind.read(c, item.made));
        item.report.harm.push(...bystanderHarm(item.made, found));
        // made on the old source too by the fall-back's printed fix: there as made after the fall-back
        if (item.report.onOldSource && result.fallback?.fellBack) {
          const back = await withClient(this.clusters.source, database, (c) => kind.read(c, item.made));
          item.report.harm.push(...bystanderHarm(item.made, back).map((h) => `on the old source after the fall-back, ${h}`));
        }
      } catch (error) {
        item.report.harm.push(`could not be read back: ${(error as Error).message}`);
      }
    }
    // the migration stopped on a bystander's object: pgferry must keep it and go on (issue 62)
    const blocked = [result.message, result.schemaChange?.canceled, stuck, ...result.reasons].find((m) => m?.includes(BYSTANDER_MARK));
    if (blocked && result.finalState !== 'Succeeded') result.bystander!.blocked = blocked.slice(0, 400);
  }

  private async judgeWriter(item: Item, result: TrialResult): Promise<void> {
    if (!this.writer || !item.report.made) return;
    const onTarget = result.finalState === 'Succeeded';
    item.report.writer = this.writer.report;
    item.report.detail = `${this.writer.report.committed} committed (${this.writer.report.throughFence} through the fence), ${this.writer.report.refused} refused, ${this.writer.report.otherErrors} other errors`;
    const made: BystanderSnapshot = {
      objects: {},
      rowsLabel: `writes that got a success, on the ${onTarget ? 'target' : 'source'}`,
      rows: this.writer.written,
    };
    const found = await withClient(onTarget ? this.clusters.target : this.clusters.source, this.databases[0], async (c) => ({
      objects: {},
      rowsLabel: made.rowsLabel,
      rows: await rowsOf(c, `SELECT id::text AS k, md5(body) AS v FROM public.docs WHERE id::text = ANY($1::text[])`, [
        Object.keys(made.rows),
      ]),
    })).catch((error: Error) => {
      item.report.harm.push(`could not be read back: ${error.message}`);
      return undefined;
    });
    if (!found) return;
    item.report.harm.push(...bystanderHarm(made, found));
    // a write that got through the fence and is not on the target went unseen: the fence's second line missed it
    const unseen = [...this.writer.throughFence].filter((id) => !(id in found.rows));
    if (unseen.length > 0) item.report.harm.push(`unseen: ${unseen.length} of the writes lost got through the fence`);
  }
}

function describeMade(s: BystanderSnapshot): string {
  const objects = Object.entries(s.objects).map(([name, d]) => `${name}${d === undefined ? ' (not there)' : ''}`);
  const rows = Object.keys(s.rows).length;
  return [...objects, ...(rows > 0 ? [`${rows} ${s.rowsLabel}`] : [])].join('; ');
}

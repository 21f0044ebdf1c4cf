// The schema changes a trial's application makes on the source while the migration streams, as an
// application release would: a few (one to three, drawn from the trial's seed), the first at a
// drawn moment after streaming began and the next ones a drawn gap apart, so they land before,
// during or after the fault the trial draws (a runner killed, a server restarted, a connection
// cut), with the workload writing on before, between and after them. Most are ones pgferry
// follows on the target by itself (issue 49: columns added, renamed, dropped, widened, NOT NULL
// dropped, a volatile default's values by a copy of the table at a pin, new tables, indexes,
// constraints, views, functions, sequences, schemas, domains, policies, comments, grants); what it
// does not follow stops the stream or the cutover with a statement. The trial's user answers as a
// person would: the same DDL on the target and a resume for a stopped stream, the statements the
// cutover's schema check printed for a stopped cutover, a cancel when nothing they can run fixes
// it. The judge compares the catalogs as well as the rows, so the one outcome that fails is a
// migration that ends Succeeded over a target whose schema differs.
//
// The workload names only the columns it writes (faults/campaignWorkload.ts), so every change here
// leaves the application working: no change touches big.grp/label, docs.title/body, orders'
// item_id/amount/ticket, flags' two columns or notes' author/body.
import type { MigrationStatus } from '../provider/engine';
import { retrying } from '../provider/engine/internal';
import type { Cluster } from '../test/support';
import type { SchemaChangeReport, TrialResult } from './outcome';
import { BYSTANDER_MARK } from './bystanderMark';
import type { Rng } from './rng';
import type { TrialUser } from './user';

export interface SchemaChange {
  /** A short name for reports and `--schema-change`. */
  readonly name: string;
  /** Which trial database it changes: 0 (the large one) or 1 (notes). */
  readonly database: 0 | 1;
  /** The DDL, run on the source in one transaction. */
  readonly sql: string;
}

/** Every change a trial can draw. */
const SCHEMA_CHANGES: readonly SchemaChange[] = [
  // followed when the table is written again: a constant, and a stable default the source kept as
  // the existing rows' missing value (one value for all of them, which the target can be given)
  { name: 'add-column-constant', database: 0, sql: `ALTER TABLE docs ADD COLUMN lang text NOT NULL DEFAULT 'en'` },
  { name: 'add-column-stable', database: 0, sql: `ALTER TABLE orders ADD COLUMN seen_at timestamptz DEFAULT now()` },
  { name: 'add-column-notes', database: 1, sql: `ALTER TABLE notes ADD COLUMN pinned boolean NOT NULL DEFAULT false` },
  // a volatile default: the source rewrote every row with its own value
  { name: 'add-column-volatile', database: 0, sql: `ALTER TABLE big ADD COLUMN token double precision DEFAULT random()` },
  // columns renamed, dropped, widened on written tables: followed at their position in the stream
  { name: 'rename-column', database: 0, sql: `ALTER TABLE big RENAME COLUMN pad TO padding` },
  { name: 'drop-column', database: 0, sql: `ALTER TABLE items DROP COLUMN note` },
  { name: 'retype-column', database: 0, sql: `ALTER TABLE items ALTER COLUMN qty TYPE bigint` },
  // a default is followed by the schema watch, NOT NULL dropped at the next write; the rest no row
  // message carries, and only the schema check at the cutover can see them
  { name: 'set-default', database: 0, sql: `ALTER TABLE orders ALTER COLUMN amount SET DEFAULT 0` },
  { name: 'drop-not-null', database: 0, sql: `ALTER TABLE items ALTER COLUMN qty DROP NOT NULL` },
  { name: 'create-index', database: 0, sql: `CREATE INDEX big_pad_prefix_idx ON big (left(pad, 8))` },
  { name: 'drop-index', database: 1, sql: `DROP INDEX notes_author_idx` },
  { name: 'add-check', database: 0, sql: `ALTER TABLE orders ADD CONSTRAINT orders_amount_check CHECK (amount >= 0)` },
  { name: 'comment', database: 0, sql: `COMMENT ON COLUMN docs.title IS 'shown in lists'` },
  { name: 'create-view', database: 1, sql: `CREATE VIEW note_authors AS SELECT author, count(*) AS notes FROM notes GROUP BY author` },
  {
    name: 'create-function',
    database: 0,
    sql: `CREATE FUNCTION order_total(p_item int) RETURNS numeric LANGUAGE sql STABLE AS $$ SELECT sum(amount) FROM orders WHERE item_id = p_item $$`,
  },
  // a new table written while streaming: followed (created, copied at a pin, streamed)
  {
    name: 'create-table',
    database: 0,
    sql: `CREATE TABLE releases (id int PRIMARY KEY, name text NOT NULL); INSERT INTO releases SELECT g, 'v' || g FROM generate_series(1, 50) g`,
  },
  // objects the schema watch makes on the target within one look
  { name: 'create-sequence', database: 0, sql: `CREATE SEQUENCE release_seq START 50; SELECT nextval('release_seq')` },
  { name: 'create-domain', database: 0, sql: `CREATE DOMAIN quantity AS int CHECK (VALUE >= 0)` },
  { name: 'create-enum', database: 1, sql: `CREATE TYPE note_state AS ENUM ('draft', 'live')` },
  {
    name: 'create-schema',
    database: 0,
    sql: `CREATE SCHEMA reporting; CREATE VIEW reporting.doc_titles AS SELECT id, title FROM public.docs`,
  },
  { name: 'create-policy', database: 1, sql: `CREATE POLICY notes_by_author ON notes FOR SELECT USING (author = current_user)` },
  { name: 'grant', database: 0, sql: `GRANT SELECT ON docs, order_totals TO PUBLIC` },
  {
    name: 'create-procedure',
    database: 1,
    sql: `CREATE PROCEDURE tidy_notes(p_author text) LANGUAGE sql AS $$ UPDATE public.notes SET body = trim(body) WHERE author = p_author $$`,
  },
];

/** The share of trials whose application changes the schema while streaming. */
const SCHEMA_CHANGE_SHARE = 1 / 2;
/** At most this many changes in one trial's release. */
const MOST_CHANGES = 3;
/** The first change comes within this long of streaming, each next one within this gap of the last. */
const LATEST_FIRST_MS = 8_000;
const LONGEST_GAP_MS = 3_000;

/** The trial's release: its changes and when each is made. */
export interface SchemaRelease {
  readonly changes: readonly SchemaChange[];
  /** After streaming was first seen, before the first change. */
  readonly delayMs: number;
  /** Before each next change, after the one before it. */
  readonly gapsMs: readonly number[];
}

/**
 * The trial's release: none, forced by name (`--schema-change NAME[,NAME...]`), or drawn
 * (SCHEMA_CHANGE_SHARE of the trials, or every one with `always`): one to MOST_CHANGES distinct
 * changes. Its moments are drawn in every case.
 */
export function drawSchemaRelease(rng: Rng, forced?: string): SchemaRelease | undefined {
  if (forced === 'never') return undefined;
  const timing = rng.fork('moments');
  const moments = {
    delayMs: timing.int(0, LATEST_FIRST_MS),
    gapsMs: Array.from({ length: MOST_CHANGES }, () => timing.int(0, LONGEST_GAP_MS)),
  };
  if (forced !== undefined && forced !== 'always') return { changes: schemaChangesNamed(forced), ...moments };
  if (forced === undefined && !rng.chance(SCHEMA_CHANGE_SHARE)) return undefined;
  const count = rng.int(1, MOST_CHANGES);
  const changes: SchemaChange[] = [];
  while (changes.length < count) {
    const change = rng.pick(SCHEMA_CHANGES);
    if (!changes.includes(change)) changes.push(change);
  }
  return { changes, ...moments };
}

/** The changes a comma-separated list names (`--schema-change`), each checked. */
export function schemaChangesNamed(names: string): SchemaChange[] {
  return names.split(',').map((name) => {
    const found = SCHEMA_CHANGES.find((c) => c.name === name.trim());
    if (!found)
      throw new Error(
        `--schema-change: always, never, or one or more (comma-separated) of ${SCHEMA_CHANGES.map((c) => c.name).join(', ')}; got "${name}"`,
      );
    return found;
  });
}

/** Lock waits before the DDL gives up and tries again (the workload's transactions are short). */
const LOCK_TIMEOUT = '2s';
/** Ten tries a second apart. */
const RETRY = { attempts: 10, firstDelayMs: 1000, maxDelayMs: 1000 };

/**
 * Runs the change's DDL in one transaction on `server` (the source, or the target when the user
 * repeats it there), trying again while it waits behind a lock or meets a restart.
 */
async function makeSchemaChange(server: Cluster, database: string, change: Pick<SchemaChange, 'sql'>): Promise<void> {
  // any failure is tried again: a lock wait that gave up, or a server restarting under a fault
  await retrying(
    RETRY,
    async () => {
      const client = await server.connect(database);
      client.on('error', () => undefined);
      try {
        await client.query(`SET lock_timeout = '${LOCK_TIMEOUT}'`);
        await client.query(`BEGIN; ${change.sql}; COMMIT`);
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        await client.end().catch(() => undefined);
      }
    },
    { retryOn: () => true },
  );
}

/** A statement the user can run as printed: SQL, not advice (fixes.ts words a few fixes as advice). */
const RUNNABLE_FIX = /^(ALTER|CREATE|DROP|COMMENT|GRANT|REVOKE)\b[\s\S]*;\s*$/;
/** Rounds of printed fixes the user runs before giving up. */
const FIX_ROUNDS = 2;
/** How long a stream may stay stopped after the user made the same change on the target. */
const STOPPED_AFTER_REPEAT_MS = 120_000;

/**
 * The trial's user facing its own application's schema change: makes it on the source once the
 * migration streams, and answers what pgferry stops on as the README tells a person to.
 */
export class SchemaChangeUser {
  private repeatedAt: number | undefined;
  /** How many of the release's changes were made on the source, and when the last was (or streaming began). */
  private madeCount = 0;
  private dueFrom: number | undefined;
  /** The user acted on a stopped stream since the last cutover request (so a stopped cutover is retried). */
  private actedSinceRequest = false;
  private fixRounds = 0;
  /** The cutover was asked again once after a stop with no schema difference. */
  private askedAgain = false;

  constructor(
    private readonly release: SchemaRelease,
    private readonly databases: readonly [string, string],
    private readonly clusters: { readonly source: Cluster; readonly target: Cluster },
    private readonly user: TrialUser,
    private readonly result: TrialResult,
  ) {}

  private get report(): SchemaChangeReport {
    return this.result.schemaChange!;
  }

  /** The change was made on the source. */
  get changed(): boolean {
    return this.report.made;
  }

  get canceled(): boolean {
    return this.report.canceled !== undefined;
  }

  /** The change made last: the one a stopped stream is most likely stopped on. */
  private get change(): SchemaChange {
    return this.release.changes[Math.max(0, this.madeCount - 1)]!;
  }

  /**
   * True when this poll is spent: a change is due later (the cutover waits for the release), was
   * just made (streaming goes on a while), or a stopped stream was answered. Each change is made at
   * its drawn moment once streaming, whatever the fault is doing meanwhile.
   */
  async onPoll(status: MigrationStatus, streaming: boolean): Promise<boolean> {
    if (this.canceled) return true;
    if (!this.report.made) {
      if (!streaming && this.madeCount === 0) return false;
      const wait = this.madeCount === 0 ? this.release.delayMs : this.release.gapsMs[this.madeCount - 1]!;
      this.dueFrom ??= Date.now();
      if (Date.now() - this.dueFrom < wait) return true;
      const next = this.release.changes[this.madeCount]!;
      await makeSchemaChange(this.clusters.source, this.databases[next.database], next);
      this.madeCount += 1;
      this.dueFrom = Date.now();
      this.report.made = this.madeCount === this.release.changes.length;
      return true;
    }
    const database = this.databases[this.change.database];
    const stoppedOnSchema = status.databases.some((d) => d.applyStop?.code === 'CDC_SCHEMA_CHANGE');
    if (status.subState !== 'WaitingForApplyFix' || !stoppedOnSchema) return false;
    if (this.report.repeatedOnTarget) {
      if (Date.now() - this.repeatedAt! > STOPPED_AFTER_REPEAT_MS) {
        await this.cancel(`the stream stayed stopped after the same change on the target: ${status.message ?? ''}`);
      }
      return true;
    }
    if (this.change.name === 'add-column-volatile') {
      // the existing rows' values exist only on the source: no DDL on the target reproduces them
      await this.cancel(`the stream stopped on a column whose existing values only the source has: ${status.message ?? ''}`);
      return true;
    }
    await makeSchemaChange(this.clusters.target, database, this.change);
    this.report.repeatedOnTarget = true;
    this.repeatedAt = Date.now();
    this.actedSinceRequest = true;
    await this.user.resume();
    return true;
  }

  /** The user asks for the cutover (again). */
  cutoverRequested(): void {
    this.actedSinceRequest = false;
  }

  /**
   * A cutover stopped and streaming goes on: the user runs the statements the schema check printed
   * (every one of them, or none: then they cancel), or asks again after answering a stopped stream.
   * False when the user canceled instead.
   */
  async cutoverStopped(status: MigrationStatus): Promise<boolean> {
    if (this.canceled) return false;
    const differences = (status.verification?.schema ?? []).flatMap((r) =>
      r.differences.map((d) => ({ database: r.database, fix: d.fix })),
    );
    // a fix that names a bystander's object would change what someone else made: a person who
    // knows the DBA made it does not run it, and gives up on the migration instead
    const harmful = differences.find((d) => d.fix.includes(BYSTANDER_MARK));
    if (harmful) {
      await this.cancel(`the cutover's fix would change a bystander's object: ${harmful.fix.trim()}`);
      return false;
    }
    if (differences.length > 0 && this.fixRounds < FIX_ROUNDS && differences.every((d) => RUNNABLE_FIX.test(d.fix.trim()))) {
      this.fixRounds += 1;
      for (const d of differences) {
        await makeSchemaChange(this.clusters.target, d.database, { sql: d.fix.trim().replace(/;\s*$/, '') });
        this.report.fixesRun.push(`${d.database}: ${d.fix.trim()}`);
      }
      return true;
    }
    if (differences.length === 0 && this.actedSinceRequest) return true;
    // a stop that names no schema difference (the lag gate rolled the cutover back after a
    // resume): asked again once, as a trial without a schema change does
    if (differences.length === 0 && !this.askedAgain) {
      this.askedAgain = true;
      return true;
    }
    await this.cancel(`the cutover stopped and nothing printed can be run: ${status.message ?? ''}`);
    return false;
  }

  private async cancel(why: string): Promise<void> {
    this.report.canceled = why.slice(0, 400);
    await this.user.cancel();
  }
}

// The apply session's side of the target: one open target transaction at a time (a batch of
// whole source transactions), its statements sent through the pipeline, and its commit, which
// records the position it covers in the same transaction and only then counts it as applied.
import { trace, traceOnce } from '../../util/trace';
import { failpoint } from '../../util/failpoints';
import {
  DEPENDENT_OBJECTS_STILL_EXIST,
  FEATURE_NOT_SUPPORTED,
  IN_FAILED_SQL_TRANSACTION,
  isRetryable,
  sqlState,
} from '../../connect/sqlstate';
import { PgferryError } from '../../core/errors';
import { displayName, ident, qualified } from '../../connect/quote';
import type { QualifiedName } from '../../core/names';
import { FORWARD_STREAM_WORDS, type StreamWords } from '../../core/streamWords';
import type { AppliedPosition } from './positionCommit';
import { maxLsn } from '../../core/lsn';
import type { BatchPlanner } from '../plan/planner';
import { AffectedRowsError, type StatementPipeline } from './statementPipeline';
import type { ApplyState } from './applyState';
import type { RowChange, Statement } from '../plan/types';
import type { RowOp } from '../decode/changeEvents';

/** PGFERRY_TRACE marks this process's first apply commit (util/trace.ts). */
let firstCommitTraced = false;

/**
 * A statement the target refused: the table it wrote to, quoted as SQL (the stop's field, which
 * the stop records as its table), the same table as messages print it, and the statement's text
 * (values travel apart, as parameters or COPY data).
 */
export class StatementFailure extends PgferryError {
  constructor(
    code: 'CDC_APPLY' | 'CDC_TARGET_DIVERGED',
    message: string,
    readonly table: string,
    readonly statement: string,
    options: ConstructorParameters<typeof PgferryError>[2],
    readonly printed: string = table,
  ) {
    super(code, message, options);
  }
}

/** Statement text as shown to users: long VALUES lists cut, one line. */
function statementText(statement: Pick<Statement, 'text'>): string {
  const flat = statement.text.replace(/\s+/g, ' ');
  return flat.length > 300 ? `${flat.slice(0, 300)}...` : flat;
}

/**
 * The server's detail and hint, which often name the row or the fix ("Key (id)=(5) already exists.").
 * A refused DROP's hint (CASCADE) is left out: what depends on the object is not pgferry's to drop.
 */
function serverDetail(error: unknown): string {
  const e = error as { detail?: unknown; hint?: unknown };
  const hint = typeof e.hint === 'string' && sqlState(error) !== DEPENDENT_OBJECTS_STILL_EXIST ? `hint: ${e.hint}` : '';
  const parts = [typeof e.detail === 'string' ? e.detail : '', hint];
  return parts.filter((p) => p.length > 0).join(' ');
}

export function applyError(statement: Statement, error: unknown, words: StreamWords): Error {
  if (isRetryable(error)) return error as Error;
  if (error instanceof AffectedRowsError) return divergedError(statement, error, words);
  const referenced = statement.op === 'truncate' ? referencedError(statement, error, words) : undefined;
  if (referenced) return referenced;
  const detail = serverDetail(error);
  return new StatementFailure(
    'CDC_APPLY',
    `applying ${statement.op} to ${statement.printed} on ${words.target} failed: ${(error as Error).message}${detail ? ` (${detail})` : ''}`,
    statement.target,
    statementText(statement),
    { category: 'target', field: statement.target, cause: error },
    statement.printed,
  );
}

/**
 * A statement that changed fewer (or more) target rows than the source changed: applying it as it
 * is would drop changes silently, so the stream stops, naming the table. Nothing of the open
 * transaction commits, and the slot still holds the change.
 */
function divergedError(statement: Statement, error: AffectedRowsError, { source, target }: StreamWords): PgferryError {
  const why =
    statement.op === 'insert'
      ? `a trigger or rule on ${target} kept rows out`
      : error.actual < error.expected
        ? `rows ${source} changed are missing on ${target}`
        : `more rows matched on ${target} than ${source} changed`;
  return new StatementFailure(
    'CDC_TARGET_DIVERGED',
    `${statement.op} of ${error.expected} row(s) of ${statement.printed} changed ${error.actual} on ${target}: ${why}; ${target} has diverged from ${source}, streaming stopped`,
    statement.target,
    statementText(statement),
    {
      category: 'target',
      field: statement.target,
      fix: `find what changed the table on ${target} while streaming (an application or job writing to it, a trigger or rule there) and make its rows match ${source}`,
      cause: error,
    },
    statement.printed,
  );
}

/**
 * A replayed TRUNCATE refused for a foreign key (referencedError), with the statement refused:
 * `exact` once the referencing keys were read from the catalog.
 */
export class TruncateRefused extends StatementFailure {
  constructor(
    message: string,
    readonly refused: Statement,
    text: string,
    options: ConstructorParameters<typeof PgferryError>[2],
    readonly exact: boolean,
  ) {
    super('CDC_APPLY', message, refused.target, text, options, refused.printed);
  }
}

/** A foreign key that keeps a TRUNCATE from applying: its table and name, and the truncated table it references. */
export interface ReferencingKey {
  readonly table: QualifiedName;
  readonly constraint: string;
  readonly references: QualifiedName;
}

/**
 * A replayed TRUNCATE the server refused because a table it does not name references one it does
 * (the source truncated with CASCADE, or the referencing table is not streamed). pgferry never
 * truncates with CASCADE, so that table keeps its rows; the stream stops naming it, with a fix that
 * keeps them, and the TRUNCATE applies once the reference is gone. The server's hint (CASCADE) is
 * not repeated. The foreign keys are read from that server's catalog by the truncated tables' OIDs
 * (truncateRefusal.ts, `keys`): the server's detail names the first it met, by table names without
 * their schemas, which two tables of one name in two schemas share. Until they are read, or when
 * they cannot be, the stop quotes that detail and guesses nothing.
 */
export function referencedError(
  statement: Statement,
  error: unknown,
  words: StreamWords = FORWARD_STREAM_WORDS,
  keys?: readonly ReferencingKey[],
): TruncateRefused | undefined {
  if (sqlState(error) !== FEATURE_NOT_SUPPORTED) return undefined;
  const detail = (error as { detail?: unknown }).detail;
  if (typeof detail !== 'string') return undefined;
  const shown = (t: QualifiedName) => displayName(t.schema, t.name);
  const read = keys !== undefined && keys.length > 0 ? keys : undefined;
  const one = read?.length === 1 ? read[0] : undefined;
  const drops = read
    ?.map((k) => `ALTER TABLE ${qualified(k.table.schema, k.table.name)} DROP CONSTRAINT ${ident(k.constraint)}`)
    .join('; ');
  const then = 'the stream then applies the TRUNCATE';
  let referencing: string;
  let fix: string;
  if (one) {
    referencing = `table ${shown(one.table)}, which the stream does not write, references ${shown(one.references)} by a foreign key`;
    fix = `to keep the rows of table ${shown(one.table)}, drop its foreign key to ${shown(one.references)} on ${words.target}: ${drops}; if its rows are meant to go with the TRUNCATE, empty it there yourself; ${then}`;
  } else if (read) {
    const pairs = read.map((k) => `${shown(k.table)} references ${shown(k.references)}`).join(', ');
    referencing = `tables the stream does not write reference them by foreign keys: ${pairs}`;
    fix = `to keep the rows of those tables, drop their foreign keys on ${words.target}: ${drops}; if their rows are meant to go with the TRUNCATE, empty them there yourself; ${then}`;
  } else {
    referencing = `a table the stream does not write references one of them by a foreign key (the server's detail: ${detail})`;
    fix = `to keep the rows of the table the server names, drop its foreign key (ALTER TABLE ... DROP CONSTRAINT ...) on ${words.target}; if its rows are meant to go with the TRUNCATE, empty it there yourself; ${then}`;
  }
  return new TruncateRefused(
    `TRUNCATE of ${statement.printed} refused: ${referencing}; pgferry never truncates with CASCADE, so nothing was emptied`,
    statement,
    statementText(statement),
    { category: 'target', field: statement.target, fix, cause: error },
    read !== undefined,
  );
}

const asError = (error: unknown): Error => error as Error;

/** How long a failure behind an aborted transaction waits for the statement that failed first. */
const FIRST_ERROR_WAIT_MS = 5_000;

export interface TransactionHooks {
  /** Throws when the target connection has failed (checked before each statement). */
  readonly checkTarget: () => void;
  /** A batch committed: the applied position moved and may be confirmed to the slot. */
  readonly committed: () => void;
}

export class TargetTransaction {
  private open = false;
  private startedAt = 0;
  private rows = 0;
  private readonly pending: Record<RowOp, number> = { insert: 0, update: 0, delete: 0 };
  /** Staging tables this session has created (their keys). */
  private readonly staged = new Set<string>();
  /** COMMITs sent and not answered yet (one that fails fails the session: it is not counted down). */
  private commits = 0;
  /** End LSN and commit time of the last source transaction seen whole: what the next commit records. */
  private coveredLsn: bigint;
  private coveredCommitMs = 0;
  /**
   * Parallel apply: runs once the batch's statements are sent and before its position is
   * recorded, and starts the commits of the other sessions' parts of the batch (applyLanes.ts);
   * what it gives settles once they have all returned, and this session's position and COMMIT wait
   * for it. Undefined when no other session had a part.
   */
  private beforeCommit: ((endLsn: bigint, commitTimeMs: number) => Promise<void> | undefined) | undefined;
  /** Parallel apply: told each time a COMMIT of this session returned, in order. */
  private afterCommit: (() => void) | undefined;

  constructor(
    private readonly pipeline: StatementPipeline,
    private readonly planner: BatchPlanner,
    private readonly progress: AppliedPosition,
    private readonly state: ApplyState,
    private readonly hooks: TransactionHooks,
    startLsn: bigint,
    /** A parallel apply session other than the first: its commits count rows but record no applied position. */
    private readonly lane = false,
    /** How a refused statement names the two servers (SessionConfig.words). */
    private readonly words: StreamWords = FORWARD_STREAM_WORDS,
  ) {
    this.coveredLsn = startLsn;
  }

  get isOpen(): boolean {
    return this.open;
  }

  /** Row changes added since the transaction began. */
  get rowCount(): number {
    return this.rows;
  }

  /** Milliseconds since the transaction began. */
  get age(): number {
    return Date.now() - this.startedAt;
  }

  get lastEnd(): bigint {
    return this.coveredLsn;
  }

  /** COMMITs on their way: while one is, the next batch keeps growing (see ApplySession.sourceCommit). */
  get commitsInFlight(): number {
    return this.commits;
  }

  /** Row changes planned and not yet sent. */
  get plannedRows(): number {
    return this.planner.pendingRows;
  }

  /** Statements sent and not yet finished. */
  get inFlight(): number {
    return this.pipeline.inFlight;
  }

  /** Throws the first failure of a statement sent so far. */
  check(): void {
    this.pipeline.check();
  }

  /**
   * The error to report for a failure met while this transaction was open: the first statement the
   * target refused, once everything sent has finished. A later query on the same connection (a
   * catalog look-up between statements) fails only with "current transaction is aborted", which
   * hides the cause (a foreign key, an operator) behind it.
   */
  async firstError(error: unknown): Promise<unknown> {
    if (this.pipeline.firstFailure || sqlState(error) !== IN_FAILED_SQL_TRANSACTION) return this.pipeline.firstFailure ?? error;
    // the statement that failed first is answered before this one was: only its handler may be pending
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise((resolve) => (timer = setTimeout(resolve, FIRST_ERROR_WAIT_MS)));
    await Promise.race([this.pipeline.idle().catch(() => undefined), bound]);
    clearTimeout(timer);
    return this.pipeline.firstFailure ?? error;
  }

  /** Waits until the target has finished everything sent; throws the first failure. */
  async idle(): Promise<void> {
    await this.pipeline.idle();
  }

  /**
   * Opens the target transaction with every deferrable constraint deferred: the source checked
   * them at its own statement ends, and the apply may order rows otherwise (a primary-key swap in
   * one source UPDATE arrives as two row changes, and the first alone duplicates a key). They
   * are checked before the commit records its position (appliedPosition.ts). One message.
   */
  async begin(): Promise<void> {
    if (this.open) return;
    this.open = true;
    this.startedAt = Date.now();
    traceOnce('first apply BEGIN sent');
    await this.pipeline.send({ text: 'BEGIN; SET CONSTRAINTS ALL DEFERRED' }, asError);
  }

  /** Sends one statement inside the open transaction (opening it), its staging table first if new. */
  async exec(statement: Statement): Promise<void> {
    this.hooks.checkTarget();
    await this.begin();
    if (statement.requires && !this.staged.has(statement.requires.key)) {
      this.staged.add(statement.requires.key);
      await this.pipeline.send({ text: statement.requires.sql }, (error) => applyError(statement, error, this.words));
    }
    await this.pipeline.send(statement, (error) => applyError(statement, error, this.words));
  }

  /** Adds a row change to the plan, sending the statements that must run before it. */
  add(change: RowChange): Promise<void> | undefined {
    const before = this.planner.add(change);
    // most rows only join a group: no statement to send, no promise (the apply loop's fast path)
    if (before.length > 0 || !this.open) return this.sendThenCount(before, change);
    this.pending[change.op] += 1;
    this.rows += 1;
    return undefined;
  }

  private async sendThenCount(before: readonly Statement[], change: RowChange): Promise<void> {
    // indexed: a for-of would allocate an iterator
    for (let i = 0; i < before.length; i++) await this.exec(before[i]!);
    if (!this.open) await this.begin();
    this.pending[change.op] += 1;
    this.rows += 1;
  }

  /** Sends every planned statement. */
  async flush(): Promise<void> {
    for (const s of this.planner.flush()) await this.exec(s);
  }

  /** Parallel apply: what each commit runs before it records its position (see beforeCommit). */
  commitsAfter(step: (endLsn: bigint, commitTimeMs: number) => Promise<void> | undefined, returned: () => void): void {
    this.beforeCommit = step;
    this.afterCommit = returned;
  }

  /** A source transaction was seen whole (commit): the next commit covers it. */
  sourceCommitted(endLsn: bigint, commitTimeMs: number): void {
    this.coveredLsn = endLsn;
    this.coveredCommitMs = commitTimeMs;
  }

  /**
   * Queues the progress record and COMMIT of the open transaction without waiting for them: the
   * next batch is planned while the target commits. What the batch covers becomes applied, and is
   * confirmed to the slot, only once the COMMIT has returned. With `gate`, the record and COMMIT
   * wait for it too (a parallel apply session's part waits for the first session's COMMIT before).
   * Gives what settles (never rejects) once this COMMIT has finished; undefined when none was open.
   */
  async commit(gate?: Promise<unknown>): Promise<{ readonly finished: Promise<unknown> } | undefined> {
    if (!this.open) return undefined;
    await this.flush();
    const others = this.beforeCommit?.(this.coveredLsn, this.coveredCommitMs);
    const parallel = others !== undefined;
    if (others) this.pipeline.after(others, asError);
    if (gate) this.pipeline.after(gate, asError);
    const counts = { ...this.pending };
    // the counts travel in the transaction they count (positionCommit.ts)
    const statements = this.progress.commitStatements(this.coveredLsn, this.coveredCommitMs, counts);
    const committing = statements.pop()!; // the one answering COMMIT
    traceOnce('first apply COMMIT sent');
    for (const statement of statements) await this.pipeline.send(statement, asError);
    const end = this.coveredLsn;
    this.open = false;
    this.rows = 0;
    this.pending.insert = this.pending.update = this.pending.delete = 0;
    this.commits += 1;
    const sending = this.pipeline.send(committing, asError, () => {
      this.commits -= 1;
      this.afterCommit?.();
      const state = this.state;
      state.inserts += counts.insert;
      state.updates += counts.update;
      state.deletes += counts.delete;
      if (this.lane) return;
      state.appliedLsn = maxLsn(state.appliedLsn, end);
      state.confirmedLsn = maxLsn(state.confirmedLsn, end);
      if (!firstCommitTraced) trace('first apply commit');
      firstCommitTraced = true;
      // the kill points of test/cdc/parallelApply: a batch other sessions took part in committed, then confirmed
      if (parallel) failpoint('apply-batch-committed');
      this.hooks.committed();
      if (parallel) failpoint('apply-batch-confirmed');
    });
    const finished = this.pipeline.sentSoFar;
    await sending;
    return { finished };
  }

  /**
   * Parallel apply: the statements sent after this wait for `gate` (other sessions' COMMITs, whose
   * rows they touch); a gate that fails fails this session.
   */
  waitFor(gate: Promise<unknown>): void {
    this.pipeline.after(gate, asError);
  }

  /** Commits the open transaction and waits until the target has committed everything sent. */
  async settle(): Promise<void> {
    await this.commit();
    await this.pipeline.idle();
  }

  /** Lets the target connection go cleanly: what is in flight finishes, the progress is disarmed. */
  async release(): Promise<void> {
    await this.pipeline.idle().catch(() => undefined);
    await this.progress.disarm();
  }
}

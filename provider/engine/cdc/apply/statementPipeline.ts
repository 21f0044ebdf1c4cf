// Statements for the target, queued without waiting for each result, so that decoding and planning
// the next rows in this process overlap the target executing the previous statement (the drain
// used about one of two CPUs while each side waited for the other). Each statement is issued when
// the one before it has finished (pg deprecates queuing on a busy client), so BEGIN, the
// statements, the progress record and COMMIT reach the server in order; only the waiting moves.
//
// The first failure is kept and thrown at the next send or wait: statements queued behind it fail
// too (the transaction is aborted) and are not what the user needs to see. At most `maxInFlight`
// statements and `maxBytes` of their data are unfinished; past either, send() waits for the
// oldest, which bounds the memory the queued statements hold and passes back-pressure on to the
// replication stream. The bound is mostly in bytes because a batch's statements differ a
// hundredfold in cost: with at most 4 statements, this process could not decode the next batch
// while the target ran a long UPDATE, and each side idled while the other worked (measured with
// bench/drainLab; the figures are in docs/bench.md).
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

/** SQL with parameters, or a COPY ... FROM STDIN with its data. */
export interface PipelinedStatement {
  readonly text: string;
  readonly params?: readonly unknown[];
  readonly copyData?: Buffer;
  /** The command tag the server must answer (COMMIT of an aborted transaction answers ROLLBACK). */
  readonly expectCommand?: string;
  /** The rows the server must report loaded (COPY) or changed (INSERT, UPDATE, DELETE). */
  readonly affects?: number;
  /** At most `affects` rows, rather than exactly. */
  readonly mayAffectFewer?: boolean;
}

function unexpected(statement: PipelinedStatement, count: number): boolean {
  if (statement.affects === undefined) return false;
  return statement.mayAffectFewer ? count > statement.affects : count !== statement.affects;
}

/** A statement changed another number of rows than it had to (see PipelinedStatement.affects). */
export class AffectedRowsError extends Error {
  constructor(
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`changed ${actual} row(s) instead of ${expected}`);
  }
}

async function run(client: pg.Client, statement: PipelinedStatement): Promise<void> {
  if (statement.copyData === undefined) {
    // several statements in one simple query answer one result each: the last one is the verdict
    const answer = (await client.query(statement.text, statement.params as unknown[] | undefined)) as pg.QueryResult | pg.QueryResult[];
    const result = Array.isArray(answer) ? answer[answer.length - 1]! : answer;
    if (statement.expectCommand !== undefined && result.command !== statement.expectCommand) {
      throw new Error(`${statement.text} ended as ${result.command}: the transaction had failed`);
    }
    if (unexpected(statement, result.rowCount ?? 0)) throw new AffectedRowsError(statement.affects!, result.rowCount ?? 0);
    return;
  }
  const data = statement.copyData;
  const loaded = await new Promise<number | undefined>((resolve, reject) => {
    const stream = client.query(copyFrom(statement.text));
    stream.on('error', reject);
    stream.on('finish', () => resolve(stream.rowCount));
    stream.end(data);
  });
  if (unexpected(statement, loaded ?? 0)) throw new AffectedRowsError(statement.affects!, loaded ?? 0);
}

/** What a statement holds in memory until it has run: its text, data and parameters. */
function sizeOf(statement: PipelinedStatement): number {
  let bytes = statement.text.length + (statement.copyData?.length ?? 0);
  for (const p of statement.params ?? []) {
    if (typeof p === 'string' || Buffer.isBuffer(p)) bytes += p.length;
  }
  return bytes;
}

interface Outstanding {
  done: Promise<unknown>;
  readonly bytes: number;
  finished: boolean;
}

export class StatementPipeline {
  /** Statements sent, oldest first; finished ones leave from the head. */
  private readonly outstanding: Outstanding[] = [];
  /** Statements sent and not finished, and the bytes they hold. */
  private unfinished = 0;
  private unfinishedBytes = 0;
  private failure: Error | undefined;
  /** Settles when the last queued statement has finished (successfully or not). */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly client: pg.Client,
    private readonly maxInFlight: number,
    private readonly maxBytes = Infinity,
  ) {}

  /** The first failure of a statement sent so far, if any. */
  get firstFailure(): Error | undefined {
    return this.failure;
  }

  /** Throws the first failure, if any statement failed. */
  check(): void {
    if (this.failure) throw this.failure;
  }

  /**
   * Queues a statement. `describe` turns its failure into the error to report; `onDone` runs when
   * it succeeded (in submission order).
   */
  async send(statement: PipelinedStatement, describe: (error: unknown) => Error, onDone?: () => void): Promise<void> {
    this.check();
    const entry: Outstanding = { done: this.tail, bytes: sizeOf(statement), finished: false };
    entry.done = this.tail.then(async () => {
      try {
        if (this.failure) return; // the transaction is aborted: later statements cannot succeed
        await run(this.client, statement);
        onDone?.();
      } catch (error) {
        this.failure ??= describe(error);
      } finally {
        entry.finished = true;
        this.unfinished -= 1;
        this.unfinishedBytes -= entry.bytes;
      }
    });
    this.tail = entry.done;
    this.outstanding.push(entry);
    this.unfinished += 1;
    this.unfinishedBytes += entry.bytes;
    // a statement larger than maxBytes still runs, alone
    while (this.unfinished > this.maxInFlight || (this.unfinished > 1 && this.unfinishedBytes > this.maxBytes)) {
      await this.oldestUnfinished()!.done;
    }
    this.check();
  }

  /**
   * Statements sent after this wait for `gate` too (parallel apply: a COMMIT that must follow
   * other sessions' commits). A gate that fails is this pipeline's failure: what follows it does
   * not run.
   */
  after(gate: Promise<unknown>, describe: (error: unknown) => Error): void {
    // its failure is this pipeline's: handled here even when nothing waits for it any more
    void gate.catch(() => undefined);
    this.check();
    const entry: Outstanding = { done: this.tail, bytes: 0, finished: false };
    entry.done = this.tail.then(async () => {
      try {
        if (!this.failure) await gate;
      } catch (error) {
        this.failure ??= describe(error);
      } finally {
        entry.finished = true;
        this.unfinished -= 1;
      }
    });
    this.tail = entry.done;
    this.outstanding.push(entry);
    this.unfinished += 1;
  }

  /** Drops finished statements from the head; the oldest unfinished one, if any. */
  private oldestUnfinished(): Outstanding | undefined {
    while (this.outstanding.length > 0 && this.outstanding[0]!.finished) this.outstanding.shift();
    return this.outstanding[0];
  }

  /** Waits until everything sent so far has finished; throws the first failure. */
  async idle(): Promise<void> {
    for (let oldest = this.oldestUnfinished(); oldest; oldest = this.oldestUnfinished()) await oldest.done;
    this.check();
  }

  /** Settles (never rejects) once every statement sent so far has finished. */
  get sentSoFar(): Promise<unknown> {
    return this.tail;
  }

  /** Statements sent and not finished yet. */
  get inFlight(): number {
    return this.unfinished;
  }
}

// Statements for the target, sent without waiting for each result, so that decoding and planning
// the next rows in this process overlap the target executing the previous statements (the drain
// used about one of two CPUs while each side waited for the other). The session's client runs in
// pg's pipeline mode: each statement is handed to pg as soon as it is queued (BEGIN, the
// statements, the progress record and COMMIT reach the server in order) and the server takes the
// next one from its socket without a round trip to this process. The statements handed to pg in
// one turn of the event loop leave in one socket write (the socket is corked until the turn ends,
// or until this side waits for an answer): one write per statement was the largest single cost
// of this process's CPU in a parallel apply drain (docs/bench.md#parallel-apply-applysessions).
//
// Results are taken in order. The first failure is kept and thrown at the next send or wait:
// statements queued behind it fail too (the transaction is aborted) and are not what the user
// needs to see. A failure this side finds after the server ran the statement (it changed another
// number of rows than it had to) does not abort the server's transaction, so a statement that
// commits is handed to pg only once every statement before it has finished without failure.
//
// At most `maxInFlight` statements and `maxBytes` of their data are unfinished; past either, send()
// waits for the oldest, which bounds the memory the queued statements hold and passes back-pressure
// on to the replication stream. The bound is mostly in bytes because a batch's statements differ a
// hundredfold in cost: with at most 4 statements, this process could not decode the next batch
// while the target ran a long UPDATE, and each side idled while the other worked (measured with
// bench/drainLab; the figures are in docs/bench.md).
import pg from 'pg';

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
  /** It ends the transaction: handed to pg only once every statement before it succeeded. */
  readonly commits?: boolean;
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

/** The parts of pg's Connection an eager COPY writes with. */
interface CopyConnection {
  readonly stream: { cork(): void; uncork(): void };
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
}

type Answered = (error: Error | undefined, result: pg.ResultBuilder) => void;

/**
 * A COPY ... FROM STDIN whose data is known before it is sent: the query, its data and its end go
 * out together, without waiting for the server's CopyInResponse. A COPY the server refuses before
 * reading its data answers an error, and the server ignores the CopyData and CopyDone that follow
 * (the protocol's rule for a frontend still sending after a failed COPY). It is a pg.Query, as
 * pg's pipeline mode requires of every query it queues.
 */
class EagerCopy extends pg.Query {
  constructor(text: string, data: Buffer, answered: Answered) {
    super(text, answered);
    this.submit = (pgConnection) => {
      const connection = pgConnection as unknown as CopyConnection;
      connection.stream.cork();
      try {
        connection.query(text);
        if (data.length > 0) connection.sendCopyFromChunk(data);
        connection.endCopyFrom();
      } finally {
        connection.stream.uncork();
      }
    };
    // pg's Query answers a CopyInResponse with a CopyFail; this one's data is on its way already
    (this as unknown as { handleCopyInResponse: () => void }).handleCopyInResponse = () => undefined;
  }
}

/** Hands `statement` to pg; settles with its result once the server answered, checked. */
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
  const loaded = await new Promise<number | null>((resolve, reject) => {
    client.query(new EagerCopy(statement.text, data, (error, result) => (error ? reject(error) : resolve(result.rowCount))));
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

/**
 * The client's socket corked from the first statement handed to pg in a turn of the event loop
 * until the turn ends, or until the pipeline waits for an answer (which must have left first).
 */
class HeldWrites {
  private held = false;

  constructor(private readonly stream: { cork(): void; uncork(): void }) {}

  hold(): void {
    if (this.held) return;
    this.held = true;
    this.stream.cork();
    setImmediate(() => this.flush());
  }

  flush(): void {
    if (!this.held) return;
    this.held = false;
    this.stream.uncork();
  }
}

interface Outstanding {
  done: Promise<unknown>;
  readonly bytes: number;
  finished: boolean;
}

/** A statement handed to pg (its answer), or skipped; a gate passed, or failed. */
type Handed = { readonly answer: Promise<void> } | { readonly failed: unknown } | undefined;

export class StatementPipeline {
  /** Statements sent, oldest first; finished ones leave from the head. */
  private readonly outstanding: Outstanding[] = [];
  /** Statements sent and not finished, and the bytes they hold. */
  private unfinished = 0;
  private unfinishedBytes = 0;
  private failure: Error | undefined;
  /** Settles when the last queued statement has finished (successfully or not). */
  private tail: Promise<unknown> = Promise.resolve();
  /** Settles when the last queued statement has been handed to pg (or skipped). */
  private handedTail: Promise<unknown> = Promise.resolve();
  /** Set at the first failure or failed gate: nothing more is handed to pg. */
  private halted = false;
  private readonly writes: HeldWrites;

  constructor(
    private readonly client: pg.Client,
    private readonly maxInFlight: number,
    private readonly maxBytes = Infinity,
  ) {
    this.writes = new HeldWrites(client.connection.stream);
  }

  /** The first failure of a statement sent so far, if any. */
  get firstFailure(): Error | undefined {
    return this.failure;
  }

  /** Throws the first failure, if any statement failed. */
  check(): void {
    if (this.failure) throw this.failure;
  }

  /** Queues an entry: `hand` gives it to pg once the entries before it were handed; `finish` takes its answer in order. */
  private queue(
    bytes: number,
    hand: (finishedBefore: Promise<unknown>) => Promise<Handed>,
    finish: (handed: Handed) => Promise<void>,
  ): void {
    const entry: Outstanding = { done: this.tail, bytes, finished: false };
    const finishedBefore = this.tail;
    const handed = this.handedTail.then(() => hand(finishedBefore));
    this.handedTail = handed;
    entry.done = finishedBefore.then(async () => {
      try {
        await finish(await handed);
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
  }

  private async hand(statement: PipelinedStatement, finishedBefore: Promise<unknown>): Promise<Handed> {
    if (statement.commits) {
      this.writes.flush();
      await finishedBefore;
    }
    if (this.halted || this.failure) return undefined; // the transaction is aborted: later statements cannot succeed
    this.writes.hold();
    const answer = run(this.client, statement);
    // taken in order by its entry; handled here so that a failure answered early is not unhandled
    answer.catch(() => undefined);
    return { answer };
  }

  /**
   * Queues a statement. `describe` turns its failure into the error to report; `onDone` runs when
   * it succeeded (in submission order).
   */
  async send(statement: PipelinedStatement, describe: (error: unknown) => Error, onDone?: () => void): Promise<void> {
    this.check();
    this.queue(
      sizeOf(statement),
      (finishedBefore) => this.hand(statement, finishedBefore),
      async (handed) => {
        if (!handed || !('answer' in handed)) return;
        try {
          await handed.answer;
          onDone?.();
        } catch (error) {
          this.halted = true;
          this.failure ??= describe(error);
        }
      },
    );
    // a statement larger than maxBytes still runs, alone
    while (this.unfinished > this.maxInFlight || (this.unfinished > 1 && this.unfinishedBytes > this.maxBytes)) {
      this.writes.flush();
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
    this.queue(
      0,
      async () => {
        this.writes.flush();
        try {
          if (!this.halted && !this.failure) await gate;
          return undefined;
        } catch (error) {
          this.halted = true;
          return { failed: error };
        }
      },
      (handed) => {
        if (handed && 'failed' in handed) this.failure ??= describe(handed.failed);
        return Promise.resolve();
      },
    );
  }

  /** Drops finished statements from the head; the oldest unfinished one, if any. */
  private oldestUnfinished(): Outstanding | undefined {
    while (this.outstanding.length > 0 && this.outstanding[0]!.finished) this.outstanding.shift();
    return this.outstanding[0];
  }

  /** Waits until everything sent so far has finished; throws the first failure. */
  async idle(): Promise<void> {
    this.writes.flush();
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

// The campaign's own application, writing to the source through a whole trial, drawn from the
// trial's seed (the suites' writers are test/support/sourceWriter.ts and its neighbours):
// inserts, updates of TOASTed rows (new body, and a title change that leaves the TOASTed value
// unchanged), primary-key updates, deletes, one large transaction, TRUNCATE of a small table,
// sequence use, rows of `attachments` with new large objects in their `oid` and `lo` columns
// (drawn from a fork of their own, so the other writes draw as before), and writes to the second
// database. It rides out source restarts by reconnecting;
// the judge compares what the source holds at the end, so a write whose commit was lost in a
// crash needs no bookkeeping here. Every error it sees is kept (op, SQLSTATE, message): the
// outcome fails a trial for one the fault does not explain (outcome.ts).
//
// In a trial whose cutover fences the writers (fenceWriters) it keeps writing through the cutover,
// as an application that was not stopped would: the fence ends its sessions and refuses its new
// transactions (SQLSTATE 25006, read_only_sql_transaction); it reconnects and tries again a second
// later, like a client with a retry loop, and writes again if the fence is lifted (a roll-back or
// cancel). What it committed before the fence must reach the target; nothing after it can commit.
import type pg from 'pg';
import type { Cluster } from '../test/support';
import type { FixtureSize } from './fixture';
import type { WorkloadError, WorkloadReport } from './outcome';
import type { Rng } from './rng';

export type WorkloadStats = WorkloadReport;

/** Errors kept in full; more only count (and count as unexplained). */
const ERRORS_KEPT = 500;

function workloadError(op: string, error: unknown, at: number): WorkloadError {
  const e = error as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const message = typeof e?.message === 'string' ? e.message : String(error);
  return { at, op, ...(code === undefined ? {} : { code }), message };
}

type Op = 'order' | 'docInsert' | 'docBody' | 'docTitle' | 'keyUpdate' | 'delete' | 'bigUpdate' | 'noteB' | 'noteUpdateB';

const OPS: readonly (readonly [Op, number])[] = [
  ['order', 25],
  ['docInsert', 4],
  ['docBody', 10],
  ['docTitle', 10],
  ['keyUpdate', 8],
  ['delete', 8],
  ['bigUpdate', 15],
  ['noteB', 12],
  ['noteUpdateB', 8],
];

/** Pause between transactions: ~40 a second, enough to keep changes flowing without taking a core. */
const PAUSE_MS: readonly [number, number] = [10, 40];
/** Pause after a transaction the fence refused (read_only_sql_transaction), as a retrying client would. */
const FENCED_PAUSE_MS = 1000;
const READ_ONLY_SQL_TRANSACTION = '25006';
/** The share of the first database's transactions that also add an attachment: two new large objects. */
const ATTACH_SHARE = 0.02;

export class CampaignWorkload {
  readonly stats: WorkloadStats = { transactions: 0, failures: 0, largeTransactionRows: 0, truncates: 0, errors: [] };
  /** WorkloadError.at counts from here. */
  readonly startedAt = Date.now();
  private stopping = false;
  private loop: Promise<void> | undefined;
  private a: pg.Client | undefined;
  private b: pg.Client | undefined;
  private newIds = 0;
  private attachments = 0;
  private attachRng: Rng | undefined;

  constructor(
    private readonly source: Cluster,
    private readonly databases: readonly [string, string],
    private readonly size: FixtureSize,
    private readonly rng: Rng,
    /**
     * Which application run this is in the trial: 0 on the source before the cutover, 1 on the new
     * server in a fallback window, 2 on the old source after the fall-back. Each inserts its new
     * keys in ranges of its own, so two runs never draw one key (a collision is pgferry's alone).
     */
    private readonly generation = 0,
  ) {}

  start(): void {
    // The large transaction comes after a drawn number of transactions: during the copy or streaming.
    const largeAt = this.rng.int(20, 400);
    this.attachRng = this.rng.fork('attachments');
    this.loop = this.run(largeAt);
  }

  /**
   * The cutover is about to be requested with the writers fenced: from now on the fence explains a
   * session ended and a transaction refused as read-only (outcome.ts). Recorded before the request.
   */
  fenceRequested(): void {
    this.stats.fencedFrom ??= Date.now() - this.startedAt;
  }

  /** Stops after the transaction in flight; the source then holds the final state. */
  async stop(): Promise<WorkloadStats> {
    this.stopping = true;
    await this.loop;
    await this.a?.end().catch(() => undefined);
    await this.b?.end().catch(() => undefined);
    return this.stats;
  }

  private async connect(which: 0 | 1): Promise<pg.Client> {
    const existing = which === 0 ? this.a : this.b;
    if (existing) return existing;
    const client = await this.source.connect(this.databases[which]);
    client.on('error', () => undefined); // a source restart ends it; the next use reconnects
    await client.query(`SET lock_timeout = '1s'`);
    if (which === 0) this.a = client;
    else this.b = client;
    return client;
  }

  private async drop(which: 0 | 1): Promise<void> {
    const client = which === 0 ? this.a : this.b;
    if (which === 0) this.a = undefined;
    else this.b = undefined;
    await client?.end().catch(() => undefined);
  }

  private async run(largeAt: number): Promise<void> {
    while (!this.stopping) {
      const n = this.stats.transactions + this.stats.failures;
      const which: 0 | 1 = this.rng.chance(0.2) ? 1 : 0;
      let op = 'connect';
      try {
        const client = await this.connect(which);
        if (n >= largeAt && which === 0 && this.stats.largeTransactionRows === 0) {
          op = 'large';
          await this.largeTransaction(client);
        } else if (which === 0 && this.rng.chance(0.01)) {
          op = 'truncate';
          await this.truncateFlags(client);
        } else {
          op = 'transaction';
          await this.transaction(client, which);
        }
        this.stats.transactions += 1;
      } catch (error) {
        this.stats.failures += 1;
        if (this.stats.errors.length < ERRORS_KEPT) this.stats.errors.push(workloadError(op, error, Date.now() - this.startedAt));
        await this.drop(which);
        const fenced = (error as { code?: unknown })?.code === READ_ONLY_SQL_TRANSACTION;
        await new Promise((r) => setTimeout(r, fenced ? FENCED_PAUSE_MS : 200));
      }
      await new Promise((r) => setTimeout(r, this.rng.int(PAUSE_MS[0], PAUSE_MS[1])));
    }
  }

  private async transaction(client: pg.Client, which: 0 | 1): Promise<void> {
    const count = this.rng.int(1, 4);
    await client.query('BEGIN');
    try {
      for (let i = 0; i < count; i++) {
        const op = this.rng.weighted(OPS);
        if (which === 1) await this.opB(client, op === 'noteUpdateB' ? 'noteUpdateB' : 'noteB');
        else await this.opA(client, op);
      }
      if (which === 0 && this.attachRng?.chance(ATTACH_SHARE)) await this.attach(client);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  private async opA(client: pg.Client, op: Op): Promise<void> {
    const docs = Math.max(50, Math.floor(this.size.bigRows / 100));
    const items = Math.max(200, Math.floor(this.size.bigRows / 10));
    const r = this.rng;
    switch (op) {
      case 'order':
        await client.query(`INSERT INTO orders (item_id, amount, ticket) VALUES ($1::int, $2::numeric, nextval('ticket_seq'))`, [
          r.int(1, items),
          (r.int(1, 100000) / 100).toFixed(2),
        ]);
        return;
      case 'docInsert':
        this.newIds += 1;
        await client.query(
          `INSERT INTO docs (id, title, body) SELECT $1::int, 'new doc', string_agg(md5($2::text || x), '') FROM generate_series(1, 120) x`,
          [1_000_000 + this.generation * 200_000_000 + this.newIds * 1000 + r.int(0, 999), String(r.next())],
        );
        return;
      case 'docBody':
        await client.query(
          `UPDATE docs SET body = (SELECT string_agg(md5($2::text || x), '') FROM generate_series(1, 140) x) WHERE id = $1::int`,
          [r.int(1, docs), String(r.next())],
        );
        return;
      case 'docTitle':
        await client.query(`UPDATE docs SET title = $2::text WHERE id = $1::int`, [r.int(1, docs), `title ${r.int(0, 1e6)}`]);
        return;
      case 'keyUpdate':
        await client.query(
          `UPDATE items SET id = id + 10000000 WHERE id = (SELECT id FROM items WHERE id >= $1::int AND id < 10000000 ORDER BY id LIMIT 1)`,
          [r.int(1, items)],
        );
        return;
      case 'delete':
        if (r.chance(0.5)) await client.query(`DELETE FROM orders WHERE id = $1::bigint`, [r.int(1, items)]);
        else await client.query(`DELETE FROM big WHERE id = $1::bigint`, [r.int(1, this.size.bigRows)]);
        return;
      case 'bigUpdate':
        await client.query(`UPDATE big SET grp = grp + 1, label = $2::text WHERE id = $1::bigint`, [
          r.int(1, this.size.bigRows),
          `upd ${r.int(0, 1e6)}`,
        ]);
        return;
      default:
        return;
    }
  }

  private async opB(client: pg.Client, op: 'noteB' | 'noteUpdateB'): Promise<void> {
    if (op === 'noteB') {
      await client.query(`INSERT INTO notes (author, body) VALUES ($1::text, $2::text)`, [
        `author ${this.rng.int(0, 19)}`,
        `w ${this.rng.next()}`,
      ]);
    } else {
      await client.query(`UPDATE notes SET body = $2::text WHERE id = $1::int`, [this.rng.int(1, 1000), `u ${this.rng.next()}`]);
    }
  }

  /** A row of `attachments` holding two new large objects' OIDs: with a table filter, they move with it. */
  private async attach(client: pg.Client): Promise<void> {
    const r = this.attachRng!;
    this.attachments += 1;
    const docs = Math.max(50, Math.floor(this.size.bigRows / 100));
    await client.query(
      `INSERT INTO attachments (id, doc_id, blob, thumb)
       VALUES ($1::int, $2::int, lo_from_bytea(0, decode(repeat(md5($3::text), $4::int), 'hex')), lo_from_bytea(0, decode(md5('thumb ' || $3::text), 'hex')))`,
      [1_000_000 + this.generation * 200_000_000 + this.attachments, r.int(1, docs), String(r.next()), r.int(16, 512)],
    );
  }

  /** One transaction of many rows: a tenth of `big`'s size, in ids above the fixture's. */
  private async largeTransaction(client: pg.Client): Promise<void> {
    const rows = Math.max(5000, Math.floor(this.size.bigRows / 10));
    const first = 50_000_000 + this.generation * 200_000_000 + this.rng.int(0, 1000) * 100_000;
    await client.query(
      `INSERT INTO big SELECT g, g % 97, 'large tx', repeat(md5(g::text), 4) FROM generate_series($1::bigint, $1::bigint + $2::bigint - 1) g`,
      [first, rows],
    );
    this.stats.largeTransactionRows += rows;
  }

  /** TRUNCATE and refill of the small table, in one transaction (waits at most lock_timeout). */
  private async truncateFlags(client: pg.Client): Promise<void> {
    await client.query('BEGIN');
    try {
      await client.query('TRUNCATE flags');
      await client.query(`INSERT INTO flags SELECT g, 'flag ' || g || ' ' || $1::text FROM generate_series(1, 50) g`, [
        String(this.rng.int(0, 1e6)),
      ]);
      await client.query('COMMIT');
      this.stats.truncates += 1;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }
}

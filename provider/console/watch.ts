// The console's one reader of the control catalog. It reads every migration on a timer and keeps
// the last reading, so the grid costs the target nothing and answers from memory however many
// browsers are open. A migration's page reads that migration's tables and chart samples (which its
// runner records in the catalog: control/streamSamples.ts), or shows the last ones read when the
// target does not answer. A reading that fails keeps the last one and says since when.
import {
  openControlCatalog,
  type ControlCatalog,
  databaseCopy,
  RateMeter,
  streamSamples,
  type MigrationStatus,
  type ServerSpec,
  type TableProgress,
  events,
  get,
  list,
  tables as catalogTables,
} from '../engine';
/** A reading taking a while (a thousand migrations) is not repeated back to back: at most a fifth of the time is spent reading. */
const BUSY_FACTOR = 5;
/** A migration page read no longer waits for a target that does not answer: the last tables read are shown. */
const PAGE_READ_TIMEOUT_MS = 2_000;

export interface Series {
  readonly at: number[];
  readonly latency: (number | null)[];
  readonly pending: (number | null)[];
}

export interface ConsoleEvent {
  readonly at: string;
  readonly level: string;
  readonly database?: string;
  readonly message: string;
}

/** A migration's samples by database: the forward stream's, and a fallback window's reverse stream's. */
export interface Charted {
  readonly forward: Record<string, Series>;
  readonly reverse: Record<string, Series>;
}

/** How many of a migration's events its page shows. */
const EVENTS_SHOWN = 25;

export interface Reading {
  readonly migrations: readonly MigrationStatus[];
  /** When the migrations were read (ms since the epoch); undefined before the first reading. */
  readonly readAt?: number;
  /** The last reading's failure, while the target does not answer. */
  readonly error?: string;
  readonly errorSince?: number;
}

/** A reading under way for longer than this says the target does not answer. */
const SLOW_READING_MS = 10_000;

/** How many readings of the migrations in progress between two readings of every migration. */
const FULL_EVERY = 15;

/** The catalog's Active filter (control/store.ts list): in progress, waiting for the user, cleaning up. */
export function isActive(m: MigrationStatus): boolean {
  return m.state === 'InProgress' || m.state === 'WaitingForUserAction' || m.state === 'CleaningUp';
}

/**
 * A migration cut over with a fallback window still streaming back (docs/fallback.md): Succeeded,
 * so not active, but its window's figures (reverse lag, pending bytes, retained WAL) move every
 * second, so each reading reads it again.
 */
function windowLive(m: MigrationStatus): boolean {
  return (
    !isActive(m) && m.databases.some((d) => d.fallback !== undefined && d.fallback.state !== 'Closed' && d.fallback.state !== 'FellBack')
  );
}

/** Two lists of migrations as one, in the catalog's order (by creation). */
function mergeByCreation(a: readonly MigrationStatus[], b: readonly MigrationStatus[]): MigrationStatus[] {
  return [...a, ...b].sort((x, y) => (x.createdAt < y.createdAt ? -1 : x.createdAt > y.createdAt ? 1 : 0));
}

function timeout<T>(ms: number): Promise<T | undefined> {
  return new Promise((resolve) => setTimeout(() => resolve(undefined), ms).unref());
}

export class CatalogWatch {
  private readonly listStore: ControlCatalog;
  private readonly pageStore: ControlCatalog;
  private reading: Reading = { migrations: [] };
  private readonly seriesRead = new Map<string, Charted>();
  private readonly eventsRead = new Map<string, readonly ConsoleEvent[]>();
  private readonly tablesRead = new Map<string, readonly TableProgress[]>();
  private readonly rates = new Map<string, RateMeter>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readings = 0;
  /** When the reading under way started: one that waits long on the target is said before it fails. */
  private readingSince: number | undefined;
  private wake: (() => void) | undefined;

  constructor(
    target: ServerSpec,
    private readonly intervalMs: number,
    /** How a failure is said: without secrets (the caller masks). */
    private readonly describe: (error: unknown) => string,
  ) {
    this.listStore = openControlCatalog(target);
    this.pageStore = openControlCatalog(target);
  }

  /** Reads once now, then on the timer until stop(). */
  async start(): Promise<void> {
    await this.readOnce();
    void this.loop();
  }

  private async loop(): Promise<void> {
    let took = 0;
    while (!this.stopped) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, Math.max(this.intervalMs, took * BUSY_FACTOR) - took);
      });
      if (this.stopped) return;
      const started = Date.now();
      await this.readOnce();
      took = Date.now() - started;
    }
  }

  /** Reads again at once (after a cutover or cancel request, so the page shows it). */
  refresh(): void {
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
  }

  /**
   * Reads the migrations in progress; every FULL_EVERY readings, or when one of them finished (it
   * leaves that list), every migration. A finished migration rarely changes, and reading each one
   * costs the target a query: at 1,000 migrations, most of them finished, this is what keeps a
   * reading short.
   */
  private async readOnce(): Promise<void> {
    this.readingSince = Date.now();
    try {
      const full = this.readings % FULL_EVERY === 0;
      let migrations = await list(this.listStore, full ? 'all' : 'active');
      if (!full) {
        const read = new Set(migrations.map((m) => m.name));
        const left = this.reading.migrations.some((m) => isActive(m) && !read.has(m.name));
        migrations = left ? await list(this.listStore, 'all') : mergeByCreation(await this.finishedReadAgain(), migrations);
      }
      this.readings += 1;
      this.reading = { migrations, readAt: Date.now() };
    } catch (error) {
      this.reading = { ...this.reading, error: this.describe(error), errorSince: this.reading.errorSince ?? this.readingSince };
    } finally {
      this.readingSince = undefined;
    }
  }

  /** The finished migrations of the last reading, those whose fallback window is live read again. */
  private async finishedReadAgain(): Promise<MigrationStatus[]> {
    const out: MigrationStatus[] = [];
    for (const m of this.reading.migrations) {
      if (isActive(m)) continue;
      out.push(windowLive(m) ? ((await get(this.listStore, m.name)) ?? m) : m);
    }
    return out;
  }

  /**
   * The last reading; while the target does not answer, since when. The catalog's connection tries
   * a statement again for about a minute before it fails: a reading waiting longer than
   * SLOW_READING_MS is said at once rather than then.
   */
  current(): Reading {
    const since = this.readingSince;
    if (this.reading.error === undefined && since !== undefined && Date.now() - since > SLOW_READING_MS) {
      return { ...this.reading, error: `no answer from the target for ${Math.round((Date.now() - since) / 1000)} s`, errorSince: since };
    }
    return this.reading;
  }

  find(name: string): MigrationStatus | undefined {
    return this.reading.migrations.find((m) => m.name === name);
  }

  /** A migration's last events, newest first (schema changes on the source among them), or the last ones read. */
  async eventsOf(m: MigrationStatus): Promise<readonly ConsoleEvent[]> {
    const read = await Promise.race([
      events(this.pageStore, m.name, EVENTS_SHOWN).catch(() => undefined),
      timeout<never>(PAGE_READ_TIMEOUT_MS),
    ]);
    if (read) this.eventsRead.set(m.name, read.reverse());
    return this.eventsRead.get(m.name) ?? [];
  }

  /** The charts of a migration's databases, forward and reverse: its samples of the last hour, or the last ones read. */
  async seriesOf(m: MigrationStatus): Promise<Charted> {
    const both = Promise.all([streamSamples(this.pageStore, m.name), streamSamples(this.pageStore, m.name, 'reverse')]).catch(
      () => undefined,
    );
    const read = await Promise.race([both, timeout<never>(PAGE_READ_TIMEOUT_MS)]);
    if (read) this.seriesRead.set(m.name, { forward: Object.fromEntries(read[0]), reverse: Object.fromEntries(read[1]) });
    return this.seriesRead.get(m.name) ?? { forward: {}, reverse: {} };
  }

  /**
   * A migration's tables read now (a page open on it), or the last ones read when the target does
   * not answer in time; and each database's copy rate, measured between such reads.
   */
  async tablesOf(m: MigrationStatus): Promise<{ tables: readonly TableProgress[]; rates: Map<string, number | undefined> }> {
    const read = await Promise.race([
      catalogTables(this.pageStore, m.name, { includeQueued: true }).catch(() => undefined),
      timeout<never>(PAGE_READ_TIMEOUT_MS),
    ]);
    if (read) this.tablesRead.set(m.name, read);
    const tables = read ?? this.tablesRead.get(m.name) ?? [];
    const rates = new Map<string, number | undefined>();
    const now = Date.now();
    for (const d of m.databases) {
      const key = `${m.name}\u0000${d.database}`;
      let meter = this.rates.get(key);
      if (!meter) this.rates.set(key, (meter = new RateMeter()));
      rates.set(d.database, read ? meter.sample(databaseCopy(d, tables).doneSize, now) : undefined);
    }
    return { tables, rates };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.refresh();
    await Promise.all([this.listStore.close(), this.pageStore.close()]);
  }
}

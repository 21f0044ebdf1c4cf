// Live progress while waiting: on a terminal a block of bars per database and loading table with
// percent, rate and ETA (liveProgress.ts), online a line per database with latency, pending bytes
// and an ETA to caught-up; elsewhere plain lines, printed only when something changes.
import {
  catchUp,
  copyRatio,
  databaseCopy,
  displayIdent,
  etaSeconds,
  FINAL_STATES,
  RateMeter,
  tableFraction,
  type DatabaseCopy,
  type DatabaseDetails,
  type MigrationStatus,
} from '../engine';
import { type LiveLine, LiveProgress } from './liveProgress';
import { formatBytes, formatCount, formatSeconds } from './output';
import { redact } from './secrets';
import type { ProgressEventLine, TableProgress } from './tableProgress';

/** Counter-only changes (rows, bytes) are printed at most this often in plain mode. */
const PLAIN_COUNTER_INTERVAL_MS = 10_000;
/** Loading tables shown per database on a terminal. */
const LIVE_TABLES_PER_DATABASE = 6;

/** A database that streams changes (online, its copy done) or waits on a stopped stream. */
function streaming(status: MigrationStatus, d: DatabaseDetails): boolean {
  if (status.mode !== 'Online') return false;
  if (d.state === 'WaitingForCutoverTrigger' || d.state === 'ApplyStopped') return true;
  // After the copy, the stream is shown once it reports (indexes and the rest of the schema come first).
  const copied = d.tables.total > 0 && d.tables.completed + d.tables.errored >= d.tables.total;
  return d.state === 'InProgress' && copied && (d.latencySeconds !== undefined || d.pendingBytes !== undefined);
}

export class ProgressView {
  private readonly meters = new Map<string, RateMeter>();
  private readonly printed = new Map<string, { coarse: string; fine: string; at: number }>();
  private readonly tableStates = new Map<string, string>();
  private readonly started: number;
  private readonly seenEvents = new Set<string>();
  private readonly liveView: LiveProgress | undefined;

  /** `clock`: milliseconds now (tests pass their own, to see rates without waiting). */
  constructor(
    private readonly stream: NodeJS.WriteStream,
    live: boolean,
    private readonly clock: () => number = Date.now,
  ) {
    this.started = clock();
    this.liveView = live ? new LiveProgress(stream) : undefined;
  }

  /** The smoothed rate of a counter, per second. */
  private rate(key: string, value: number): number | undefined {
    let meter = this.meters.get(key);
    if (!meter) this.meters.set(key, (meter = new RateMeter()));
    return meter.sample(value, this.clock());
  }

  update(status: MigrationStatus, tables: readonly TableProgress[] = [], events: readonly ProgressEventLine[] = []): void {
    if (this.liveView) this.liveView.show(this.liveLines(status, tables, events));
    else this.plain(status, tables, events);
  }

  /** Ends the live block (the cursor comes back below it); nothing to do for plain lines. */
  close(): void {
    this.liveView?.stop();
  }

  /** Marks what already happened as printed, so a wait that starts late shows only what is new. */
  prime(tables: readonly TableProgress[], events: readonly ProgressEventLine[]): void {
    this.fresh(events);
    for (const t of tables) this.tableStates.set(`${t.database}:${t.table}`, t.state);
  }

  /** Events not printed yet. */
  private fresh(events: readonly ProgressEventLine[]): ProgressEventLine[] {
    const out: ProgressEventLine[] = [];
    for (const e of events) {
      const key = `${e.at}\0${e.database ?? ''}\0${e.message}`;
      if (this.seenEvents.has(key)) continue;
      this.seenEvents.add(key);
      out.push(e);
    }
    return out;
  }

  /** Copy figures of a database: moved bytes, rate and ETA from its tables' sizes. */
  private copyFigures(d: DatabaseDetails, copy: DatabaseCopy): { rate?: number; eta?: number } {
    const rate = this.rate(`moved:${d.database}`, copy.movedBytes);
    const sizeRate = this.rate(`size:${d.database}`, copy.doneSize);
    const eta = copy.totalSize > 0 ? etaSeconds(copy.totalSize - copy.doneSize, sizeRate) : undefined;
    return { rate, eta };
  }

  /** Online: how the stream's backlog goes, in words (an ETA to caught-up while it drains). */
  private backlog(d: DatabaseDetails): string | undefined {
    if (d.pendingBytes === undefined) return undefined;
    const backlog = catchUp(d.pendingBytes, this.rate(`pending:${d.database}`, d.pendingBytes));
    if (backlog.kind === 'caught-up') return 'caught up';
    if (backlog.kind === 'draining') return `caught up in ${formatSeconds(backlog.etaSeconds)} (${formatBytes(backlog.bytesPerSecond)}/s)`;
    if (backlog.kind === 'falling-behind') return `falling behind ${formatBytes(backlog.bytesPerSecond)}/s`;
    return undefined;
  }

  /** Online: changes applied, latency, pending bytes and the backlog. */
  private streamFigures(d: DatabaseDetails): string {
    if (d.state === 'ApplyStopped') return `APPLY STOPPED: ${d.applyStop?.error ?? d.message ?? 'see pgferry show'}`;
    const parts = [`+${formatCount(d.inserts)} ~${formatCount(d.updates)} -${formatCount(d.deletes)}`];
    if (d.latencySeconds !== undefined) parts.push(`latency ${d.latencySeconds.toFixed(1)} s`);
    if (d.pendingBytes !== undefined) parts.push(`pending ${formatBytes(d.pendingBytes)}`);
    const backlog = this.backlog(d);
    if (backlog) parts.push(backlog);
    return parts.join('  ');
  }

  private databaseLine(status: MigrationStatus, d: DatabaseDetails, tables: readonly TableProgress[]): LiveLine {
    const tableCount = `${d.tables.completed}/${d.tables.total} tables${d.tables.errored ? ` (${d.tables.errored} failed)` : ''}`;
    if (streaming(status, d)) return { indent: 2, label: d.database, figures: `streaming  ${this.streamFigures(d)}` };
    const copy = databaseCopy(d, tables);
    if (d.state !== 'InProgress' || copy.fraction === undefined) {
      return {
        indent: 2,
        label: d.database,
        figures: `${d.state}  ${tableCount}  ${formatCount(d.rowsCopied)} rows  ${formatBytes(d.bytesCopied)}`,
      };
    }
    const { rate, eta } = this.copyFigures(d, copy);
    if (copy.fraction >= 1) return { indent: 2, label: d.database, fraction: 1, figures: `${tableCount}  ${formatBytes(copy.movedBytes)}` };
    // The ETA first: on a narrow terminal the figures are cut from the end.
    const figures = [`ETA ${eta === undefined ? '-' : formatSeconds(eta)}`, tableCount, formatBytes(copy.movedBytes)];
    if (rate) figures.push(`${formatBytes(rate)}/s`);
    return { indent: 2, label: d.database, fraction: copy.fraction, figures: figures.join('  ') };
  }

  private tableLine(t: TableProgress, ratio: number): LiveLine {
    const fraction = tableFraction(t, ratio);
    const rate = this.rate(`t:${t.database}:${t.table}`, t.bytes);
    const figures: string[] = [];
    if (fraction !== undefined && t.sizeBytes !== undefined) {
      const eta = etaSeconds(t.sizeBytes * ratio - t.bytes, rate);
      figures.push(`ETA ${eta === undefined ? '-' : formatSeconds(eta)}`);
    }
    figures.push(formatBytes(t.bytes));
    if (t.parts > 1) figures.push(`parts ${t.partsDone}/${t.parts}`);
    if (rate) figures.push(`${formatBytes(rate)}/s`);
    return { indent: 4, label: t.table, fraction, figures: figures.join('  ') };
  }

  /** The block: the migration, then each database with its loading tables, then the last event. */
  private liveLines(status: MigrationStatus, tables: readonly TableProgress[], events: readonly ProgressEventLine[]): LiveLine[] {
    const elapsed = formatSeconds(Math.round((this.clock() - this.started) / 1000));
    const lines: LiveLine[] = [{ indent: 0, label: status.name, figures: `${status.state} / ${status.subState}  (${elapsed})` }];
    // Never taller than the terminal: the cursor cannot move above its top to redraw.
    let room = Math.max(4, (this.stream.rows || 24) - 2) - status.databases.length - 1;
    for (const d of status.databases) {
      lines.push(this.databaseLine(status, d, tables));
      const mine = tables.filter((t) => t.database === d.database);
      // A stale table list may still show tables loading that the status counts as done.
      const copying = d.state === 'InProgress' && d.tables.completed + d.tables.errored < d.tables.total;
      const loading = copying ? mine.filter((t) => t.state === 'Loading') : [];
      const shown = loading.slice(0, Math.max(0, Math.min(LIVE_TABLES_PER_DATABASE, room - 1)));
      const ratio = copyRatio(mine);
      for (const t of shown) lines.push(this.tableLine(t, ratio));
      room -= shown.length;
      if (loading.length > shown.length) {
        lines.push({ indent: 4, label: `… ${loading.length - shown.length} more loading`, figures: '' });
        room -= 1;
      }
    }
    const last = events[events.length - 1];
    if (last && !FINAL_STATES.has(status.state))
      lines.push({ indent: 2, label: 'last:', figures: `${last.database ? `${displayIdent(last.database)}: ` : ''}${last.message}` });
    return lines;
  }

  private plainLine(key: string, coarse: string, fine: string, text: string): void {
    const now = this.clock();
    const prev = this.printed.get(key);
    const changedCoarse = !prev || prev.coarse !== coarse;
    const changedFine = prev !== undefined && prev.fine !== fine && now - prev.at >= PLAIN_COUNTER_INTERVAL_MS;
    if (!changedCoarse && !changedFine) return;
    this.printed.set(key, { coarse, fine, at: now });
    this.stream.write(redact(`${new Date(now).toISOString()} ${text}\n`));
  }

  private plainDatabase(status: MigrationStatus, d: DatabaseDetails, tables: readonly TableProgress[]): void {
    let text = `${status.name}/${displayIdent(d.database)}: ${d.state}, tables ${d.tables.completed}/${d.tables.total}, ${formatCount(d.rowsCopied)} rows, ${formatBytes(d.bytesCopied)}`;
    const copy = databaseCopy(d, tables);
    const { rate, eta } = this.copyFigures(d, copy);
    let fine = `${d.rowsCopied}/${d.bytesCopied}/${Math.floor((copy.fraction ?? 0) * 100)}`;
    if (d.state === 'InProgress' && copy.fraction !== undefined && copy.fraction < 1) {
      const extra = [`${Math.floor(copy.fraction * 100)}%`];
      if (rate) extra.push(`${formatBytes(rate)}/s`);
      if (eta !== undefined) extra.push(`ETA ${formatSeconds(eta)}`);
      text += ` (${extra.join(', ')})`;
    }
    if (status.mode === 'Online') {
      text += `, cdc +${d.inserts} ~${d.updates} -${d.deletes}`;
      if (d.latencySeconds !== undefined) text += `, latency ${d.latencySeconds.toFixed(1)} s`;
      if (streaming(status, d) && d.pendingBytes !== undefined) {
        const backlog = this.backlog(d);
        text += `, pending ${formatBytes(d.pendingBytes)}${backlog ? `, ${backlog}` : ''}`;
      }
      fine += `/${d.inserts}/${d.updates}/${d.deletes}`;
    }
    this.plainLine(`db:${d.database}`, `${d.state}/${d.tables.completed}/${d.tables.total}/${d.tables.errored}`, fine, text);
  }

  private plain(status: MigrationStatus, tables: readonly TableProgress[], events: readonly ProgressEventLine[]): void {
    for (const e of this.fresh(events)) {
      this.stream.write(
        redact(
          `${e.at} ${status.name}${e.database ? `/${displayIdent(e.database)}` : ''}: ${e.level === 'info' ? '' : `${e.level}: `}${e.message}\n`,
        ),
      );
    }
    this.plainLine(
      'migration',
      `${status.state}/${status.subState}`,
      '',
      `${status.name}: ${status.state} / ${status.subState}${status.message ? ` (${status.message})` : ''}`,
    );
    for (const d of status.databases) this.plainDatabase(status, d, tables);
    for (const t of tables) {
      const key = `${t.database}:${t.table}`;
      if (this.tableStates.get(key) === t.state) continue;
      this.tableStates.set(key, t.state);
      if (t.state === 'Completed' || t.state === 'Errored') {
        const what = t.state === 'Completed' ? 'copied' : `failed${t.message ? `: ${t.message}` : ''}`;
        this.stream.write(
          redact(
            `${new Date(this.clock()).toISOString()} ${status.name}/${displayIdent(t.database)}: table ${t.table} ${what} (${formatCount(t.rows)} rows, ${formatBytes(t.bytes)})\n`,
          ),
        );
      }
    }
  }
}

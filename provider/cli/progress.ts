// Live progress while waiting: on a terminal a block per database and loading table, redrawn in
// place; elsewhere plain lines, printed only when something changes.
import { FINAL_STATES, type MigrationStatus } from '../engine';
import { formatBytes, formatCount } from './output';
import { redact } from './secrets';
import type { ProgressEventLine, TableProgress } from './tableProgress';

/** Counter-only changes (rows, bytes) are printed at most this often in plain mode. */
const PLAIN_COUNTER_INTERVAL_MS = 10_000;
/** Loading tables shown per database on a terminal. */
const LIVE_TABLES_PER_DATABASE = 6;

interface Sample {
  rows: number;
  bytes: number;
  at: number;
  rowRate?: number;
  byteRate?: number;
}

export class ProgressView {
  private drawnLines = 0;
  private readonly samples = new Map<string, Sample>();
  private readonly printed = new Map<string, { coarse: string; fine: string; at: number }>();
  private readonly tableStates = new Map<string, string>();
  private readonly started = Date.now();
  private readonly seenEvents = new Set<string>();

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly live: boolean,
  ) {}

  /** Rows/s and bytes/s of a counter, smoothed over polls so the rate does not jitter. */
  private rate(key: string, rows: number, bytes: number): Sample {
    const now = Date.now();
    const prev = this.samples.get(key);
    const next: Sample = { rows, bytes, at: now, rowRate: prev?.rowRate, byteRate: prev?.byteRate };
    if (prev && now > prev.at && (rows !== prev.rows || bytes !== prev.bytes || now - prev.at > 2000)) {
      const dt = (now - prev.at) / 1000;
      const r = Math.max(0, (rows - prev.rows) / dt);
      const b = Math.max(0, (bytes - prev.bytes) / dt);
      next.rowRate = prev.rowRate === undefined ? r : 0.5 * prev.rowRate + 0.5 * r;
      next.byteRate = prev.byteRate === undefined ? b : 0.5 * prev.byteRate + 0.5 * b;
    } else if (prev) {
      next.at = prev.at;
      next.rows = prev.rows;
      next.bytes = prev.bytes;
    }
    this.samples.set(key, next);
    return next;
  }

  private static rateText(s: Sample): string {
    if (!s.byteRate && !s.rowRate) return '';
    return `${formatBytes(s.byteRate ?? 0)}/s, ${formatCount(s.rowRate ?? 0)} rows/s`;
  }

  update(status: MigrationStatus, tables: readonly TableProgress[] = [], events: readonly ProgressEventLine[] = []): void {
    if (this.live) this.draw(status, tables, events);
    else this.plain(status, tables, events);
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

  private draw(status: MigrationStatus, tables: readonly TableProgress[], events: readonly ProgressEventLine[]): void {
    const elapsed = Math.round((Date.now() - this.started) / 1000);
    const lines = [`${status.name}  ${status.state} / ${status.subState}  (${elapsed} s)`];
    for (const d of status.databases) {
      const s = this.rate(`db:${d.database}`, d.rowsCopied, d.bytesCopied);
      let line = `  ${d.database}  ${d.state}  tables ${d.tables.completed}/${d.tables.total}  ${formatCount(d.rowsCopied)} rows  ${formatBytes(d.bytesCopied)}`;
      const rate = ProgressView.rateText(s);
      if (rate && d.state === 'InProgress' && d.tables.completed < d.tables.total) line += `  ${rate}`;
      if (status.mode === 'Online' && (d.inserts || d.updates || d.deletes || d.latencySeconds !== undefined)) {
        line += `  cdc +${formatCount(d.inserts)} ~${formatCount(d.updates)} -${formatCount(d.deletes)}`;
        if (d.latencySeconds !== undefined) line += `  latency ${d.latencySeconds.toFixed(1)} s`;
        if (d.pendingBytes !== undefined) line += `  pending ${formatBytes(d.pendingBytes)}`;
      }
      lines.push(line);
      const loading = tables.filter((t) => t.database === d.database && t.state === 'Loading');
      for (const t of loading.slice(0, LIVE_TABLES_PER_DATABASE)) {
        const ts = this.rate(`t:${t.database}:${t.table}`, t.rows, t.bytes);
        const parts = t.parts > 1 ? `  parts ${t.partsDone}/${t.parts}` : '';
        lines.push(`    ${t.table}  ${formatCount(t.rows)} rows  ${formatBytes(t.bytes)}${parts}  ${ProgressView.rateText(ts)}`.trimEnd());
      }
      if (loading.length > LIVE_TABLES_PER_DATABASE) lines.push(`    … ${loading.length - LIVE_TABLES_PER_DATABASE} more loading`);
    }
    const last = events[events.length - 1];
    if (last && !FINAL_STATES.has(status.state)) lines.push(`  last: ${last.database ? `${last.database}: ` : ''}${last.message}`);
    // A pseudo-terminal may report 0 columns: assume a common width then.
    const width = Math.max(40, this.stream.columns || 120);
    const text = lines.map((l) => (l.length > width ? `${l.slice(0, width - 1)}…` : l)).join('\n');
    // Move to the start of the previous block and clear it, then draw the new one.
    const up = this.drawnLines > 0 ? `\x1b[${this.drawnLines}F\x1b[J` : '';
    this.stream.write(redact(`${up}${text}\n`));
    this.drawnLines = lines.length;
  }

  private plainLine(key: string, coarse: string, fine: string, text: string): void {
    const now = Date.now();
    const prev = this.printed.get(key);
    const changedCoarse = !prev || prev.coarse !== coarse;
    const changedFine = prev !== undefined && prev.fine !== fine && now - prev.at >= PLAIN_COUNTER_INTERVAL_MS;
    if (!changedCoarse && !changedFine) return;
    this.printed.set(key, { coarse, fine, at: now });
    this.stream.write(redact(`${new Date(now).toISOString()} ${text}\n`));
  }

  private plain(status: MigrationStatus, tables: readonly TableProgress[], events: readonly ProgressEventLine[]): void {
    for (const e of this.fresh(events)) {
      this.stream.write(
        redact(`${e.at} ${status.name}${e.database ? `/${e.database}` : ''}: ${e.level === 'info' ? '' : `${e.level}: `}${e.message}\n`),
      );
    }
    this.plainLine(
      'migration',
      `${status.state}/${status.subState}`,
      '',
      `${status.name}: ${status.state} / ${status.subState}${status.message ? ` (${status.message})` : ''}`,
    );
    for (const d of status.databases) {
      const s = this.rate(`db:${d.database}`, d.rowsCopied, d.bytesCopied);
      const rate = ProgressView.rateText(s);
      let text = `${status.name}/${d.database}: ${d.state}, tables ${d.tables.completed}/${d.tables.total}, ${formatCount(d.rowsCopied)} rows, ${formatBytes(d.bytesCopied)}`;
      if (rate && d.state === 'InProgress' && d.tables.completed < d.tables.total) text += ` (${rate})`;
      let fine = `${d.rowsCopied}/${d.bytesCopied}`;
      if (status.mode === 'Online') {
        text += `, cdc +${d.inserts} ~${d.updates} -${d.deletes}`;
        if (d.latencySeconds !== undefined) text += `, latency ${d.latencySeconds.toFixed(1)} s`;
        fine += `/${d.inserts}/${d.updates}/${d.deletes}`;
      }
      this.plainLine(`db:${d.database}`, `${d.state}/${d.tables.completed}/${d.tables.total}/${d.tables.errored}`, fine, text);
    }
    for (const t of tables) {
      const key = `${t.database}:${t.table}`;
      if (this.tableStates.get(key) === t.state) continue;
      this.tableStates.set(key, t.state);
      if (t.state === 'Completed' || t.state === 'Errored') {
        const what = t.state === 'Completed' ? 'copied' : `failed${t.message ? `: ${t.message}` : ''}`;
        this.stream.write(
          redact(
            `${new Date().toISOString()} ${status.name}/${t.database}: table ${t.table} ${what} (${formatCount(t.rows)} rows, ${formatBytes(t.bytes)})\n`,
          ),
        );
      }
    }
  }
}

// Progress lines for `pulumi up`: the provider host shows every stdout line of a running
// create/update as info, so state, per-database tables/rows and latency are printed as lines.
// How far a copy is comes from the engine's progress model, the one the CLI's view uses.
import { databaseCopy, displayIdent, type MigrationStatus } from '../engine';

export type LineWriter = (line: string) => void;

/** Writes to stdout, which the provider host forwards to the Pulumi CLI. */
export const stdoutWriter: LineWriter = (line) => {
  process.stdout.write(`${line}\n`);
};

/** One line summarising a status: phase, then per database tables, rows and CDC latency. */
export function formatStatus(status: MigrationStatus): string {
  const parts = status.databases.map((d) => {
    let text = `${displayIdent(d.database)} tables ${d.tables.completed}/${d.tables.total} rows ${d.rowsCopied}`;
    const copy = d.state === 'InProgress' ? databaseCopy(d, []).fraction : undefined;
    if (copy !== undefined && copy < 1) text += ` (${Math.floor(copy * 100)}%)`;
    if (status.mode === 'Online' && (d.inserts || d.updates || d.deletes || d.latencySeconds !== undefined)) {
      text += ` applied +${d.inserts}/~${d.updates}/-${d.deletes}`;
      if (d.latencySeconds !== undefined) text += ` latency ${d.latencySeconds.toFixed(1)} s`;
      if (d.pendingBytes !== undefined) text += ` pending ${d.pendingBytes} B`;
    }
    return text;
  });
  return `${status.name}: ${status.state}/${status.subState}${parts.length ? ` — ${parts.join('; ')}` : ''}`;
}

/**
 * A status printer for polling loops: prints when the line changes, and otherwise at most every
 * `quietMs` so a long copy still shows signs of life without flooding the CLI.
 */
export function statusPrinter(write: LineWriter, quietMs = 15_000): (status: MigrationStatus) => void {
  let last = '';
  let lastAt = 0;
  return (status) => {
    const line = formatStatus(status);
    const now = Date.now();
    if (line !== last || now - lastAt >= quietMs) {
      write(line);
      last = line;
      lastAt = now;
    }
  };
}

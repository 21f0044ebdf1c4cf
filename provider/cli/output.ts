// What the CLI prints: compact human tables or exactly one JSON value, always through redact().
import {
  describeFence,
  displayIdent,
  FINAL_STATES,
  type AgentInfo,
  type DatabaseDetails,
  type MigrationStatus,
  type SourceSlotState,
  type ValidationResult,
  type VerificationReport,
  type PoolerPause,
  type FallbackStatus,
} from '../engine';
import { redact } from './secrets';

export { statusJson } from '../azure/shape';

export function writeOut(text: string): void {
  process.stdout.write(redact(text.endsWith('\n') ? text : `${text}\n`));
}

export function writeErr(text: string): void {
  process.stderr.write(redact(text.endsWith('\n') ? text : `${text}\n`));
}

const UNITS = ['bytes', 'kB', 'MB', 'GB', 'TB'];

/** Sizes as pg_size_pretty prints them (1024-based). */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined) return '-';
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 10 * 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${Math.round(value)} ${UNITS[unit]}`;
}

export function formatCount(n: number | undefined): string {
  return n === undefined ? '-' : Math.round(n).toLocaleString('en-US');
}

export function formatSeconds(s: number | undefined): string {
  if (s === undefined) return '-';
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

/** Left-aligned columns separated by two spaces; trailing spaces trimmed. */
function renderColumns(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function databaseRows(databases: readonly DatabaseDetails[], online: boolean): string[][] {
  const header = ['DATABASE', 'STATE', 'TABLES', 'ROWS', 'BYTES'];
  if (online) header.push('INSERTS', 'UPDATES', 'DELETES', 'LATENCY', 'PENDING');
  const rows = [header];
  for (const d of databases) {
    const row = [
      displayIdent(d.database),
      d.state,
      `${d.tables.completed}/${d.tables.total}${d.tables.errored ? ` (${d.tables.errored} failed)` : ''}`,
      formatCount(d.rowsCopied),
      formatBytes(d.bytesCopied),
    ];
    if (online)
      row.push(
        formatCount(d.inserts),
        formatCount(d.updates),
        formatCount(d.deletes),
        formatSeconds(d.latencySeconds),
        formatBytes(d.pendingBytes),
      );
    rows.push(row);
  }
  return rows;
}

/** Validation results worth reading: every Warning and Failed check, with its fix. */
function renderValidation(results: readonly ValidationResult[]): string {
  const notable = results.filter((r) => r.status !== 'Succeeded');
  const failed = results.filter((r) => r.status === 'Failed').length;
  const summary = `Validation  ${results.length} checks: ${results.length - notable.length} succeeded, ${notable.length - failed} warning${notable.length - failed === 1 ? '' : 's'}, ${failed} failed`;
  const lines = notable.map(
    (r) =>
      `  ${r.status.padEnd(7)}  ${r.code}${r.database ? ` [${displayIdent(r.database)}]` : ''}: ${r.message}${r.fix ? `\n           fix: ${r.fix}` : ''}${r.definition ? `\n           definition:\n${indent(r.definition, 13)}` : ''}`,
  );
  return [summary, ...lines].join('\n');
}

function indent(text: string, spaces: number): string {
  const pad = ' '.repeat(spaces);
  return text
    .split('\n')
    .map((line) => (line ? `${pad}${line}` : line))
    .join('\n');
}

export function renderVerification(report: VerificationReport): string {
  const bad = report.tables.filter((t) => !t.matches);
  // a verification the schema check stopped compared no table's rows: "0/0 tables match" would read as a row difference
  const rows =
    report.tables.length === 0 ? 'no table rows compared' : `${report.tables.length - bad.length}/${report.tables.length} tables match`;
  const lines = [`Verification  ${report.ok ? 'OK' : 'MISMATCH'}: ${rows}`];
  for (const t of bad)
    lines.push(
      `  ${displayIdent(t.database)}.${t.table}: source ${formatCount(t.sourceRows)} rows, target ${formatCount(t.targetRows)}${t.reason ? ` (${t.reason})` : ''}`,
    );
  for (const s of report.schema ?? []) {
    lines.push(
      `  schema of ${displayIdent(s.database)}: ${s.objects} object(s) compared, ${s.differences.length === 0 ? 'all match' : `${s.differences.length} differ`}${s.expected.length ? `, ${s.expected.length} differ on purpose` : ''}${s.kept?.length ? `, ${s.kept.length} kept (made on the target alone)` : ''}`,
    );
    for (const d of s.differences) lines.push(`    ${d.object}: ${d.detail}`, `      fix: ${d.fix}`);
    for (const e of s.expected) lines.push(`    on purpose: ${e.object}: ${e.reason}`);
    for (const k of s.kept ?? []) lines.push(`    kept, made on the target alone: ${k.object}: ${k.reason}`);
  }
  if (report.leftOut?.length) {
    lines.push(`  left out, not compared (the target user cannot create them): ${report.leftOut.length} object(s)`);
    for (const o of report.leftOut) lines.push(`    ${displayIdent(o.database)}: ${o.object}`);
  }
  return lines.join('\n');
}

export function renderStatus(status: MigrationStatus): string {
  const lines = [
    renderColumns([
      ['Migration', `${status.name}  (${status.mode}, ${status.option})`],
      ['State', `${status.state} / ${status.subState}`],
      ...(status.message ? [['Message', status.message]] : []),
      ['Started', status.startedAt ?? '-'],
      ['Ended', status.endedAt ?? '-'],
      ...(status.sourceVersion || status.targetVersion
        ? [['Versions', `source ${status.sourceVersion ?? '?'}, target ${status.targetVersion ?? '?'}`]]
        : []),
      ...(status.downtimeSeconds !== undefined ? [['Downtime', formatSeconds(status.downtimeSeconds)]] : []),
      ...(status.runner
        ? [
            [
              'Runner',
              `${status.runner.host} pid ${status.runner.pid}, ${status.runner.alive ? 'alive' : FINAL_STATES.has(status.state) ? 'finished' : 'STOPPED: continue with `pgferry resume`, or `pgferry update --cancel`'} (heartbeat ${status.runner.heartbeatAt})`,
            ],
          ]
        : []),
      ...(status.runtime === 'agents' ? [['Runtime', status.waiting ?? 'agents']] : []),
    ]),
  ];
  if (status.agents?.length) lines.push('', renderColumns(agentRows(status.agents)));
  if (status.databases.length) lines.push('', renderColumns(databaseRows(status.databases, status.mode === 'Online')));
  for (const d of status.databases) if (d.message) lines.push(`  ${displayIdent(d.database)}: ${d.message}`);
  for (const d of status.databases)
    if (d.sourceSlot && d.names) lines.push(`  ${displayIdent(d.database)}: ${describeSourceSlot(d.names.slot, d.sourceSlot)}`);
  for (const d of status.databases)
    if (d.writerFence) lines.push(`  ${displayIdent(d.database)}: ${describeFence(d.writerFence, 'source')}`);
  for (const d of status.databases)
    if (d.targetFence) lines.push(`  ${displayIdent(d.database)}: ${describeFence(d.targetFence, 'target')}`);
  for (const d of status.databases) if (d.poolerPause) lines.push(`  ${displayIdent(d.database)}: ${describePause(d.poolerPause)}`);
  for (const d of status.databases)
    if (d.poolerPauseBack) lines.push(`  ${displayIdent(d.database)}: ${describePauseBack(d.poolerPauseBack)}`);
  for (const d of status.databases)
    for (const p of d.pendingFootprint ?? [])
      lines.push(
        `  ${displayIdent(d.database)}: still to give back (${p.change}): ${p.error ? `could not read: ${p.error}` : p.pending.join('; ')}`,
      );
  for (const d of status.databases) if (d.fallback) lines.push(`  ${displayIdent(d.database)}: ${describeFallback(d.fallback)}`);
  if (status.validation.length) lines.push('', renderValidation(status.validation));
  if (status.verification) lines.push('', renderVerification(status.verification));
  return lines.join('\n');
}

/** The agents on the target: who could run the migration, and what each holds of it. */
function agentRows(agents: readonly AgentInfo[]): string[][] {
  return [
    ['Agent', 'Host', 'Items held', 'Heartbeat', 'Version', 'Credentials'],
    ...agents.map((a) => [
      a.name,
      `${a.host} pid ${a.pid}`,
      a.itemsHeld === 0 ? '0' : `${a.itemsHeld}: ${a.items.join(', ')}`,
      `${a.heartbeatAt}${a.alive ? '' : ' (gone)'}`,
      a.version,
      !a.hasCredentials ? "NO: lacks the source's" : a.hasPoolerCredentials === false ? "NO: lacks the pooler's" : 'yes',
    ]),
  ];
}

/** One line on the pooler's pause at a cutover: where the applications' queries are and since when. */
function describePause(p: PoolerPause): string {
  const pooler = `pooler (PgBouncer) database${p.poolerDatabases.length === 1 ? '' : 's'} ${p.poolerDatabases.join(', ')}`;
  switch (p.state) {
    case 'paused':
      return `${pooler} paused since ${p.pausedAt}: the applications' queries wait until the cutover resumes it (a roll-back resumes it on the source)`;
    case 'switched':
      return `${pooler} switched to the target at ${p.switchedAt ?? '?'}, still paused since ${p.pausedAt}: the queries run on the target once it resumes`;
    case 'resumed':
      return `${pooler} resumed on the target (paused at ${p.pausedAt}, switched at ${p.switchedAt ?? '?'})`;
    case 'resumedOnSource':
      return `${pooler} resumed on the source after the cutover was rolled back (paused at ${p.pausedAt})`;
  }
}

/** The pooler's pause at the fall-back, in one line: its databases, where it stands, and on which server it resumed. */
function describePauseBack(p: PoolerPause): string {
  const pooler = `pooler (PgBouncer) database${p.poolerDatabases.length === 1 ? '' : 's'} ${p.poolerDatabases.join(', ')}`;
  const waited = p.pauseSeconds === undefined ? '' : `, resumed at ${p.resumedAt ?? '?'} after ${formatSeconds(p.pauseSeconds)} paused`;
  switch (p.state) {
    case 'paused':
      return `fall-back: ${pooler} paused since ${p.pausedAt}: the applications' queries wait until the fall-back resumes it (on the new server if it stops)`;
    case 'switched':
      return `fall-back: ${pooler} pointed back at the old source at ${p.switchedAt ?? '?'}, still paused since ${p.pausedAt}: the queries run there once it resumes`;
    case 'resumed':
      return `fall-back: ${pooler} resumed on the old source (paused at ${p.pausedAt}, pointed back at ${p.switchedAt ?? '?'}${waited})`;
    case 'resumedOnSource':
      return `fall-back: ${pooler} resumed on the new server after the fall-back stopped (paused at ${p.pausedAt}${waited})`;
  }
}

/** One line on a fallback window: until when, the reverse lag, and what its slot costs the target. */
function describeFallback(f: FallbackStatus): string {
  if (f.state === 'Closed') return `fallback window closed at ${f.closedAt ?? '?'}${f.message ? ` (${f.message})` : ''}`;
  if (f.state === 'FellBack') {
    const downtime = f.downtimeSeconds === undefined ? '' : ` (downtime ${formatSeconds(f.downtimeSeconds)})`;
    const forward =
      f.forwardLsn === undefined ? '' : ` and follows it again from ${f.forwardLsn} (cut over again with \`pgferry update --cutover\`)`;
    return `fell back at ${f.fellBackAt ?? '?'}${downtime}: the old source is the primary again, the target stays fenced${forward}`;
  }
  if (f.state === 'FallingBack')
    return `falling back: the target fenced, its last writes applied to the old source${f.message ? `; ${f.message}` : ''}`;
  if (f.state === 'Stopped')
    return `fallback window Stopped until ${f.endsAt}: ${f.message ?? 'the reverse stream stopped'} (tried again by itself)`;
  const stopped = f.message?.startsWith('fall-back stopped') ? `; ${f.message}` : '';
  const lag = f.latencySeconds === undefined ? '' : `, reverse lag ${formatSeconds(f.latencySeconds)}`;
  const pending = f.pendingBytes === undefined ? '' : `, ${formatBytes(f.pendingBytes)} pending`;
  const retained = f.retainedBytes === undefined ? '' : `, ${formatBytes(f.retainedBytes)} of WAL retained on the target`;
  return `fallback window ${f.state} until ${f.endsAt}${lag}${pending}${retained} (fall back with \`pgferry update --fall-back\`, close with \`--close-fallback\`)${stopped}`;
}

/** One line on a slot as the source showed it: whether it streams, and the WAL it keeps there. */
function describeSourceSlot(slot: string, s: SourceSlotState): string {
  if (s.error) return `slot ${slot}: the source could not be read (${s.error})`;
  if (!s.exists) return `slot ${slot}: not on the source`;
  const retained = s.retainedBytes === undefined ? 'unknown WAL' : `${formatBytes(s.retainedBytes)} of WAL`;
  const status = s.walStatus && s.walStatus !== 'reserved' ? `, wal_status ${s.walStatus}` : '';
  return `slot ${slot}: ${s.active ? 'streaming' : 'NOT STREAMING'}, retains ${retained} on the source${status}`;
}

export function renderList(statuses: readonly MigrationStatus[]): string {
  if (statuses.length === 0) return 'no migrations';
  return renderColumns([
    ['NAME', 'MODE', 'STATE', 'SUBSTATE', 'DATABASES', 'FALLBACK', 'STARTED', 'ENDED'],
    ...statuses.map((s) => [
      s.name,
      s.mode,
      s.state,
      s.subState,
      s.databases.map((d) => displayIdent(d.database)).join(','),
      fallbackColumn(s),
      s.startedAt ?? '-',
      s.endedAt ?? '-',
    ]),
  ]);
}

/**
 * `list`'s FALLBACK column: the windows' states (one, when every database's is the same), or '-'
 * without a window; while a window streams back (Open, Stopped), when the first ends, the largest
 * reverse lag, and the pending bytes and WAL retained on the target summed over the databases.
 */
function fallbackColumn(status: MigrationStatus): string {
  const windows = status.databases.flatMap((d) => (d.fallback ? [d.fallback] : []));
  const states = [...new Set(windows.map((w) => w.state))];
  if (states.length === 0) return '-';
  const live = windows.filter((w) => w.state === 'Open' || w.state === 'Stopped');
  if (live.length === 0) return states.join(',');
  const known = (values: (number | undefined)[]) => values.filter((v): v is number => v !== undefined);
  const lags = known(live.map((w) => w.latencySeconds));
  const pending = known(live.map((w) => w.pendingBytes));
  const retained = known(live.map((w) => w.retainedBytes));
  const figures = [
    `until ${live.map((w) => w.endsAt).sort()[0]}`,
    lags.length > 0 ? `lag ${formatSeconds(Math.max(...lags))}` : undefined,
    pending.length > 0 ? `${formatBytes(pending.reduce((a, b) => a + b, 0))} pending` : undefined,
    retained.length > 0 ? `${formatBytes(retained.reduce((a, b) => a + b, 0))} retained` : undefined,
  ];
  return `${states.join(',')} ${figures.filter(Boolean).join(', ')}`;
}

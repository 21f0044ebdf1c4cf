// The data phase: N table jobs (large tables split into ranges) all reading one exported
// snapshot, and an index pool that builds each table's indexes as soon as its data is in.
import type pg from 'pg';
import type { SourceIndex, SourceTable } from '../catalog';
import { closeSession, openSession, type SessionPair } from '../connect/session';
import { pairedWithTarget, type SnapshotSessions } from './copySnapshot';
import { ident } from '../connect/quote';
import { errorMessage, PgferryError } from '../core/errors';
import { safeEmit, type ProgressListener } from '../core/model';
import type { MigrationSpec } from '../input/migrationSpec';
import { runWorkers, WorkQueue } from '../util/workQueue';
import { runCopyJob } from './copyJob';
import { buildIndex, indexesByTable } from './indexes';
import { ctidRangeWheres, integerRangeWheres, jobsForTable, orderJobs, partCount, type CopyJob } from './plan';
import { splitKeyBounds } from '../catalog/queries';
import { TableTally, type TallyHooks } from './tableTally';

export interface CopyTablesResult {
  readonly rows: number;
  readonly bytes: number;
  readonly tables: number;
}

export interface CopyTablesArgs {
  readonly spec: MigrationSpec;
  readonly database: string;
  /** Source sessions in the copy's snapshot, holding the tables (see copySnapshot.ts). */
  readonly sessions: SnapshotSessions;
  readonly tables: readonly SourceTable[];
  readonly indexes: readonly SourceIndex[];
  /** Source database encoding: both ends of a COPY speak it where they can (see copyClientEncoding). */
  readonly encoding: string;
  readonly signal?: AbortSignal;
  readonly onProgress?: ProgressListener;
  /** Called when a table's rows are all in (before its indexes). */
  readonly onTableDone?: TallyHooks['onTableDone'];
  readonly onTableStart?: TallyHooks['onTableStart'];
}

/** Plans the jobs: reads split-key bounds inside the snapshot for tables over the threshold. */
async function planJobs(args: CopyTablesArgs, probe: pg.Client): Promise<CopyJob[]> {
  const jobs: CopyJob[] = [];
  for (const table of args.tables) {
    const parts = partCount(table.bytes, args.spec.splitTablesLargerThan, args.spec.splitMaxParts);
    if (parts <= 1) {
      jobs.push({ table });
      continue;
    }
    if (table.splitKey) {
      const key = ident(table.splitKey);
      const { rows } = await probe.query<{ lo: string | null; hi: string | null }>(splitKeyBounds(table.sql, key));
      const lo = rows[0]?.lo;
      const hi = rows[0]?.hi;
      jobs.push(
        ...jobsForTable(
          table,
          lo === null || hi === null || lo === undefined || hi === undefined
            ? ['TRUE']
            : integerRangeWheres(key, BigInt(lo), BigInt(hi), parts),
        ),
      );
    } else {
      // Block count now bounds every tuple our snapshot can see; the last range is open-ended anyway.
      const { rows } = await probe.query<{ pages: string }>(
        `SELECT (pg_relation_size($1::regclass) / current_setting('block_size')::int)::int8 AS pages`,
        [table.oid],
      );
      jobs.push(...jobsForTable(table, ctidRangeWheres(Number(rows[0]!.pages), parts)));
    }
  }
  return orderJobs(jobs);
}

/** Aborts `stop` when the caller's signal aborts; returns the detach. */
function linkAbort(signal: AbortSignal | undefined, stop: AbortController): () => void {
  const onAbort = () => stop.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  return () => signal?.removeEventListener('abort', onAbort);
}

function targetOptions(database: string, purpose: string, settings: Record<string, string> = {}) {
  return { database, purpose, writable: true, settings: { synchronous_commit: 'off', ...settings } };
}

/** One copy job: the table's start, the COPY, its progress, and its indexes queued once the table is in. */
async function copyOneJob(
  args: CopyTablesArgs,
  tally: TableTally,
  job: CopyJob,
  w: SessionPair,
  signal: AbortSignal,
  onTableIn: () => void,
): Promise<void> {
  await tally.jobStarts(job);
  const bytes = tally.bytesOf(job);
  const result = await runCopyJob({
    job,
    source: w.source,
    target: w.target,
    encoding: args.encoding,
    signal,
    onBytes: bytes.onBytes,
  }).catch((error: unknown) => {
    // the table shows as Errored (progress, control catalog) before the failure ends the copy
    if (!signal.aborted)
      safeEmit(args.onProgress, { kind: 'table-error', database: args.database, table: job.table.display, message: errorMessage(error) });
    throw error;
  });
  if (await tally.jobDone(job, result, bytes.sent())) onTableIn();
}

/** Copies every table's rows and builds its indexes as soon as they are in; one failure stops both pools. */
export async function copyTables(args: CopyTablesArgs): Promise<CopyTablesResult> {
  const { spec, database } = args;
  const stop = new AbortController();
  const unlink = linkAbort(args.signal, stop);
  const signal = stop.signal;
  const stopOnFailure = (error: unknown): never => {
    stop.abort(error);
    throw error;
  };

  const jobs = await args.sessions.use((probe) => planJobs(args, probe));
  const tally = new TableTally(jobs, args);
  const byTable = indexesByTable(args.indexes);
  const copyQueue = new WorkQueue<CopyJob>();
  const indexQueue = new WorkQueue<SourceIndex>();
  copyQueue.push(...jobs);
  copyQueue.close();

  const copying = runWorkers<CopyJob, SessionPair>({
    queue: copyQueue,
    concurrency: Math.min(spec.tableJobs, args.sessions.size, Math.max(1, jobs.length)),
    signal,
    ...pairedWithTarget(args.sessions, spec.target, targetOptions(database, 'copy')),
    work: (job, w) => copyOneJob(args, tally, job, w, signal, () => indexQueue.push(...(byTable.get(job.table.oid) ?? []))),
  })
    .catch(stopOnFailure)
    .finally(() => indexQueue.close());

  const indexing = runWorkers<SourceIndex, pg.Client>({
    queue: indexQueue,
    concurrency: spec.indexJobs,
    signal,
    open: () => openSession(spec.target, targetOptions(database, 'index', { maintenance_work_mem: '256MB' })),
    close: closeSession,
    work: (index, target) => buildIndex(target, index),
  }).catch(stopOnFailure);

  const [copied, indexed] = await Promise.allSettled([copying, indexing]);
  unlink();
  // The pool that failed first holds the real cause; the other one only saw the stop.
  const failures = [copied, indexed].filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r): unknown => r.reason);
  const cause = failures.find((e) => !(e instanceof PgferryError && e.category === 'canceled')) ?? failures[0];
  if (failures.length > 0) throw cause;
  return { rows: tally.totalRows, bytes: tally.totalBytes, tables: tally.tableCount };
}

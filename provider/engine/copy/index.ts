// The data phase: N table jobs (large tables split into ranges) all reading one exported
// snapshot, and an index pool that builds each table's indexes as soon as its data is in.
import type pg from 'pg';
import type { SourceIndex, SourceTable } from '../catalog';
import { closeSession, openSession, type SessionPair } from '../connect/session';
import { pairedWithTarget, type SnapshotSessions } from './copySnapshot';
import { ident } from '../connect/quote';
import { errorMessage, PgferryError } from '../errors';
import { safeEmit, type ProgressListener } from '../model';
import type { MigrationSpec } from '../input/migrationSpec';
import { drain, WorkQueue } from '../workQueue';
import { runCopyJob } from './copyJob';
import { buildIndex, indexesByTable } from './indexes';
import { ctidRangeWheres, integerRangeWheres, jobsForTable, orderJobs, partCount, type CopyJob } from './plan';
import { splitKeyBounds } from '../catalog/queries';

/** A copy job reports its bytes in flight every this many bytes (the catalog write is throttled too). */
const PROGRESS_BYTES = 4 * 1024 * 1024;

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
  readonly onTableDone?: (table: SourceTable, rows: number, bytes: number, seconds: number) => void | Promise<void>;
  readonly onTableStart?: (table: SourceTable, parts: number) => void | Promise<void>;
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

export async function copyTables(args: CopyTablesArgs): Promise<CopyTablesResult> {
  const { spec, database } = args;
  // One failure (a copy or an index build) stops both pools.
  const stop = new AbortController();
  const onAbort = () => stop.abort(args.signal?.reason);
  args.signal?.addEventListener('abort', onAbort, { once: true });
  const signal = stop.signal;
  const targetOptions = (purpose: string, settings: Record<string, string> = {}) => ({
    database,
    purpose,
    writable: true,
    settings: { synchronous_commit: 'off', ...settings },
  });

  const jobs = await args.sessions.use((probe) => planJobs(args, probe));

  /** Per table: parts still to copy, totals of finished parts, bytes of parts in flight. */
  const partsLeft = new Map<string, { parts: number; partsDone: number; rows: number; bytes: number; inFlight: number; started: number }>();
  for (const job of jobs) {
    const entry = partsLeft.get(job.table.oid) ?? { parts: 0, partsDone: 0, rows: 0, bytes: 0, inFlight: 0, started: 0 };
    entry.parts += 1;
    partsLeft.set(job.table.oid, entry);
  }

  const byTable = indexesByTable(args.indexes);
  const copyQueue = new WorkQueue<CopyJob>();
  const indexQueue = new WorkQueue<SourceIndex>();
  copyQueue.push(...jobs);
  copyQueue.close();
  let totalRows = 0;
  let totalBytes = 0;

  const copying = drain<CopyJob, SessionPair>({
    queue: copyQueue,
    concurrency: Math.min(spec.tableJobs, args.sessions.size, Math.max(1, jobs.length)),
    signal,
    ...pairedWithTarget(args.sessions, spec.target, targetOptions('copy')),
    work: async (job, w) => {
      const state = partsLeft.get(job.table.oid)!;
      if (state.started === 0) {
        state.started = Date.now();
        await args.onTableStart?.(job.table, job.part?.count ?? 1);
        safeEmit(args.onProgress, {
          kind: 'table-start',
          database,
          table: job.table.display,
          part: job.part?.index,
          parts: job.part?.count,
        });
      }
      let jobBytes = 0;
      let reported = 0;
      const result = await runCopyJob({
        job,
        source: w.source,
        target: w.target,
        encoding: args.encoding,
        signal,
        onBytes: (n: number) => {
          jobBytes += n;
          state.inFlight += n;
          if (jobBytes - reported >= PROGRESS_BYTES) {
            reported = jobBytes;
            safeEmit(args.onProgress, {
              kind: 'table-progress',
              database,
              table: job.table.display,
              rows: state.rows,
              bytes: state.bytes + state.inFlight,
            });
          }
        },
      }).catch((error: unknown) => {
        // the table shows as Errored (progress, control catalog) before the failure ends the copy
        if (!signal.aborted)
          safeEmit(args.onProgress, { kind: 'table-error', database, table: job.table.display, message: errorMessage(error) });
        throw error;
      });
      state.inFlight -= jobBytes;
      state.rows += result.rows;
      state.bytes += result.bytes;
      state.partsDone += 1;
      if (job.part) {
        safeEmit(args.onProgress, {
          kind: 'table-progress',
          database,
          table: job.table.display,
          rows: state.rows,
          bytes: state.bytes + state.inFlight,
          partsDone: state.partsDone,
        });
      }
      totalRows += result.rows;
      totalBytes += result.bytes;
      state.parts -= 1;
      if (state.parts === 0) {
        const seconds = (Date.now() - state.started) / 1000;
        safeEmit(args.onProgress, {
          kind: 'table-done',
          database,
          table: job.table.display,
          rows: state.rows,
          bytes: state.bytes,
          seconds,
        });
        await args.onTableDone?.(job.table, state.rows, state.bytes, seconds);
        const tableIndexes = byTable.get(job.table.oid);
        if (tableIndexes) indexQueue.push(...tableIndexes);
      }
    },
  })
    .catch((error: unknown) => {
      stop.abort(error);
      throw error;
    })
    .finally(() => indexQueue.close());

  const indexing = drain<SourceIndex, pg.Client>({
    queue: indexQueue,
    concurrency: spec.indexJobs,
    signal,
    open: () => openSession(spec.target, targetOptions('index', { maintenance_work_mem: '256MB' })),
    close: closeSession,
    work: async (index, target) => {
      await buildIndex(target, index);
    },
  }).catch((error: unknown) => {
    stop.abort(error);
    throw error;
  });

  const [copied, indexed] = await Promise.allSettled([copying, indexing]);
  args.signal?.removeEventListener('abort', onAbort);
  // The pool that failed first holds the real cause; the other one only saw the stop.
  const failures = [copied, indexed].filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason);
  const cause = failures.find((e) => !(e instanceof PgferryError && e.category === 'canceled')) ?? failures[0];
  if (cause !== undefined) throw cause;
  return { rows: totalRows, bytes: totalBytes, tables: partsLeft.size };
}

// The data phase: N copy items (tables, large ones split into parts by ranges) all reading one exported
// snapshot, and an index pool that builds each table's indexes as soon as its data is in.
import type pg from 'pg';
import type { SourceIndex, SourceTable } from '../catalog/introspect';
import { stopOnAbort } from '../connect/interrupt';
import { closeSession, openSession, type SessionPair } from '../connect/session';
import { pairedWithTarget, type SnapshotSessions } from '../connect/snapshotSessions';
import { ident } from '../connect/quote';
import { errorMessage, isPgferryError, PgferryError } from '../core/errors';
import { safeEmit, type ProgressListener } from '../core/model';
import type { MigrationSpec } from '../input/migrationSpec';
import { runWorkers, WorkQueue } from '../util/workQueue';
import { runCopyItem } from './copyItem';
import { attachKeys, buildIndex, indexesByTable, indexMarkStatements, indexStatement } from './indexes';
import { ctidRanges, integerRanges, itemKey, itemsForRanges, orderItems, tableParts, type CopyItem } from './plan';
import type { CopyItemResult } from './copyItem';
import { splitKeyBounds } from '../catalog/queries';
import { TableTally, type TallyHooks } from './tableTally';
import { analyzeAfterPostData, TOAST_APART_FROM, vacuumStatement, vacuumToastOf } from './vacuum';
import { HeldElsewhere, type OtherClaimers } from './heldElsewhere';
import { OpenWork, TableWorkOrder, type TableWork } from './tableWorkOrder';
import { inTransaction } from '../connect/transaction';
import { failpoint } from '../util/failpoints';

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
  /** The target's major version: from 14 on, a frozen table's TOAST table is vacuumed beside its index builds. */
  readonly targetMajor?: number;
  /** The source's: from 14 on (both), incompressible columns skip compression in a whole-table copy (incompressible.ts). */
  readonly sourceMajor?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: ProgressListener;
  /** Called when a table's rows are all in (before its indexes). */
  readonly onTableDone?: TallyHooks['onTableDone'];
  readonly onTableStart?: TallyHooks['onTableStart'];
  /** The items, planned by planItems or read back from the control catalog; planned here when absent. */
  readonly items?: readonly CopyItem[];
  /** Items (by itemKey) an earlier run already committed: counted, not copied again. */
  readonly done?: ReadonlyMap<string, { readonly rows: number; readonly bytes: number }>;
  /** Indexes (by source index OID) an earlier run already built. */
  readonly builtIndexes?: ReadonlySet<string>;
  /** Claims and done-records that make each item exactly-once; without it an item just commits. */
  readonly ledger?: CopyLedger;
}

/** A claim's outcome: copy under this epoch, already committed, or held by another live claimer (shared copies). */
type CopyClaim = { readonly epoch: number } | { readonly done: CopyItemResult } | { readonly elsewhere: true };

/** What makes each item exactly-once (flow/copyWork.ts keeps it in the control catalog and the target database). */
export interface CopyLedger {
  /** Claims an item on the worker's target session: its epoch, what an earlier claim already committed, or elsewhere. */
  claim(item: CopyItem, target: pg.Client): Promise<CopyClaim>;
  /** In the item's target transaction, before COMMIT: the epoch check and the done-record. */
  beforeCommit(target: pg.Client, item: CopyItem, epoch: number, result: CopyItemResult): Promise<void>;
  /** After COMMIT. */
  committed(item: CopyItem, epoch: number, result: CopyItemResult): Promise<void>;
  /** In an index build's transaction, before COMMIT. */
  indexBuilt(target: pg.Client, index: SourceIndex): Promise<void>;
  /** Present when agents may copy items of this copy too (runtime agents): what the coordinator watches. */
  readonly others?: OtherClaimers;
}

/** Plans the items: reads split-key bounds inside the snapshot for tables over the threshold. */
export async function planItems(spec: MigrationSpec, tables: readonly SourceTable[], probe: pg.Client): Promise<CopyItem[]> {
  const items: CopyItem[] = [];
  const partsOf = tableParts(tables, spec);
  for (const [i, table] of tables.entries()) {
    const parts = partsOf[i]!;
    if (parts <= 1) {
      items.push({ table });
      continue;
    }
    if (table.splitKey) {
      const key = ident(table.splitKey);
      const { rows } = await probe.query<{ lo: string | null; hi: string | null }>(splitKeyBounds(table.sql, key));
      const lo = rows[0]?.lo;
      const hi = rows[0]?.hi;
      items.push(
        ...itemsForRanges(
          table,
          lo === null || hi === null || lo === undefined || hi === undefined
            ? [{ by: 'key' }]
            : integerRanges(BigInt(lo), BigInt(hi), parts),
        ),
      );
    } else {
      // Block count now bounds every tuple our snapshot can see; the last range is open-ended anyway.
      const { rows } = await probe.query<{ pages: string }>(
        `SELECT (pg_relation_size($1::regclass) / current_setting('block_size')::int)::int8 AS pages`,
        [table.oid],
      );
      items.push(...itemsForRanges(table, ctidRanges(Number(rows[0]!.pages), parts)));
    }
  }
  return orderItems(items);
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

/**
 * One copy item: the table's start, the COPY, its progress, and its indexes queued once the table is
 * in. Returns 'elsewhere' when another claimer holds it (or took it over): it is watched, not failed.
 */
async function copyOneItem(
  args: CopyTablesArgs,
  tally: TableTally,
  item: CopyItem,
  w: SessionPair,
  signal: AbortSignal,
  onTableIn: (frozen: boolean) => void,
  work: OpenWork,
): Promise<'done' | 'elsewhere'> {
  const claim = args.ledger ? await args.ledger.claim(item, w.target) : { epoch: 0 };
  if ('elsewhere' in claim) return 'elsewhere';
  await tally.itemStarts(item);
  if ('done' in claim) {
    // an earlier claim committed it after all (its runner died between the commit and the mirror)
    if (await tally.itemDone(item, claim.done, 0)) onTableIn(false);
    return 'done';
  }
  const { ledger } = args;
  const bytes = tally.bytesOf(item);
  let lostClaim = false;
  const copy = (): ReturnType<typeof runCopyItem> =>
    runCopyItem({
      item,
      source: w.source,
      target: w.target,
      encoding: args.encoding,
      signal,
      majors: { sourceMajor: args.sourceMajor, targetMajor: args.targetMajor },
      onBytes: bytes.onBytes,
      ...(ledger ? { beforeCommit: (target, r) => ledger.beforeCommit(target, item, claim.epoch, r) } : {}),
    });
  const result = await work.around(copy).catch((error: unknown) => {
    // shared: another claimer took the item over (this one looked dead for a while); it is theirs now
    if (ledger?.others && isPgferryError(error) && error.code === 'COPY_CLAIM_LOST') {
      lostClaim = true;
      return undefined;
    }
    // the table shows as Errored (progress, control catalog) before the failure ends the copy
    if (!signal.aborted)
      safeEmit(args.onProgress, {
        kind: 'table-error',
        database: args.database,
        table: item.table.display,
        relation: { schema: item.table.schema, name: item.table.name },
        message: errorMessage(error),
      });
    throw error;
  });
  if (lostClaim || !result) {
    tally.bytesLost(item, bytes.sent());
    return 'elsewhere';
  }
  const done = { rows: result.rows, bytes: result.bytes };
  await ledger?.committed(item, claim.epoch, done);
  if (await tally.itemDone(item, done, bytes.sent())) onTableIn(result.frozen);
  return 'done';
}

/** Builds one index; with a ledger, its done-record commits with it, and one built earlier only gets its marks again. */
async function buildOneIndex(args: CopyTablesArgs, index: SourceIndex, target: pg.Client): Promise<void> {
  const { ledger } = args;
  if (!ledger) return buildIndex(target, index);
  if (!args.builtIndexes?.has(index.indexOid)) {
    await inTransaction(target, async () => {
      await target.query(indexStatement(index));
      await ledger.indexBuilt(target, index);
    });
  }
  // the marks are idempotent and each its own statement (indexes.ts says why)
  for (const statement of indexMarkStatements(index)) await target.query(statement);
}

/** The index pool's VACUUMs: a frozen table's TOAST table alone, or a table once its indexes are built. */
async function maintain(
  target: pg.Client,
  work: Exclude<TableWork, { readonly index: SourceIndex }>,
  order: TableWorkOrder,
): Promise<void> {
  if (!('toast' in work)) return void (await target.query(vacuumStatement(work.vacuum.sql, work.analyze, !work.toastDone)));
  if (await vacuumToastOf(target, work.toast.sql)) order.toastDone(work.toast);
}

/**
 * One item of the index pool: an index build (after the table's last one, its keys attached to
 * their indexes; then maybe its VACUUM queued), or a VACUUM.
 */
async function runTableWork(
  args: CopyTablesArgs,
  work: TableWork,
  target: pg.Client,
  order: TableWorkOrder,
  openWork: OpenWork,
  byTable: ReadonlyMap<string, readonly SourceIndex[]>,
  tableOf: ReadonlyMap<string, SourceTable>,
): Promise<void> {
  if (!('index' in work)) return maintain(target, work, order);
  await openWork.around(() => buildOneIndex(args, work.index, target));
  const table = tableOf.get(work.index.tableOid);
  if (!table) return;
  if (order.lastIndexLeft(table)) {
    failpoint(`keys-attach:${table.display}`);
    await attachKeys(target, byTable.get(table.oid) ?? []);
  }
  order.indexBuilt(table);
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

  const { items, analyzeLater } = await args.sessions.use(async (probe) => ({
    items: args.items ?? (await planItems(spec, args.tables, probe)),
    analyzeLater: await analyzeAfterPostData(
      probe,
      args.tables.map((t) => t.oid),
      args.indexes.map((i) => i.indexOid),
    ),
  }));
  const tally = new TableTally(items, args);
  const byTable = indexesByTable(args.indexes);
  const tableOf = new Map(args.tables.map((t) => [t.oid, t]));
  const copyQueue = new WorkQueue<CopyItem>();
  const indexQueue = new WorkQueue<TableWork>();
  const openWork = new OpenWork();
  const order = new TableWorkOrder(indexQueue, byTable, analyzeLater, openWork, (args.targetMajor ?? 0) >= TOAST_APART_FROM);
  const toCopy: CopyItem[] = [];
  for (const item of items) {
    const done = args.done?.get(itemKey(item));
    if (!done) {
      toCopy.push(item);
      continue;
    }
    await tally.itemStarts(item);
    if (await tally.itemDone(item, done, 0)) order.rowsIn(item.table, false);
  }
  copyQueue.push(...toCopy);
  // shared with agents: the queue closes once every item is done here or there (heldElsewhere.ts)
  const others = args.ledger?.others;
  const elsewhere = others
    ? new HeldElsewhere(copyQueue, toCopy.length, others, async (item, result) => {
        await tally.itemStarts(item);
        if (await tally.itemDone(item, result, 0)) order.rowsIn(item.table, false);
      })
    : undefined;
  if (!elsewhere) copyQueue.close();

  const copying = runWorkers<CopyItem, SessionPair>({
    queue: copyQueue,
    concurrency: Math.min(spec.tableJobs, args.sessions.size, Math.max(1, toCopy.length)),
    signal,
    ...pairedWithTarget(args.sessions, spec.target, targetOptions(database, 'copy')),
    work: async (item, w) => {
      const outcome = await copyOneItem(args, tally, item, w, signal, (frozen) => order.rowsIn(item.table, frozen), openWork);
      if (outcome === 'elsewhere') elsewhere?.add(item);
      else elsewhere?.resolved();
    },
  })
    .catch(stopOnFailure)
    .finally(() => order.copyEnded());
  const watching = elsewhere?.watch(signal).catch(stopOnFailure);

  const indexing = runWorkers<TableWork, pg.Client>({
    queue: indexQueue,
    concurrency: spec.indexJobs,
    signal,
    open: () => openSession(spec.target, targetOptions(database, 'index', { maintenance_work_mem: '256MB' })),
    close: closeSession,
    // an index build or VACUUM of a large table runs for minutes: a cancel stops it on the server
    work: (work, target) => stopOnAbort(target, signal, () => runTableWork(args, work, target, order, openWork, byTable, tableOf)),
  }).catch(stopOnFailure);

  const [copied, indexed, watched] = await Promise.allSettled([copying, indexing, watching]);
  unlink();
  // The pool that failed first holds the real cause; the other one only saw the stop.
  const failures = [copied, indexed, watched]
    .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    .map((r): unknown => r.reason);
  const cause = failures.find((e) => !(e instanceof PgferryError && e.category === 'canceled')) ?? failures[0];
  if (failures.length > 0) throw cause;
  return { rows: tally.totalRows, bytes: tally.totalBytes, tables: tally.tableCount };
}

// One database's copy as work items: a fresh plan recorded in the control catalog (items) and the
// target database (the ledger), or the recorded plan resumed, where only unfinished items are
// copied again. A resume inside the copy happens only when it is exact (README, "Resuming inside a
// table"): the schema is the one restored, and every item already done still holds, in the new
// snapshot, exactly the rows it committed; a table with one item that does not is copied again whole.
import { createHash } from 'node:crypto';
import os from 'node:os';
import type pg from 'pg';
import { listPartitionedAncestors, type SourceTable } from '../catalog/introspect';
import { withSession } from '../connect/session';
import { planItems, type CopyLedger } from '../copy/copyTables';
import type { CopyItemResult } from '../copy/copyItem';
import type { SnapshotSessions } from '../connect/snapshotSessions';
import {
  createLedger,
  endEarlierCopySessions,
  doneRecordOf,
  forgetTables,
  indexItem,
  raiseEpoch,
  readDoneRecords,
  recordItemDone,
  recordIndexDone,
} from '../copy/doneRecords';
import { itemKey, itemsForRanges, orderItems, type CopyItem, type RangeBounds } from '../copy/plan';
import { rangeCensus, relfilenodes, snapshotBounds } from '../copy/resumeCheck';
import {
  claimCopyItem,
  loadCopyPlan,
  markCopyItemDone,
  recordCopyPlan,
  resetCopyItems,
  type CopyItemRecord,
  type CopyPlanRecord,
} from '../control/copyItems';
import {
  beatClaims,
  CLAIM_HEARTBEAT_MS,
  claimIfFree,
  closeRound,
  holdClaimLock,
  itemsNow,
  openRound,
  reopenRound,
} from '../control/copyRounds';
import type { TocEntry } from '../schema/dumpRestore';
import type { MigrationRun } from '../run/migrationRun';
import { get } from '../control/store';

export interface CopyWork {
  readonly items: readonly CopyItem[];
  /** Items committed by an earlier run, by itemKey. */
  readonly done: ReadonlyMap<string, CopyItemResult>;
  /** Indexes built by an earlier run, by source index OID. */
  readonly builtIndexes: ReadonlySet<string>;
  readonly ledger: CopyLedger;
}

/** The dump's table of contents as one hash: equal hashes, same schema (names, OIDs, owners, every object). */
export function schemaSignature(toc: readonly TocEntry[]): string {
  return createHash('sha256')
    .update(toc.map((e) => e.line).join('\n'))
    .digest('hex');
}

/** Who claims: the agent that started this runner (runner/agent.ts), else this process. */
function holderName(): string {
  return process.env.PGFERRY_AGENT_NAME ?? `${os.hostname()}:${process.pid}`;
}

/**
 * Runtime agents: agents may copy this database's items too (control/copyRounds.ts), so a claim
 * is taken only when nobody live holds the item, and the claims this process holds beat.
 */
function sharedClaims(run: MigrationRun, database: string, holder: string) {
  const { store } = run;
  const migration = run.spec.migrationName;
  const live = new Map<string, string>();
  return {
    async claim(item: string, target: pg.Client): Promise<number | undefined> {
      const claim = await claimIfFree(store, migration, database, item, holder);
      if (!claim) return undefined;
      await holdClaimLock(target, claim);
      live.set(item, claim.lock);
      return claim.epoch;
    },
    ended: (item: string) => live.delete(item),
    others: {
      watch: (items: readonly string[]) => itemsNow(store, migration, database, items),
      beat: () => {
        const timer = setInterval(() => void beatClaims(store, migration, [...live.values()]).catch(() => undefined), CLAIM_HEARTBEAT_MS);
        return () => clearInterval(timer);
      },
    },
  };
}

function ledgerOf(run: MigrationRun, database: string): CopyLedger {
  const { store } = run;
  const migration = run.spec.migrationName;
  const holder = holderName();
  const shared = run.spec.runtime === 'agents' ? sharedClaims(run, database, holder) : undefined;
  return {
    async claim(item, target) {
      const key = itemKey(item);
      const epoch = shared ? await shared.claim(key, target) : await claimCopyItem(store, migration, database, key, holder);
      if (epoch === undefined) return { elsewhere: true };
      await raiseEpoch(target, migration, key, epoch);
      const done = await doneRecordOf(target, migration, key);
      if (!done) return { epoch };
      shared?.ended(key);
      await markCopyItemDone(store, migration, database, done);
      return { done };
    },
    beforeCommit: (target, item, epoch, result) => recordItemDone(target, migration, { item: itemKey(item), epoch, ...result }),
    committed: async (item, epoch, result) => {
      shared?.ended(itemKey(item));
      await markCopyItemDone(store, migration, database, { item: itemKey(item), epoch, ...result });
    },
    indexBuilt: (target, index) => recordIndexDone(target, migration, index.indexOid),
    ...(shared ? { others: shared.others } : {}),
  };
}

/**
 * Whether this database's copy may resume inside: a plan was recorded, post-data has not started,
 * and the target database is the one this migration created (same OID). Read before the target
 * database would be re-created; the schema and the rows are checked once the new snapshot is taken.
 */
export async function mayResumeInside(run: MigrationRun, database: string): Promise<boolean> {
  const recorded = await loadCopyPlan(run.store, run.spec.migrationName, database);
  if (!recorded || recorded.plan.postData) return false;
  const owned = (await get(run.store, run.spec.migrationName))?.databases.find((d) => d.database === database)?.targetDatabase;
  if (!owned?.oid || (owned.action !== 'created' && owned.action !== 'overwritten')) return false;
  const oid = await withSession(run.spec.target, { purpose: 'catalog' }, async (c) => {
    const { rows } = await c.query<{ oid: string }>(`SELECT oid::int8::text AS oid FROM pg_database WHERE datname = $1`, [database]);
    return rows[0]?.oid;
  });
  return oid !== undefined && Number(oid) === owned.oid;
}

/** Plans the copy in the snapshot and records it: the items in the control catalog, the ledger in the target database. */
export async function freshCopyWork(
  run: MigrationRun,
  database: string,
  snapshot: SnapshotSessions,
  tables: readonly SourceTable[],
  signature: string,
): Promise<CopyWork> {
  const { items, xmin, nodes, parents } = await snapshot.use(async (probe) => ({
    items: await planItems(run.spec, tables, probe),
    xmin: (await snapshotBounds(probe)).xmin,
    nodes: await relfilenodes(
      probe,
      tables.map((t) => t.oid),
    ),
    // nothing in the stream names a partitioned table: a rename of one before the stream's first
    // look of the source's tables is found by comparing with these (cdc/prepare/tableWatch.ts)
    parents: await listPartitionedAncestors(
      probe,
      tables.map((t) => t.oid),
    ),
  }));
  await withSession(run.spec.target, { database, purpose: 'copy ledger', writable: true }, createLedger);
  await recordCopyPlan(
    run.store,
    run.spec.migrationName,
    database,
    { snapshotXmin: xmin, schemaSignature: signature, partitionedParents: parents },
    items.map((item) => ({
      item: itemKey(item),
      tableOid: item.table.oid,
      tableSchema: item.table.schema,
      tableName: item.table.name,
      ...(item.part ? { part: item.part.index, ...(item.part.bounds ? { range: item.part.bounds } : {}) } : {}),
      parts: item.part?.count ?? 1,
      relfilenode: nodes.get(item.table.oid) ?? '0',
    })),
  );
  // a fresh target database holds no fence of an earlier round, and the new items' epochs outrank all
  if (run.spec.runtime === 'agents') await openRound(run.store, run.spec.migrationName, database, snapshot.name);
  return { items, done: new Map(), builtIndexes: new Set(), ledger: ledgerOf(run, database) };
}

/** The recorded items as items over the tables read now; undefined when the two do not match one to one. */
function recordedItems(tables: readonly SourceTable[], records: readonly CopyItemRecord[]): CopyItem[] | undefined {
  const byTable = new Map<string, CopyItemRecord[]>();
  for (const record of records) byTable.set(record.tableOid, [...(byTable.get(record.tableOid) ?? []), record]);
  if (byTable.size !== tables.length) return undefined;
  const items: CopyItem[] = [];
  for (const table of tables) {
    const own = byTable.get(table.oid);
    if (!own) return undefined;
    if (own.length === 1 && own[0]!.part === undefined) {
      items.push({ table });
      continue;
    }
    const ranges: RangeBounds[] = [];
    for (const [index, record] of own.entries()) {
      if (record.part !== index || record.parts !== own.length || !record.range) return undefined;
      if (record.range.by === 'key' && !table.splitKey) return undefined;
      ranges.push(record.range);
    }
    items.push(...itemsForRanges(table, ranges));
  }
  return orderItems(items);
}

/**
 * The recorded plan, resumed in a newer snapshot; undefined when it cannot be (no plan, another
 * schema): the caller then copies the database again from the start.
 */
export async function resumedCopyWork(
  run: MigrationRun,
  database: string,
  snapshot: SnapshotSessions,
  tables: readonly SourceTable[],
  signature: string,
): Promise<CopyWork | undefined> {
  const migration = run.spec.migrationName;
  const recorded = await loadCopyPlan(run.store, migration, database);
  if (!recorded || recorded.plan.postData || recorded.plan.schemaSignature !== signature) return undefined;
  const items = recordedItems(tables, recorded.items);
  if (!items) return undefined;
  const records = await withSession(run.spec.target, { database, purpose: 'copy ledger', writable: true }, async (target) => {
    await createLedger(target);
    if (run.spec.runtime === 'agents') {
      // a new round: helpers of the old one claim nothing more, and the fences outrank their claims
      for (const bumped of await reopenRound(run.store, migration, database, snapshot.name))
        await raiseEpoch(target, migration, bumped.item, bumped.epoch);
    }
    // this run holds the migration's lease: any other copy session here is a dead run's or a helper's of a dead round
    await endEarlierCopySessions(target);
    return readDoneRecords(target, migration);
  });
  const changed = await changedTables(run, snapshot, recorded.plan, recorded.items, items, records);
  const redo = items.filter((j) => changed.has(j.table.oid));
  if (changed.size > 0) {
    const tablesToForget = [...changed].map((oid) => ({
      sql: redo.find((j) => j.table.oid === oid)!.table.sql,
      items: redo.filter((j) => j.table.oid === oid).map(itemKey),
    }));
    await withSession(run.spec.target, { database, purpose: 'copy ledger', writable: true }, (target) =>
      forgetTables(target, migration, tablesToForget),
    );
    await resetCopyItems(run.store, migration, database, redo.map(itemKey));
    for (const oid of changed) {
      const table = redo.find((j) => j.table.oid === oid)!.table;
      await run.warn(`table ${table.display} changed on the source since its copy began: it is copied again whole`, database);
    }
  }
  const done = new Map<string, CopyItemResult>();
  for (const item of items) {
    const record = records.get(itemKey(item));
    if (!record || changed.has(item.table.oid)) continue;
    done.set(itemKey(item), { rows: record.rows, bytes: record.bytes });
    // mirrored only where the control catalog missed it (the runner died between the two commits)
    if (recorded.items.find((i) => i.item === record.item)?.state !== 'done')
      await markCopyItemDone(run.store, migration, database, record);
  }
  const builtIndexes = new Set([...records.keys()].filter((k) => k.startsWith(indexItem(''))).map((k) => k.slice(indexItem('').length)));
  return { items, done, builtIndexes, ledger: ledgerOf(run, database) };
}

/**
 * Tables with an item done whose rows are not provably the same in this snapshot: rewritten since
 * (relfilenode), or a done range with another count or a row version newer than the first snapshot.
 */
async function changedTables(
  run: MigrationRun,
  snapshot: SnapshotSessions,
  plan: CopyPlanRecord,
  recorded: readonly CopyItemRecord[],
  items: readonly CopyItem[],
  records: ReadonlyMap<string, { rows: number }>,
): Promise<Set<string>> {
  const changed = new Set<string>();
  const nodeOf = new Map(recorded.map((i) => [i.tableOid, i.relfilenode]));
  await snapshot.use(async (source) => {
    const { xmax } = await snapshotBounds(source);
    const nodes = await relfilenodes(source, [...new Set(items.map((j) => j.table.oid))]);
    for (const item of items) {
      const record = records.get(itemKey(item));
      if (!record || changed.has(item.table.oid)) continue;
      if (run.signal.aborted) return;
      if (nodes.get(item.table.oid) !== nodeOf.get(item.table.oid)) {
        changed.add(item.table.oid);
        continue;
      }
      const census = await rangeCensus(source, item, plan.snapshotXmin, xmax);
      if (census.rows !== record.rows || census.newer !== 0) changed.add(item.table.oid);
    }
  });
  return changed;
}

/**
 * The copy of this database ended (done or failed): agents claim nothing more of the round this run
 * opened at `snapshot`, and a round a successor opened since is left open.
 */
export async function endCopyRound(run: MigrationRun, database: string, snapshot: SnapshotSessions): Promise<void> {
  if (run.spec.runtime === 'agents') await closeRound(run.store, run.spec.migrationName, database, snapshot.name);
}

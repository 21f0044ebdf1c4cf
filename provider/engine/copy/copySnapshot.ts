// The copy's snapshot and the source sessions that read in it. The copy holds what it copies, as
// pg_dump does: TRUNCATE and table rewrites (ALTER TABLE ... TYPE, VACUUM FULL, CLUSTER) are not
// MVCC-safe, and one committed after the snapshot makes the table look empty, or rewritten, to
// every reader of that snapshot, the copy and its verification alike: the migration would report
// Succeeded with the rows gone. So ACCESS SHARE is taken on every copied table BEFORE the snapshot
// and held until the copy (and an offline verification in that snapshot) is done; a TRUNCATE
// meanwhile waits, and commits after (online it is then streamed like any other change).
//
// An exclusive lock request queued behind those locks would in turn queue every LATER request of
// ours for the same table: a copy session opened after it would wait for it, it waits for our
// locks, and nothing would ever move. So every source session that reads tables in the snapshot
// is opened here, up front, and locks every table before any data moves; if one cannot (such a
// request arrived meanwhile), everything is let go, the other session's statement runs, and the
// phase starts again. Later, only pg_dump asks for table locks (with a lock wait timeout).
//
// With filters, only the tables that move (rows or definition) are locked: a left-out table is
// neither read nor dumped, so a session holding it exclusively does not concern the copy.
import type pg from 'pg';
import { closeSession, openSession } from '../connect/session';
import { SessionPool, type SnapshotSessions } from '../connect/snapshotSessions';
import { LOCK_NOT_AVAILABLE, sqlState } from '../connect/sqlstate';
import { PgferryError } from '../core/errors';
import type { ServerSpec } from '../input/migrationSpec';
import type { TableFilters } from '../input/patterns';
import { readFilterPlan } from '../filter/plan';
import { heldRelations, listCopiedTables, lockTables, tableLockedError, type TableName } from './tableLocks';
import { displayIdent } from '../connect/quote';

interface SnapshotSource<S> {
  /** Takes the copy's snapshot (an exported snapshot, or a replication slot's). */
  take(): Promise<S>;
  /** The name other sessions import. */
  nameOf(snapshot: S): string;
  /** Gives up a snapshot that cannot be used (it sees a table the locks do not cover). */
  discard(snapshot: S): Promise<void>;
}

interface SnapshotHolder {
  readonly name: string;
  release(): Promise<void>;
}

/**
 * The offline copy's snapshot (an online copy's is its replication slot's): one session holds a
 * REPEATABLE READ transaction open and exports its snapshot, which every copy session imports
 * (openSession's `snapshot`), so all of them read one state.
 */
export async function exportSnapshot(source: ServerSpec, database: string): Promise<SnapshotHolder> {
  const client = await openSession(source, { database, purpose: 'snapshot' });
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const { rows } = await client.query<{ name: string }>('SELECT pg_export_snapshot() AS name');
    return {
      name: rows[0]!.name,
      async release() {
        await client.query('COMMIT').catch(() => undefined);
        await closeSession(client);
      },
    };
  } catch (error) {
    await closeSession(client);
    throw error;
  }
}

export interface CopySnapshot<S> {
  readonly snapshot: S;
  readonly sessions: SnapshotSessions;
  /** Ends the snapshot sessions and the locks; the snapshot itself is released by its owner. */
  release(): Promise<void>;
}

export interface CopySnapshotArgs<S> {
  readonly source: ServerSpec;
  readonly database: string;
  readonly lockTimeoutSeconds: number;
  /** How many sessions read in the snapshot at once (the copy's table jobs). */
  readonly sessions: number;
  readonly snapshots: SnapshotSource<S>;
  /** The migration's filters: tables they leave out are not locked. */
  readonly filters?: TableFilters;
}

/** Tries of the lock phase before giving up (a table created, or an exclusive lock requested, each time). */
const MAX_ATTEMPTS = 5;

/** Locks, snapshot, sessions: retried from the start when a table appears or a lock request intervenes. */
export async function takeCopySnapshot<S>(args: CopySnapshotArgs<S>): Promise<CopySnapshot<S>> {
  let lastRetry: { reason: 'new-table' | 'lock-requested'; tables: readonly TableName[]; cause?: unknown } | undefined;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const outcome = await attemptCopySnapshot(args);
    if ('snapshot' in outcome) return outcome;
    lastRetry = outcome;
    // the other session's TRUNCATE or ALTER runs now that our locks are gone
    await new Promise((r) => setTimeout(r, 500 * attempt));
  }
  if (lastRetry?.reason === 'lock-requested') {
    throw await tableLockedError(args.source, args.database, lastRetry.tables, args.lockTimeoutSeconds, lastRetry.cause);
  }
  throw new PgferryError(
    'SOURCE_TABLES_CHANGING',
    `database ${displayIdent(args.database)}: tables kept being created on the source while the copy locked them (${MAX_ATTEMPTS} attempts)`,
    {
      category: 'source',
      field: `database ${displayIdent(args.database)}`,
      fix: 'start the migration again once the schema is not being changed',
    },
  );
}

type Attempt<S> = CopySnapshot<S> | { reason: 'new-table' | 'lock-requested'; tables: readonly TableName[]; cause?: unknown };

async function attemptCopySnapshot<S>(args: CopySnapshotArgs<S>): Promise<Attempt<S>> {
  const { source, database } = args;
  const holder = await openSession(source, {
    database,
    purpose: 'table locks',
    settings: { lock_timeout: `${args.lockTimeoutSeconds}s` },
  });
  const readers: pg.Client[] = [];
  let snapshot: S | undefined;
  const giveUp = async (): Promise<void> => {
    await Promise.all(readers.map(closeSession));
    if (snapshot !== undefined) await args.snapshots.discard(snapshot);
    await closeSession(holder);
  };
  try {
    // READ COMMITTED: the holder keeps locks, no snapshot of its own.
    await holder.query('BEGIN');
    const tables = await movedTables(holder, args.filters);
    try {
      await lockTables(holder, tables);
    } catch (error) {
      if (sqlState(error) === LOCK_NOT_AVAILABLE) throw await tableLockedError(source, database, tables, args.lockTimeoutSeconds, error);
      throw error;
    }
    const held = await heldRelations(holder);
    snapshot = await args.snapshots.take();
    const name = args.snapshots.nameOf(snapshot);
    for (let i = 0; i < Math.max(1, args.sessions); i++) {
      readers.push(
        await openSession(source, { database, purpose: 'copy', snapshot: name, settings: { lock_timeout: `${args.lockTimeoutSeconds}s` } }),
      );
    }
    const seen = await movedTables(readers[0]!, args.filters);
    const unlocked = seen.filter((t) => !held.has(t.oid));
    if (unlocked.length > 0) {
      await giveUp();
      return { reason: 'new-table', tables: unlocked };
    }
    for (const reader of readers) {
      try {
        // NOWAIT: a wait here can only be behind an exclusive request that itself waits for the holder
        await lockTables(reader, seen, { nowait: true });
      } catch (error) {
        if (sqlState(error) !== LOCK_NOT_AVAILABLE) throw error;
        await giveUp();
        return { reason: 'lock-requested', tables: seen, cause: error };
      }
    }
    const taken = snapshot;
    return {
      snapshot: taken,
      sessions: new SessionPool(name, readers),
      release: async () => {
        await Promise.all(readers.map(closeSession));
        await holder.query('COMMIT').catch(() => undefined);
        await closeSession(holder);
      },
    };
  } catch (error) {
    await giveUp();
    throw error;
  }
}

/** The tables the copy locks: every copied table, minus those the filters leave out. */
async function movedTables(client: pg.Client, filters: TableFilters | undefined): Promise<TableName[]> {
  const tables = await listCopiedTables(client);
  if (!filters) return tables;
  const plan = await readFilterPlan(client, filters);
  return tables.filter((t) => !plan.leftOut.has(t.oid));
}

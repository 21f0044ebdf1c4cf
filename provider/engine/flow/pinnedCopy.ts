// The copy of a table resync (flow/tableResync.ts): the tables emptied and copied again at one
// pinned source position while the other tables stream. Why it is exact:
//   1. The apply is held at a boundary between source transactions (cdc/pin/), the source
//      snapshot S is taken and the position L read in the same statement; a transaction the commit
//      log shows committed but S counts as running gives the pin up (tried again), as for
//      verification (docs/verification.md).
//   2. Until L the apply skips the tables' changes (ChangeTracker.resyncing: S holds them), and
//      waits at the first transaction at or past L. There a target transaction locks the tables
//      (ACCESS EXCLUSIVE), empties them, takes them out of the skipped set; the apply goes on.
//      The values of the target's own columns (a DBA's) are set aside first, by key, and put back
//      before the commit (flow/keptColumns.ts).
//   3. The copy reads the tables in S (everything before L, nothing after) into that transaction,
//      which commits; the source tables are locked right after S is taken, so no rewrite empties
//      them in S's eyes (holdSourceTables: one committed in between gives the pin up). A change at or past L waits for the lock, so it is applied on the copied rows,
//      after them. The other tables stream meanwhile, until the stream's next change of these
//      (the apply keeps the source's commit order), which waits for the commit.
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { tablesAsOfSnapshot, type SourceTable } from '../catalog/introspect';
import { closeSession, openSession } from '../connect/session';
import { qualified } from '../connect/quote';
import { LOCK_NOT_AVAILABLE, sqlState } from '../connect/sqlstate';
import { errorMessage } from '../core/errors';
import { qualifiedKey } from '../core/names';
import type { Applier } from '../cdc/apply/applier';
import type { OnlineStream } from '../cdc/apply/onlineStream';
import { ALL_TABLES, type PinRequest } from '../cdc/pin/pinRequest';
import { readPinPosition } from '../cdc/pin/sourcePosition';
import { SOURCE_DDL_LOCK_TIMEOUT_MS } from '../cdc/prepare/sourceDdl';
import { replicaRolePermitted } from '../footprint/targetFiring';
import { copyFormat, copyInSql, copyOutSql } from '../copy/copyItem';
import { CopyFramesIn, CopyFramesOut } from '../copy/copyRelay';
import type { MigrationRun } from '../run/migrationRun';
import { keptColumnsRefusal, putKeptBack, readKeptColumns, setKeptAside, type KeptColumns } from './keptColumns';

/** How long the apply may take to hold (a large source transaction being applied), and to let another pin finish first. */
const HOLD_WAIT_MS = 60_000;
/** The copy's lock on the target tables waits at most this long (a verifier's read of one, a session of the user's). */
const TARGET_LOCK_TIMEOUT = '30s';

/** What the tables to copy are, and under which names the stream brings their changes. */
export interface PinnedCopy {
  readonly tables: readonly SourceTable[];
  /** Every name their changes come under (a straggler's change under one makes the pin inexact). */
  readonly names: ReadonlySet<string>;
  /** The names whose changes the apply skips until the pin (ChangeTracker.resyncing). */
  readonly skip: ReadonlySet<string>;
}

/** Copied at `lsn`; 'stream ended': the stream failed (nothing holds until it runs again); undefined: this pin was not exact. */
export type PinnedCopyOutcome = { readonly lsn: bigint; readonly rows: number } | 'stream ended' | undefined;

/** Asks the apply to hold, waiting while another pin (a verifier's) is under way. */
async function requestPinWhenFree(
  applier: Applier,
  atPin: (inexact: ReadonlySet<string>) => Promise<void>,
): Promise<PinRequest | undefined> {
  const deadline = Date.now() + HOLD_WAIT_MS;
  for (;;) {
    try {
      return applier.requestPin(atPin);
    } catch {
      if (Date.now() > deadline) return undefined;
      await sleep(100);
    }
  }
}

/**
 * While the apply waits at the pin: the tables locked and emptied in the copy's target
 * transaction, and their changes applied again from here (each waits for the copy's commit). The
 * target's own columns' values are set aside first (flow/keptColumns.ts), read under the lock so a
 * column made meanwhile is among them; returned to be put back once the copy is in.
 */
async function emptyTables(
  target: pg.Client,
  copy: PinnedCopy,
  referenced: ReadonlySet<string>,
  applier: Applier,
  replica: boolean,
): Promise<KeptColumns[]> {
  await target.query('BEGIN');
  await target.query(`SET LOCAL lock_timeout = '${TARGET_LOCK_TIMEOUT}'`);
  for (const table of copy.tables) await target.query(`LOCK TABLE ONLY ${table.sql} IN ACCESS EXCLUSIVE MODE`);
  await target.query(`SET LOCAL lock_timeout = 0`);
  // read under the lock: a foreign key made meanwhile is among them
  if (!replica) {
    const reaching = await outsideForeignKeys(target, copy.tables);
    if (reaching.length > 0) throw new Error(outsideKeysRefusal(reaching));
  }
  const kept = await readKeptColumns(target, copy.tables);
  const refusal = keptColumnsRefusal(kept);
  if (refusal) throw new Error(refusal);
  await setKeptAside(target, kept);
  for (const table of copy.tables) {
    await target.query(
      referenced.has(qualifiedKey(table.schema, table.name)) ? `DELETE FROM ONLY ${table.sql}` : `TRUNCATE ONLY ${table.sql}`,
    );
  }
  for (const name of copy.skip) applier.tracker.resyncing.delete(name);
  for (const table of copy.tables) applier.tracker.forget(table.sql);
  return kept;
}

/** A foreign key on the target from a table outside the re-copy into one of its tables. */
interface OutsideKey {
  readonly name: string;
  readonly referencing: string;
  readonly referenced: string;
}

/**
 * The foreign keys into the re-copied tables from tables outside them. On a target without replica
 * role the source's foreign keys are set aside while streaming (footprint/targetForeignKeys.ts), so
 * each one here was made on the target alone: emptying the table would fire its action, deleting or
 * changing that table's rows (ON DELETE CASCADE, SET NULL) or failing.
 */
async function outsideForeignKeys(target: pg.Client, tables: readonly SourceTable[]): Promise<OutsideKey[]> {
  const names = tables.map((t) => qualified(t.schema, t.name));
  const { rows } = await target.query<OutsideKey>(
    `SELECT pg_catalog.quote_ident(k.conname) AS name, k.conrelid::pg_catalog.regclass::text AS referencing,
            k.confrelid::pg_catalog.regclass::text AS referenced
       FROM pg_catalog.pg_constraint k
      WHERE k.contype = 'f'
        AND k.confrelid IN (SELECT pg_catalog.to_regclass(x) FROM pg_catalog.unnest($1::text[]) AS x)
        AND k.conrelid NOT IN (SELECT pg_catalog.to_regclass(x) FROM pg_catalog.unnest($1::text[]) AS x)
      ORDER BY 2, 1`,
    [names],
  );
  return rows;
}

function outsideKeysRefusal(keys: readonly OutsideKey[]): string {
  const k = keys[0]!;
  const more = keys.length > 1 ? ` (and ${keys.length - 1} more)` : '';
  return `foreign key ${k.name} of ${k.referencing}, made on the target alone, references ${k.referenced}${more}: emptying it for the re-copy would reach that table's rows, so nothing was emptied; drop the key on the target (ALTER TABLE ${k.referencing} DROP CONSTRAINT ${k.name}), ask the resync again, then add it back`;
}

/** Target tables a foreign key references: TRUNCATE refuses them whatever the role, DELETE does not. */
async function referencedTables(target: pg.Client, tables: readonly SourceTable[]): Promise<Set<string>> {
  const { rows } = await target.query<{ schema: string; name: string }>(
    `SELECT DISTINCT n.nspname AS schema, c.relname AS name FROM pg_constraint k JOIN pg_class c ON c.oid = k.confrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE k.contype = 'f' AND (n.nspname, c.relname) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
    [tables.map((t) => t.schema), tables.map((t) => t.name)],
  );
  return new Set(rows.map((r) => qualifiedKey(r.schema, r.name)));
}

/**
 * The tables emptied and copied again at one pinned position (the file's comment says why it is
 * exact); undefined when this pin could not be exact (tried again).
 */
export async function copyAtPin(run: MigrationRun, stream: OnlineStream, copy: PinnedCopy): Promise<PinnedCopyOutcome> {
  const { names } = copy;
  // the tables as the pin's snapshot has them, once it is taken (tablesAsOfSnapshot)
  let tables = copy.tables;
  const { spec } = run;
  const database = stream.database;
  const source = await openSession(spec.source, { database, purpose: 'table resync', writable: true });
  let target: pg.Client | undefined;
  try {
    target = await openSession(spec.target, { database, purpose: 'table resync', writable: true });
    const t = target;
    // as the apply: the target's triggers do not fire again for rows the source's already produced
    const replica = await replicaRolePermitted(t);
    if (replica) await t.query('SET session_replication_role = replica');
    const referenced = await referencedTables(t, tables);
    await source.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    const applier = stream.applier;
    // a stream that failed runs no session: nothing would ever hold (the loop records the stop, and tries it again)
    const ended = stream.done.then(
      () => 'stream ended' as const,
      () => 'stream ended' as const,
    );
    if (stream.failure) return 'stream ended';
    let position: Awaited<ReturnType<typeof readPinPosition>>;
    let exact = false;
    let lockFailure: Error | undefined;
    let kept: KeptColumns[] = [];
    const pin = await requestPinWhenFree(applier, async (inexact) => {
      exact = !inexact.has(ALL_TABLES) && ![...names].some((n) => inexact.has(n));
      if (!exact) return;
      await emptyTables(t, { ...copy, tables }, referenced, applier, replica).then(
        (aside) => (kept = aside),
        (error: unknown) => (lockFailure = error instanceof Error ? error : new Error(errorMessage(error))),
      );
    });
    if (!pin) return undefined;
    const held = await within(Promise.race([pin.held.then(() => 'held' as const), ended]), HOLD_WAIT_MS);
    if (held !== 'held') {
      applier.cancelPin(pin);
      return held === 'stream ended' ? held : undefined;
    }
    try {
      position = await readPinPosition(source, { server: run.spec.source, database: stream.database, migration: run.spec.migrationName });
      if (position && !(await holdSourceTables(source, tables))) position = undefined;
      // The shape the resync read when it was asked for may lack a column added on the source
      // since, which the apply has added on the target meanwhile: copied without it, the target
      // would take it for one of its own, set its values aside and put them back by key, leaving the
      // column's default in the rows the apply skipped for the copy. Read here, before the apply
      // reaches the pin and the tables are emptied, it is the shape of the rows the copy reads.
      if (position) tables = await tablesAsOfSnapshot(source, run.sourceMajor, tables);
      pin.release(position);
      if (!position) return undefined;
    } catch (error) {
      pin.release(undefined);
      throw error;
    }
    const reached = await Promise.race([
      pin.done.then(
        () => 'reached' as const,
        () => 'abandoned' as const, // the session ended before the position: tried again
      ),
      ended,
    ]);
    if (reached !== 'reached') {
      applier.cancelPin(pin);
      return reached === 'stream ended' ? reached : undefined;
    }
    if (lockFailure) throw lockFailure;
    if (!exact) return undefined;
    let rows = 0;
    for (const table of tables) rows += await copyTable(source, t, table, run.signal);
    await putKeptBack(t, kept);
    await t.query('COMMIT');
    return { lsn: position.lsn, rows };
  } finally {
    // Ending the sessions ends their transactions: the source's snapshot and locks, the target's
    // emptied tables when the copy did not commit. A ROLLBACK sent first would wait forever behind a
    // COPY whose relay failed (nothing reads the rest of its output), leaving the session idle in
    // transaction with the tables locked against the application's DDL; ending a session with a
    // query under way closes its socket instead.
    await Promise.all([closeSession(source), closeSession(target)]);
  }
}

/** Tables rewritten since the transaction's snapshot: their file the snapshot saw is not the one the catalog has now. */
const REWRITTEN_SQL = `SELECT count(*)::int AS n FROM pg_catalog.pg_class c
  WHERE c.oid IN (SELECT pg_catalog.to_regclass(x) FROM pg_catalog.unnest($1::pg_catalog.text[]) AS x)
    AND c.relfilenode OPERATOR(pg_catalog.<>) 0
    AND c.relfilenode IS DISTINCT FROM pg_catalog.pg_relation_filenode(c.oid)`;

/**
 * The source tables locked in the pin's snapshot transaction (ACCESS SHARE, as the first copy
 * holds them), so that nothing rewrites them until the copy has read them. A rewrite (ALTER COLUMN
 * ... TYPE, ADD COLUMN with a volatile default) is not MVCC-safe: a snapshot taken before it sees
 * the rewritten table empty, and the target table would be left without the rows it emptied. One that
 * committed between the snapshot and the lock is seen here, by the table's file (the snapshot's
 * pg_class row against the catalog's current one), and the pin is given up and tried again, as is
 * a lock not had within the source's short lock timeout.
 */
export async function holdSourceTables(source: pg.Client, tables: readonly SourceTable[]): Promise<boolean> {
  await source.query(`SET LOCAL lock_timeout = '${SOURCE_DDL_LOCK_TIMEOUT_MS}ms'`);
  try {
    for (const table of tables) await source.query(`LOCK TABLE ONLY ${table.sql} IN ACCESS SHARE MODE`);
  } catch (error) {
    if (sqlState(error) === LOCK_NOT_AVAILABLE) return false;
    throw error;
  }
  await source.query(`SET LOCAL lock_timeout = 0`);
  const { rows } = await source.query<{ n: number }>(REWRITTEN_SQL, [tables.map((t) => t.sql)]);
  return rows[0]!.n === 0;
}

/** One table's rows in the source session's snapshot into the target session's transaction (the copy engine's relay). */
async function copyTable(source: pg.Client, target: pg.Client, table: SourceTable, signal: AbortSignal): Promise<number> {
  if (table.columns.length === 0) {
    const { rows } = await source.query<{ n: string }>(`SELECT count(*)::int8 AS n FROM ONLY ${table.sql}`);
    const n = Number(rows[0]!.n);
    if (n > 0) await target.query(`INSERT INTO ${table.sql} SELECT FROM generate_series(1, $1::int8)`, [n]);
    return n;
  }
  const item = { table };
  const format = copyFormat(item);
  const out = new CopyFramesOut(copyOutSql(item, format));
  const into = new CopyFramesIn(copyInSql(item, false, format));
  source.query(out);
  target.query(into);
  await pipeline(out, into, { signal });
  return into.rowCount;
}

/** What `promise` settled to within `ms`, or undefined. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// The source's half of every pin (a verification's, a table resync's): in the source session's
// REPEATABLE READ transaction, the snapshot and the WAL insert position read in the statement that
// takes the snapshot, the stragglers checked, and a message emitted past the position so that an
// idle source still shows the apply it is passed. Why the pair is exact: docs/verification.md.
//
// A walsender sends only WAL that is flushed, and a message outside a transaction is not flushed
// by itself: on an idle source it waited for the next commit or the background writer's periodic
// record, which held the apply at the pin, and every pin after it, for many seconds. PostgreSQL 17
// flushes it when asked; an older source gets the message in a transaction of its own, committed
// from a second session, whose commit flushes it.
import type pg from 'pg';
import { pinMessagePrefix } from '../../core/names';
import { serverMajor, withSession } from '../../connect/session';
import type { ServerSpec } from '../../input/migrationSpec';
import { parseLsn } from '../../core/lsn';
import type { PinnedPosition } from './pinRequest';
import { parseSnapshot, visibleIn } from './sourcePin';

/** The snapshot and position, read in the statement that takes the snapshot (REPEATABLE READ: the transaction's). */
const SOURCE_PIN_SQL = `SELECT pg_catalog.txid_current_snapshot()::text AS snapshot, pg_catalog.pg_current_wal_insert_lsn()::text AS lsn`;

/**
 * Transactions the snapshot counts as running that have already committed: one may have been
 * applied before the apply held (its commit was flushed and streamed before it left the source's
 * list of running transactions), and its tables are not known here. The pin is then tried again.
 */
const COMMITTED_RUNNING_SQL = `SELECT count(*)::int AS n FROM pg_catalog.unnest($1::text[]) AS x
  WHERE pg_catalog.txid_status(x::int8) = 'committed'`;

/** The first major whose pg_logical_emit_message can flush the message it writes. */
const FLUSHING_MESSAGE_MAJOR = 17;

/** Where a pin's pinned session is: the server and database a second session opens on, when one is needed. */
export interface PinSource {
  readonly server: ServerSpec;
  readonly database: string;
  readonly migration: string;
}

/**
 * The pinned position of `source`'s transaction (begun REPEATABLE READ, the apply held), or
 * undefined when a straggler makes it inexact (try again). `emitFailed` sees a refused message
 * (a role without EXECUTE on pg_logical_emit_message) before it is thrown.
 */
export async function readPinPosition(
  source: pg.Client,
  at: PinSource,
  emitFailed: (error: unknown) => never = (error) => {
    throw error;
  },
): Promise<PinnedPosition | undefined> {
  const { rows } = await source.query<{ snapshot: string; lsn: string }>(SOURCE_PIN_SQL);
  const snapshot = parseSnapshot(rows[0]!.snapshot);
  const running = [...snapshot.running].map(String);
  const committed = running.length ? (await source.query<{ n: number }>(COMMITTED_RUNNING_SQL, [running])).rows[0]!.n : 0;
  if (committed > 0) return undefined;
  await emitPastPosition(source, at).catch(emitFailed);
  return { lsn: parseLsn(rows[0]!.lsn), visible: (xid) => visibleIn(snapshot, xid) };
}

/** A message past the pinned position, flushed so that the walsender sends it at once. */
async function emitPastPosition(source: pg.Client, at: PinSource): Promise<void> {
  const prefix = pinMessagePrefix(at.migration);
  if ((await serverMajor(source)) >= FLUSHING_MESSAGE_MAJOR) {
    await source.query(`SELECT pg_catalog.pg_logical_emit_message(false, $1, '', true)`, [prefix]);
    return;
  }
  // the pinned session's transaction stays open: the commit that flushes comes from another
  await withSession(at.server, { database: at.database, purpose: 'pin', writable: true }, (flushing) =>
    flushing.query(`SELECT pg_catalog.pg_logical_emit_message(true, $1, '')`, [prefix]),
  );
}

// The rows a fall-back carries into the old source's tables of the window (switchover/windowTables.ts):
// the user made each table there, empty, and the carry writes the new server's rows into it inside
// the hold. Until the fall-back's point of no return they are pgferry's to take back (a stop, a
// failure, a runner killed and resumed), and only they: a bystander (a DBA, a `BEGIN READ WRITE`
// client: the window's tables are not streamed, so no fence trigger is on them) may have written
// the table since, or renamed it away and made another of its name.
//
// So the carry records, in its old-source transaction and before its first row, each table's OID
// there and the transaction's id with its epoch (txid_current), one ledger row per table (change
// windowCarry, object the table's OID on the old source). Taking them back deletes, in the table
// found by that OID, the rows whose xmin is that transaction: exactly the rows the carry inserted
// and nobody changed since. A row a bystander updated is a new version with the bystander's xmin
// and stays; one it inserted or made anew likewise; a frozen row keeps its xmin (PostgreSQL 9.4 on
// freezes with a flag, not by overwriting it); a carry that never committed left no row with its
// xmin. The id is 32 bits on the rows, so the take-back refuses once 2^32 transactions have passed
// since the carry (one of them could then have the same id); the window is hours, that is years.
// Recorded before the rows, undone after them: a runner killed anywhere takes back what is there
// and nothing else, again and again alike. Past the point of no return the rows are the
// applications' on the old source: the rows are kept, in the statement that records that point
// (control/fallbackWindows.ts markFallBackReleased), so no later release reaches them.
import type pg from 'pg';
import { displayName, qualified } from '../connect/quote';
import { withSession } from '../connect/session';
import { inTransaction } from '../connect/transaction';
import { CONTROL_SCHEMA } from '../core/names';
import { unlessDatabaseGone, type FootprintContext, type RestoreContext, type ReversibleChange } from './change';
import { markUndone, pendingChanges, recordChanges } from './ledger';

const CHANGE = 'windowCarry' as const;

/** What takes a carry back: the carry's transaction id with its epoch, and the table's name then (for messages). */
interface CarryUndo {
  readonly xid: string;
  readonly schema: string;
  readonly name: string;
}

/** A table of the old source a carry writes, found by its name and locked in the carry's transaction. */
interface CarriedTable {
  /** Its OID on the old source. */
  readonly oid: string;
  readonly schema: string;
  readonly name: string;
}

/** How many transaction ids may pass before a carry's id could be another transaction's on a row. */
const XID_SPACE = 2n ** 32n;

const currentXid = async (client: pg.Client): Promise<bigint> =>
  BigInt((await client.query<{ xid: string }>('SELECT pg_catalog.txid_current()::text AS xid')).rows[0]!.xid);

/**
 * In the carry's old-source transaction, its tables locked and before its first row: the
 * transaction's id and each table's OID recorded in the ledger. A carry still pending is taken back
 * first (takeBackCarried), so a pending row here would be an earlier carry's: refused.
 */
export async function recordCarry(
  ctx: Pick<RestoreContext, 'spec' | 'store'>,
  database: string,
  oldSource: pg.Client,
  tables: readonly CarriedTable[],
): Promise<void> {
  const xid = (await currentXid(oldSource)).toString();
  const entries = tables.map((t) => ({ object: t.oid, undo: { xid, schema: t.schema, name: t.name } satisfies CarryUndo }));
  const recorded = await recordChanges<CarryUndo>(ctx.store, ctx.spec.migrationName, database, CHANGE, entries);
  const earlier = recorded.find((r) => r.undo.xid !== xid);
  if (earlier)
    throw new Error(
      `the rows an earlier fall-back carried into ${displayName(earlier.undo.schema, earlier.undo.name)} on the old source are not taken back yet`,
    );
}

/** The table of that OID on the old source, locked so that it is not renamed under the delete; undefined once dropped. */
async function lockedByOid(client: pg.Client, oid: string): Promise<{ schema: string; name: string } | undefined> {
  const byOid = async () =>
    (
      await client.query<{ schema: string; name: string }>(
        `SELECT n.nspname AS schema, c.relname AS name FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE c.oid = $1::pg_catalog.oid AND c.relkind IN ('r', 'p')`,
        [oid],
      )
    ).rows[0];
  for (;;) {
    const table = await byOid();
    if (!table) return undefined;
    await client.query(`LOCK TABLE ${qualified(table.schema, table.name)} IN ROW EXCLUSIVE MODE`);
    // renamed between the read and the lock (a rename waits behind the lock from here on): read again
    const now = await byOid();
    if (now?.schema === table.schema && now.name === table.name) return table;
  }
}

/** Deletes in one table, found by its OID, the rows the carry's transaction inserted; returns how many. */
async function takeBackOne(client: pg.Client, oid: string, undo: CarryUndo, current: bigint): Promise<number> {
  const table = await lockedByOid(client, oid);
  if (!table) return 0; // the table was dropped, and its rows with it
  const carried = BigInt(undo.xid);
  if (current - carried >= XID_SPACE - 1n)
    throw new Error(
      `the rows a fall-back carried into ${displayName(table.schema, table.name)} on the old source can no longer be told from others ` +
        `(2^32 transactions since its transaction ${undo.xid}): delete them there by hand, then fall back again`,
    );
  const { rowCount } = await client.query(`DELETE FROM ${qualified(table.schema, table.name)} WHERE xmin = $1::pg_catalog.xid`, [
    (carried % XID_SPACE).toString(),
  ]);
  return rowCount ?? 0;
}

/**
 * Takes back, in one old-source transaction, the rows still pending of the carries into a
 * database's tables (each table by its OID, each row by the carry's transaction id), then marks
 * them undone. Returns how many rows per table. Idempotent: a second time finds nothing pending,
 * and a take-back killed before its mark deletes nothing more when done again.
 */
export async function takeBackCarried(ctx: FootprintContext, database: string): Promise<{ table: string; rows: number }[]> {
  const name = ctx.spec.migrationName;
  const pending = await pendingChanges<CarryUndo>(ctx.store, name, database, CHANGE);
  if (pending.length === 0) return [];
  const purpose = 'fall-back tables of the window';
  const taken =
    (await unlessDatabaseGone(() =>
      withSession(ctx.spec.source, { database, purpose, writable: true }, (client) =>
        inTransaction(client, async () => {
          const current = await currentXid(client);
          const rows: number[] = [];
          for (const p of pending) rows.push(await takeBackOne(client, p.object, p.undo, current));
          return rows;
        }),
      ),
    )) ?? pending.map(() => 0);
  for (const [i, p] of pending.entries()) await markUndone(ctx.store, name, database, CHANGE, p.object, { rowsTakenBack: taken[i] });
  return pending.map((p, i) => ({ table: displayName(p.undo.schema, p.undo.name), rows: taken[i]! }));
}

export const windowCarry = {
  name: CHANGE,
  server: 'source',
  describe:
    "rows a fall-back carried into the old source's tables of the window (made there by the user, empty), taken back by the carry's transaction id in each table found by its OID, unless the fall-back passed its point of no return",
  ledger: `${CONTROL_SCHEMA}.footprint (change windowCarry: object the table's OID on the old source, undo.xid the carry's transaction with its epoch, kept_at)`,
  rights: {
    server: 'source',
    needs: 'INSERT and DELETE on the tables the user makes on the old source for the tables of a fallback window',
    // the tables are made by the user in the window, long after validation: the carry's own error names a missing right
    refusal: () => Promise.resolve(undefined),
  },
  madeFor: (spec) => spec.mode === 'Online' && spec.fallbackWindow !== undefined,
  pending: async (ctx, database) =>
    (await pendingChanges<CarryUndo>(ctx.store, ctx.spec.migrationName, database, CHANGE)).map(
      (p) =>
        `rows carried into ${displayName(p.undo.schema, p.undo.name)} (OID ${p.object} on the old source) by transaction ${p.undo.xid}: DELETE FROM the table of that OID WHERE xmin = '${(BigInt(p.undo.xid) % XID_SPACE).toString()}'`,
    ),
  undo: (ctx, database) => takeBackCarried(ctx, database),
  failure: () => ({
    what: "could not take back the rows a fall-back carried into the old source's tables of the window",
    left: `they are still there; each table's OID and the carry's transaction are in ${CONTROL_SCHEMA}.footprint on the target, and a resume takes them back`,
  }),
} satisfies ReversibleChange;

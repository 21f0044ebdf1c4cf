// The fence's second line: a write the source committed after the cutover point. The applier
// stops at the marker (switchover/marker.ts), so such a write never reaches the target, and once the
// slot is dropped it is lost. Before anything irreversible the cutover reads the stream past the
// point without consuming it: the slot is first moved up to the point the applier committed (the
// target holds everything before it, and its origin says so), the server's WAL flushed
// (switchover/flushedPoint.ts), then peeked
// (pg_logical_slot_peek_binary_changes, pgoutput, the stream's own publication), and every
// transaction that changed a streamed table is a write through the fence. Each session the fence's
// trigger let write said who it is in the same transaction (footprint/fenceTriggers.ts), so the
// writer is named exactly: user, application name, address; a write that carries no such message
// came from a session the trigger never saw (a trigger a superuser disabled or dropped, or a
// cutover without the fence).
import type pg from 'pg';
import { displayIdent, displayName, ident } from '../connect/quote';
import { OBJECT_IN_USE, sqlState } from '../connect/sqlstate';
import { formatLsn } from '../core/lsn';
import { decodePgoutput } from '../cdc/decode/pgoutput';
import { flushedPoint } from './flushedPoint';

/** A session the fence let write, as its trigger said it in the stream. */
interface FencedWriter {
  readonly user: string;
  readonly application: string;
  readonly address: string;
  readonly pid: number;
}

/** One source transaction committed after the cutover point that changed streamed tables. */
interface LateWrite {
  readonly xid: number;
  readonly commitLsn: string;
  readonly tables: readonly string[];
  /** Who wrote, when the fence's trigger saw the session (empty: it did not). */
  readonly writers: readonly FencedWriter[];
}

/** How long the slot may stay in use by the walsender of the stream that just ended. */
const SLOT_FREE_WITHIN_MS = 15_000;

/**
 * The transactions committed on the source after `after` (the position the applier stopped at:
 * the end of the marker's transaction) that changed tables of `publication`, read through `slot`
 * in the connected source database without consuming them. The slot is moved up to `after` first:
 * everything before it is on the target.
 */
export async function lateWrites(
  client: pg.Client,
  slot: string,
  publication: string,
  after: bigint,
  fencePrefix: string,
  sourceMajor: number,
): Promise<LateWrite[]> {
  const options = [`'proto_version', '1'`, `'publication_names', $2`];
  if (sourceMajor >= 14) options.push(`'messages', 'true'`);
  // a write committed with synchronous_commit off just before is not readable until it is flushed
  await flushedPoint(client, fencePrefix);
  const rows = await whileSlotInUse(async () => {
    await client.query(
      `SELECT pg_catalog.pg_replication_slot_advance(slot_name, $2::pg_lsn)
         FROM pg_catalog.pg_replication_slots WHERE slot_name = $1 AND confirmed_flush_lsn < $2::pg_lsn`,
      [slot, formatLsn(after)],
    );
    return (
      await client.query<{ data: Buffer }>(
        `SELECT data FROM pg_catalog.pg_logical_slot_peek_binary_changes($1, NULL, NULL, ${options.join(', ')})`,
        [slot, ident(publication)],
      )
    ).rows;
  });
  return decodeLateWrites(
    rows.map((r) => r.data),
    after,
    fencePrefix,
  );
}

/** The peeked pgoutput messages read into the transactions that changed a table, committed at or after `after`. */
function decodeLateWrites(messages: readonly Buffer[], after: bigint, fencePrefix: string): LateWrite[] {
  const relations = new Map<number, string>();
  const found: LateWrite[] = [];
  let current: { xid: number; finalLsn: bigint; tables: Set<string>; writers: Map<number, FencedWriter> } | undefined;
  for (const bytes of messages) {
    const m = decodePgoutput(bytes);
    switch (m.tag) {
      case 'relation':
        relations.set(m.oid, displayName(m.schema, m.name));
        break;
      case 'begin':
        current = m.finalLsn >= after ? { xid: m.xid, finalLsn: m.finalLsn, tables: new Set(), writers: new Map() } : undefined;
        break;
      case 'insert':
      case 'update':
      case 'delete':
        current?.tables.add(relations.get(m.relationOid) ?? `relation ${m.relationOid}`);
        break;
      case 'truncate':
        for (const oid of m.relationOids) current?.tables.add(relations.get(oid) ?? `relation ${oid}`);
        break;
      case 'message': {
        const writer = m.prefix === fencePrefix ? fencedWriter(m.content) : undefined;
        if (writer && current) current.writers.set(writer.pid, writer);
        break;
      }
      case 'commit':
        if (current && current.tables.size > 0) {
          found.push({
            xid: current.xid,
            commitLsn: formatLsn(current.finalLsn),
            tables: [...current.tables],
            writers: [...current.writers.values()],
          });
        }
        current = undefined;
        break;
      default:
        break;
    }
  }
  return found;
}

function fencedWriter(content: Uint8Array): FencedWriter | undefined {
  try {
    const j = JSON.parse(Buffer.from(content).toString('utf8')) as Record<string, unknown>;
    return { user: String(j.user), application: String(j.application), address: String(j.address), pid: Number(j.pid) };
  } catch {
    return undefined;
  }
}

/** Runs `read` again while the slot is still held by the walsender of the stream that just ended. */
async function whileSlotInUse<T>(read: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + SLOT_FREE_WITHIN_MS;
  for (;;) {
    try {
      return await read();
    } catch (error) {
      if (sqlState(error) !== OBJECT_IN_USE || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/** One line naming the late writes of a database and who made them. */
export function lateWritesMessage(database: string, writes: readonly LateWrite[]): string {
  const tables = [...new Set(writes.flatMap((w) => w.tables))];
  const writers = new Map<string, FencedWriter>();
  for (const w of writes) for (const s of w.writers) writers.set(`${s.user}\0${s.application}\0${s.address}\0${s.pid}`, s);
  const unseen = writes.filter((w) => w.writers.length === 0).length;
  const named = [...writers.values()].map(
    (s) => `user ${displayIdent(s.user)}, application "${s.application}", address ${s.address} (pid ${s.pid})`,
  );
  if (unseen > 0) {
    named.push(
      `${unseen} transaction(s) from a session the fence's trigger did not see (the trigger disabled or dropped, or no fence): look for it in pg_stat_activity of ${displayIdent(database)} on the source`,
    );
  }
  const shownTables = `${tables.slice(0, 5).join(', ')}${tables.length > 5 ? ` and ${tables.length - 5} more` : ''}`;
  return `${displayIdent(database)}: ${writes.length} transaction(s) committed on the source after the cutover point wrote ${shownTables}, by ${named.join('; ')}`;
}

// A point in a server's WAL that a stream can be held to. Logical decoding reads only flushed WAL,
// and the end of the WAL inserted is not always flushed: a writer with synchronous_commit off is
// told its transaction committed before its commit record is flushed, and a record that is not a
// commit (a running-transactions snapshot, a non-transactional message) can sit unflushed in a
// partial page until some later commit flushes it. Reading the end of the WAL alone gives a point a
// stream may never be sent, or one a commit short of it.
import type pg from 'pg';
import { literal } from '../connect/quote';
import { parseLsn } from '../core/lsn';

/**
 * Writes an empty logical message under `prefix` in a transaction committed synchronously to the
 * local disk, and returns the end of the message. Every transaction that committed before the call
 * has its commit record before that point, and the commit flushes all WAL up to its own record, so
 * a walsender can send everything before the point and a stream that confirms it has applied all of
 * it. `local`, so that a synchronous standby that is away never holds this here; READ WRITE, so that
 * a database fenced read-only by default does not refuse it. The appliers and the late-writes read
 * pass over a message under a prefix they do not know. One round trip: it runs inside a pause.
 */
export async function flushedPoint(client: pg.Client, prefix: string): Promise<bigint> {
  try {
    const results = (await client.query(
      `BEGIN READ WRITE; SET LOCAL synchronous_commit = 'local';
       SELECT pg_catalog.pg_logical_emit_message(true, ${literal(prefix)}, '')::text AS lsn; COMMIT`,
    )) as unknown as pg.QueryResult<{ lsn: string }>[];
    return parseLsn(results[2]!.rows[0]!.lsn);
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

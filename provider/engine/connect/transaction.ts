// One transaction on one session: BEGIN, the work, COMMIT, or ROLLBACK when the work throws, the
// error thrown on as it was. Every site that writes a transaction of its own on a session it holds
// goes through here, so none forgets the rollback that leaves the session usable for the next
// statement. A lock timeout, when given, is set for this transaction alone (SET LOCAL), so DDL that
// must not queue behind an application's lock gives up instead.
import type pg from 'pg';
import { literal } from './quote';

/** How the transaction is begun. */
export interface TransactionOptions {
  /** The transaction's lock_timeout, in milliseconds (a number of pgferry's own, never user text). */
  readonly lockTimeoutMs?: number;
}

/** Runs `work` in one transaction on `client` (outside any transaction); rolled back when it throws. */
export async function inTransaction<T>(client: pg.Client, work: () => Promise<T>, options: TransactionOptions = {}): Promise<T> {
  await client.query('BEGIN');
  try {
    // SET LOCAL takes no parameters: the value is a literal of pgferry's own number
    if (options.lockTimeoutMs !== undefined) await client.query(`SET LOCAL lock_timeout = ${literal(`${options.lockTimeoutMs}ms`)}`);
    const result = await work();
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

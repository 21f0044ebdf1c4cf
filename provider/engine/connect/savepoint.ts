// One statement (or a few) that may fail without failing the transaction around it: run under a
// savepoint, rolled back to it on failure, the savepoint released either way so the surrounding
// subtransaction is the current one again (COPY FREEZE needs its TRUNCATE's to be).
import type pg from 'pg';

/** Runs `work` under savepoint `name`; on failure rolls back to it, releases it and rethrows. */
export async function inSavepoint<T>(client: pg.Client, name: string, work: () => Promise<T>): Promise<T> {
  await client.query(`SAVEPOINT ${name}`);
  let value: T;
  try {
    value = await work();
  } catch (error) {
    await client.query(`ROLLBACK TO SAVEPOINT ${name}`);
    await client.query(`RELEASE SAVEPOINT ${name}`);
    throw error;
  }
  await client.query(`RELEASE SAVEPOINT ${name}`);
  return value;
}

// The cutover point of one database's stream, and the applier's arrival at it. On PostgreSQL 14
// and later the point is the marker: a transactional logical message on the source carrying this
// cutover's token under the migration's prefix (core/names.ts cutoverMessagePrefix), which the
// applier stops at once everything committed before it is applied (apply/applySession.ts). Before
// 14 pgoutput does not stream logical messages, so the point is the source's current WAL position,
// and the applier stops once a keepalive proves everything before it applied.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Applier } from '../cdc/apply/applier';
import type { OnlineStream } from '../cdc/apply/onlineStream';
import { parseLsn } from '../core/lsn';
import { cutoverMessagePrefix, fallBackMessagePrefix } from '../core/names';
import { canceledError, PgferryError } from '../core/errors';
import type { MigrationRun } from '../run/migrationRun';

/**
 * Marks the cutover point of `stream` through `client`, a writable session of its source database;
 * `began` (when the cutover began) goes into the token, so a marker of an earlier try is not this one.
 */
export async function markCutoverPoint(client: pg.Client, run: MigrationRun, stream: OnlineStream, began: number): Promise<void> {
  const { spec } = run;
  if (run.sourceMajor >= 14) {
    const token = `${spec.migrationName}/${stream.database}/${began}/${randomUUID()}`;
    // told before the marker is sent: the applier may reach it at once
    stream.applier.stopAtMarker(token);
    await client.query('SELECT pg_logical_emit_message(true, $1, $2)', [cutoverMessagePrefix(spec.migrationName), token]);
  } else {
    const { rows } = await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    stream.applier.stopAtLsn(parseLsn(rows[0]!.lsn));
  }
}

/**
 * Marks the fall-back point of a reverse stream (docs/fallback.md) through `client`, a writable
 * session of the target database (the reverse stream's source), the same way: a marker on
 * PostgreSQL 14 and later, else the target's current WAL position. The reverse applier stops there.
 */
export async function markFallBackPoint(
  client: pg.Client,
  applier: Applier,
  migration: string,
  database: string,
  targetMajor: number,
): Promise<void> {
  if (targetMajor >= 14) {
    const token = `${migration}/${database}/${Date.now()}/${randomUUID()}`;
    applier.stopAtMarker(token);
    await client.query('SELECT pg_logical_emit_message(true, $1, $2)', [fallBackMessagePrefix(migration), token]);
  } else {
    const { rows } = await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    applier.stopAtLsn(parseLsn(rows[0]!.lsn));
  }
}

/** Waits for the applier to reach its cutover point, while honouring a cancel. */
export async function applierResult(run: MigrationRun, stream: OnlineStream): Promise<void> {
  const onAbort = (): void => stream.applier.stop();
  run.signal.addEventListener('abort', onAbort, { once: true });
  try {
    const end = await stream.done;
    if (end !== 'cutover')
      throw run.signal.aborted
        ? canceledError()
        : new PgferryError('CUTOVER_INTERRUPTED', `database "${stream.database}": streaming stopped before the cutover point`, {
            category: 'internal',
          });
  } finally {
    run.signal.removeEventListener('abort', onAbort);
  }
}

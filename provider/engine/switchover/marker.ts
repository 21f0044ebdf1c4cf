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
import { APPLICATION_NAME_PREFIX, serverMajor, withSession } from '../connect/session';
import { endHoldersWords, holderWords, lockHolders } from '../connect/lockHolders';
import type { ServerSpec } from '../input/migrationSpec';
import { trace } from '../util/trace';
import { budgetWords, type LagBudget } from './lagGate';
import { displayIdent } from '../connect/quote';

/**
 * Marks the point `applier` stops at through `client`, a writable session of the database its
 * stream reads: a marker under `prefix` carrying `token` on PostgreSQL 14 and later, told to the
 * applier before it is sent (it may reach it at once), else the server's current WAL position.
 */
async function markPoint(client: pg.Client, applier: Applier, prefix: string, token: string, major: number): Promise<void> {
  if (major >= 14) {
    applier.stopAtMarker(token);
    await client.query('SELECT pg_logical_emit_message(true, $1, $2)', [prefix, token]);
    trace('marker written');
  } else {
    const { rows } = await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    applier.stopAtLsn(parseLsn(rows[0]!.lsn));
  }
}

/**
 * Marks the cutover point of `stream` in a writable session of its source database; `began` (when
 * the cutover began) goes into the token, so a marker of an earlier try is not this one.
 */
export function markCutoverPoint(run: Pick<MigrationRun, 'spec' | 'sourceMajor'>, stream: OnlineStream, began: number): Promise<void> {
  const migration = run.spec.migrationName;
  const token = `${migration}/${stream.database}/${began}/${randomUUID()}`;
  return withSession(run.spec.source, { database: stream.database, purpose: 'cutover', writable: true }, (client) =>
    markPoint(client, stream.applier, cutoverMessagePrefix(migration), token, run.sourceMajor),
  );
}

/**
 * Marks the fall-back point of a reverse stream (docs/fallback.md) in a writable session of the
 * target database (the reverse stream's source), the same way. The reverse applier stops there.
 */
export function markFallBackPoint(target: ServerSpec, applier: Applier, migration: string, database: string): Promise<void> {
  const token = `${migration}/${database}/${Date.now()}/${randomUUID()}`;
  return withSession(target, { database, purpose: 'cutover', writable: true }, async (client) =>
    markPoint(client, applier, fallBackMessagePrefix(migration), token, await serverMajor(client)),
  );
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
        : new PgferryError('CUTOVER_INTERRUPTED', `database ${displayIdent(stream.database)}: streaming stopped before the cutover point`, {
            category: 'internal',
          });
  } finally {
    run.signal.removeEventListener('abort', onAbort);
  }
}

/**
 * The databases whose streams had not arrived at their point `budgetSeconds` after `arrivals`
 * began: the lag gate's prediction stands on a rate, and a stream that stops applying once it passed
 * (a lock someone holds on the server it applies to) would keep the applications held for as long
 * as it waits. No budget, no bound: nobody was promised a wait. An arrival that failed in time is
 * left for the caller to read.
 */
export async function lateArrivals(arrivals: ReadonlyMap<string, Promise<unknown>>, budgetSeconds: number | undefined): Promise<string[]> {
  const pending = new Set(arrivals.keys());
  const settled = [...arrivals].map(([database, arrival]) =>
    arrival.then(
      () => pending.delete(database),
      () => pending.delete(database),
    ),
  );
  const all = Promise.all(settled);
  if (budgetSeconds === undefined) {
    await all;
    return [];
  }
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<void>((resolve) => (timer = setTimeout(resolve, budgetSeconds * 1000)));
  try {
    await Promise.race([all, expired]);
  } finally {
    clearTimeout(timer);
  }
  return [...pending];
}

/**
 * Why streams are late at their point, in words: which, against which budget, and the sessions
 * holding a lock their apply waits for on `server` (`where`: how the message names it), each with
 * the statement that ends it, in the words every lock holder is named with (connect/lockHolders.ts).
 */
export async function lateArrivalWords(
  server: ServerSpec,
  late: readonly string[],
  what: { readonly stream: string; readonly point: string; readonly where: string },
  { budget, defaulted }: LagBudget,
): Promise<string> {
  const causes: string[] = [];
  for (const database of late) {
    const found = await withSession(server, { database, purpose: 'drain bound' }, (client) =>
      lockHolders(client, { waiters: `${APPLICATION_NAME_PREFIX}%`, databases: [database] }),
    ).catch(() => []);
    for (const b of found)
      causes.push(
        `${holderWords(b)} in ${displayIdent(database)} holds a lock its apply waits for on ${what.where} (end that transaction: COMMIT or ROLLBACK in it, or ${endHoldersWords([b])} on ${what.where})`,
      );
  }
  const streams = late.map((d) => displayIdent(d)).join(', ');
  const cause = causes.length > 0 ? causes.join('; ') : `no session on ${what.where} holds a lock its apply waits for`;
  return `the ${what.stream} of ${streams} did not reach the ${what.point} within the lag budget of ${budgetWords(budget!, defaulted)}: ${cause}`;
}

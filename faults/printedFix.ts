// The fix a fall-back's stop prints for an object made on the new server alone (a column holding
// values, or a table made in the window holding rows), as a person reads and runs it: the statements
// for the old source in one `BEGIN READ WRITE` transaction (the old source is fenced during the
// window), then, for a column, the `UPDATE` on the new server that makes the reverse stream carry its
// values. The application's release runs it for its own column and table (windowChange.ts), and the
// DBA for theirs in a trial whose fault is at a step of the fall-back (bystander.ts).
import type pg from 'pg';
import { retrying } from '../provider/engine/internal';
import type { Cluster } from '../test/support';

/** The statements a fall-back's stop prints for the user to run, by server (none: the message names no fix). */
export interface PrintedFix {
  readonly oldSource?: string;
  readonly newServer?: string;
}

/** One database's window stopped on an object of the new server: its name and the window's message. */
export interface WindowStop {
  readonly database: string;
  readonly message: string;
}

const OLD_SOURCE = 'fix on the old source';
const COLUMN_THEN = '; then on the new server: ';
const COLUMN_END = ', so the reverse stream carries its values';
const TABLE_END = '; then fall back again';

const RETRY = { attempts: 10, firstDelayMs: 1000, maxDelayMs: 1000 };
const LOCK_TIMEOUT = '5s';

/**
 * The fix in a fall-back's stop on a column or a table of the new server, as the message prints it
 * (flow/columnsLeftBehind.ts, switchover/windowTables.ts):
 *   column: `... fix on the old source: ALTER TABLE ...; then on the new server: UPDATE ..., so the reverse stream carries its values; ...`
 *   table:  `... fix on the old source[ (a partitioned table ...)]: CREATE TABLE ...; CREATE INDEX ...; then fall back again: ...`
 * Read between those words, the last end marker taken, so a definition holding `; ` stays whole.
 */
export function printedFix(message: string): PrintedFix | undefined {
  const at = message.indexOf(OLD_SOURCE);
  if (at < 0) return undefined;
  const start = message.indexOf(': ', at + OLD_SOURCE.length);
  if (start < 0) return undefined;
  const rest = message.slice(start + 2);
  if (message.startsWith('fall-back stopped: column ')) {
    const then = rest.indexOf(COLUMN_THEN);
    const end = rest.lastIndexOf(COLUMN_END);
    if (then < 0 || end < then) return undefined;
    return { oldSource: rest.slice(0, then), newServer: rest.slice(then + COLUMN_THEN.length, end) };
  }
  const end = rest.lastIndexOf(TABLE_END);
  return end < 0 ? undefined : { oldSource: rest.slice(0, end) };
}

/**
 * Whether a window's message is a fall-back's stop on a column or a table of the new server (it
 * prints a fix for the old source): `column ...`, `table ...`, or `tables ...` when several (the
 * application's and a DBA's made in one window).
 */
export function stoppedOnNewServerObject(message: string | undefined): boolean {
  return /^fall-back stopped: (column|tables?) /.test(message ?? '');
}

/**
 * Whether a window's message is a fall-back stopped because its reverse stream had stopped (the
 * stream's own stop follows it, with the fix for the server it names): nothing on the new server to
 * answer, the stream's cause is.
 */
export function stoppedOnReverseStream(message: string | undefined): boolean {
  return /^fall-back stopped: the reverse stream /.test(message ?? '');
}

/**
 * Runs statements in one transaction (`BEGIN READ WRITE`: the old source is fenced), again while a
 * lock wait gives up or a server restarts; `who` names the session (its application_name).
 */
export function inReadWriteTransaction(server: Cluster, database: string, sql: string, who: string): Promise<void> {
  return retrying(
    RETRY,
    async () => {
      const c: pg.Client = await server.connect(database);
      c.on('error', () => undefined);
      try {
        await c.query(`SET application_name = '${who}'; SET lock_timeout = '${LOCK_TIMEOUT}'`);
        await c.query(`BEGIN READ WRITE; ${sql}; COMMIT`).catch(async (error: unknown) => {
          await c.query('ROLLBACK').catch(() => undefined);
          throw error;
        });
      } finally {
        await c.end().catch(() => undefined);
      }
    },
    { retryOn: () => true },
  );
}

/**
 * Runs the fix a stop prints, on the old source then (a column's) on the new server; returns what
 * ran, by database and server, for the report. Throws when the message prints no fix for the old
 * source, or a statement fails.
 */
export async function runPrintedFix(
  clusters: { readonly source: Cluster; readonly target: Cluster },
  stop: WindowStop,
  who: string,
): Promise<string[]> {
  const fix = printedFix(stop.message);
  if (!fix?.oldSource) throw new Error(`the fall-back's stop prints no fix for the old source to run: ${stop.message.slice(0, 300)}`);
  const ran: string[] = [];
  try {
    await inReadWriteTransaction(clusters.source, stop.database, fix.oldSource, who);
    ran.push(`${stop.database} old source: ${fix.oldSource}`.slice(0, 600));
    if (fix.newServer) {
      await inReadWriteTransaction(clusters.target, stop.database, fix.newServer, who);
      ran.push(`${stop.database} new server: ${fix.newServer}`.slice(0, 600));
    }
  } catch (error) {
    throw new Error(`the printed fix failed: ${(error as Error).message}; fix: ${JSON.stringify(fix).slice(0, 300)}`, { cause: error });
  }
  return ran;
}

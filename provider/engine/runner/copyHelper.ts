// An agent helping another runner's copy (control/copyRounds.ts): it imports the round's exported
// snapshot into a source session of its own (with its own credentials), claims the round's pending
// items one by one, and copies each as the coordinator would (copy/copyItem.ts): the rows, the
// fence check and the done-record commit in one target transaction. The coordinator still holds
// every table (ACCESS SHARE) and the snapshot; once its transaction ends the import fails, and a
// helper of a round that closed claims nothing more.
import type pg from 'pg';
import { listTables, type SourceTable } from '../catalog/introspect';
import { closeSession, openSession, serverMajor } from '../connect/session';
import { displayIdent, ident } from '../connect/quote';
import { LOCK_NOT_AVAILABLE, sqlState } from '../connect/sqlstate';
import { errorMessage, isPgferryError } from '../core/errors';
import {
  beatClaims,
  CLAIM_HEARTBEAT_MS,
  claimNextItem,
  holdClaimLock,
  giveBackClaim,
  type CatalogQueries,
  type ClaimedItem,
} from '../control/copyRounds';
import { markCopyItemDone } from '../control/copyItems';
import { runCopyItem } from '../copy/copyItem';
import type { IncompressibleScope } from '../copy/incompressible';
import { doneRecordOf, raiseEpoch, recordItemDone } from '../copy/doneRecords';
import { rangeWhere, type CopyItem } from '../copy/plan';
import type { ServerSpec } from '../input/migrationSpec';

interface CopyRound {
  readonly migration: string;
  readonly database: string;
  readonly snapshot: string;
}

export interface HelpArgs {
  readonly round: CopyRound;
  /** The source with this agent's credentials. */
  readonly source: ServerSpec;
  readonly target: ServerSpec;
  readonly catalog: CatalogQueries;
  /** The claims' holder: the agent's name. */
  readonly holder: string;
  readonly lockTimeoutSeconds: number;
  readonly signal: AbortSignal;
  readonly log: (line: string) => void;
}

/** A claimed item, rebuilt from its recorded range (never SQL text) over the table read in the snapshot. */
function copyItemOf(claimed: ClaimedItem, table: SourceTable): CopyItem {
  if (claimed.part === undefined || !claimed.range) return { table };
  const key = table.splitKey === undefined ? undefined : ident(table.splitKey);
  return { table, part: { index: claimed.part, count: claimed.parts, where: rangeWhere(claimed.range, key), bounds: claimed.range } };
}

interface HelperSessions {
  readonly source: pg.Client;
  readonly target: pg.Client;
  readonly tables: ReadonlyMap<string, SourceTable>;
  readonly encoding: string;
  /** Both servers' major versions (incompressible columns of a whole table: copy/incompressible.ts). */
  readonly majors: IncompressibleScope;
}

/** The source session in the round's snapshot, and a target session; undefined when the snapshot is gone. */
async function openHelperSessions(args: HelpArgs): Promise<HelperSessions | undefined> {
  const { round } = args;
  let source: pg.Client;
  try {
    source = await openSession(args.source, {
      database: round.database,
      purpose: 'copy',
      snapshot: round.snapshot,
      settings: { lock_timeout: `${args.lockTimeoutSeconds}s` },
    });
  } catch (error) {
    args.log(`migration ${round.migration}: database ${displayIdent(round.database)}: its copy round is over (${errorMessage(error)})`);
    return undefined;
  }
  try {
    const major = await serverMajor(source);
    const tables = new Map((await listTables(source, major)).map((t) => [t.oid, t]));
    const { rows } = await source.query<{ encoding: string }>(
      `SELECT pg_encoding_to_char(encoding) AS encoding FROM pg_database WHERE datname = current_database()`,
    );
    const target = await openSession(args.target, {
      database: round.database,
      purpose: 'copy',
      writable: true,
      settings: { synchronous_commit: 'off' },
    });
    const majors = { sourceMajor: major, targetMajor: await serverMajor(target) };
    return { source, target, tables, encoding: rows[0]!.encoding, majors };
  } catch (error) {
    await closeSession(source);
    throw error;
  }
}

/**
 * Copies one claimed item; false when it cannot here (the table is being waited for by an
 * exclusive lock request: the coordinator, which holds the table, copies it instead).
 */
async function copyClaimed(args: HelpArgs, s: HelperSessions, claim: ClaimedItem): Promise<'copied' | 'left'> {
  const { migration, database } = args.round;
  const table = s.tables.get(claim.tableOid);
  if (!table) return 'left';
  try {
    await s.source.query(`LOCK TABLE ONLY ${table.sql} IN ACCESS SHARE MODE NOWAIT`);
  } catch (error) {
    if (sqlState(error) === LOCK_NOT_AVAILABLE) return 'left';
    throw error;
  }
  await holdClaimLock(s.target, claim);
  await raiseEpoch(s.target, migration, claim.item, claim.epoch);
  const earlier = await doneRecordOf(s.target, migration, claim.item);
  if (earlier) {
    await markCopyItemDone(args.catalog, migration, database, earlier);
    return 'copied';
  }
  const result = await runCopyItem({
    item: copyItemOf(claim, table),
    source: s.source,
    target: s.target,
    encoding: s.encoding,
    signal: args.signal,
    majors: s.majors,
    beforeCommit: (target, r) => recordItemDone(target, migration, { item: claim.item, epoch: claim.epoch, ...r }),
  });
  await markCopyItemDone(args.catalog, migration, database, { item: claim.item, epoch: claim.epoch, ...result });
  args.log(
    `migration ${migration}: database ${displayIdent(database)}: copied item ${claim.item} (${result.rows} rows) for the coordinator`,
  );
  return 'copied';
}

/** Helps one round until it has nothing left to claim; returns how many items this helper copied. */
export async function helpCopyRound(args: HelpArgs): Promise<number> {
  const sessions = await openHelperSessions(args);
  if (!sessions) return 0;
  let current: ClaimedItem | undefined;
  const beat = setInterval(() => {
    if (current) void beatClaims(args.catalog, args.round.migration, [current.lock]).catch(() => undefined);
  }, CLAIM_HEARTBEAT_MS);
  let copied = 0;
  try {
    while (!args.signal.aborted) {
      current = await claimNextItem(args.catalog, args.round, args.holder);
      if (!current) break;
      const outcome = await copyClaimed(args, sessions, current).catch(async (error: unknown) => {
        // the claim goes back at once; a lost claim (COPY_CLAIM_LOST) is already someone else's
        if (!(isPgferryError(error) && error.code === 'COPY_CLAIM_LOST'))
          await giveBackClaim(args.catalog, args.round.migration, args.round.database, current!).catch(() => undefined);
        throw error;
      });
      if (outcome === 'left') {
        await giveBackClaim(args.catalog, args.round.migration, args.round.database, current);
        break;
      }
      copied += 1;
    }
  } finally {
    clearInterval(beat);
    await closeSession(sessions.source);
    await closeSession(sessions.target);
  }
  return copied;
}

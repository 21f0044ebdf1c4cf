// Copy rounds shared among agents. The runner that holds a migration's lease (the coordinator)
// copies a database at an exported snapshot; with runtime agents it publishes that snapshot as the
// database's open round, and every agent holding the source's credentials may claim the round's
// pending items and copy them in the same snapshot. Whoever claims, the claim is one UPDATE of the
// item's row (SKIP LOCKED, rank order) that raises its epoch, and the claim lives while
//   - the claimer's target session holds the advisory lock `claim_lock` (taken right after the
//     claim, on the session that will commit the rows: it dies with that session, a SIGKILL too), and
//   - its heartbeat is fresh (a stopped process keeps its session but stops beating).
// A claim that does not live may be taken again; the new epoch makes the old holder's commit fail
// on the target (copy/doneRecords.ts). The catalog only names the snapshot: useless without the
// source's credentials, which stay with each agent.
import type pg from 'pg';
import { ident } from '../connect/quote';
import { CONTROL_SCHEMA } from '../core/names';
import type { CopyItemResult } from '../copy/copyItem';
import type { RangeBounds } from '../copy/plan';

const S = ident(CONTROL_SCHEMA);

/** A claim whose heartbeat is older than this counts as dead even while its session lives (a stopped process). */
const CLAIM_STALE_SECONDS = 30;
/** How often a claimer beats for the claims it holds. */
export const CLAIM_HEARTBEAT_MS = 5_000;
/** A claim this young is alive even before its holder took the lock (the claim and the lock are two statements). */
const CLAIM_GRACE_SECONDS = 2;

/** What runs statements on the control catalog (the catalog handle, CatalogConnection). */
export interface CatalogQueries {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<R[]>;
  transaction<T>(fn: (client: pg.Client) => Promise<T>): Promise<T>;
}

/**
 * SQL true for an item of copy_item `c` that nobody live holds: never claimed, its holder's lock
 * gone, or its heartbeat stale. pg_locks shows a bigint advisory key as classid (high 32 bits)
 * and objid (low 32 bits), in whichever database the holder's target session is.
 */
export const CLAIM_FREE = `(c.holder IS NULL
  OR c.heartbeat_at < now() - make_interval(secs => ${CLAIM_STALE_SECONDS})
  OR (c.claimed_at < now() - make_interval(secs => ${CLAIM_GRACE_SECONDS}) AND NOT EXISTS (
        SELECT 1 FROM pg_locks l
         WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
           AND l.classid::text::bigint = ((c.claim_lock >> 32) & 4294967295)
           AND l.objid::text::bigint = (c.claim_lock & 4294967295))))`;

/** The claim lock of a new epoch: one key per (migration, database, item, epoch). */
const NEW_CLAIM_LOCK = `hashtextextended(c.migration || '/' || c.database || '/' || c.item || '@' || (c.epoch + 1)::text, 0)`;

export interface Claim {
  readonly item: string;
  readonly epoch: number;
  /** The advisory lock key the claimer's target session takes now and holds until the item commits. */
  readonly lock: string;
}

/** A claimed item as a helper needs it to copy it: the table and, for a part, its range. */
export interface ClaimedItem extends Claim {
  readonly tableOid: string;
  readonly part?: number;
  readonly parts: number;
  readonly range?: RangeBounds;
}

const CLAIM_RETURNING = `RETURNING c.item, c.epoch::text AS epoch, c.claim_lock::text AS lock, c.table_oid::text AS table_oid, c.part, c.parts, c.range`;

interface ClaimRow {
  item: string;
  epoch: string;
  lock: string;
  table_oid: string;
  part: number | null;
  parts: number;
  range: RangeBounds | null;
}

function claimedItem(row: ClaimRow): ClaimedItem {
  return {
    item: row.item,
    epoch: Number(row.epoch),
    lock: row.lock,
    tableOid: row.table_oid,
    ...(row.part === null ? {} : { part: row.part }),
    parts: row.parts,
    ...(row.range === null ? {} : { range: row.range }),
  };
}

/** Claims this item if nobody live holds it and it is not done; undefined when someone does (or it is done). */
export async function claimIfFree(
  catalog: CatalogQueries,
  migration: string,
  database: string,
  item: string,
  holder: string,
): Promise<Claim | undefined> {
  const [row] = await catalog.query<ClaimRow>(
    `UPDATE ${S}.copy_item c SET epoch = c.epoch + 1, holder = $4, claimed_at = now(), heartbeat_at = now(), claim_lock = ${NEW_CLAIM_LOCK}
      WHERE c.migration = $1 AND c.database = $2 AND c.item = $3 AND c.state = 'pending' AND ${CLAIM_FREE}
      ${CLAIM_RETURNING}`,
    [migration, database, item, holder],
  );
  return row ? claimedItem(row) : undefined;
}

/**
 * Claims the first pending item nobody live holds, in rank order, while `snapshot` is still the
 * database's open round (a helper of a round that ended claims nothing more).
 */
export async function claimNextItem(
  catalog: CatalogQueries,
  round: { readonly migration: string; readonly database: string; readonly snapshot: string },
  holder: string,
): Promise<ClaimedItem | undefined> {
  const [row] = await catalog.query<ClaimRow>(
    `UPDATE ${S}.copy_item c SET epoch = c.epoch + 1, holder = $4, claimed_at = now(), heartbeat_at = now(), claim_lock = ${NEW_CLAIM_LOCK}
      WHERE (c.migration, c.database, c.item) = (
        SELECT c.migration, c.database, c.item FROM ${S}.copy_item c
          JOIN ${S}.migration_database d ON d.migration = c.migration AND d.database = c.database
         WHERE c.migration = $1 AND c.database = $2 AND c.state = 'pending' AND d.copy_round->>'snapshot' = $3 AND ${CLAIM_FREE}
         ORDER BY c.rank LIMIT 1 FOR UPDATE OF c SKIP LOCKED)
      ${CLAIM_RETURNING}`,
    [round.migration, round.database, round.snapshot, holder],
  );
  return row ? claimedItem(row) : undefined;
}

/** Gives a claim back at once (its holder cannot copy it now): anyone may take it. */
export async function giveBackClaim(catalog: CatalogQueries, migration: string, database: string, claim: Claim): Promise<void> {
  await catalog.query(
    `UPDATE ${S}.copy_item SET holder = NULL, claim_lock = NULL, heartbeat_at = NULL
      WHERE migration = $1 AND database = $2 AND item = $3 AND epoch = $4 AND state = 'pending'`,
    [migration, database, claim.item, claim.epoch],
  );
}

/** A claimer's heartbeat for the claims it holds (named by their lock keys: one process, its own claims). */
export async function beatClaims(catalog: CatalogQueries, migration: string, locks: readonly string[]): Promise<void> {
  if (locks.length === 0) return;
  await catalog.query(
    `UPDATE ${S}.copy_item SET heartbeat_at = now() WHERE migration = $1 AND claim_lock = ANY($2::int8[]) AND state = 'pending'`,
    [migration, locks],
  );
}

/** Takes a claim's lock on the target session that will commit its rows (the one lock a copy session holds). */
export async function holdClaimLock(target: pg.Client, claim: Claim): Promise<void> {
  await target.query('SELECT pg_advisory_unlock_all()');
  await target.query('SELECT pg_advisory_lock($1::int8)', [claim.lock]);
}

const OPEN_ROUND = `UPDATE ${S}.migration_database SET copy_round = $3::jsonb WHERE migration = $1 AND database = $2`;

/** Opens a database's round at `snapshot`: agents may claim its pending items from now on. */
export async function openRound(catalog: CatalogQueries, migration: string, database: string, snapshot: string): Promise<void> {
  await catalog.query(OPEN_ROUND, [migration, database, JSON.stringify({ snapshot, openedAt: new Date().toISOString() })]);
}

/**
 * Opens a resumed copy's round and outranks every claim of the earlier one: each pending item's
 * epoch is raised (the caller raises the target's fences to them before copying, so a helper still
 * copying in the old snapshot cannot commit). Returns the pending items' new epochs.
 */
export async function reopenRound(
  catalog: CatalogQueries,
  migration: string,
  database: string,
  snapshot: string,
): Promise<{ item: string; epoch: number }[]> {
  return catalog.transaction(async (client) => {
    await client.query(OPEN_ROUND, [migration, database, JSON.stringify({ snapshot, openedAt: new Date().toISOString() })]);
    const { rows } = await client.query<{ item: string; epoch: string }>(
      `UPDATE ${S}.copy_item SET epoch = epoch + 1, holder = NULL, claim_lock = NULL, heartbeat_at = NULL
        WHERE migration = $1 AND database = $2 AND state = 'pending' RETURNING item, epoch::text`,
      [migration, database],
    );
    return rows.map((r) => ({ item: r.item, epoch: Number(r.epoch) }));
  });
}

/**
 * The round opened at `snapshot` is over (the copy ended, or failed): helpers claim nothing more of
 * it. Only that round is closed: a runner stopped and woken after losing its lease may send this
 * before it learns of the loss, when its successor has opened a round of its own, which must stay
 * open.
 */
export async function closeRound(catalog: CatalogQueries, migration: string, database: string, snapshot: string): Promise<void> {
  await catalog.query(
    `UPDATE ${S}.migration_database SET copy_round = NULL WHERE migration = $1 AND database = $2 AND copy_round->>'snapshot' = $3`,
    [migration, database, snapshot],
  );
}

/** Where the items someone else held are now: done (with their rows), or free to claim again. */
export async function itemsNow(
  catalog: CatalogQueries,
  migration: string,
  database: string,
  items: readonly string[],
): Promise<{ done: Map<string, CopyItemResult>; free: string[] }> {
  const rows = await catalog.query<{ item: string; state: string; rows: string | null; bytes: string | null; free: boolean }>(
    `SELECT c.item, c.state, c.rows, c.bytes, (c.state = 'pending' AND ${CLAIM_FREE}) AS free
       FROM ${S}.copy_item c WHERE c.migration = $1 AND c.database = $2 AND c.item = ANY($3::text[])`,
    [migration, database, items],
  );
  const done = new Map<string, CopyItemResult>();
  const free: string[] = [];
  for (const r of rows) {
    if (r.state === 'done') done.set(r.item, { rows: Number(r.rows ?? 0), bytes: Number(r.bytes ?? 0) });
    else if (r.free) free.push(r.item);
  }
  return { done, free };
}

// Sessions opened ahead of a hold (a cutover's pooler pause or writer fence): the steps inside the
// hold open a session for each thing they read or write, one after another, and every connection
// (a server process started, the login's authentication, the pinned settings) is time the held
// applications wait. Opened just before the hold and taken by openSession in place of a new
// connection, each costs the hold one round trip instead (the taker's own settings). A taken one is
// replaced in the background while the hold lasts, so a step after it finds one too; every idle one
// is ended when the hold ends. Only plain sessions are served so: a replication connection, one in
// pipeline mode or one that imports a snapshot is always opened afresh.
import type pg from 'pg';

/** The sessions kept open ahead for one server and database, and how to open another. */
interface Ahead {
  readonly open: () => Promise<pg.Client>;
  readonly keep: number;
  readonly idle: pg.Client[];
  /** The connections under way: endAhead waits for them, so that none outlives the hold. */
  readonly opening: Set<Promise<void>>;
  /** A connection refused while filling: the takers open their own and meet the error themselves. */
  refused: boolean;
}

const ahead = new Map<string, Ahead>();

/**
 * The key sessions are kept under: the server spec as given (its password with it, kept in this
 * process's memory only) and the database, so that a session is only ever taken by a caller that
 * would have opened the same connection.
 */
export function aheadKey(server: object, database: string | undefined): string {
  return JSON.stringify([server, database ?? null]);
}

/** Opens sessions until `keep` are idle or opening, while the key is still kept. */
function fill(key: string, entry: Ahead): void {
  while (!entry.refused && entry.idle.length + entry.opening.size < entry.keep) {
    const opening: Promise<void> = entry.open().then(
      async (client) => {
        entry.opening.delete(opening);
        if (ahead.get(key) !== entry) {
          await client.end().catch(() => undefined);
          return;
        }
        entry.idle.push(client);
        // a session that ends while idle (a server restart) is never handed out
        client.once('end', () => {
          const at = entry.idle.indexOf(client);
          if (at >= 0) entry.idle.splice(at, 1);
        });
      },
      () => {
        entry.opening.delete(opening);
        entry.refused = true;
      },
    );
    entry.opening.add(opening);
  }
}

/** Keeps `keep` sessions open ahead under `key` (aheadKey), opened by `open`, until endAhead. */
export function keepAhead(key: string, keep: number, open: () => Promise<pg.Client>): void {
  if (ahead.has(key)) return;
  const entry: Ahead = { open, keep, idle: [], opening: new Set(), refused: false };
  ahead.set(key, entry);
  fill(key, entry);
}

/**
 * An idle session kept under `key`, replaced in the background; undefined when none is kept. With
 * none idle yet and one on its way, it waits for that one: a connection already under way is nearer
 * than one opened now (on a loaded machine a taker came between a session's login and its place
 * among the idle ones, and opened a connection of its own inside the hold).
 */
export async function takeAhead(key: string): Promise<pg.Client | undefined> {
  const entry = ahead.get(key);
  if (!entry) return undefined;
  if (entry.idle.length === 0 && entry.opening.size > 0) await Promise.race(entry.opening);
  // the hold may have ended meanwhile: its sessions are no longer handed out
  if (ahead.get(key) !== entry) return undefined;
  const client = entry.idle.shift();
  fill(key, entry);
  return client;
}

/** Stops keeping sessions under `keys`: the idle ones are ended, and those still opening once open, before it returns. */
export async function endAhead(keys: readonly string[]): Promise<void> {
  const ending: Promise<unknown>[] = [];
  for (const key of keys) {
    const entry = ahead.get(key);
    if (!entry) continue;
    ahead.delete(key);
    ending.push(...entry.idle.splice(0).map((c) => c.end().catch(() => undefined)), ...entry.opening);
  }
  await Promise.all(ending);
}

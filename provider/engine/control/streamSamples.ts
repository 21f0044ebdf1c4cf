// The latency and pending bytes of each streaming database over the last hour, for the console's
// charts (pgferry.stream_sample), forward (source to target) and, in a fallback window, reverse
// (target back to the old source). The runner records them as it records its counters, at most
// one row per database every SAMPLE_EVERY_MS, and the same statement drops that database's rows
// older than the hour, so the table stays small and the charts cost the target one small insert
// per database every few seconds.
import { ident } from '../connect/quote';
import { sqlState, UNDEFINED_TABLE } from '../connect/sqlstate';
import { CONTROL_SCHEMA } from '../core/names';
import type { CatalogConnection } from './connection';

const T = `${ident(CONTROL_SCHEMA)}.stream_sample`;
const SAMPLE_EVERY_MS = 5_000;

/** Which stream a sample is of: forward (source to target), or a fallback window's reverse stream. */
export type StreamDirection = 'forward' | 'reverse';

/** When each database and direction of this process's migrations was last sampled. */
const lastSampled = new Map<string, number>();

/** Records one sample unless the database's stream in that direction was sampled less than SAMPLE_EVERY_MS ago. */
export async function recordStreamSample(
  store: CatalogConnection,
  migration: string,
  database: string,
  sample: { latencySeconds?: number; pendingBytes?: number },
  options: { direction?: StreamDirection; nowMs?: number } = {},
): Promise<void> {
  const direction = options.direction ?? 'forward';
  const nowMs = options.nowMs ?? Date.now();
  const key = `${migration}\u0000${database}\u0000${direction}`;
  if (nowMs - (lastSampled.get(key) ?? 0) < SAMPLE_EVERY_MS) return;
  lastSampled.set(key, nowMs);
  await store.install(); // the table comes with version 17, its direction with 28
  await store.query(
    `WITH gone AS (DELETE FROM ${T} WHERE migration = $1 AND database = $2 AND direction = $5 AND at < now() - interval '1 hour')
     INSERT INTO ${T} (migration, database, latency_seconds, pending_bytes, direction) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
    [migration, database, sample.latencySeconds ?? null, sample.pendingBytes ?? null, direction],
  );
}

/**
 * A migration's samples of the last hour in one direction, oldest first, by database (none on a
 * catalog older than version 17; a catalog older than 28 has the forward stream's alone).
 */
export async function streamSamples(
  store: CatalogConnection,
  migration: string,
  direction: StreamDirection = 'forward',
): Promise<Map<string, { at: number[]; latency: (number | null)[]; pending: (number | null)[] }>> {
  const out = new Map<string, { at: number[]; latency: (number | null)[]; pending: (number | null)[] }>();
  let rows: { database: string; at: Date; latency_seconds: number | null; pending_bytes: string | null }[];
  try {
    rows = await store.query(
      `SELECT database, at, latency_seconds, pending_bytes FROM ${T} s
        WHERE migration = $1 AND coalesce(to_jsonb(s) ->> 'direction', 'forward') = $2 AND at >= now() - interval '1 hour'
        ORDER BY database, at`,
      [migration, direction],
    );
  } catch (error) {
    if (sqlState(error) === UNDEFINED_TABLE) return out;
    throw error;
  }
  for (const r of rows) {
    let s = out.get(r.database);
    if (!s) out.set(r.database, (s = { at: [], latency: [], pending: [] }));
    s.at.push(r.at.getTime());
    s.latency.push(r.latency_seconds);
    s.pending.push(r.pending_bytes === null ? null : Number(r.pending_bytes));
  }
  return out;
}

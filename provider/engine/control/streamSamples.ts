// The latency and pending bytes of each streaming database over the last hour, for the console's
// charts (pgferry.stream_sample). The runner records them as it records its counters, at most
// one row per database every SAMPLE_EVERY_MS, and the same statement drops that database's rows
// older than the hour, so the table stays small and the charts cost the target one small insert
// per database every few seconds.
import { ident } from '../connect/quote';
import { sqlState, UNDEFINED_TABLE } from '../connect/sqlstate';
import { CONTROL_SCHEMA } from '../core/names';
import type { CatalogConnection } from './connection';

const T = `${ident(CONTROL_SCHEMA)}.stream_sample`;
const SAMPLE_EVERY_MS = 5_000;

/** When each database of this process's migrations was last sampled. */
const lastSampled = new Map<string, number>();

/** Records one sample unless the database was sampled less than SAMPLE_EVERY_MS ago. */
export async function recordStreamSample(
  store: CatalogConnection,
  migration: string,
  database: string,
  sample: { latencySeconds?: number; pendingBytes?: number },
  nowMs = Date.now(),
): Promise<void> {
  const key = `${migration}\u0000${database}`;
  if (nowMs - (lastSampled.get(key) ?? 0) < SAMPLE_EVERY_MS) return;
  lastSampled.set(key, nowMs);
  await store.install(); // the table comes with version 17
  await store.query(
    `WITH gone AS (DELETE FROM ${T} WHERE migration = $1 AND database = $2 AND at < now() - interval '1 hour')
     INSERT INTO ${T} (migration, database, latency_seconds, pending_bytes) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
    [migration, database, sample.latencySeconds ?? null, sample.pendingBytes ?? null],
  );
}

/** A migration's samples of the last hour, oldest first, by database (none on a catalog older than version 17). */
export async function streamSamples(
  store: CatalogConnection,
  migration: string,
): Promise<Map<string, { at: number[]; latency: (number | null)[]; pending: (number | null)[] }>> {
  const out = new Map<string, { at: number[]; latency: (number | null)[]; pending: (number | null)[] }>();
  let rows: { database: string; at: Date; latency_seconds: number | null; pending_bytes: string | null }[];
  try {
    rows = await store.query(
      `SELECT database, at, latency_seconds, pending_bytes FROM ${T}
        WHERE migration = $1 AND at >= now() - interval '1 hour' ORDER BY database, at`,
      [migration],
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

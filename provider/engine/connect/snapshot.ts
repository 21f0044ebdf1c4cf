// Exported snapshots: one connection holds a REPEATABLE READ transaction open and exports its
// snapshot; every copy job imports it, so all jobs read the same consistent state.
import type pg from 'pg';
import { openClient } from './client';
import { literal } from './quote';
import type { ServerSpec } from '../input/migrationSpec';

export interface SnapshotHolder {
  readonly name: string;
  release(): Promise<void>;
}

/** Exports a snapshot of `database` (offline copies; online copies use the slot's snapshot). */
export async function exportSnapshot(source: ServerSpec, database: string): Promise<SnapshotHolder> {
  const client = await openClient(source, { database, applicationName: 'pgferry snapshot' });
  client.on('error', () => undefined);
  await client.query('SET idle_in_transaction_session_timeout = 0');
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  const { rows } = await client.query<{ name: string }>('SELECT pg_export_snapshot() AS name');
  return {
    name: rows[0]!.name,
    async release() {
      await client.query('COMMIT').catch(() => undefined);
      await client.end().catch(() => undefined);
    },
  };
}

/** Starts a read-only transaction on `client` that sees exactly the exported snapshot. */
export async function importSnapshot(client: pg.Client, snapshot: string): Promise<void> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  // SET TRANSACTION SNAPSHOT takes no parameters: the name goes through the quoting helper.
  await client.query(`SET TRANSACTION SNAPSHOT ${literal(snapshot)}`);
}

/**
 * Session settings for both ends of a text COPY and of checksums: the text form of every value
 * must not depend on the servers' or roles' defaults (DateStyle, float digits, time zone ...).
 */
export const STABLE_TEXT_SETTINGS = [
  `SET DateStyle = 'ISO, YMD'`,
  `SET IntervalStyle = 'postgres'`,
  `SET extra_float_digits = 3`,
  `SET TimeZone = 'UTC'`,
  `SET bytea_output = 'hex'`,
  `SET statement_timeout = 0`,
  `SET lock_timeout = 0`,
  `SET idle_in_transaction_session_timeout = 0`,
] as const;

export async function applySessionSettings(client: pg.Client, extra: readonly string[] = []): Promise<void> {
  await client.query([...STABLE_TEXT_SETTINGS, ...extra].join('; '));
}

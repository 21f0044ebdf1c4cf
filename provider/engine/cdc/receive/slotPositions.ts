// Source-side positions for reporting: the current WAL position and how much WAL each slot holds
// back (current - restart_lsn), read on one connection for every database's slot.
import type pg from 'pg';
import { parseLsn } from '../decode/lsn';

export interface SlotPosition {
  readonly currentLsn: bigint;
  /** undefined when the slot does not exist. */
  readonly restartLsn?: bigint;
}

const SLOT_POSITIONS_SQL = `
SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END::text AS current,
       u.name AS slot, s.restart_lsn::text AS restart
  FROM unnest($1::text[]) AS u(name) LEFT JOIN pg_replication_slots s ON s.slot_name = u.name`;

export async function readSlotPositions(source: pg.Client, slots: readonly string[]): Promise<Map<string, SlotPosition>> {
  const { rows } = await source.query<{ current: string; slot: string; restart: string | null }>(SLOT_POSITIONS_SQL, [slots]);
  return new Map(rows.map((r) => [r.slot, { currentLsn: parseLsn(r.current), restartLsn: r.restart ? parseLsn(r.restart) : undefined }]));
}

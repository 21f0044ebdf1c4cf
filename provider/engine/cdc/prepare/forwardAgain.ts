// The forward slot made again on the old source at a fall-back asked with --resume-forward
// (docs/fallback.md "The forward stream again"): made while the old source is still fenced and the
// reverse stream has drained, its consistent point follows every row the reverse stream applied
// there (the target holds them all) and precedes every write the applications make once the fence
// is lifted. No snapshot: nothing is copied. Found instead of made when a killed runner made it
// already, so a resumed fall-back makes it exactly once.
import { withSession } from '../../connect/session';
import { failpoint } from '../../util/failpoints';
import type { ServerSpec } from '../../input/migrationSpec';

/** Makes (or finds) the slot in the source database; returns its consistent point as text. */
export async function openForwardSlot(source: ServerSpec, database: string, slot: string): Promise<string> {
  return withSession(source, { database, purpose: 'cutover', writable: true }, async (client) => {
    const found = await client.query<{ lsn: string | null }>(
      'SELECT confirmed_flush_lsn::text AS lsn FROM pg_catalog.pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
    if (found.rows[0]?.lsn) return found.rows[0].lsn;
    const made = await client.query<{ lsn: string }>("SELECT lsn::text AS lsn FROM pg_create_logical_replication_slot($1, 'pgoutput')", [
      slot,
    ]);
    // the slot exists on the old source, its point not recorded yet: a resume finds it (tests)
    failpoint(`fallback-forward-slot:${database}`);
    return made.rows[0]!.lsn;
  });
}

// The reverse stream's start on the target (docs/fallback.md): at a cutover with a fallback window,
// once the forward stream has applied everything up to the cutover point, a publication on the
// target database listing the tables the forward publication streamed, and a pgoutput slot whose
// consistent point is that cutover point. Nothing has written to the target's tables since the
// forward drain (the applications are fenced on the old source and not yet moved), so the slot
// sees every write the applications make on the target and none the forward stream applied. Each
// step is idempotent, so a cutover resumed after a crash makes them again without harm.
import type pg from 'pg';
import { readSourceRelations } from '../../catalog/identityVerdict';
import { withSession } from '../../connect/session';
import type { ServerSpec } from '../../input/migrationSpec';
import type { StreamNames } from '../../core/names';
import { createPublication, publishTables } from './publication';

/**
 * A publication's tables as `schema\0name` keys, as its server lists them (a partitioned table
 * under its root when published via the root): the forward publication's on the source, the
 * reverse one's on the target.
 */
export async function publishedTables(client: pg.Client, publication: string): Promise<Set<string>> {
  const { rows } = await client.query<{ schema: string; name: string }>(
    'SELECT schemaname::text AS schema, tablename::text AS name FROM pg_catalog.pg_publication_tables WHERE pubname = $1',
    [publication],
  );
  return new Set(rows.map((r) => `${r.schema}\0${r.name}`));
}

/**
 * Creates (or finds) the reverse publication and slot of one database on the target; returns the
 * slot's consistent point as text (where the reverse stream starts, the old source's applied
 * position being behind it). `forwardPublication` must still exist on the source.
 */
export async function openReverseStream(
  source: ServerSpec,
  target: ServerSpec,
  database: string,
  forwardPublication: string,
  names: StreamNames,
): Promise<string> {
  const tables = await withSession(source, { database, purpose: 'cutover', readOnly: true }, (client) =>
    publishedTables(client, forwardPublication),
  );
  return withSession(target, { database, purpose: 'cutover', writable: true }, async (client) => {
    await createPublication(client, names.publication);
    const relations = (await readSourceRelations(client, names.publication)).filter((r) => tables.has(`${r.schema}\0${r.name}`));
    await publishTables(client, names.publication, relations, { seconds: 30 });
    const found = await client.query<{ lsn: string | null }>(
      'SELECT confirmed_flush_lsn::text AS lsn FROM pg_catalog.pg_replication_slots WHERE slot_name = $1',
      [names.slot],
    );
    if (found.rows[0]?.lsn) return found.rows[0].lsn;
    const made = await client.query<{ lsn: string }>("SELECT lsn::text AS lsn FROM pg_create_logical_replication_slot($1, 'pgoutput')", [
      names.slot,
    ]);
    return made.rows[0]!.lsn;
  });
}

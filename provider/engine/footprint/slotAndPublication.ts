// The replication slot (which holds the source's WAL until the target has applied it) and the
// publication listing the streamed tables, one each per source database (cdc/prepare/slot.ts,
// publication.ts). Their names derive from the migration's instance, recorded when it is
// registered, so nothing of another migration is touched. Dropped at release.
import { ident, literal } from '../connect/quote';
import { withSession } from '../connect/session';
import { streamNamesOf } from '../core/names';
import { createSlotWithSnapshot, dropSlotAndPublication } from '../cdc/prepare/slot';
import type { ReversibleChange, StreamContext } from './change';
import { unlessDatabaseGone } from './change';

/** The slot and publication on the source that are still there. */
async function pending(ctx: StreamContext, database: string): Promise<string[]> {
  const n = streamNamesOf(ctx.spec.migrationName, database, ctx.instance);
  const found = await unlessDatabaseGone(() =>
    withSession(ctx.spec.source, { database, purpose: 'show', readOnly: true }, async (client) => {
      const slot = await client.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [n.slot]);
      const publication = await client.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [n.publication]);
      return [
        ...(slot.rows.length > 0 ? [`SELECT pg_drop_replication_slot(${literal(n.slot)})`] : []),
        ...(publication.rows.length > 0 ? [`DROP PUBLICATION ${ident(n.publication)}`] : []),
      ];
    }),
  );
  return found ?? [];
}

export const slotAndPublication = {
  name: 'slotAndPublication',
  server: 'source',
  describe: 'replication slot and publication on the source database, dropped',
  ledger: 'their names, derived from migration.instance (recorded when the migration is registered)',
  rights: { server: 'source', needs: 'REPLICATION (or superuser), and CREATE on the database for the publication' },
  madeFor: (spec) => spec.mode === 'Online',
  record: (ctx: StreamContext, database: string) => streamNamesOf(ctx.spec.migrationName, database, ctx.instance),
  apply: createSlotWithSnapshot,
  pending,
  undo: async (ctx: StreamContext, database: string) => {
    const n = streamNamesOf(ctx.spec.migrationName, database, ctx.instance);
    await unlessDatabaseGone(() => dropSlotAndPublication(ctx.spec.source, database, n.slot, n.publication));
  },
  failure: (ctx, database) => {
    const n = streamNamesOf(ctx.spec.migrationName, database, ctx.instance);
    return { what: `could not release slot ${n.slot} / publication ${n.publication} (source)`, left: 'drop them by hand' };
  },
} satisfies ReversibleChange;

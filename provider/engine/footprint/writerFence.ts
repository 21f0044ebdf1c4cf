// The writer fence (fenceWriters): a source database made read-only for new transactions, its
// sessions ended, before the cutover's marker (switchover/writerFence.ts). Lifted first by every
// release, since the applications cannot write meanwhile; the one change a successful cutover
// keeps, so an application still pointed at the old source fails loudly instead of losing writes.
import { liftStatements, pendingFences, recordFence } from '../control/writerFences';
import { CONTROL_SCHEMA } from '../core/names';
import { fenceDatabase, fenceRightsRefusal, liftWriterFence } from '../switchover/writerFence';
import type { ReversibleChange } from './change';

export const writerFence = {
  name: 'writerFence',
  server: 'source',
  describe:
    "writer fence: the source database read-only for new transactions (default_transaction_read_only) and a trigger on each streamed table refusing any session's write but pgferry's, lifted to the recorded value and the triggers dropped",
  ledger: `${CONTROL_SCHEMA}.footprint (change writerFence: undo.priorSetting, kept_at)`,
  rights: {
    server: 'source',
    needs:
      "the database's owner (or a member of it) for ALTER DATABASE, pg_signal_backend to end other roles' sessions, and the owner of each streamed table (or its TRIGGER privilege) for the fence's trigger",
    refusal: (s) => fenceRightsRefusal(s.source, s.database, s.spec.source.user),
  },
  madeFor: (spec) => spec.mode === 'Online' && spec.fenceWriters === true,
  staysAfterCutover: true,
  record: recordFence,
  apply: fenceDatabase,
  pending: async (ctx, database) =>
    (await pendingFences(ctx.store, ctx.spec.migrationName, database)).map((fence) =>
      liftStatements(ctx.spec.migrationName, database, fence.priorSetting),
    ),
  undo: liftWriterFence,
  failure: () => ({
    what: 'could not lift the writer fence on the source',
    left: `the database is still read-only for new transactions; its earlier value is in ${CONTROL_SCHEMA}.footprint on the target, and a resume or a cancel lifts it`,
  }),
} satisfies ReversibleChange;

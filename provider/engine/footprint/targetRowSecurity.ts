// Row-level security held off on the target's tables while pgferry reads and writes them: the
// schema's post-data leaves ENABLE ROW LEVEL SECURITY out (schema/rowSecurity.ts says why: the
// verification would count fewer rows, the apply would be refused), so an online target has its
// tables open to every role that can read them until the release enables it as on the source, at
// the cutover after the verification, or when the migration is canceled or fails.
import { ownerRightsRefusal } from '../schema/ownerAccess';
import { enableRowSecurity, rowSecurityToEnable } from '../schema/rowSecurity';
import type { ReversibleChange } from './change';
import { unlessDatabaseGone } from './change';

export const targetRowSecurity = {
  name: 'targetRowSecurity',
  server: 'target',
  describe: "row-level security held off on the target's tables while pgferry reads and writes them, enabled as on the source",
  ledger: "the source's own row-level security (pg_class.relrowsecurity): nothing is recorded in the catalog",
  rights: {
    server: 'target',
    needs: 'ownership of the tables (ALTER TABLE ... ENABLE ROW LEVEL SECURITY)',
    // asked only where the source has a table with row-level security: there is nothing to enable otherwise
    refusal: async (s) =>
      (await s.source.query('SELECT 1 FROM pg_catalog.pg_class WHERE relrowsecurity LIMIT 1')).rowCount
        ? ownerRightsRefusal(s.source, s.target, s.database, s.spec.migrateRoles, 'ALTER TABLE ... ENABLE ROW LEVEL SECURITY')
        : undefined,
  },
  madeFor: (spec) => spec.mode === 'Online',
  pending: async (ctx, database) => (await unlessDatabaseGone(() => rowSecurityToEnable(ctx.spec, database))) ?? [],
  undo: (ctx, database) => unlessDatabaseGone(() => enableRowSecurity(ctx, database)),
  failure: () => ({
    what: "could not enable row-level security on the target's tables as on the source",
    left: 'the tables are open as while streaming; a resume or `pgferry verify` after enabling it by hand sets it right',
  }),
} satisfies ReversibleChange;

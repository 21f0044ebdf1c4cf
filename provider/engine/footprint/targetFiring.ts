// The target's user triggers and rules switched to fire as for a replica-role session while
// changes stream, where the target user may not take that role (a managed target's admin;
// cdc/prepare/targetFiring.ts). Set back to the source's states at release.
import { fireAsReplica, firingsToRestore, restoreFiring } from '../cdc/prepare/targetFiring';
import { ownerRightsRefusal } from '../schema/ownerAccess';
import type { ReversibleChange } from './change';
import { unlessDatabaseGone } from './change';

export const targetFiring = {
  name: 'targetFiring',
  server: 'target',
  describe: "target triggers and rules switched to fire as for a replica-role session while streaming, set back to the source's states",
  ledger: "the source's own trigger and rule states (pg_trigger.tgenabled, pg_rewrite.ev_enabled): nothing is recorded in the catalog",
  rights: {
    server: 'target',
    needs: 'ownership of the tables (ALTER TABLE ... ENABLE/DISABLE TRIGGER and RULE)',
    refusal: (s) =>
      ownerRightsRefusal(s.source, s.target, s.database, s.spec.migrateRoles, 'ALTER TABLE ... DISABLE TRIGGER and DISABLE RULE'),
  },
  madeFor: (spec) => spec.mode === 'Online',
  /** Nothing to write: the source keeps the states the target is set back to. */
  record: () => undefined,
  apply: fireAsReplica,
  pending: async (ctx, database) => (await unlessDatabaseGone(() => firingsToRestore(ctx, database))) ?? [],
  undo: (ctx, database) => unlessDatabaseGone(() => restoreFiring(ctx, database)),
  failure: () => ({
    what: "could not set the target's triggers and rules back as on the source",
    left: 'they are as while streaming; a resume sets them back',
  }),
} satisfies ReversibleChange;

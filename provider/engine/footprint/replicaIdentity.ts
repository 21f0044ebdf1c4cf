// REPLICA IDENTITY FULL on source tables without a usable key (allowReplicaIdentityFull;
// cdc/prepare/identityFull.ts): the identity each had recorded first, set back at release, last of
// all, once the publication is gone (a table keeps FULL while any publication publishes it).
import { qualified } from '../connect/quote';
import { CONTROL_SCHEMA } from '../core/names';
import { pendingIdentityChanges, recordIdentityBefore } from '../control/sourceTables';
import { identityClause, restoreReplicaIdentity, setIdentityFull } from '../cdc/prepare/identityFull';
import type { ReversibleChange } from './change';

export const replicaIdentity = {
  name: 'replicaIdentity',
  server: 'source',
  describe: 'REPLICA IDENTITY FULL on source tables without a usable key, set back to the identity each had once no publication needs it',
  ledger: `${CONTROL_SCHEMA}.source_table (identity_before, identity_index_before, identity_restored_at)`,
  rights: { server: 'source', needs: 'ownership of the tables (ALTER TABLE ... REPLICA IDENTITY)' },
  madeFor: (spec) => spec.mode === 'Online' && spec.allowReplicaIdentityFull,
  record: recordIdentityBefore,
  apply: setIdentityFull,
  pending: async (ctx, database) =>
    (await pendingIdentityChanges(ctx.store, ctx.spec.migrationName, database)).map(
      (c) => `ALTER TABLE ONLY ${qualified(c.schema, c.name)} REPLICA IDENTITY ${identityClause(c)}`,
    ),
  undo: restoreReplicaIdentity,
  failure: () => ({
    what: 'could not set replica identities back',
    left: `the tables still to set back are in ${CONTROL_SCHEMA}.source_table on the target`,
  }),
} satisfies ReversibleChange;

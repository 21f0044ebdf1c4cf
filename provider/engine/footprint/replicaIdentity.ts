// REPLICA IDENTITY FULL on source tables without a usable key (allowReplicaIdentityFull;
// cdc/prepare/identityFull.ts): the identity each had recorded first, set back at release, last of
// all, once the publication is gone (a table keeps FULL while any publication publishes it).
import { readSourceRelations } from '../catalog/identityVerdict';
import { ident, qualified } from '../connect/quote';
import { listSome } from '../util/listSome';
import { CONTROL_SCHEMA } from '../core/names';
import { pendingIdentityChanges } from '../control/sourceTables';
import { identityClause, restoreReplicaIdentity } from '../cdc/prepare/identityFull';
import type { ReversibleChange, RightsRefusal, RightsSessions } from './change';

/** The tables without a usable key (the ones set FULL) that the source user does not own. */
async function refusal(s: RightsSessions): Promise<RightsRefusal | undefined> {
  const foreign = (await readSourceRelations(s.source)).filter((t) => t.identity.kind === 'none' && !t.owned);
  if (foreign.length === 0) return undefined;
  const owners = [...new Set(foreign.map((t) => t.owner))].sort();
  return {
    message: `source user ${ident(s.spec.source.user)} may not set REPLICA IDENTITY FULL on ${listSome(foreign.map((t) => t.display))} in ${ident(s.database)}: it does not own them`,
    fix: `on the source: GRANT ${owners.map(ident).join(', ')} TO ${ident(s.spec.source.user)}`,
  };
}

export const replicaIdentity = {
  name: 'replicaIdentity',
  server: 'source',
  describe: 'REPLICA IDENTITY FULL on source tables without a usable key, set back to the identity each had once no publication needs it',
  ledger: `${CONTROL_SCHEMA}.footprint (change replicaIdentity: undo.before, undo.beforeIndex, undone_at)`,
  rights: { server: 'source', needs: 'ownership of the tables (ALTER TABLE ... REPLICA IDENTITY)', refusal },
  madeFor: (spec) => spec.mode === 'Online' && spec.allowReplicaIdentityFull,
  pending: async (ctx, database) =>
    (await pendingIdentityChanges(ctx.store, ctx.spec.migrationName, database)).map(
      (c) => `ALTER TABLE ONLY ${qualified(c.schema, c.name)} REPLICA IDENTITY ${identityClause(c)}`,
    ),
  undo: restoreReplicaIdentity,
  failure: () => ({
    what: 'could not set replica identities back',
    left: `the tables still to set back are in ${CONTROL_SCHEMA}.footprint on the target`,
  }),
} satisfies ReversibleChange;

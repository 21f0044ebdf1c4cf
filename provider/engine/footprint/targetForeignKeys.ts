// The target's foreign keys dropped while changes stream, where the target user may not apply
// with replica role (cdc/prepare/targetForeignKeys.ts says why): recorded before the drop, added
// back at release (NOT VALID where rows violate them, as the source holds those rows too).
import { pendingForeignKeys } from '../control/foreignKeys';
import { ident, qualified } from '../connect/quote';
import { CONTROL_SCHEMA } from '../core/names';
import { recordTargetForeignKeys, restoreForeignKeys, setAsideForeignKeys } from '../cdc/prepare/targetForeignKeys';
import { ownerRightsRefusal } from '../schema/ownerAccess';
import type { ReversibleChange } from './change';

export const targetForeignKeys = {
  name: 'targetForeignKeys',
  server: 'target',
  describe: 'target foreign keys dropped while streaming, added back (NOT VALID where rows violate them)',
  ledger: `${CONTROL_SCHEMA}.footprint (change targetForeignKeys: undo.definition, undone_at, detail.outcome)`,
  rights: {
    server: 'target',
    needs: 'ownership of the tables (ALTER TABLE ... DROP and ADD CONSTRAINT)',
    refusal: (s) =>
      ownerRightsRefusal(s.source, s.target, s.database, s.spec.migrateRoles, 'ALTER TABLE ... DROP CONSTRAINT and ADD CONSTRAINT'),
  },
  madeFor: (spec) => spec.mode === 'Online',
  record: recordTargetForeignKeys,
  apply: setAsideForeignKeys,
  pending: async (ctx, database) =>
    (await pendingForeignKeys(ctx.store, ctx.spec.migrationName, database)).map(
      (key) => `ALTER TABLE ${qualified(key.schema, key.table)} ADD CONSTRAINT ${ident(key.name)} ${key.definition}`,
    ),
  undo: restoreForeignKeys,
  failure: () => ({
    what: "could not add the target's foreign keys back",
    left: `the ones still to add are in ${CONTROL_SCHEMA}.footprint on the target`,
  }),
} satisfies ReversibleChange;

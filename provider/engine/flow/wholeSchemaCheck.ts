// The schema check of a switchover once nothing is set aside on the target any more: the cutover's
// second look, after the release gave back its triggers and keys, and the fall-back's comparison,
// the target fenced and drained. Both compare the same way: the foreign keys the release could not
// add back are left out (they were reported when it tried), and with followSchemaChanges what the
// target alone has (a DBA's index, table or column) is told from the migration's own by the known
// objects and their identities, kept and named, as the first look keeps it (docs/safety.md, the
// ownership rule).
import { knownWithIdentities, type KnownOfDatabase } from '../control/knownObjects';
import type { FilterPlan } from '../filter/plan';
import { leftOutForeignKeys } from '../footprint/targetForeignKeys';
import type { SwitchoverRun } from '../run/migrationRun';
import { checkSchema, type SchemaCheck } from '../verify/schema/checkSchema';

/** A whole schema check of one database, its ledger read: each caller runs `check` its own way (tried again, or told and not fatal). */
export interface WholeSchemaCheck {
  /** The known objects the check tells the migration's own by (undefined without followSchemaChanges), which the rows' verification reads too. */
  readonly known?: KnownOfDatabase;
  /**
   * `sequences`: at a fall-back, the new server's free-standing sequence each known key names now,
   * as the fall-back paired them (switchover/sequenceSync.ts SequencesBack.identities), over the
   * identities recorded while streaming.
   */
  readonly check: (sequences?: ReadonlyMap<string, string>) => Promise<SchemaCheck>;
}

/**
 * Reads what one database's whole schema check leaves out and knows, from the control catalog,
 * once. `pgferry verify` (api.ts `verifyMigration`) makes the same check, with the spec alone.
 * `atFallBack`: a fall-back's, with the old source's filter plan it read before its hold (else the
 * check reads the plan); a sequence a column owns is then paired by that column (checkSchema's
 * ownedSequencesByColumn).
 */
export async function wholeSchemaCheck(
  run: Pick<SwitchoverRun, 'spec' | 'store'>,
  database: string,
  atFallBack?: { readonly filter: FilterPlan },
): Promise<WholeSchemaCheck> {
  const { spec, store } = run;
  const leftOutKeys = await leftOutForeignKeys(store, spec.migrationName, database);
  const known = spec.followSchemaChanges ? await knownWithIdentities(store, spec.migrationName, database) : undefined;
  // at a fall-back, a window's table made by the printed fix may name its serial's sequence otherwise
  const fallBack = atFallBack ? { filter: atFallBack.filter, ownedSequencesByColumn: true } : {};
  return {
    ...(known ? { known } : {}),
    check: (sequences) => {
      const identities = known && sequences ? { knownIdentities: new Map([...known.knownIdentities, ...sequences]) } : {};
      return checkSchema(spec, database, { whileSetAside: false, leftOutKeys, ...known, ...identities, ...fallBack });
    },
  };
}

// User triggers and rules on the target while changes stream. PostgreSQL's own apply worker runs
// with session_replication_role = replica so that ordinary triggers do not fire a second time on
// rows the source's triggers already produced (an audit trigger would duplicate every audit row);
// a session under that role also skips ordinary rules, which otherwise fire as the source's did (a
// DO ALSO rule writes its row twice: once on the source, streamed, once more on the target; a DO
// INSTEAD rule sends the change elsewhere). A managed target's admin may not set that role, so
// there pgferry switches the triggers and rules itself for the streaming phase, so that each kind
// fires as it would for a replica-role session, and sets them back to the source's states at
// cutover, cancel or failure (pg_trigger.tgenabled and pg_rewrite.ev_enabled share the states):
//   ordinary (ENABLE, 'O')           replica role: silent   here: disabled ('D') while streaming
//   ENABLE REPLICA ('R')             replica role: fires    here: ENABLE ALWAYS ('A') while streaming
//   ENABLE ALWAYS ('A')              replica role: fires    here: fires, unchanged
//   DISABLE ('D')                    silent on both paths, unchanged
// Only triggers and rules of tables are switched: a view's INSTEAD OF trigger or rule never fires
// on apply (changes are applied to tables), a view's _RETURN rule is the view itself, and ALTER
// TABLE refuses views. A trigger on a partitioned table fires through its clones on the partitions
// (tgparentid, marked internal before PostgreSQL 15), so the clones are switched one by one with
// the parent (ONLY: a partition's own state is kept exactly); rules are never inherited, a rule on
// a partitioned table fires only for statements naming it. Internal triggers of constraints
// (foreign keys, deferrable unique keys) are not user triggers (targetForeignKeys.ts).
//
// Crash safety: the switch is made once the copy is done and before the database is recorded as
// streaming (flow/online.ts), so a runner killed during it copies the database again into a new target
// database; after it, the switched states are the target's catalog's own. Setting them back reads
// the source's states each time and changes only what differs: it can run again, and does on a
// resumed cutover.
//
// This file holds the change whole, as a reversible change of the footprint: the switch, and the
// states set back at release, below.
import type pg from 'pg';
import { withSession } from '../connect/session';
import { ident, qualified } from '../connect/quote';
import type { MigrationRun } from '../run/migrationRun';
import { ownerRightsRefusal } from '../schema/ownerAccess';
import type { ReversibleChange } from './change';
import { unlessDatabaseGone } from './change';

/**
 * Triggers of user tables (plain and partitioned) with their enabled state: the user's own, and
 * the clones of triggers on partitioned tables, which are internal before PostgreSQL 15 but, unlike
 * constraint triggers, belong to no constraint (tgconstraint = 0) on every version.
 */
const TABLE_TRIGGERS_SQL = `
SELECT 'trigger' AS kind, n.nspname AS schema, c.relname AS table, t.tgname AS name, t.tgenabled AS enabled
  FROM pg_trigger t
  JOIN pg_class c ON c.oid = t.tgrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE (NOT t.tgisinternal OR t.tgconstraint = 0)
   AND c.relkind IN ('r', 'p')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
 ORDER BY 2, 3, 4`;

/** Rules of user tables (plain and partitioned) with their enabled state; views' rules are not read. */
const TABLE_RULES_SQL = `
SELECT 'rule' AS kind, n.nspname AS schema, c.relname AS table, r.rulename AS name, r.ev_enabled AS enabled
  FROM pg_rewrite r
  JOIN pg_class c ON c.oid = r.ev_class
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p') AND r.rulename <> '_RETURN'
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
 ORDER BY 2, 3, 4`;

/** pg_trigger.tgenabled and pg_rewrite.ev_enabled: origin (ordinary), disabled, replica, always. */
type FiringState = 'O' | 'D' | 'R' | 'A';
type FiringKind = 'trigger' | 'rule';

interface Firing {
  kind: FiringKind;
  schema: string;
  table: string;
  name: string;
  enabled: FiringState;
}

/** How many triggers and rules a switch or restore changed. */
export interface FiringCounts {
  readonly triggers: number;
  readonly rules: number;
}

async function tableFirings(client: pg.Client): Promise<Firing[]> {
  return [...(await client.query<Firing>(TABLE_TRIGGERS_SQL)).rows, ...(await client.query<Firing>(TABLE_RULES_SQL)).rows];
}

const ENABLE_CLAUSE: Record<FiringKind, Record<FiringState, string>> = {
  trigger: { O: 'ENABLE TRIGGER', D: 'DISABLE TRIGGER', R: 'ENABLE REPLICA TRIGGER', A: 'ENABLE ALWAYS TRIGGER' },
  rule: { O: 'ENABLE RULE', D: 'DISABLE RULE', R: 'ENABLE REPLICA RULE', A: 'ENABLE ALWAYS RULE' },
};

/** While streaming without replica role: the state that fires each kind as a replica-role session would. */
const WHILE_STREAMING: Record<FiringState, FiringState> = { O: 'D', R: 'A', A: 'A', D: 'D' };

function alterFiring(firing: Omit<Firing, 'enabled'>, state: FiringState): string {
  return `ALTER TABLE ONLY ${qualified(firing.schema, firing.table)} ${ENABLE_CLAUSE[firing.kind][state]} ${ident(firing.name)}`;
}

function count(changed: readonly Firing[]): FiringCounts {
  return { triggers: changed.filter((f) => f.kind === 'trigger').length, rules: changed.filter((f) => f.kind === 'rule').length };
}

/** Can this session apply as a replica (ordinary triggers and rules silent)? Leaves the setting as it was. */
export async function replicaRolePermitted(target: pg.Client): Promise<boolean> {
  try {
    await target.query('SET session_replication_role = replica');
    await target.query('RESET session_replication_role');
    return true;
  } catch {
    return false;
  }
}

/** The table given and, for a partitioned one, its partitions at every level: where a trigger's clones are. */
const PARTITION_TREE_SQL = `
WITH RECURSIVE tree AS (
  SELECT pg_catalog.to_regclass($1)::pg_catalog.oid AS oid
  UNION SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN tree ON i.inhparent = tree.oid
)
SELECT n.nspname AS schema, c.relname AS table
  FROM tree JOIN pg_catalog.pg_class c ON c.oid = tree.oid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace`;

/** One trigger or rule the schema watch has just made, on its table. */
export interface MadeFiring {
  readonly kind: FiringKind;
  readonly schema: string;
  readonly table: string;
  readonly name: string;
}

/**
 * Which firings are the one just made: a rule on its table alone (rules are never inherited), a
 * trigger on its table and the partitions under it (its clones). A DBA's trigger of the same name on
 * another table is not it: switched off here, nothing would set it back (the release sets back only
 * what the source has).
 */
async function madeFirings(target: pg.Client, made: MadeFiring): Promise<(f: Firing) => boolean> {
  const tables =
    made.kind === 'rule'
      ? [{ schema: made.schema, table: made.table }]
      : (await target.query<{ schema: string; table: string }>(PARTITION_TREE_SQL, [qualified(made.schema, made.table)])).rows;
  return (f) => f.kind === made.kind && f.name === made.name && tables.some((t) => t.schema === f.schema && t.table === f.table);
}

/**
 * Switches the target's triggers and rules so that each kind fires during apply as for a
 * replica-role session (see the top of this file); returns how many ordinary ones were disabled.
 * `only`: the trigger or rule the schema watch has just made, in its transaction, with the clones a
 * trigger on a partitioned table makes on its partitions; others were switched already, and switching
 * is idempotent.
 */
export async function fireAsReplica(target: pg.Client, only?: MadeFiring): Promise<FiringCounts> {
  const silenced: Firing[] = [];
  const chosen = only ? await madeFirings(target, only) : () => true;
  for (const firing of (await tableFirings(target)).filter(chosen)) {
    const state = WHILE_STREAMING[firing.enabled];
    if (state === firing.enabled) continue;
    await target.query(alterFiring(firing, state));
    if (state === 'D') silenced.push(firing);
  }
  return count(silenced);
}

/** The target triggers and rules that also exist on the source in another state: the source's, to set back. */
async function differingFirings(source: pg.Client, target: pg.Client): Promise<Firing[]> {
  const key = (f: Firing) => `${f.kind}\0${f.schema}\0${f.table}\0${f.name}`;
  const onTarget = new Map((await tableFirings(target)).map((f) => [key(f), f]));
  return (await tableFirings(source)).filter((wanted) => {
    const current = onTarget.get(key(wanted));
    return current !== undefined && current.enabled !== wanted.enabled;
  });
}

/** Sets every target trigger and rule that also exists on the source back to the source's state; returns how many changed. */
async function restoreFiringStates(source: pg.Client, target: pg.Client): Promise<FiringCounts> {
  const changed = await differingFirings(source, target);
  for (const wanted of changed) await target.query(alterFiring(wanted, wanted.enabled));
  return count(changed);
}

/** The statements that would set one database's target triggers and rules back to the source's (empty: as on the source). */
async function firingsToRestore(run: Pick<MigrationRun, 'spec'>, database: string): Promise<string[]> {
  return withSession(run.spec.source, { database, purpose: 'triggers', readOnly: true }, (source) =>
    withSession(run.spec.target, { database, purpose: 'triggers', readOnly: true }, async (target) =>
      (await differingFirings(source, target)).map((f) => alterFiring(f, f.enabled)),
    ),
  );
}

/** Sets one database's target trigger and rule states back to the source's (after a switched streaming phase). */
async function restoreFiring(run: Pick<MigrationRun, 'spec'>, database: string): Promise<FiringCounts> {
  return withSession(run.spec.source, { database, purpose: 'triggers' }, (source) =>
    withSession(run.spec.target, { database, purpose: 'triggers', writable: true }, (target) => restoreFiringStates(source, target)),
  );
}

/** "2 trigger(s) and 1 rule(s)", or the one that is not zero. */
export function describeFirings(counts: FiringCounts): string {
  const parts = [counts.triggers > 0 ? `${counts.triggers} trigger(s)` : '', counts.rules > 0 ? `${counts.rules} rule(s)` : ''];
  return parts.filter(Boolean).join(' and ');
}

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
  pending: async (ctx, database) => (await unlessDatabaseGone(() => firingsToRestore(ctx, database))) ?? [],
  undo: (ctx, database) => unlessDatabaseGone(() => restoreFiring(ctx, database)),
  failure: () => ({
    what: "could not set the target's triggers and rules back as on the source",
    left: 'they are as while streaming; a resume sets them back',
  }),
} satisfies ReversibleChange;

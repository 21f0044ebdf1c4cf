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
// database; after it, the switched states are the target's catalog's own.
//
// Told by identity: each trigger and rule pgferry switches is recorded in the footprint ledger by
// its OID on the target, with the state it had and the state set, before the ALTER TABLE. The
// release gives back those alone: a trigger a DBA made under the name of one of the source's (a new
// OID) is the DBA's and keeps the state the DBA gave it, and one whose state someone changed since
// the switch keeps that too. What it is set back to is the source's state of its namesake, as the
// schema check compares it, or the state it had where the source has none. Setting back changes
// only what still differs: it can run again, and does on a resumed cutover. A migration switched
// by an older pgferry has no rows: its release matches the source's triggers by name, as then.
//
// This file holds the change whole, as a reversible change of the footprint: the switch, and the
// states set back at release, below.
import type pg from 'pg';
import { withSession } from '../connect/session';
import { ident, qualified } from '../connect/quote';
import type { CatalogConnection } from '../control/connection';
import { ownerRightsRefusal } from '../schema/ownerAccess';
import type { FootprintContext, ReversibleChange } from './change';
import { unlessDatabaseGone } from './change';
import { changesOf, markUndone, pendingChanges, recordChanges } from './ledger';

/**
 * Triggers of user tables (plain and partitioned) with their enabled state and OID: the user's own,
 * and the clones of triggers on partitioned tables, which are internal before PostgreSQL 15 but,
 * unlike constraint triggers, belong to no constraint (tgconstraint = 0) on every version.
 */
const TABLE_TRIGGERS_SQL = `
SELECT 'trigger' AS kind, t.oid::text AS oid, n.nspname AS schema, c.relname AS table, t.tgname AS name, t.tgenabled AS enabled
  FROM pg_trigger t
  JOIN pg_class c ON c.oid = t.tgrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE (NOT t.tgisinternal OR t.tgconstraint = 0)
   AND c.relkind IN ('r', 'p')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
 ORDER BY 3, 4, 5`;

/** Rules of user tables (plain and partitioned) with their enabled state and OID; views' rules are not read. */
const TABLE_RULES_SQL = `
SELECT 'rule' AS kind, r.oid::text AS oid, n.nspname AS schema, c.relname AS table, r.rulename AS name, r.ev_enabled AS enabled
  FROM pg_rewrite r
  JOIN pg_class c ON c.oid = r.ev_class
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p') AND r.rulename <> '_RETURN'
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
 ORDER BY 3, 4, 5`;

/** One trigger or rule by OID, as it is now (its table may have been renamed since the switch). */
const FIRING_BY_OID_SQL = `
SELECT 'trigger' AS kind, t.oid::text AS oid, n.nspname AS schema, c.relname AS table, t.tgname AS name, t.tgenabled AS enabled
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE $1 = 'trigger' AND t.oid = $2::oid
UNION ALL
SELECT 'rule', r.oid::text, n.nspname, c.relname, r.rulename, r.ev_enabled
  FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE $1 = 'rule' AND r.oid = $2::oid`;

/** pg_trigger.tgenabled and pg_rewrite.ev_enabled: origin (ordinary), disabled, replica, always. */
type FiringState = 'O' | 'D' | 'R' | 'A';
type FiringKind = 'trigger' | 'rule';

interface Firing {
  kind: FiringKind;
  /** Its OID on the server it was read from. */
  oid: string;
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

function alterFiring(firing: Pick<Firing, 'kind' | 'schema' | 'table' | 'name'>, state: FiringState): string {
  return `ALTER TABLE ONLY ${qualified(firing.schema, firing.table)} ${ENABLE_CLAUSE[firing.kind][state]} ${ident(firing.name)}`;
}

function count(changed: readonly Pick<Firing, 'kind'>[]): FiringCounts {
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
 * another table is not it.
 */
async function madeFirings(target: pg.Client, made: MadeFiring): Promise<(f: Firing) => boolean> {
  const tables =
    made.kind === 'rule'
      ? [{ schema: made.schema, table: made.table }]
      : (await target.query<{ schema: string; table: string }>(PARTITION_TREE_SQL, [qualified(made.schema, made.table)])).rows;
  return (f) => f.kind === made.kind && f.name === made.name && tables.some((t) => t.schema === f.schema && t.table === f.table);
}

/** Where the switches of one target database are recorded: the migration's footprint ledger. */
interface FiringLedger {
  readonly store: CatalogConnection;
  readonly migration: string;
  readonly database: string;
}

/** What the ledger keeps of one switched trigger or rule (its object: kind and OID on the target). */
interface FiringUndo extends Readonly<Pick<Firing, 'kind' | 'schema' | 'table' | 'name'>> {
  /** The state it had before the switch. */
  readonly enabled: FiringState;
  /** The state the switch set: one found in another state was changed by someone since, and is theirs to keep. */
  readonly set: FiringState;
}

const CHANGE = 'targetFiring';
/** The database's own row: its switches are recorded by identity (a release without it is an older pgferry's). */
const BY_IDENTITY = '';

const firingObject = (f: Pick<Firing, 'kind' | 'oid'>) => `${f.kind}:${f.oid}`;

/**
 * Switches the target's triggers and rules so that each kind fires during apply as for a
 * replica-role session (see the top of this file), each recorded in the ledger by its OID before it
 * is switched; returns how many ordinary ones were disabled. `only`: the trigger or rule the schema
 * watch has just made, in its transaction, with the clones a trigger on a partitioned table makes
 * on its partitions; others were switched already, and switching is idempotent.
 */
export async function fireAsReplica(target: pg.Client, ledger: FiringLedger, only?: MadeFiring): Promise<FiringCounts> {
  const chosen = only ? await madeFirings(target, only) : () => true;
  const switched = (await tableFirings(target)).filter(chosen).flatMap((f) => {
    const set = WHILE_STREAMING[f.enabled];
    return set === f.enabled ? [] : [{ firing: f, set }];
  });
  const undo = ({ firing: f, set }: (typeof switched)[number]): FiringUndo => ({ ...pick(f), enabled: f.enabled, set });
  await recordChanges<FiringUndo | Record<string, never>>(ledger.store, ledger.migration, ledger.database, CHANGE, [
    { object: BY_IDENTITY, undo: {} },
    ...switched.map((s) => ({ object: firingObject(s.firing), undo: undo(s) })),
  ]);
  for (const { firing, set } of switched) await target.query(alterFiring(firing, set));
  return count(switched.filter((s) => s.set === 'D').map((s) => s.firing));
}

function pick(f: Firing): Pick<Firing, 'kind' | 'schema' | 'table' | 'name'> {
  return { kind: f.kind, schema: f.schema, table: f.table, name: f.name };
}

/** One recorded switch as the target has it now: to set back, or left (gone, or changed by someone since). */
interface Recorded {
  readonly object: string;
  readonly now: Firing | undefined;
  readonly undo: FiringUndo;
}

/** The recorded switches still to give back in a database, each with the trigger or rule of its OID now. */
async function recordedSwitches(ctx: FootprintContext, target: pg.Client, database: string): Promise<Recorded[]> {
  const pending = await pendingChanges<FiringUndo>(ctx.store, ctx.spec.migrationName, database, CHANGE);
  const recorded: Recorded[] = [];
  for (const entry of pending.filter((e) => e.object !== BY_IDENTITY)) {
    const oid = entry.object.slice(entry.object.indexOf(':') + 1);
    const [now] = (await target.query<Firing>(FIRING_BY_OID_SQL, [entry.undo.kind, oid])).rows;
    recorded.push({ object: entry.object, now, undo: entry.undo });
  }
  return recorded;
}

/** The state a recorded switch goes back to: its namesake's on the source, else the one it had; undefined: leave it. */
function stateToGiveBack(r: Recorded, source: readonly Firing[]): FiringState | undefined {
  if (!r.now || r.now.enabled !== r.undo.set) return undefined;
  const namesake = source.find(
    (f) => f.kind === r.now!.kind && f.schema === r.now!.schema && f.table === r.now!.table && f.name === r.now!.name,
  );
  const state = namesake?.enabled ?? r.undo.enabled;
  return state === r.now.enabled ? undefined : state;
}

/** Whether the database's switches were recorded by identity (any row, pending or not). */
async function recordedByIdentity(ctx: FootprintContext, database: string): Promise<boolean> {
  return (await changesOf(ctx.store, ctx.spec.migrationName, CHANGE)).some((e) => e.database === database);
}

/** An older pgferry's switch, recorded nowhere: the target's triggers and rules the source also has in another state. */
async function differingByName(source: pg.Client, target: pg.Client): Promise<Firing[]> {
  const key = (f: Firing) => `${f.kind}\0${f.schema}\0${f.table}\0${f.name}`;
  const onTarget = new Map((await tableFirings(target)).map((f) => [key(f), f]));
  // where the replica role is permitted nothing was switched, by any version
  if (await replicaRolePermitted(target)) return [];
  return (await tableFirings(source)).filter((wanted) => {
    const current = onTarget.get(key(wanted));
    return current !== undefined && current.enabled !== wanted.enabled;
  });
}

/** The statements that set one database's switched triggers and rules back (empty: nothing left to give back). */
async function firingsToRestore(ctx: FootprintContext, database: string): Promise<string[]> {
  return withSession(ctx.spec.source, { database, purpose: 'triggers', readOnly: true }, (source) =>
    withSession(ctx.spec.target, { database, purpose: 'triggers', readOnly: true }, async (target) => {
      if (!(await recordedByIdentity(ctx, database))) return (await differingByName(source, target)).map((f) => alterFiring(f, f.enabled));
      const onSource = await tableFirings(source);
      return (await recordedSwitches(ctx, target, database)).flatMap((r) => {
        const state = stateToGiveBack(r, onSource);
        return state === undefined ? [] : [alterFiring(r.now!, state)];
      });
    }),
  );
}

/** Sets one database's switched triggers and rules back (after a switched streaming phase); returns how many changed. */
async function restoreFiring(ctx: FootprintContext, database: string): Promise<FiringCounts> {
  return withSession(ctx.spec.source, { database, purpose: 'triggers' }, (source) =>
    withSession(ctx.spec.target, { database, purpose: 'triggers', writable: true }, async (target) => {
      if (!(await recordedByIdentity(ctx, database))) {
        const changed = await differingByName(source, target);
        for (const wanted of changed) await target.query(alterFiring(wanted, wanted.enabled));
        return count(changed);
      }
      const onSource = await tableFirings(source);
      const changed: Firing[] = [];
      for (const r of await recordedSwitches(ctx, target, database)) {
        const state = stateToGiveBack(r, onSource);
        if (state !== undefined) {
          await target.query(alterFiring(r.now!, state));
          changed.push(r.now!);
        }
        // gone, or in a state someone gave it since: nothing of pgferry's is left on it
        const left = !r.now ? { gone: true } : r.now.enabled !== r.undo.set ? { keptAs: r.now.enabled } : {};
        await markUndone(ctx.store, ctx.spec.migrationName, database, CHANGE, r.object, left);
      }
      await markUndone(ctx.store, ctx.spec.migrationName, database, CHANGE, BY_IDENTITY);
      return count(changed);
    }),
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
  describe: 'target triggers and rules switched to fire as for a replica-role session while streaming, each set back as on the source',
  ledger: `footprint (change ${CHANGE}): each trigger and rule switched, by its OID on the target, with the state it had and the state set`,
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
    left: 'they are as while streaming, recorded in the footprint; a resume sets them back',
  }),
} satisfies ReversibleChange;

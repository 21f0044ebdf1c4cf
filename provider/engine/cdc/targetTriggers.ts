// User triggers on the target while changes stream. PostgreSQL's own apply worker runs with
// session_replication_role = replica so that ordinary triggers do not fire a second time on rows
// the source's triggers already produced (an audit trigger would duplicate every audit row). A
// managed target's admin may not set that role, so there pgferry switches the triggers itself for
// the streaming phase, so that each kind fires as it would for a replica-role session, and sets
// them back to the source's states at cutover or cancel:
//   ordinary (ENABLE, 'O')           replica role: silent   here: disabled ('D') while streaming
//   ENABLE REPLICA ('R')             replica role: fires    here: ENABLE ALWAYS ('A') while streaming
//   ENABLE ALWAYS ('A')              replica role: fires    here: fires, unchanged
//   DISABLE ('D')                    silent on both paths, unchanged
// Only triggers of tables are switched: a view's INSTEAD OF trigger never fires on apply (changes
// are applied to tables) and ALTER TABLE refuses views. A trigger on a partitioned table fires
// through its clones on the partitions (tgparentid, marked internal before PostgreSQL 15), so the
// clones are switched one by one with the parent (ONLY: a partition's own state is kept exactly).
// Internal triggers of constraints (foreign keys, deferrable unique keys) are not user triggers:
// without replica role they fire, which is the one difference the README lists.
import type pg from 'pg';
import { withSession } from '../connect/session';
import { ident, qualified } from '../connect/quote';
import type { MigrationRun } from '../migrationRun';

/**
 * Triggers of user tables (plain and partitioned) with their enabled state: the user's own, and
 * the clones of triggers on partitioned tables, which are internal before PostgreSQL 15 but, unlike
 * constraint triggers, belong to no constraint (tgconstraint = 0) on every version.
 */
const TABLE_TRIGGERS_SQL = `
SELECT n.nspname AS schema, c.relname AS table, t.tgname AS name, t.tgenabled AS enabled
  FROM pg_trigger t
  JOIN pg_class c ON c.oid = t.tgrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE (NOT t.tgisinternal OR t.tgconstraint = 0)
   AND c.relkind IN ('r', 'p')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
 ORDER BY 1, 2, 3`;

type TriggerState = 'O' | 'D' | 'R' | 'A';

interface TableTrigger {
  schema: string;
  table: string;
  name: string;
  enabled: TriggerState;
}

async function tableTriggers(client: pg.Client): Promise<TableTrigger[]> {
  return (await client.query<TableTrigger>(TABLE_TRIGGERS_SQL)).rows;
}

const ENABLE_CLAUSE: Record<TriggerState, string> = {
  O: 'ENABLE TRIGGER',
  D: 'DISABLE TRIGGER',
  R: 'ENABLE REPLICA TRIGGER',
  A: 'ENABLE ALWAYS TRIGGER',
};

/** While streaming without replica role: the state that fires each kind as a replica-role session would. */
const WHILE_STREAMING: Record<TriggerState, TriggerState> = { O: 'D', R: 'A', A: 'A', D: 'D' };

function alterTrigger(trigger: Pick<TableTrigger, 'schema' | 'table' | 'name'>, state: TriggerState): string {
  return `ALTER TABLE ONLY ${qualified(trigger.schema, trigger.table)} ${ENABLE_CLAUSE[state]} ${ident(trigger.name)}`;
}

/** Can this session apply as a replica (ordinary triggers silent)? Leaves the setting as it was. */
export async function replicaRolePermitted(target: pg.Client): Promise<boolean> {
  try {
    await target.query('SET session_replication_role = replica');
    await target.query('RESET session_replication_role');
    return true;
  } catch {
    return false;
  }
}

/**
 * Switches the target's triggers so that each kind fires during apply as for a replica-role
 * session (see the top of this file); returns how many ordinary triggers were disabled.
 */
export async function fireAsReplica(target: pg.Client): Promise<number> {
  let silenced = 0;
  for (const trigger of await tableTriggers(target)) {
    const state = WHILE_STREAMING[trigger.enabled];
    if (state === trigger.enabled) continue;
    await target.query(alterTrigger(trigger, state));
    if (state === 'D') silenced += 1;
  }
  return silenced;
}

/** Sets every target trigger that also exists on the source back to the source's state; returns how many changed. */
export async function restoreTriggerStates(source: pg.Client, target: pg.Client): Promise<number> {
  const key = (t: TableTrigger) => `${t.schema}\0${t.table}\0${t.name}`;
  const onTarget = new Map((await tableTriggers(target)).map((t) => [key(t), t]));
  let changed = 0;
  for (const wanted of await tableTriggers(source)) {
    const current = onTarget.get(key(wanted));
    if (!current || current.enabled === wanted.enabled) continue;
    await target.query(alterTrigger(wanted, wanted.enabled));
    changed += 1;
  }
  return changed;
}

/** Sets one database's target trigger states back to the source's (after a switched streaming phase). */
export async function restoreTriggers(run: Pick<MigrationRun, 'spec'>, database: string): Promise<number> {
  return withSession(run.spec.source, { database, purpose: 'triggers' }, (source) =>
    withSession(run.spec.target, { database, purpose: 'triggers', writable: true }, (target) => restoreTriggerStates(source, target)),
  );
}

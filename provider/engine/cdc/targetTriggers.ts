// User triggers on the target while changes stream. PostgreSQL's own apply worker runs with
// session_replication_role = replica so that ordinary triggers do not fire a second time on rows
// the source's triggers already produced (an audit trigger would duplicate every audit row). A
// managed target's admin may not set that role, so there the ordinary (ENABLE ORIGIN) triggers
// are disabled for the streaming phase and set back to the source's states at cutover or cancel.
import type pg from 'pg';
import { withSession } from '../connect/session';
import { ident, qualified } from '../connect/quote';
import type { MigrationRun } from '../migrationRun';

/** User (non-internal) triggers of user tables with their enabled state (O, D, R, A). */
const USER_TRIGGERS_SQL = `
SELECT n.nspname AS schema, c.relname AS table, t.tgname AS name, t.tgenabled AS enabled
  FROM pg_trigger t
  JOIN pg_class c ON c.oid = t.tgrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE NOT t.tgisinternal
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
 ORDER BY 1, 2, 3`;

interface UserTrigger {
  schema: string;
  table: string;
  name: string;
  enabled: 'O' | 'D' | 'R' | 'A';
}

async function userTriggers(client: pg.Client): Promise<UserTrigger[]> {
  return (await client.query<UserTrigger>(USER_TRIGGERS_SQL)).rows;
}

const ENABLE_CLAUSE: Record<UserTrigger['enabled'], string> = {
  O: 'ENABLE TRIGGER',
  D: 'DISABLE TRIGGER',
  R: 'ENABLE REPLICA TRIGGER',
  A: 'ENABLE ALWAYS TRIGGER',
};

function alterTrigger(trigger: Pick<UserTrigger, 'schema' | 'table' | 'name'>, state: UserTrigger['enabled']): string {
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

/** Disables the target's ordinary triggers (those a replica-role session would not fire); returns how many. */
export async function silenceOrdinaryTriggers(target: pg.Client): Promise<number> {
  const ordinary = (await userTriggers(target)).filter((t) => t.enabled === 'O');
  for (const trigger of ordinary) await target.query(alterTrigger(trigger, 'D'));
  return ordinary.length;
}

/** Sets every target trigger that also exists on the source back to the source's state; returns how many changed. */
export async function restoreTriggerStates(source: pg.Client, target: pg.Client): Promise<number> {
  const key = (t: UserTrigger) => `${t.schema}\0${t.table}\0${t.name}`;
  const onTarget = new Map((await userTriggers(target)).map((t) => [key(t), t]));
  let changed = 0;
  for (const wanted of await userTriggers(source)) {
    const current = onTarget.get(key(wanted));
    if (!current || current.enabled === wanted.enabled) continue;
    await target.query(alterTrigger(wanted, wanted.enabled));
    changed += 1;
  }
  return changed;
}

/** Sets one database's target trigger states back to the source's (after a silenced streaming phase). */
export async function restoreTriggers(run: Pick<MigrationRun, 'spec'>, database: string): Promise<number> {
  return withSession(run.spec.source, { database, purpose: 'triggers' }, (source) =>
    withSession(run.spec.target, { database, purpose: 'triggers', writable: true }, (target) => restoreTriggerStates(source, target)),
  );
}

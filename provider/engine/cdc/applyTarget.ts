// The apply session's connection to the target database and what it may do there: replica role
// (triggers silent, as PostgreSQL's own apply worker) and staging tables.
import type pg from 'pg';
import { closeSession, openSession } from '../connect/session';
import type { ApplyState, SessionConfig } from './types';

export interface ApplyTarget {
  readonly client: pg.Client;
  /** session_replication_role = replica took effect: no user trigger or foreign key fires. */
  readonly replicaRole: boolean;
  /** The session may create its staging tables (TEMPORARY on the database; PUBLIC has it by default). */
  readonly mayStage: boolean;
}

const REPLICA_ROLE_REFUSED =
  'session_replication_role = replica is not permitted on the target: triggers and foreign keys fire during apply, and changes are applied in strict commit order (slower)';

/** True when session_replication_role = replica took effect. */
async function takeReplicaRole(target: pg.Client, state: ApplyState): Promise<boolean> {
  try {
    // As PostgreSQL's own apply worker: no user triggers, FK checks done on the source.
    await target.query('SET session_replication_role = replica');
    return true;
  } catch {
    if (!state.warnings.includes(REPLICA_ROLE_REFUSED)) state.warnings.push(REPLICA_ROLE_REFUSED);
    return false;
  }
}

async function mayCreateTempTables(target: pg.Client): Promise<boolean> {
  const { rows } = await target.query<{ ok: boolean }>("SELECT has_database_privilege(current_database(), 'TEMPORARY') AS ok");
  return rows[0]?.ok === true;
}

/**
 * Opens the apply session: the pinned settings (no inherited timeout: a target transaction may
 * wait idle while a large source transaction streams in; a migrated database may default to
 * read-only), and durable commits, since confirmed positions must survive a crash of the target.
 * `onError` hears of a connection that fails between statements.
 */
export async function openApplyTarget(config: SessionConfig, state: ApplyState, onError: (error: Error) => void): Promise<ApplyTarget> {
  const client = await openSession(config.target, {
    database: config.database,
    purpose: 'apply',
    writable: true,
    settings: { synchronous_commit: 'on' },
  });
  client.on('error', onError);
  try {
    const replicaRole = await takeReplicaRole(client, state);
    return { client, replicaRole, mayStage: await mayCreateTempTables(client) };
  } catch (error) {
    await closeSession(client);
    throw error;
  }
}

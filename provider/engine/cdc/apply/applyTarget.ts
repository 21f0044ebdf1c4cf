// The apply session's connection to the target database: the fence it holds, and what it may do
// there (replica role: triggers silent, as PostgreSQL's own apply worker, or the same without it;
// staging tables).
//
// The fence: the session takes a session advisory lock on the target database (names.ts
// applyLockKey) before it reads the applied position, and holds it until its connection ends.
// The lock and the commits share one backend, so no session can commit data without holding the
// lock, and a lock lost with its connection takes the session's ability to commit with it: two
// appliers of one database can never both commit, whatever happens to runners and their leases,
// in origin and progress-table mode alike. A second session is refused (ApplyFencedError).
//
// Parallel apply's other sessions (applyLanes.ts) commit too, and a lane of a killed applier may
// still be committing when the next session starts: its record would then appear after that
// session read the lane records, and the batch it proves applied would be applied twice. So each
// lane holds the lane lock (shared, in the two-key space, so never the fence's own lock) for its
// connection's life, and a session starts only once no lane of an earlier one holds it.
import type pg from 'pg';
import { closeSession, openSession } from '../../connect/session';
import { PgferryError } from '../../core/errors';
import { CONTROL_SCHEMA } from '../../core/names';
import type { ApplyState } from './applyState';
import type { SessionConfig } from './sessionConfig';
import type { ServerSpec } from '../../input/migrationSpec';
import { displayIdent } from '../../connect/quote';

export interface ApplyTarget {
  readonly client: pg.Client;
  /** session_replication_role = replica took effect: no user trigger or foreign key fires. */
  readonly replicaRole: boolean;
  /**
   * Nothing on the target fires during apply that a replica-role session would not fire: replica
   * role, or, without it, no foreign key and no ordinary trigger or rule on a table (pgferry
   * dropped and switched them for the streaming phase: flow/streamingTarget.ts).
   */
  readonly asReplica: boolean;
  /** The session may create its staging tables (TEMPORARY on the database; PUBLIC has it by default). */
  readonly mayStage: boolean;
}

const REPLICA_ROLE_REFUSED =
  'session_replication_role = replica is not permitted on the target, and it has foreign keys or ordinary triggers or rules: they act during apply, and changes are applied in strict commit order (slower)';

/**
 * Whether a session without replica role fires anything a replica-role session would not: a
 * foreign key, or an ordinary (ENABLE, 'O') trigger or rule of a table. The control catalog's own
 * keys (in the maintenance database) do not count.
 */
const FIRES_BEYOND_REPLICA_SQL = `
SELECT EXISTS (SELECT 1 FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE k.contype = 'f' AND n.nspname <> $1)
    OR EXISTS (SELECT 1 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                WHERE (NOT t.tgisinternal OR t.tgconstraint = 0) AND t.tgenabled = 'O' AND c.relkind IN ('r', 'p'))
    OR EXISTS (SELECT 1 FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
                WHERE r.ev_enabled = 'O' AND r.rulename <> '_RETURN' AND c.relkind IN ('r', 'p')) AS fires`;

/** Another session holds this database's apply lock: this one must not apply. */
export class ApplyFencedError extends PgferryError {}

/** Who holds a session advisory lock on a bigint key in the current database (classid: high half, objid: low half). */
const LOCK_HOLDER_SQL = `
SELECT a.pid, a.application_name, a.client_addr::text AS client_addr, a.backend_start::text AS since
  FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
 WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
   AND l.classid = ($1::bigint >> 32)::oid AND l.objid = ($1::bigint & 4294967295)::oid`;

/**
 * Takes the apply lock for the session's life, or refuses naming the session that holds it. `taking`
 * is the lock's query already sent (openApplyTarget pipelines it with the steps after it).
 */
async function takeFence(target: pg.Client, config: SessionConfig, taking: Promise<pg.QueryResult<{ ok: boolean }>>): Promise<void> {
  const { rows } = await taking;
  if (rows[0]?.ok) return;
  const { rows: holders } = await target.query<{ pid: number; application_name: string; client_addr: string | null; since: string }>(
    LOCK_HOLDER_SQL,
    [config.fenceKey],
  );
  const h = holders[0];
  const holder = h
    ? `session ${h.pid} ("${h.application_name}" from ${h.client_addr ?? 'a local socket'}, since ${h.since})`
    : 'another session';
  throw new ApplyFencedError(
    'CDC_APPLY_FENCED',
    `${holder} holds this migration's apply lock on ${config.words.target}'s database, so this applier does not apply`,
    {
      category: 'target',
      field: `database ${displayIdent(config.database)}`,
      fix: `only one applier per database may run: the lock is released when the session holding it ends (a runner that lost its lease exits at once; a connection cut off ends when ${config.words.target} notices)`,
    },
  );
}

/** The lane lock's two keys, from the fence key: the high half and the low 31 bits. */
const LANE_KEYS = '($1::bigint >> 32)::int, ($1::bigint & 2147483647)::int';

/** Taken by each parallel apply session (applyLanes.ts) for its connection's life. */
export async function takeLaneLock(client: pg.Client, fenceKey: string): Promise<void> {
  await client.query(`SELECT pg_advisory_lock_shared(${LANE_KEYS})`, [fenceKey]);
}

/**
 * Refuses to start while a parallel apply session of an earlier applier is still open on the
 * target: its COMMIT may still be on its way (see the top of this file). Retried as a fence is.
 */
async function awaitNoLaneLeft(config: SessionConfig, asking: Promise<pg.QueryResult<{ ok: boolean }>>): Promise<void> {
  const { rows } = await asking;
  if (rows[0]?.ok) return;
  throw new ApplyFencedError(
    'CDC_APPLY_FENCED',
    `an apply session of an earlier applier of this migration is still open on ${config.words.target}'s database`,
    {
      category: 'target',
      field: `database ${displayIdent(config.database)}`,
      fix: `wait until ${config.words.target} notices that the earlier applier is gone (its sessions end then), or end those sessions`,
    },
  );
}

/** True when session_replication_role = replica took effect. */
function takeReplicaRole(target: pg.Client): Promise<boolean> {
  // As PostgreSQL's own apply worker: no user triggers, FK checks done on the source.
  return target.query('SET session_replication_role = replica').then(
    () => true,
    () => false,
  );
}

/** Without replica role: whether nothing fires that a replica-role session would not (warns otherwise). */
async function firesAsReplica(target: pg.Client, state: ApplyState): Promise<boolean> {
  const { rows } = await target.query<{ fires: boolean }>(FIRES_BEYOND_REPLICA_SQL, [CONTROL_SCHEMA]);
  if (!rows[0]?.fires) return true;
  if (!state.warnings.includes(REPLICA_ROLE_REFUSED)) state.warnings.push(REPLICA_ROLE_REFUSED);
  return false;
}

async function mayCreateTempTables(target: pg.Client): Promise<boolean> {
  const { rows } = await target.query<{ ok: boolean }>("SELECT has_database_privilege(current_database(), 'TEMPORARY') AS ok");
  return rows[0]?.ok === true;
}

/**
 * The apply session's connection, with its settings and nothing else sent: what openApplyTarget
 * opens, or takes when a resume opened it ahead (SessionConfig.openedAhead).
 */
export function openApplyConnection(target: ServerSpec, database: string): Promise<pg.Client> {
  return openSession(target, {
    database,
    purpose: 'apply',
    writable: true,
    // jit off: JIT compiles a statement whose estimated cost passes jit_above_cost, which the
    // catalog reads of a table's relation message do, and compiling took far longer than the
    // query on a loaded target (docs/bench.md#the-applys-settings); a resumed apply reads every
    // table before its first commit, and applying row changes never gains from it.
    settings: { synchronous_commit: 'on', jit: 'off' },
    // its statements are pipelined (statementPipeline.ts)
    pipeline: true,
  });
}

/**
 * Opens the apply session: the pinned settings (no inherited timeout: a target transaction may
 * wait idle while a large source transaction streams in; a migrated database may default to
 * read-only), and durable commits, since confirmed positions must survive a crash of the target.
 * `onError` hears of a connection that fails between statements.
 */
export async function openApplyTarget(config: SessionConfig, state: ApplyState, onError: (error: Error) => void): Promise<ApplyTarget> {
  const client = await (config.openedAhead?.takeTarget() ?? openApplyConnection(config.target, config.database));
  client.on('error', onError);
  // The four steps go in one round trip (the session is pipelined): a resume waits for them before
  // its first change. The target runs them in order, so nothing after the lock's query runs before
  // the lock is taken, and none of them changes anything a refused session must not (the lane lock
  // is let go in its own statement, the replica role is this session's own setting).
  const taking = client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [config.fenceKey]);
  const lanes = client.query<{ ok: boolean }>(
    `SELECT CASE WHEN pg_try_advisory_lock(${LANE_KEYS}) THEN pg_advisory_unlock(${LANE_KEYS}) ELSE false END AS ok`,
    [config.fenceKey],
  );
  const role = takeReplicaRole(client);
  const staging = mayCreateTempTables(client);
  const steps: Promise<unknown>[] = [taking, lanes, staging];
  for (const step of steps) step.catch(() => undefined); // each awaited below; a rejection is not lost
  try {
    await takeFence(client, config, taking);
    await awaitNoLaneLeft(config, lanes);
    const replicaRole = await role;
    const asReplica = replicaRole || (await firesAsReplica(client, state));
    return { client, replicaRole, asReplica, mayStage: await staging };
  } catch (error) {
    await Promise.allSettled(steps);
    await closeSession(client);
    throw error;
  }
}

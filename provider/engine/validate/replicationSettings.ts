// Online prerequisites on the source server: wal_level=logical, a free replication slot and WAL
// sender per database, and a user allowed to replicate (checked by opening a replication connection).
import { withSession } from '../connect/session';
import { displayIdent, literal } from '../connect/quote';
import type { ValidationResult } from '../core/model';
import { reverseStreamNamesOf, slotName } from '../core/names';
import type { MigrationSpec } from '../input/migrationSpec';
import { CODES } from './codes';
import { CHECK_TYPES, failed, succeeded, warning } from './result';
import { listSome } from '../util/listSome';
import { VALIDATION_CONNECT_TIMEOUT_MS, type ServerSession } from './readOnlySessions';
import { maskSecrets } from '../core/secrets';
import { AZURE_ADMIN_MEMBER_SQL, MAY_REPLICATE_SQL, noReplication, replicationGrant } from '../footprint/slotAndPublication';

/** Slots named in $1 are this migration's own (a re-validation after a partial run). */
export const REPLICATION_SETTINGS_SQL = `
SELECT current_setting('wal_level') AS wal_level,
       current_setting('max_replication_slots')::int AS max_slots,
       current_setting('max_wal_senders')::int AS max_senders,
       current_setting('max_slot_wal_keep_size', true) AS wal_keep,
       (SELECT count(*) FROM pg_replication_slots WHERE slot_name <> ALL($1::text[]))::int AS used_slots,
       (SELECT coalesce(array_agg(slot_name::text ORDER BY slot_name), '{}') FROM pg_replication_slots
        WHERE NOT active AND slot_name <> ALL($1::text[])) AS inactive_slots`;

/** Whether the user may make a slot as the server decides it (footprint/slotAndPublication.ts), and why not. */
const REPLICATION_RIGHT_SQL = `
SELECT ${MAY_REPLICATE_SQL} AS replicates, ${AZURE_ADMIN_MEMBER_SQL} AS azure_admin,
       (SELECT coalesce(array_agg(g.rolname::text ORDER BY g.rolname), '{}') FROM pg_catalog.pg_roles g
         WHERE g.rolname IN ('rds_replication', 'rds_superuser') AND pg_catalog.pg_has_role(current_user, g.oid, 'MEMBER')) AS roles
  FROM pg_catalog.pg_roles r WHERE r.rolname = current_user`;

interface Settings {
  wal_level: string;
  /** max_slot_wal_keep_size as shown ('-1' unlimited, e.g. '10GB'); null before PostgreSQL 13. */
  wal_keep?: string | null;
  max_slots: number;
  max_senders: number;
  used_slots: number;
  inactive_slots: string[];
}

/**
 * Pure: decides the server-parameter checks from the settings read on the source (online), or on
 * the target (a fallback window: its reverse stream reads a slot there, docs/fallback.md).
 */
export function checkReplicationSettings(s: Settings, needed: number, side: 'source' | 'target' = 'source'): ValidationResult[] {
  const type = CHECK_TYPES.serverParameters;
  const scope = { server: side };
  const why = side === 'source' ? 'online migration needs logical' : 'the reverse stream of fallbackWindow needs logical';
  const per = side === 'source' ? 'one per database' : "one per database for fallbackWindow's reverse stream";
  const results: ValidationResult[] = [];
  if (s.wal_level !== 'logical') {
    results.push(
      failed(
        CODES.WAL_LEVEL,
        type,
        `the ${side} has wal_level=${s.wal_level}; ${why}`,
        `on the ${side}: ALTER SYSTEM SET wal_level = logical, then restart the ${side} (Azure: server parameter wal_level = logical; Amazon RDS: rds.logical_replication = 1)`,
        scope,
      ),
    );
  } else {
    results.push(succeeded(CODES.WAL_LEVEL, type, `the ${side} has wal_level=logical`, scope));
  }
  const free = s.max_slots - s.used_slots;
  if (free < needed) {
    const drop = s.inactive_slots.length
      ? `drop unused inactive slots (${listSome(s.inactive_slots)}) with SELECT pg_drop_replication_slot(${literal(s.inactive_slots[0]!)}), or `
      : '';
    results.push(
      failed(
        CODES.REPLICATION_SLOTS,
        type,
        `the ${side} has ${free} free replication slot(s) (max_replication_slots=${s.max_slots}, ${s.used_slots} in use); ${needed} needed, ${per}`,
        `${drop}on the ${side}: ALTER SYSTEM SET max_replication_slots = ${s.used_slots + needed}, then restart the ${side}`,
        scope,
      ),
    );
  } else {
    results.push(succeeded(CODES.REPLICATION_SLOTS, type, `${free} free replication slot(s) on the ${side}, ${needed} needed`, scope));
  }
  const senders = s.used_slots + needed;
  if (s.max_senders < senders) {
    results.push(
      failed(
        CODES.WAL_SENDERS,
        type,
        `the ${side} has max_wal_senders=${s.max_senders}; ${senders} needed (${s.used_slots} slot(s) in use + ${needed} for this migration)`,
        `on the ${side}: ALTER SYSTEM SET max_wal_senders = ${Math.max(senders, s.max_slots)}, then restart the ${side}`,
        scope,
      ),
    );
  } else {
    results.push(succeeded(CODES.WAL_SENDERS, type, `max_wal_senders=${s.max_senders} on the ${side}, ${senders} needed`, scope));
  }
  if (side === 'source') results.push(slotRetentionResult(s.wal_keep ?? null));
  return results;
}

/**
 * A stopped stream (a dead runner, an unreachable target) makes the slot retain WAL until the
 * source's disk is full, unless max_slot_wal_keep_size bounds it (PostgreSQL 13+): then the slot
 * is invalidated instead, and the migration must start again, but the source keeps running.
 */
function slotRetentionResult(walKeep: string | null): ValidationResult {
  const type = CHECK_TYPES.serverParameters;
  const scope = { server: 'source' as const };
  if (walKeep === null) {
    return warning(
      CODES.SLOT_WAL_UNBOUNDED,
      type,
      'the source (before PostgreSQL 13) cannot bound the WAL a replication slot retains: while the stream is stopped, WAL accumulates until the disk is full',
      'watch the slot with `pgferry show` (retained WAL) and free disk space for the copy and the streaming phase',
      scope,
    );
  }
  if (walKeep === '-1') {
    return warning(
      CODES.SLOT_WAL_UNBOUNDED,
      type,
      'the source has max_slot_wal_keep_size = -1 (unlimited): while the stream is stopped (runner dead, target unreachable), the slot retains WAL until the source disk is full',
      "on the source: ALTER SYSTEM SET max_slot_wal_keep_size = '<what the disk can hold, e.g. 50GB>' and SELECT pg_reload_conf(); past it the slot is invalidated (the migration must start again) instead of the disk filling",
      scope,
    );
  }
  return succeeded(CODES.SLOT_WAL_UNBOUNDED, type, `the source bounds the WAL a slot retains (max_slot_wal_keep_size = ${walKeep})`, scope);
}

export async function checkOnlineSource(
  source: ServerSession,
  spec: MigrationSpec,
  databases: readonly string[],
  instance: string | undefined,
): Promise<ValidationResult[]> {
  const own = spec.databases.map((d) => slotName(spec.migrationName, d, instance));
  const settings = (await source.client.query<Settings>(REPLICATION_SETTINGS_SQL, [own])).rows[0]!;
  const results = checkReplicationSettings(settings, spec.databases.length);
  return [...results, ...(await checkReplicationRights(source, databases, 'source'))];
}

/**
 * fallbackWindow: the target must serve the reverse stream as a source serves the forward one
 * (wal_level, a free slot and WAL sender per database, a user that may replicate). Nothing is
 * changed; a target database that does not exist yet is not connected to (the role's rights and
 * the settings are server-wide).
 */
export async function checkFallbackTarget(
  target: ServerSession,
  spec: MigrationSpec,
  instance: string | undefined,
): Promise<ValidationResult[]> {
  const own = spec.databases.map((d) => reverseStreamNamesOf(spec.migrationName, d, instance).slot);
  const settings = (await target.client.query<Settings>(REPLICATION_SETTINGS_SQL, [own])).rows[0]!;
  const results = checkReplicationSettings(settings, spec.databases.length, 'target');
  return [...results, ...(await checkReplicationRights(target, [spec.target.maintenanceDatabase], 'target'))];
}

/** The user may replicate on that server, and a replication connection opens. */
async function checkReplicationRights(
  server: ServerSession,
  databases: readonly string[],
  side: 'source' | 'target',
): Promise<ValidationResult[]> {
  const results: ValidationResult[] = [];
  const source = server;
  const type = CHECK_TYPES.privileges;
  const scope = { server: side };
  const user = displayIdent(source.info.user);
  const right = (await source.client.query<{ replicates: boolean; azure_admin: boolean; roles: string[] }>(REPLICATION_RIGHT_SQL)).rows[0];
  const roles = right?.roles ?? [];
  if (!right?.replicates) {
    results.push(
      failed(
        CODES.REPLICATION_PRIVILEGE,
        type,
        `${side} user ${user} may not create a replication slot (${noReplication(right?.azure_admin === true)}, not a superuser)`,
        `on the ${side}: ${replicationGrant(source.info.user)}`,
        scope,
      ),
    );
    return results;
  }
  results.push(
    succeeded(
      CODES.REPLICATION_PRIVILEGE,
      type,
      `${side} user ${user} may replicate (${source.info.superuser ? 'superuser' : source.info.replication ? 'REPLICATION' : `member of ${roles.join(', ')}`})`,
      scope,
    ),
  );
  // pg_hba.conf and connection limits only show when a replication connection is really opened.
  const database = databases[0];
  if (database === undefined) return results;
  try {
    await withSession(
      source.spec,
      { database, replication: true, purpose: 'validate', connectTimeoutMs: VALIDATION_CONNECT_TIMEOUT_MS },
      (client) => client.query('IDENTIFY_SYSTEM'),
    );
    results.push(
      succeeded(
        CODES.REPLICATION_CONNECTION,
        CHECK_TYPES.replication,
        `opened a logical replication connection to ${displayIdent(database)} on the ${side}`,
        { ...scope, database },
      ),
    );
  } catch (error) {
    results.push(
      failed(
        CODES.REPLICATION_CONNECTION,
        CHECK_TYPES.replication,
        `cannot open a logical replication connection to ${displayIdent(database)} on the ${side} as ${user}: ${maskSecrets(String((error as Error).message), [source.spec.password])}`,
        `allow it in the ${side}'s pg_hba.conf (a line for database ${displayIdent(database)} or all, user ${source.info.user}) and check max_wal_senders`,
        { ...scope, database },
      ),
    );
  }
  return results;
}

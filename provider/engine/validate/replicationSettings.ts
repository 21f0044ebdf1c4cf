// Online prerequisites on the source server: wal_level=logical, a free replication slot and WAL
// sender per database, and a user allowed to replicate (checked by opening a replication connection).
import { withSession } from '../connect/session';
import { ident, literal } from '../connect/quote';
import type { ValidationResult } from '../core/model';
import { slotName } from '../core/names';
import type { MigrationSpec } from '../input/migrationSpec';
import { CODES } from './codes';
import { CHECK_TYPES, failed, succeeded, warning } from './result';
import { listSome } from '../util/listSome';
import { VALIDATION_CONNECT_TIMEOUT_MS, type ServerSession } from './readOnlySessions';
import { maskSecrets } from '../core/secrets';

/** Slots named in $1 are this migration's own (a re-validation after a partial run). */
export const REPLICATION_SETTINGS_SQL = `
SELECT current_setting('wal_level') AS wal_level,
       current_setting('max_replication_slots')::int AS max_slots,
       current_setting('max_wal_senders')::int AS max_senders,
       current_setting('max_slot_wal_keep_size', true) AS wal_keep,
       (SELECT count(*) FROM pg_replication_slots WHERE slot_name <> ALL($1::text[]))::int AS used_slots,
       (SELECT coalesce(array_agg(slot_name::text ORDER BY slot_name), '{}') FROM pg_replication_slots
        WHERE NOT active AND slot_name <> ALL($1::text[])) AS inactive_slots`;

/** Roles whose members may replicate on managed sources (RDS, Azure). */
const REPLICATION_ROLES_SQL = `
SELECT r.rolname AS name FROM pg_roles r
WHERE r.rolname IN ('rds_replication', 'rds_superuser', 'azure_pg_admin') AND pg_has_role(current_user, r.oid, 'MEMBER')`;

interface Settings {
  wal_level: string;
  /** max_slot_wal_keep_size as shown ('-1' unlimited, e.g. '10GB'); null before PostgreSQL 13. */
  wal_keep?: string | null;
  max_slots: number;
  max_senders: number;
  used_slots: number;
  inactive_slots: string[];
}

/** Pure: decides the server-parameter checks from the settings read on the source. */
export function checkReplicationSettings(s: Settings, needed: number): ValidationResult[] {
  const type = CHECK_TYPES.serverParameters;
  const scope = { server: 'source' as const };
  const results: ValidationResult[] = [];
  if (s.wal_level !== 'logical') {
    results.push(
      failed(
        CODES.WAL_LEVEL,
        type,
        `the source has wal_level=${s.wal_level}; online migration needs logical`,
        `on the source: ALTER SYSTEM SET wal_level = logical, then restart the source (Azure: server parameter wal_level; Amazon RDS: rds.logical_replication = 1)`,
        scope,
      ),
    );
  } else {
    results.push(succeeded(CODES.WAL_LEVEL, type, 'the source has wal_level=logical', scope));
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
        `the source has ${free} free replication slot(s) (max_replication_slots=${s.max_slots}, ${s.used_slots} in use); ${needed} needed, one per database`,
        `${drop}on the source: ALTER SYSTEM SET max_replication_slots = ${s.used_slots + needed}, then restart the source`,
        scope,
      ),
    );
  } else {
    results.push(succeeded(CODES.REPLICATION_SLOTS, type, `${free} free replication slot(s) on the source, ${needed} needed`, scope));
  }
  const senders = s.used_slots + needed;
  if (s.max_senders < senders) {
    results.push(
      failed(
        CODES.WAL_SENDERS,
        type,
        `the source has max_wal_senders=${s.max_senders}; ${senders} needed (${s.used_slots} slot(s) in use + ${needed} for this migration)`,
        `on the source: ALTER SYSTEM SET max_wal_senders = ${Math.max(senders, s.max_slots)}, then restart the source`,
        scope,
      ),
    );
  } else {
    results.push(succeeded(CODES.WAL_SENDERS, type, `max_wal_senders=${s.max_senders} on the source, ${senders} needed`, scope));
  }
  results.push(slotRetentionResult(s.wal_keep ?? null));
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

  const type = CHECK_TYPES.privileges;
  const scope = { server: 'source' as const };
  const user = ident(source.info.user);
  const roles = (await source.client.query<{ name: string }>(REPLICATION_ROLES_SQL)).rows.map((r) => r.name);
  const allowed = source.info.superuser || source.info.replication || roles.length > 0;
  if (!allowed) {
    results.push(
      failed(
        CODES.REPLICATION_PRIVILEGE,
        type,
        `source user ${user} has no REPLICATION attribute and is not a superuser`,
        `on the source: ALTER ROLE ${user} WITH REPLICATION (Amazon RDS: GRANT rds_replication TO ${user})`,
        scope,
      ),
    );
    return results;
  }
  results.push(
    succeeded(
      CODES.REPLICATION_PRIVILEGE,
      type,
      `source user ${user} may replicate (${source.info.superuser ? 'superuser' : source.info.replication ? 'REPLICATION' : `member of ${roles.join(', ')}`})`,
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
        `opened a logical replication connection to ${ident(database)} on the source`,
        { ...scope, database },
      ),
    );
  } catch (error) {
    results.push(
      failed(
        CODES.REPLICATION_CONNECTION,
        CHECK_TYPES.replication,
        `cannot open a logical replication connection to ${ident(database)} on the source as ${user}: ${maskSecrets(String((error as Error).message), [source.spec.password])}`,
        `allow it in the source's pg_hba.conf (a line for database ${database} or all, user ${source.info.user}) and check max_wal_senders`,
        { ...scope, database },
      ),
    );
  }
  return results;
}

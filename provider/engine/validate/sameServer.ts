// Source and target must not be one server, however spelled (a host name and its IP, a public and
// a private name, a port forward): the target's databases are dropped and re-created, and so
// would the source's be. Two proofs, either enough: the clusters' system identifiers are equal
// (a physical standby shares its primary's, and is refused too), or an advisory lock taken by the
// target session shows up in the source session's pg_locks. The second works for users who may not
// read pg_control_system(), and writes nothing on either server.
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { INSUFFICIENT_PRIVILEGE, sqlState } from '../connect/sqlstate';
import { PgferryError } from '../core/errors';
import type { MigrationSpec } from '../input/migrationSpec';
import type { ValidationResult } from '../core/model';
import { CODES } from './codes';
import { CHECK_TYPES, failed, succeeded } from './result';

export type ServerSameness = 'same' | 'distinct';

async function systemIdentifier(client: pg.Client): Promise<string | undefined> {
  try {
    const { rows } = await client.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()');
    return rows[0]?.id;
  } catch (error) {
    if (sqlState(error) === INSUFFICIENT_PRIVILEGE) return undefined;
    throw error;
  }
}

/** Does the source session see an advisory lock that the target session holds? */
async function seesTargetLock(source: pg.Client, target: pg.Client): Promise<boolean> {
  const key = BigInt.asIntN(64, BigInt(`0x${randomBytes(8).toString('hex')}`)).toString();
  await target.query('SELECT pg_advisory_lock($1::int8)', [key]);
  try {
    // pg_locks shows a bigint key as classid (high 32 bits) and objid (low 32 bits), objsubid 1
    const { rows } = await source.query(
      `SELECT 1 FROM pg_locks
        WHERE locktype = 'advisory' AND objsubid = 1 AND granted
          AND classid::text::int8 = (($1::int8 >> 32) & 4294967295) AND objid::text::int8 = ($1::int8 & 4294967295)`,
      [key],
    );
    return rows.length > 0;
  } finally {
    await target.query('SELECT pg_advisory_unlock($1::int8)', [key]);
  }
}

/** Compares two sessions' servers (read-only: works in validation's read-only sessions). */
export async function compareServers(source: pg.Client, target: pg.Client): Promise<ServerSameness> {
  const [sourceId, targetId] = await Promise.all([systemIdentifier(source), systemIdentifier(target)]);
  if (sourceId !== undefined && sourceId === targetId) return 'same';
  return (await seesTargetLock(source, target)) ? 'same' : 'distinct';
}

function describe(spec: MigrationSpec): string {
  return `source ${spec.source.host}:${spec.source.port} and target ${spec.target.host}:${spec.target.port}`;
}

const FIX = 'point target at the server you migrate to (Azure: the Flexible Server FQDN), not at the source';

/** The validation result of the check. */
export function sameServerResult(spec: MigrationSpec, sameness: ServerSameness): ValidationResult {
  return sameness === 'same'
    ? failed(CODES.SAME_SERVER, CHECK_TYPES.connectivity, `${describe(spec)} are the same server`, FIX)
    : succeeded(CODES.SAME_SERVER, CHECK_TYPES.connectivity, `${describe(spec)} are different servers`);
}

/** Refuses, before anything is changed on either server, a migration whose source and target (these sessions' servers) are one server. */
export async function assertDistinctServers(spec: MigrationSpec, source: pg.Client, target: pg.Client): Promise<void> {
  if ((await compareServers(source, target)) === 'same') {
    throw new PgferryError('SAME_SERVER', `${describe(spec)} are the same server: migrating would overwrite the source`, {
      category: 'validation',
      field: 'target',
      fix: FIX,
    });
  }
}

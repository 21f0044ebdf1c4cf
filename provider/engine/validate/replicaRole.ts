// Online migrations: how the target will apply the streamed changes. A target user that may set
// session_replication_role = replica applies as PostgreSQL's own apply worker (the target's
// ordinary triggers, rules and foreign keys stay silent: the source's already acted). One that may
// not (a managed target's admin) gets the same effect another way while changes stream
// (flow/streamingTarget.ts): ordinary triggers and rules disabled, foreign keys dropped, all set
// back at cutover, cancel or failure. This says which, and what it will touch in each database.
import type pg from 'pg';
import { displayIdent } from '../connect/quote';
import type { ValidationResult } from '../core/model';
import { CODES } from './codes';
import { CHECK_TYPES, succeeded, warning } from './result';

/**
 * What the switch touches in a source database (as restored on the target): its tables' own
 * foreign keys, and their ordinary triggers and rules (partition clones of triggers counted too).
 */
const STREAMING_SWITCHES_SQL = `
WITH tables AS (
  SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
)
SELECT (SELECT count(*) FROM pg_constraint k WHERE k.contype = 'f' AND k.conparentid = 0 AND k.conrelid IN (SELECT oid FROM tables))::int AS foreign_keys,
       (SELECT count(*) FROM pg_trigger t WHERE (NOT t.tgisinternal OR t.tgconstraint = 0) AND t.tgenabled = 'O'
           AND t.tgrelid IN (SELECT oid FROM tables))::int AS triggers,
       (SELECT count(*) FROM pg_rewrite r WHERE r.ev_enabled = 'O' AND r.rulename <> '_RETURN'
           AND r.ev_class IN (SELECT oid FROM tables))::int AS rules`;

interface Switches {
  foreign_keys: number;
  triggers: number;
  rules: number;
}

/** Pure: the result for one database whose target user may not take replica role. */
export function streamingSwitchesResult(database: string, user: string, s: Switches): ValidationResult {
  const type = CHECK_TYPES.replication;
  const scope = { database, server: 'target' as const };
  const db = displayIdent(database);
  const why = `the target user ${displayIdent(user)} may not set session_replication_role = replica`;
  const parts: string[] = [];
  if (s.foreign_keys > 0) {
    parts.push(
      `its ${s.foreign_keys} foreign key(s) are dropped on the target and added back at cutover, cancel or failure, validated then (NOT VALID, with a warning naming each, where rows the source holds violate them: rows left by deletes made under replica role on the source)`,
    );
  }
  if (s.triggers + s.rules > 0) {
    parts.push(
      `its ${s.triggers} ordinary trigger(s) and ${s.rules} rule(s) are disabled (they already ran on the source), set back as on the source at the end`,
    );
  }
  if (parts.length === 0) {
    return succeeded(
      CODES.TARGET_REPLICA_ROLE,
      type,
      `${why}; ${db} has no foreign key, ordinary trigger or rule that could act during apply`,
      scope,
    );
  }
  return warning(
    CODES.TARGET_REPLICA_ROLE,
    type,
    `${why}, so while changes stream into ${db}: ${parts.join('; ')}`,
    'none needed; adding the foreign keys back scans each referencing table during the cutover. A target user allowed to set session_replication_role (a superuser; on PostgreSQL 15+, GRANT SET ON PARAMETER session_replication_role) applies with replica role instead, and nothing is dropped or disabled',
    scope,
  );
}

/**
 * One result when the target user may take replica role; otherwise one per database, saying what
 * is dropped or disabled while streaming.
 */
export async function checkApplyWithoutReplicaRole(
  sources: ReadonlyMap<string, pg.Client>,
  user: string,
  replicaRole: boolean,
): Promise<ValidationResult[]> {
  if (replicaRole) {
    return [
      succeeded(
        CODES.TARGET_REPLICA_ROLE,
        CHECK_TYPES.replication,
        `the target user ${displayIdent(user)} may set session_replication_role = replica: changes are applied as PostgreSQL's own apply worker applies them (the target's ordinary triggers, rules and foreign keys do not act)`,
        { server: 'target' },
      ),
    ];
  }
  const results: ValidationResult[] = [];
  for (const [database, client] of sources) {
    const { rows } = await client.query<Switches>(STREAMING_SWITCHES_SQL);
    results.push(streamingSwitchesResult(database, user, rows[0]!));
  }
  return results;
}

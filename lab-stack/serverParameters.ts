// What the target's server parameters should be, as a pure function of the lab config: the seeds'
// `azure.extensions` allow-list plus whatever the user lists under server.parameters.
import { DEFAULT_EXTENSIONS, type LabConfig } from './config';

/**
 * Parameters Flexible Server only applies after a restart (PostgreSQL's "postmaster" context: "can
 * only be set at server start"; Azure lists them as static). The lab restarts the server after
 * setting any of them (serverRestart.ts).
 */
const RESTART_PARAMETERS: ReadonlySet<string> = new Set([
  'shared_preload_libraries',
  'max_replication_slots',
  'max_wal_senders',
  'max_worker_processes',
  'max_logical_replication_workers',
  'max_connections',
  'max_prepared_transactions',
  'max_locks_per_transaction',
  'max_pred_locks_per_transaction',
  'shared_buffers',
  'wal_buffers',
  'wal_level',
  'track_activity_query_size',
  'cron.database_name',
]);

/** The `azure.extensions` value: the defaults plus the source's extensions, upper-cased, deduplicated, sorted. */
function allowedExtensions(extra: readonly string[]): string {
  const names = new Set<string>(DEFAULT_EXTENSIONS);
  for (const name of extra) names.add(name.toUpperCase());
  return [...names].sort().join(',');
}

/**
 * Every server parameter the lab sets, in a stable order (sorted by name). A migration of the lab
 * that asks for a fallback window needs wal_level = logical on the server (its reverse stream reads
 * a slot there, docs/fallback.md); a wal_level the user lists otherwise is refused by the config.
 */
export function serverParameters(
  server: LabConfig['server'],
  migrations: readonly Pick<LabConfig['migrations'][number], 'fallbackWindow'>[] = [],
): Array<readonly [name: string, value: string]> {
  const all = new Map<string, string>([['azure.extensions', allowedExtensions(server.extensions)]]);
  if (migrations.some((m) => m.fallbackWindow !== undefined)) all.set('wal_level', 'logical');
  for (const [name, value] of Object.entries(server.parameters)) all.set(name, value);
  return [...all.entries()].sort(([a], [b]) => a.localeCompare(b));
}

/** The listed parameters that will not take effect until the server restarts. */
export function parametersNeedingRestart(parameters: ReadonlyArray<readonly [string, string]>): string[] {
  return parameters.map(([name]) => name).filter((name) => RESTART_PARAMETERS.has(name));
}

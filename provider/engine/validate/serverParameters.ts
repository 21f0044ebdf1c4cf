// The source's server parameters against the target's: every parameter the source's administrator
// set (pg_settings.source other than default and override), skipping those that describe one
// machine or one session, compared with the target's value, with whether Azure Flexible Server
// lets a user set it and whether it needs a restart. The differing ones Azure allows make the
// recommended target settings, in the lab's `server.parameters` shape (name → value).
import type pg from 'pg';
import type { ServerParameterComparison, ValidationResult } from '../core/model';
import { AZURE_USER_PARAMETERS } from './azureParameters';
import { CHECK_TYPES, succeeded, warning } from './result';
import { listSome } from '../util/listSome';

/**
 * Parameters set by the administrator: not built-in defaults or values PostgreSQL derives
 * (override), not what one client, session, database or role set (a database's and a role's
 * settings move with them: schema/settings.ts).
 */
const SOURCE_PARAMETERS_SQL = `
SELECT name, setting, unit, context
  FROM pg_settings
 WHERE source NOT IN ('default', 'override', 'client', 'session', 'interactive', 'test', 'database', 'user', 'database user')
 ORDER BY name`;

const TARGET_PARAMETERS_SQL = `SELECT name, setting, unit, context FROM pg_settings WHERE name = ANY($1::text[])`;

/** Parameters that name one machine's files, sockets, ports or locale, or the cluster itself: never carried over. */
const MACHINE_PARAMETERS: ReadonlySet<string> = new Set([
  'data_directory',
  'config_file',
  'hba_file',
  'ident_file',
  'external_pid_file',
  'port',
  'listen_addresses',
  'unix_socket_directories',
  'unix_socket_group',
  'unix_socket_permissions',
  'cluster_name',
  'ssl',
  'ssl_cert_file',
  'ssl_key_file',
  'ssl_ca_file',
  'ssl_crl_file',
  'ssl_crl_dir',
  'lc_messages',
  'lc_monetary',
  'lc_numeric',
  'lc_time',
  'log_directory',
  'log_filename',
  'logging_collector',
  'log_destination',
  'archive_command',
  'archive_mode',
  'restore_command',
  'primary_conninfo',
  'krb_server_keyfile',
  'default_text_search_config',
]);

interface SettingRow {
  name: string;
  setting: string;
  unit: string | null;
  context: string;
}

/** Pure: one comparison per source parameter worth reporting. */
function compareParameters(source: readonly SettingRow[], target: readonly SettingRow[]): ServerParameterComparison[] {
  const onTarget = new Map(target.map((r) => [r.name, r]));
  return source
    .filter((r) => !MACHINE_PARAMETERS.has(r.name))
    .map((r) => {
      const t = onTarget.get(r.name);
      return {
        name: r.name.toLowerCase(),
        sourceValue: r.setting,
        ...(t ? { targetValue: t.setting } : {}),
        ...(r.unit ? { unit: r.unit } : {}),
        differs: !t || t.setting !== r.setting || t.unit !== r.unit,
        azureAllows: AZURE_USER_PARAMETERS.has(r.name.toLowerCase()),
        needsRestart: r.context === 'postmaster',
      };
    });
}

const PARAMETER_CODES = {
  /** The source's parameters compared with the target's: all the same, or how many differ. */
  SERVER_PARAMETERS: 'SERVER_PARAMETERS',
  /** One parameter the source's administrator set, whose value differs on the target. */
  SERVER_PARAMETER_DIFFERS: 'SERVER_PARAMETER_DIFFERS',
} as const;

function describe(p: ServerParameterComparison): string {
  const unit = p.unit ? ` (${p.unit})` : '';
  const target = p.targetValue === undefined ? 'absent on the target' : `target ${p.targetValue}${unit}`;
  const azure = p.azureAllows ? 'settable on Azure' : 'not known to be settable on Azure';
  return `server parameter ${p.name}: source ${p.sourceValue}${unit}, ${target}; ${azure}${p.needsRestart ? ', needs a restart' : ''}`;
}

/** The comparison as validation results: one Warning per differing parameter, one summary. */
export async function checkServerParameters(source: pg.Client, target: pg.Client): Promise<ValidationResult[]> {
  const sourceRows = (await source.query<SettingRow>(SOURCE_PARAMETERS_SQL)).rows;
  const targetRows = (await target.query<SettingRow>(TARGET_PARAMETERS_SQL, [sourceRows.map((r) => r.name)])).rows;
  const compared = compareParameters(sourceRows, targetRows);
  const differing = compared.filter((p) => p.differs);
  const results: ValidationResult[] = differing.map((p) => ({
    ...warning(
      PARAMETER_CODES.SERVER_PARAMETER_DIFFERS,
      CHECK_TYPES.serverParameters,
      describe(p),
      p.azureAllows
        ? `set ${p.name} = ${p.sourceValue} on the target if the application relies on it (recommendedServerParameters lists it)${p.needsRestart ? ', then restart the target' : ''}`
        : `check whether the application relies on ${p.name}; Azure Flexible Server may not let you set it`,
      { server: 'target' },
    ),
    parameter: p,
  }));
  results.push(
    succeeded(
      PARAMETER_CODES.SERVER_PARAMETERS,
      CHECK_TYPES.serverParameters,
      differing.length === 0
        ? `${compared.length} server parameter(s) set on the source, all the same on the target`
        : `${compared.length} server parameter(s) set on the source, ${differing.length} different on the target: ${listSome(differing.map((p) => p.name))}`,
    ),
  );
  return results;
}

/**
 * The recommended target settings, in lab-stack's `server.parameters` shape: every differing source
 * parameter Azure lets a user set, name → the source's value (in the parameter's own unit, as
 * Azure's configuration values are given).
 */
export function recommendedServerParameters(validation: readonly ValidationResult[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of validation) {
    if (r.code === PARAMETER_CODES.SERVER_PARAMETER_DIFFERS && r.parameter?.azureAllows) out[r.parameter.name] = r.parameter.sourceValue;
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

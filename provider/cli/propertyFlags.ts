// Flags that override the properties file, shared by both file forms: target server flags,
// mode/option/verify flags, and the target defaults.
import { inputError, type SslMode } from '../engine';
import type { ServerAddress } from '../azure/serverName';
import { specFieldNames, type SpecFlagNames, type SpecFlags } from './specFlags';
import { parseConnectionUrl } from './url';

/** Target server flags shared by every command that talks to the target. */
export interface TargetFlags {
  readonly host?: string;
  readonly port?: number;
  readonly user?: string;
  readonly url?: string;
  readonly sslMode?: SslMode;
  readonly database?: string;
  /** The server named on the command line (az's --name beside --migration-name): the target when nothing else says where. */
  readonly server?: ServerAddress;
}

/** What the command line sets over the properties body: the migration's name, spec fields, the target. */
export type PropertyFlags = SpecFlags & {
  readonly name?: string;
  /** The flag that named the migration, for error messages. */
  readonly nameFlag?: string;
  /** The flag that set each spec field, for error messages (the field's first spelling when not given). */
  readonly specFlagNames?: SpecFlagNames;
  readonly target?: TargetFlags;
};

export interface MappedProperties {
  readonly form: 'azure' | 'plain';
  /** The input object for parseMigrationSpec. */
  readonly input: Record<string, unknown>;
  /** Spec field path (`source.port`) → the field as the user wrote it (`properties.SourceDBServerResourceId`). */
  readonly fieldNames: Readonly<Record<string, string>>;
}

const DEFAULT_TARGET_USER = 'postgres';

const TARGET_FLAG_NAMES: Record<string, string> = {
  host: '--target-host',
  port: '--target-port',
  user: '--target-user',
  sslMode: '--target-ssl-mode',
  maintenanceDatabase: '--target-database',
};

export { isObject } from '../azure/body';

function flagGiven(flags: TargetFlags, specKey: string): boolean {
  const flagKey = specKey === 'maintenanceDatabase' ? 'database' : specKey;
  return (flags as Record<string, unknown>)[flagKey] !== undefined;
}

/**
 * The fields the flags set (the spec's and the target's), each under the flag that set it, so an
 * error about one names the flag rather than the file's field.
 */
export function flagFieldNames(flags: PropertyFlags): Record<string, string> {
  const fieldNames = specFieldNames(flags, flags.specFlagNames);
  for (const [key, flag] of Object.entries(TARGET_FLAG_NAMES)) {
    if (flagGiven(flags.target ?? {}, key)) fieldNames[`target.${key}`] = flag;
  }
  return fieldNames;
}

/**
 * Target fields from the file, overridden by --target-url, then by the single --target-* flags;
 * with no host from any of them, the server named on the command line (its port and user too,
 * when PGFERRY_SERVER_HOSTS gives them and nothing else does).
 */
export function applyTargetFlags(fileTarget: Record<string, unknown>, flags: TargetFlags): Record<string, unknown> {
  let target: Record<string, unknown> = { ...fileTarget };
  if (flags.url !== undefined) target = { ...target, ...parseConnectionUrl(flags.url, '--target-url', { onCommandLine: true }) };
  if (flags.host !== undefined) target.host = flags.host;
  if (flags.port !== undefined) target.port = flags.port;
  if (flags.user !== undefined) target.user = flags.user;
  if (flags.sslMode !== undefined) target.sslMode = flags.sslMode;
  if (flags.database !== undefined) target.maintenanceDatabase = flags.database;
  if (target.host === undefined && flags.server) {
    target.host = flags.server.host;
    if (target.port === undefined && flags.server.port !== undefined) target.port = flags.server.port;
    if (target.user === undefined && flags.server.user !== undefined) target.user = flags.server.user;
    if (target.sslServerName === undefined && flags.server.sslServerName !== undefined) target.sslServerName = flags.server.sslServerName;
    if (target.sslMode === undefined && flags.server.sslMode !== undefined) target.sslMode = flags.server.sslMode;
  }
  if (target.user === undefined) target.user = DEFAULT_TARGET_USER;
  if (target.host === undefined) {
    throw inputError(
      'TARGET_REQUIRED',
      'target',
      "target: no target server given; use --name SERVER with --migration-name, --server-name SERVER, --target-host H [--target-port P] or --target-url, or put the target in the properties file (without --migration-name, --name names the migration, as in az 2.86+; az before 2.86 read `--name SERVER` alone as the server and named the migration with a new UUID, azure-cli's migration_create_func: pgferry does not guess which you meant)",
    );
  }
  return target;
}

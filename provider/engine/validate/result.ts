// Check types (Azure's names plus pgferry's own) and the builders every check uses for its results.
import type { ValidationResult, ValidationStatus } from '../core/model';

/** Azure's `validationDetails` type names, then the ones pgferry adds. */
export const CHECK_TYPES = {
  connectivity: 'AuthenticationAndConnectivityValidation',
  version: 'SourceVersionValidation',
  serverParameters: 'ServerParametersValidation',
  schema: 'SchemaValidation',
  extensions: 'ExtensionsValidation',
  collations: 'CollationsValidation',
  // pgferry's own
  databases: 'DatabaseValidation',
  tools: 'ClientToolsValidation',
  privileges: 'PrivilegesValidation',
  replication: 'ReplicationValidation',
  cdcTable: 'CdcTableReport',
  filters: 'FilterValidation',
  pooler: 'PoolerValidation',
} as const;
export type CheckType = (typeof CHECK_TYPES)[keyof typeof CHECK_TYPES];

export type ServerRole = 'source' | 'target';

export interface ResultScope {
  readonly database?: string;
  /** The server a result is about; the pooler: the user's PgBouncer in front of the source (spec.pooler). */
  readonly server?: ServerRole | 'pooler';
}

function make(
  status: ValidationStatus,
  code: string,
  type: CheckType,
  message: string,
  fix: string | undefined,
  scope: ResultScope,
): ValidationResult {
  return {
    code,
    type,
    status,
    ...(scope.database === undefined ? {} : { database: scope.database }),
    ...(scope.server === undefined ? {} : { server: scope.server }),
    message,
    ...(fix === undefined ? {} : { fix }),
  };
}

export function succeeded(code: string, type: CheckType, message: string, scope: ResultScope = {}): ValidationResult {
  return make('Succeeded', code, type, message, undefined, scope);
}

export function warning(code: string, type: CheckType, message: string, fix: string, scope: ResultScope = {}): ValidationResult {
  return make('Warning', code, type, message, fix, scope);
}

export function failed(code: string, type: CheckType, message: string, fix: string, scope: ResultScope = {}): ValidationResult {
  return make('Failed', code, type, message, fix, scope);
}

/** True when any result is Failed: the migration must not start. */
export function validationFailed(results: readonly ValidationResult[]): boolean {
  return results.some((r) => r.status === 'Failed');
}

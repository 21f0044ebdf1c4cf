// PgMigration's input keys, each declared once by the part it plays: check (inputSchema.ts) reads
// which are Pulumi's alone and how each is checked, diff (diff.ts) which replace the migration and
// which update it, read (inputs.ts) which stored outputs are inputs. The engine's spec fields are
// the engine's schema's own (TUNING_KEYS, FILTER_KEYS); Azure's names are provider/azure's.
import { TUNING_KEYS } from '../engine';
import { AZURE_OPERATION_KEYS, AZURE_OPERATIONS, AZURE_RECORDED_KEYS } from '../azure/names';
import { AZURE_ALIAS_KEYS } from './aliases';
import { AZURE_NATIVE_KEYS, AZURE_NATIVE_RECORDED_KEYS } from './azureNative';

/** PgMigration's own inputs (its operations, and what its delete and replace may do), with the kind of value check takes. */
const RESOURCE_INPUTS = {
  cutover: 'boolean',
  fallBack: 'boolean',
  resumeForward: 'boolean',
  cutoverCount: 'count',
  dropTargetDatabasesOnDelete: 'boolean',
  allowReplaceAfterCutover: 'boolean',
} as const;

type ResourceKey = keyof typeof RESOURCE_INPUTS;

const RESOURCE_KEYS = Object.keys(RESOURCE_INPUTS) as ResourceKey[];

/**
 * Inputs that only the Pulumi layer reads; everything else belongs to the engine's spec. Azure's
 * names of pgferry's inputs (migrationMode…) are here too: check copies each to pgferry's name.
 */
export const PULUMI_ONLY_KEYS: readonly string[] = [
  ...new Set([
    ...RESOURCE_KEYS,
    // how to run an operation, never a change of its own
    'customTimeouts',
    'importId',
    ...AZURE_ALIAS_KEYS,
    ...AZURE_RECORDED_KEYS,
    ...AZURE_OPERATION_KEYS,
    ...AZURE_NATIVE_KEYS,
  ]),
];

/** Pulumi-only inputs that are true or false. */
export const BOOLEAN_KEYS: readonly string[] = [
  ...RESOURCE_KEYS.filter((key) => RESOURCE_INPUTS[key] === 'boolean'),
  AZURE_OPERATIONS.cancel.whole,
];

/** Pulumi-only inputs that are lists of database names: Azure's per-database operations. */
export const DATABASE_LIST_KEYS = [AZURE_OPERATIONS.cutover.databases, AZURE_OPERATIONS.cancel.databases] as const;

/** Changing any of these is a different migration. */
export const REPLACE_KEYS = ['migrationName', 'mode', 'option'] as const;

/** Server fields that identify the server and role; password and TLS settings may rotate in place. */
export const SERVER_IDENTITY_KEYS = ['host', 'port', 'user', 'maintenanceDatabase'] as const;
export const SERVER_UPDATE_KEYS = ['password', 'sslMode', 'sslRootCert', 'sslServerName'] as const;

/**
 * Compared for `changes` only: an update records them (cutover acts on them). customTimeouts and
 * importId are never a change of their own: they say how to run an operation, not what to migrate.
 * azure-native's names of pgferry's inputs (triggerCutover…) are left out: check copies each to
 * pgferry's name, compared here.
 */
export const UPDATE_KEYS: readonly string[] = [
  ...TUNING_KEYS,
  'overwriteDbsInTarget',
  'migrateRoles',
  'migrationWindowStartTimeInUtc',
  'migrationWindowEndTimeInUtc',
  ...RESOURCE_KEYS,
  // azure-native Migration's operations and records (azure/names.ts), and its inputs recorded as
  // given (its servers are compared as source and target)
  ...AZURE_OPERATION_KEYS.filter((key) => !(AZURE_ALIAS_KEYS as readonly string[]).includes(key)),
  ...AZURE_RECORDED_KEYS,
  ...AZURE_NATIVE_RECORDED_KEYS,
];

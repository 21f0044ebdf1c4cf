// PgMigration's inputs under the names of the azure-native `Migration` resource (API 2025-08-01),
// beside pgferry's own: a program moves between the two by changing the class and the few inputs
// that differ (README: "From azure-native Migration to PgMigration"). Pure: `check` fills both
// names of each pair with the one value given, so state, outputs and diff see one meaning, and
// both given with different values is one check failure naming the two.
import type { CheckFailure } from './inputSchema';

type Props = Record<string, unknown>;

/** Azure's name → pgferry's, for inputs that mean the same. */
const AZURE_ALIASES = {
  migrationMode: 'mode',
  migrationOption: 'option',
  dbsToMigrate: 'databases',
  triggerCutover: 'cutover',
} as const;

export type AzureAlias = keyof typeof AZURE_ALIASES;
export const AZURE_ALIAS_KEYS = Object.keys(AZURE_ALIASES) as AzureAlias[];

/** Azure's sslMode (the source connection's) as pgferry spells source.sslMode. */
const SSL_FROM_AZURE: Record<string, string> = {
  disable: 'disable',
  prefer: 'prefer',
  require: 'require',
  verifyca: 'verify-ca',
  'verify-ca': 'verify-ca',
  verifyfull: 'verify-full',
  'verify-full': 'verify-full',
};

/**
 * Azure's names accepted and recorded (echoed in the outputs) that pgferry does not act on:
 * the runtime server and the kind of source say where Azure runs the migration.
 */
export const AZURE_RECORDED_KEYS = ['migrationInstanceResourceId', 'sourceType', 'sslMode'] as const;

/** Azure's operation inputs, read by the Pulumi layer only (update acts on them). */
export const AZURE_OPERATION_KEYS = ['cancel', 'dbsToTriggerCutoverOn', 'dbsToCancelMigrationOn'] as const;

function given(value: unknown): boolean {
  return value !== undefined && value !== null;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => sameValue(v, b[i]));
  return a === b;
}

/** The source's sslMode as pgferry spells it, from Azure's (Prefer, Require, VerifyCA, VerifyFull). */
function sslModeFromAzure(value: unknown): unknown {
  return typeof value === 'string' ? (SSL_FROM_AZURE[value.toLowerCase()] ?? value) : value;
}

/**
 * Both names of each pair filled with the one value given; failures where the two are given with
 * different values. `unknown(value)` says a value is not known yet (preview): it is not judged.
 */
export function withAzureAliases(inputs: Props, unknown: (value: unknown) => boolean): { inputs: Props; failures: CheckFailure[] } {
  const out: Props = { ...inputs };
  const failures: CheckFailure[] = [];
  const clash = (azure: string, ours: string, a: unknown, b: unknown): void => {
    failures.push({
      property: azure,
      reason: `${azure}: given as ${JSON.stringify(a)} and ${ours} as ${JSON.stringify(b)}; they are one input under two names (azure-native's and pgferry's): give one of them`,
    });
  };
  for (const azure of AZURE_ALIAS_KEYS) {
    const ours = AZURE_ALIASES[azure];
    const a = inputs[azure];
    const b = inputs[ours];
    if (given(a) && given(b)) {
      if (!unknown(a) && !unknown(b) && !sameValue(a, b)) clash(azure, ours, a, b);
    } else if (given(a)) {
      out[ours] = a;
    } else if (given(b)) {
      out[azure] = b;
    }
  }
  // sslMode is the source's: source.sslMode in pgferry's inputs
  const source = inputs.source;
  if (given(inputs.sslMode) && typeof source === 'object' && source !== null && !Array.isArray(source)) {
    const azure = sslModeFromAzure(inputs.sslMode);
    const ours = (source as Props).sslMode;
    if (!given(ours)) out.source = { ...(source as Props), sslMode: azure };
    else if (!unknown(azure) && !unknown(ours) && azure !== ours) clash('sslMode', 'source.sslMode', inputs.sslMode, ours);
  }
  return { inputs: out, failures };
}

/** A list of database names, or undefined: Azure's per-database operation inputs. */
export function databaseList(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.length > 0 ? value.map(String) : undefined;
}

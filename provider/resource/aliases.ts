// PgMigration's inputs under the names of the azure-native `Migration` resource (API 2025-08-01),
// beside pgferry's own: a program moves between the two by changing the class and the few inputs
// that differ (README: "From azure-native Migration to PgMigration"). The names and the spellings
// of their values are provider/azure/names.ts's; this file is what `check` does with them. Pure:
// both names of each pair are filled with the one value given, so state, outputs and diff see one
// meaning, and both given with different values is one check failure naming the two.
import { AZURE_NAMES, AZURE_OPERATIONS, azureSpelling, fromAzureBoolean, fromAzureSpelling, type AzureName } from '../azure/names';
import type { CheckFailure } from './checkFailure';

type Props = Record<string, unknown>;

/** The pairs whose two names differ, at the top level of the inputs: migrationMode and mode... */
const PAIRS = AZURE_NAMES.filter((n) => (n.native as string) !== n.pgferry && !n.pgferry.includes('.'));

/** Azure's names that are not pgferry's (read by the Pulumi layer only: check copies each to pgferry's name). */
export const AZURE_ALIAS_KEYS = AZURE_NAMES.filter((n) => (n.native as string) !== n.pgferry).map((n) => n.native);

function given(value: unknown): boolean {
  return value !== undefined && value !== null;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => sameValue(v, b[i]));
  return a === b;
}

/** A value as pgferry spells it, from the way Azure writes `name`'s (Online, "True", VerifyCA...). */
function fromAzure(name: AzureName, value: unknown): unknown {
  if (name.spelling === 'boolean') return fromAzureBoolean(value);
  if (name.spelling === undefined || typeof value !== 'string') return value;
  return fromAzureSpelling(name.spelling, value) ?? value;
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
  // azure-native's string booleans ("True") under names both share, and of a whole cancel
  for (const name of AZURE_NAMES) {
    if (name.native === name.pgferry && given(inputs[name.native])) out[name.native] = fromAzure(name, inputs[name.native]);
  }
  const cancel = AZURE_OPERATIONS.cancel.whole;
  if (given(inputs[cancel])) out[cancel] = fromAzureBoolean(inputs[cancel]);
  for (const name of PAIRS) {
    const a = inputs[name.native];
    const b = inputs[name.pgferry];
    const azure = given(a) && !unknown(a) ? fromAzure(name, a) : a;
    if (given(a) && given(b)) {
      if (!unknown(a) && !unknown(b) && !sameValue(azure, b)) clash(name.native, name.pgferry, a, b);
    } else if (given(a)) {
      out[name.pgferry] = azure;
    } else if (given(b)) {
      out[name.native] = b;
    }
  }
  // sslMode is the source's: source.sslMode in pgferry's inputs
  const ssl = AZURE_NAMES.find((n) => n.native === 'sslMode')!;
  const source = inputs.source;
  if (given(inputs.sslMode) && typeof source === 'object' && source !== null && !Array.isArray(source)) {
    const azure = unknown(inputs.sslMode) ? inputs.sslMode : fromAzure(ssl, inputs.sslMode);
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

/**
 * pgferry's name → the azure-native name the program wrote it under (`cutover` → `triggerCutover`
 * when the program gave triggerCutover), so a failure names the input as written.
 */
export function aliasesWritten(news: Props): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of PAIRS) if (given(news[name.native]) && !given(news[name.pgferry])) out[name.pgferry] = name.native;
  const source = news.source;
  const ours = typeof source === 'object' && source !== null ? (source as Props).sslMode : undefined;
  if (given(news.sslMode) && !given(ours)) out['source.sslMode'] = 'sslMode';
  return out;
}

/**
 * Failures under the inputs' names as the program wrote them (longest matching prefix of the
 * property); a failure repeating one already given for the same input is dropped.
 */
export function asWritten(failures: readonly CheckFailure[], written: Readonly<Record<string, string>>): CheckFailure[] {
  const out: CheckFailure[] = [];
  for (const failure of failures) {
    const renamed = rename(failure, written);
    if (!out.some((f) => f.property === renamed.property && (f.reason === renamed.reason || written[failure.property] !== undefined)))
      out.push(renamed);
  }
  return out;
}

function rename(failure: CheckFailure, written: Readonly<Record<string, string>>): CheckFailure {
  const parts = failure.property.split('.');
  for (let n = parts.length; n > 0; n--) {
    const mapped = written[parts.slice(0, n).join('.')];
    if (mapped === undefined || mapped === failure.property) continue;
    const rest = failure.reason.startsWith(`${failure.property}: `) ? failure.reason.slice(failure.property.length + 2) : failure.reason;
    // say which field a composite input (sourceDbServerResourceId → source.port) failed on
    const same = parts.length === 1 || mapped.split('.').pop()!.toLowerCase() === parts[parts.length - 1]!.toLowerCase();
    const label = same ? mapped : `${mapped} (${failure.property})`;
    return { property: mapped, reason: `${label}: ${rest}` };
  }
  return failure;
}

/** The true/false inputs azure-native outputs as "True"/"False", each with pgferry's name of it. */
const AZURE_BOOLEANS: readonly (readonly [native: string, pgferry: string])[] = [
  ...(AZURE_NAMES as readonly AzureName[]).filter((n) => n.spelling === 'boolean').map((n) => [n.native, n.pgferry] as const),
  [AZURE_OPERATIONS.cancel.whole, AZURE_OPERATIONS.cancel.whole],
];

/**
 * azure-native's outputs spelled as Azure returns them (ARM's "True"/"False", "Online", "VerifyFull"),
 * from pgferry's values: a program written for azure-native compares them as it did. pgferry's own
 * names (cutover, mode, option, databases, source.sslMode) keep pgferry's spelling.
 */
export function azureSpelledOutputs(inputs: Props): Props {
  const out: Props = {};
  for (const [native, ours] of AZURE_BOOLEANS) {
    const value = inputs[ours];
    if (typeof value === 'boolean') out[native] = value ? 'True' : 'False';
  }
  for (const name of AZURE_NAMES as readonly AzureName[]) {
    if (name.spelling === 'boolean' || name.native === name.pgferry) continue;
    const value = name.pgferry === 'source.sslMode' ? (inputs.source as Props | undefined)?.sslMode : inputs[name.pgferry];
    if (value === undefined || value === null) continue;
    const spelling = name.spelling;
    out[name.native] = spelling !== undefined && typeof value === 'string' ? azureSpelling(spelling, value) : value;
  }
  return out;
}

/**
 * Stored outputs read back as inputs (refresh, destroy, diff's olds): the inputs azure-native
 * shares with pgferry's name (overwriteDbsInTarget…) hold Azure's "True"/"False" there, and
 * pgferry's true/false here.
 */
export function withPgferrySpellings(outputs: Props): Props {
  const out: Props = { ...outputs };
  for (const [native, ours] of AZURE_BOOLEANS) if (native === ours && native in out) out[native] = fromAzureBoolean(out[native]);
  return out;
}

// The diff rules of PgMigration, pure: which input changes replace the migration, which update it
// (cutover), which are taken without action (tuning, credentials), and which are refused.
import { TUNING_KEYS } from '../engine';
import { containsUnknown } from './unknown';

export interface DiffDecision {
  readonly changes: boolean;
  readonly replaces: string[];
  readonly stables: string[];
  readonly deleteBeforeReplace: boolean;
}

/** Changing any of these is a different migration. */
const REPLACE_KEYS = ['migrationName', 'databases', 'mode', 'option'] as const;
/** Server fields that identify the server and role; password and TLS settings may rotate in place. */
const SERVER_IDENTITY_KEYS = ['host', 'port', 'user', 'maintenanceDatabase'] as const;
/** Every other input is compared for `changes` only. */
const UPDATE_KEYS = [
  ...TUNING_KEYS,
  'overwriteDbsInTarget',
  'migrateRoles',
  'cutover',
  'dropTargetDatabasesOnDelete',
  'customTimeouts',
] as const;

const SERVER_DEFAULTS: Record<string, unknown> = { port: 5432, maintenanceDatabase: 'postgres', sslMode: 'prefer' };
const DEFAULTS: Record<string, unknown> = { mode: 'Offline', option: 'ValidateAndMigrate', cutover: false };

/** Thrown for a change the resource refuses (shown by `pulumi preview`). */
export class RefusedChangeError extends Error {
  override readonly name = 'RefusedChangeError';
}

/**
 * `olds` are the stored outputs (which echo the inputs), `news` the new inputs. A replace keeps
 * the migration name, so the old one must be deleted first: the name is unique on the target.
 */
export function diffInputs(olds: Record<string, unknown>, news: Record<string, unknown>): DiffDecision {
  if (olds.cutover === true && news.cutover === false) {
    throw new RefusedChangeError(
      'cutover: cannot go from true back to false (the cutover has been performed; replace the resource to migrate again)',
    );
  }
  const replaces: string[] = [];
  const changed: string[] = [];
  for (const key of REPLACE_KEYS) {
    if (same(withDefault(olds[key], DEFAULTS[key]), withDefault(news[key], DEFAULTS[key]))) continue;
    // Not known until `up` resolves it (a target server updated in the same run): preview shows
    // an update; the diff made with the real value decides whether it replaces.
    if (containsUnknown(news[key])) changed.push(key);
    else replaces.push(key);
  }
  for (const side of ['source', 'target'] as const) {
    if (containsUnknown(news[side])) {
      changed.push(side);
      continue;
    }
    const o = asRecord(olds[side]);
    const n = asRecord(news[side]);
    for (const field of SERVER_IDENTITY_KEYS) {
      if (!same(withDefault(o[field], SERVER_DEFAULTS[field]), withDefault(n[field], SERVER_DEFAULTS[field]))) {
        replaces.push(side);
        break;
      }
    }
    if (!replaces.includes(side) && !same(o, n)) changed.push(side);
  }
  for (const key of UPDATE_KEYS) {
    if (!same(withDefault(olds[key], DEFAULTS[key]), withDefault(news[key], DEFAULTS[key]))) changed.push(key);
  }
  const stables = REPLACE_KEYS.filter((k) => !replaces.includes(k)) as string[];
  const sameName = same(olds.migrationName, news.migrationName);
  return {
    changes: replaces.length > 0 || changed.length > 0,
    replaces,
    stables,
    deleteBeforeReplace: replaces.length > 0 && sameName,
  };
}

/** Whether an update only records new inputs (tuning, credentials) or must act (cutover). */
export function isCutoverRequest(olds: Record<string, unknown>, news: Record<string, unknown>): boolean {
  return olds.cutover !== true && news.cutover === true;
}

function withDefault(value: unknown, fallback: unknown): unknown {
  return value === undefined || value === null ? fallback : value;
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}

/** Structural equality of JSON values; unset (undefined/null) object fields count as absent. */
export function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => same(v, b[i]));
  if (typeof a === 'object' && typeof b === 'object' && a !== null && b !== null && !Array.isArray(a) && !Array.isArray(b)) {
    const ra = a as Record<string, unknown>;
    const rb = b as Record<string, unknown>;
    const keys = new Set([...Object.keys(ra), ...Object.keys(rb)]);
    for (const key of keys) {
      const va = ra[key] ?? undefined;
      const vb = rb[key] ?? undefined;
      if (!same(va, vb)) return false;
    }
    return true;
  }
  return false;
}

// Pulumi inputs of PgMigration: their plain shape, the mapping to the engine's spec input, and
// `check` validation with the engine's own zod schema (so Pulumi and the CLI agree on every rule).
import type { z } from 'zod';
import {
  describeIssue,
  migrationSpecSchema,
  parseMigrationSpec,
  type MigrationSpec,
  type MigrationSpecInput,
  type SslMode,
} from '../engine';

import { containsUnknown, UNKNOWN } from './unknown';
import { unknownDatabases, windowRefusal } from '../engine';
import { sourceTypeRefusal } from '../azure/names';
import type { CheckFailure } from './checkFailure';
import { withSecretParameters } from './azureNative';
import { BOOLEAN_KEYS, DATABASE_LIST_KEYS, PULUMI_ONLY_KEYS } from './inputKeys';
import { serverAddress } from '../azure/serverName';

export { UNKNOWN };

/** Keys the SDK adds to every dynamic resource's property bag. */
const RESERVED_KEYS = ['__provider'];

/** The engine's spec input: Pulumi-only fields, reserved keys and unset (null) values removed. */
export function toSpecInput(inputs: Record<string, unknown>): MigrationSpecInput {
  const out: Record<string, unknown> = {};
  // secretParameters' passwords join the servers here only: state keeps them under secretParameters
  for (const [key, value] of Object.entries(withSecretParameters(inputs))) {
    if (value === undefined || value === null) continue;
    if (PULUMI_ONLY_KEYS.includes(key) || RESERVED_KEYS.includes(key)) continue;
    out[key] = isPlainObject(value) ? dropNulls(value) : value;
  }
  return out as MigrationSpecInput;
}

/** Parses the inputs into the engine's frozen spec (throws PgferryError naming the field). */
export function toMigrationSpec(inputs: Record<string, unknown>): MigrationSpec {
  return parseMigrationSpec(toSpecInput(inputs));
}

const DURATION = /^(\d+(\.\d+)?(h|m|s|ms))+$/;

/** Pulumi duration strings ("6h", "1h30m", "90s") in milliseconds; undefined when unset. */
export function parseDuration(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  if (!DURATION.test(text)) throw new Error(`"${text}" is not a duration such as 6h, 30m or 1h30m`);
  const unit: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
  let total = 0;
  for (const [, amount, , u] of text.matchAll(/(\d+(\.\d+)?)(ms|h|m|s)/g)) total += Number(amount) * unit[u!]!;
  return total;
}

/**
 * `check`: every failure of the engine's schema, named by its input path (`source.port`), plus
 * the Pulumi-only fields. Values not known yet (preview) are not judged.
 */
export function checkInputs(olds: Record<string, unknown>, news: Record<string, unknown>): CheckFailure[] {
  const failures: CheckFailure[] = [];
  const parsed = migrationSpecSchema.safeParse(toSpecInput(news));
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (touchesUnknown(news, issue)) continue;
      const { field, message } = describeIssue(issue);
      failures.push({ property: field, reason: `${field}: ${message}` });
    }
  }
  for (const key of BOOLEAN_KEYS) {
    const value = news[key];
    if (value !== undefined && value !== null && value !== UNKNOWN && typeof value !== 'boolean') {
      failures.push({ property: key, reason: `${key}: must be true or false` });
    }
  }
  for (const key of DATABASE_LIST_KEYS) {
    const value = news[key];
    if (value === undefined || value === null || containsUnknown(value)) continue;
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
      failures.push({ property: key, reason: `${key}: must be a list of database names` });
      continue;
    }
    const migrated = Array.isArray(news.databases) && !containsUnknown(news.databases) ? news.databases.map(String) : undefined;
    const unknown = migrated && unknownDatabases(value as string[], migrated);
    if (unknown) failures.push({ property: key, reason: `${key}: ${unknown}` });
  }
  const sourceType = news.sourceType;
  const refusedType =
    sourceType === undefined || sourceType === null || sourceType === UNKNOWN ? undefined : sourceTypeRefusal(sourceType, 'sourceType');
  if (refusedType) failures.push({ property: 'sourceType', reason: refusedType });
  // a window already over cannot start a new migration (an existing one keeps its window)
  if (Object.keys(olds).length === 0) {
    const start = news.migrationWindowStartTimeInUtc;
    const end = news.migrationWindowEndTimeInUtc;
    const parsed = migrationSpecSchema.shape.migrationWindowEndTimeInUtc.safeParse(end);
    if (typeof end === 'string' && end !== UNKNOWN && start !== UNKNOWN && parsed.success && parsed.data !== undefined) {
      const refused = windowRefusal({ end: parsed.data }, Date.now());
      if (refused) failures.push({ property: 'migrationWindowEndTimeInUtc', reason: refused });
    }
  }
  const importId = news.importId;
  if (typeof importId === 'string' && importId !== UNKNOWN && parseMigrationId(importId) === undefined) {
    failures.push({ property: 'importId', reason: `importId: must be a migration id, ${MIGRATION_ID_FORMS}` });
  }
  const timeouts = news.customTimeouts;
  if (isPlainObject(timeouts)) {
    for (const op of ['create', 'update', 'delete'] as const) {
      const value = timeouts[op];
      if (typeof value !== 'string' || value === UNKNOWN) continue;
      try {
        parseDuration(value);
      } catch (error) {
        failures.push({ property: `customTimeouts.${op}`, reason: `customTimeouts.${op}: ${(error as Error).message}` });
      }
    }
  }
  // A cutover cannot be taken back: the target has become the primary.
  if (olds.cutover === true && news.cutover === false) {
    failures.push({
      property: 'cutover',
      reason: 'cutover: cannot go from true back to false (the cutover has been performed; replace the resource to migrate again)',
    });
  }
  failures.push(...fallBackFailures(olds, news), ...cutoverCountFailures(olds, news));
  return failures;
}

/** The cutovers a program asks for: cutoverCount, 1 when unset (the first cutover, by `cutover: true`). */
export function wantedCutovers(inputs: Record<string, unknown>): number {
  const n = inputs.cutoverCount;
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 ? n : 1;
}

/** Whether raising cutoverCount starts a new round in this change (a cutover again after a fall-back). */
export function cutoverRaised(olds: Record<string, unknown>, news: Record<string, unknown>): boolean {
  return Object.keys(olds).length > 0 && wantedCutovers(news) > wantedCutovers(olds);
}

/**
 * fallBack (docs/fallback.md): asked once the migration is cut over with a fallback window, and, as
 * a cutover, never taken back (the old source has become the primary again), except by raising
 * cutoverCount: the fall-back applies to the newest cutover, and a new one starts without it.
 * resumeForward rides with fallBack, as `--resume-forward` with `--fall-back`.
 */
function fallBackFailures(olds: Record<string, unknown>, news: Record<string, unknown>): CheckFailure[] {
  const failures = resumeForwardFailures(olds, news);
  if (olds.fallBack === true && news.fallBack === false && !cutoverRaised(olds, news)) {
    failures.push({
      property: 'fallBack',
      reason:
        'fallBack: cannot go from true back to false (the old source is the primary again); with resumeForward: true, raise cutoverCount to cut over again, else replace the resource to migrate again',
    });
    return failures;
  }
  if (news.fallBack !== true) return failures;
  const mode = news.mode ?? news.migrationMode;
  if (typeof mode === 'string' && mode.toLowerCase() === 'offline') {
    return [...failures, { property: 'fallBack', reason: 'fallBack: applies only to an Online migration cut over with fallbackWindow' }];
  }
  if (news.cutover === false || (news.cutover === undefined && news.triggerCutover === undefined)) {
    return [...failures, { property: 'fallBack', reason: 'fallBack: applies only once cut over (cutover: true) with fallbackWindow' }];
  }
  return failures;
}

/** resumeForward: only beside fallBack: true, and fixed once that fall-back is asked. */
function resumeForwardFailures(olds: Record<string, unknown>, news: Record<string, unknown>): CheckFailure[] {
  if (news.resumeForward === true && news.fallBack !== true && news.fallBack !== UNKNOWN) {
    return [
      {
        property: 'resumeForward',
        reason:
          'resumeForward: applies only with fallBack: true (the fall-back then streams forward again, as `update --fall-back --resume-forward`)',
      },
    ];
  }
  const was = olds.resumeForward === true;
  const is = news.resumeForward === true;
  if (olds.fallBack === true && news.fallBack === true && was !== is && news.resumeForward !== UNKNOWN) {
    return [
      {
        property: 'resumeForward',
        reason: `resumeForward: cannot change once fallBack is true (the fall-back was asked ${was ? 'with' : 'without'} it); raise cutoverCount after a fall-back with resumeForward to cut over again`,
      },
    ];
  }
  return [];
}

/**
 * cutoverCount (docs/fallback.md, "The forward stream again"): how many cutovers the program asks
 * for, 1 by default. Raised by one, once the migration fell back with resumeForward: true, it cuts
 * over again at the next `pulumi up`; never lowered; a new migration starts at 1.
 */
function cutoverCountFailures(olds: Record<string, unknown>, news: Record<string, unknown>): CheckFailure[] {
  const fail = (reason: string): CheckFailure[] => [{ property: 'cutoverCount', reason: `cutoverCount: ${reason}` }];
  const value = news.cutoverCount ?? 1; // unset is 1: removing it lowers it
  if (value === UNKNOWN) return [];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) return fail('must be a whole number, 1 or more');
  const before = wantedCutovers(olds);
  if (Object.keys(olds).length === 0) {
    return value > 1 && news.importId === undefined
      ? fail('a new migration starts at 1 (raise it after a fall-back with resumeForward: true)')
      : [];
  }
  if (value < before) return fail(`cannot go down from ${before} (a cutover made cannot be taken back)`);
  if (value === before) return [];
  if (value > before + 1) return fail(`raise it by one at a time (from ${before} to ${before + 1})`);
  if (olds.fallBack !== true || olds.resumeForward !== true) {
    return fail(
      `raise it only once the migration fell back with resumeForward: true (fallBack and resumeForward true); it is ${before} cut over now`,
    );
  }
  if (news.fallBack === true || news.resumeForward === true) {
    return fail(
      'set fallBack and resumeForward false (or remove them) when raising it: they apply to the newest cutover, and a new one starts without a fall-back',
    );
  }
  if (news.cutover === false) return fail('needs cutover: true');
  return [];
}

/** A migration's id as ARM spells it (azure-native's `id`, the azureId output). */
const ARM_MIGRATION_ID =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.DBforPostgreSQL\/flexibleServers\/([^/]+)\/migrations\/([^/]+)$/i;

/** What a migration id says: where the migration is, and (an ARM id) the Azure names it was given. */
export interface ParsedMigrationId {
  readonly host: string;
  readonly port: number;
  readonly migrationName: string;
  /** From PGFERRY_SERVER_HOSTS, when it maps the ARM id's server with a user. */
  readonly user?: string;
  /** The server's own name and the mapping's sslmode, when PGFERRY_SERVER_HOSTS maps it. */
  readonly sslServerName?: string;
  readonly sslMode?: SslMode;
  readonly subscriptionId?: string;
  readonly resourceGroupName?: string;
  readonly serverName?: string;
}

/**
 * The parts of a migration id: PgMigration's own, `<target host>:<port>/<migrationName>` (see
 * outputs.migrationId), or the ARM id azure-native gives a migration
 * (`/subscriptions/…/resourceGroups/G/providers/Microsoft.DBforPostgreSQL/flexibleServers/S/migrations/M`),
 * whose server S is found as serverName is (PGFERRY_SERVER_HOSTS, else S.postgres.database.azure.com).
 */
export function parseMigrationId(id: string, env: NodeJS.ProcessEnv = process.env): ParsedMigrationId | undefined {
  const arm = ARM_MIGRATION_ID.exec(id);
  if (arm) {
    const [, subscriptionId, resourceGroupName, serverName, migrationName] = arm as unknown as [string, string, string, string, string];
    try {
      const address = serverAddress(serverName, env);
      return {
        host: address.host,
        port: address.port ?? 5432,
        migrationName,
        ...(address.user ? { user: address.user } : {}),
        ...(address.sslServerName ? { sslServerName: address.sslServerName } : {}),
        ...(address.sslMode ? { sslMode: address.sslMode } : {}),
        subscriptionId,
        resourceGroupName,
        serverName,
      };
    } catch {
      return undefined;
    }
  }
  const slash = id.lastIndexOf('/');
  const colon = id.lastIndexOf(':', slash);
  if (slash < 0 || colon <= 0) return undefined;
  const port = Number(id.slice(colon + 1, slash));
  const migrationName = id.slice(slash + 1);
  if (!Number.isInteger(port) || port < 1 || port > 65535 || migrationName === '') return undefined;
  return { host: id.slice(0, colon), port, migrationName };
}

/** The forms of a migration id, for messages. */
export const MIGRATION_ID_FORMS =
  '<target host>:<port>/<migrationName>, or the ARM id /subscriptions/…/flexibleServers/<serverName>/migrations/<migrationName>';

function touchesUnknown(news: Record<string, unknown>, issue: z.core.$ZodIssue): boolean {
  if (issue.path.length === 0) return false;
  let value: unknown = news;
  for (const key of issue.path) {
    if (value === UNKNOWN) return true;
    if (value === null || typeof value !== 'object') return false;
    value = (value as Record<PropertyKey, unknown>)[key as PropertyKey];
  }
  if (value === UNKNOWN) return true;
  // an unknown inside the value judged (a database list element, a server field)
  return containsUnknown(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function dropNulls(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined && v !== null));
}

// The spec without secrets (what the control catalog stores, what adoption compares), kept apart
// from the zod schema: the runner records it on every start and must not pay for loading zod.
import type { MigrationSpec, ServerSpec } from './migrationSpec';
import { FILTER_KEYS } from './patterns';
import { cutoverPlanOf } from './fallbackWindow';

/** The spec without secrets: what the control catalog stores and what adoption compares. */
export function publicSpec(spec: MigrationSpec): Record<string, unknown> {
  // the name a server's certificate carries is kept where it differs from the host (a mapped or
  // tunnelled address), so a reader elsewhere reaches the server as its creator did
  const strip = (s: ServerSpec) => ({ host: s.host, port: s.port, user: s.user, sslMode: s.sslMode, sslServerName: s.sslServerName });
  return {
    migrationName: spec.migrationName,
    source: strip(spec.source),
    target: strip(spec.target),
    databases: [...spec.databases],
    mode: spec.mode,
    option: spec.option,
    overwriteDbsInTarget: spec.overwriteDbsInTarget,
    // What moves is part of which migration this is; absent when unfiltered, so the specs stored
    // before filters existed still compare equal.
    ...Object.fromEntries(FILTER_KEYS.filter((k) => spec[k].length > 0).map((k) => [k, [...spec[k]]])),
    // only when set, so that specs stored before windows existed compare equal
    migrationWindowStartTimeInUtc: spec.migrationWindowStartTimeInUtc,
    migrationWindowEndTimeInUtc: spec.migrationWindowEndTimeInUtc,
    // what the migration was asked (show reports it); only when set, and not part of which migration it is
    setupLogicalReplicationOnSourceDbIfNeeded: spec.setupLogicalReplicationOnSourceDbIfNeeded || undefined,
    startDataMigration: spec.startDataMigration ? undefined : false,
    // what its cutover will do, for a migration run in its caller's process, which has no runner
    // to record it (a runner records its own plan); the status reads it apart from the spec
    ...(spec.mode === 'Online' ? { [CUTOVER_PLAN_KEY]: cutoverPlanOf(spec) } : {}),
  };
}

/** The stored spec's key holding the cutover's plan as the creator's spec gives it (MigrationStatus.cutoverPlan). */
export const CUTOVER_PLAN_KEY = 'cutoverPlan';

/**
 * The stored spec's key saying its databases were named after the create (Azure's dbsToMigrate
 * given by an update, control/databasesToMigrate.ts): the spec it was created with, without
 * databases, still names the same migration.
 */
export const NAMED_LATER_KEY = 'databasesNamedLater';

/**
 * Keys stored to report what the migration was asked that are not part of which migration it is:
 * a resume may give another value (they are tuning keys, TUNING_KEYS). The window too: it only
 * schedules the start, and it can be moved (moveMigrationWindow): the stored one is what counts.
 */
const RECORDED_ONLY_KEYS = [
  'setupLogicalReplicationOnSourceDbIfNeeded',
  'startDataMigration',
  'migrationWindowStartTimeInUtc',
  'migrationWindowEndTimeInUtc',
  NAMED_LATER_KEY,
  CUTOVER_PLAN_KEY,
] as const;

/** JSON with object keys sorted, so specs compare equal whatever order storage gave them. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * A server without the name its certificate is checked against: that name says how a machine
 * reaches the server, not which server it is (host and port do), and specs stored before it was
 * kept have none.
 */
function withoutTlsName(server: unknown): unknown {
  if (typeof server !== 'object' || server === null) return server;
  return { ...(server as Record<string, unknown>), sslServerName: undefined };
}

/**
 * Does a stored (secret-free) spec describe the same migration as `spec`? Databases compare as a
 * set: the same databases listed in another order are the same migration.
 */
function samePublicSpec(stored: Record<string, unknown>, spec: MigrationSpec): boolean {
  const sorted = (s: Record<string, unknown>) => ({
    ...s,
    source: withoutTlsName(s.source),
    target: withoutTlsName(s.target),
    databases: Array.isArray(s.databases) ? [...(s.databases as unknown[])].map(String).sort() : s.databases,
    ...Object.fromEntries(RECORDED_ONLY_KEYS.map((k) => [k, undefined])),
  });
  return canonicalJson(sorted(stored)) === canonicalJson(sorted(publicSpec(spec)));
}

/**
 * Does `spec` name the migration recorded as `stored` (a resume, an adoption)? Its spec as created
 * (without the databases an update named later, NAMED_LATER_KEY, or with them);
 * or, once the user allowed the overwrite of existing target databases while the migration waited
 * for it (Azure's PATCH of overwriteDbsInTarget), the same spec with overwriteDbsInTarget true, as a
 * program that answered the wait by setting that input gives it. A resume never widens what may be
 * dropped: overwriteDbsInTarget true against a migration created without it and never confirmed is
 * another migration.
 */
export function sameMigration(
  stored: { readonly spec: Record<string, unknown>; readonly overwriteAllowed?: boolean },
  spec: MigrationSpec,
): boolean {
  // databases named by an update after the create: the spec given without them (the properties it
  // was created with, a resume) is the same migration, and runs with the stored databases
  const named = stored.spec[NAMED_LATER_KEY] === true && spec.databases.length === 0 ? { ...stored.spec, databases: [] } : stored.spec;
  if (samePublicSpec(named, spec)) return true;
  return stored.overwriteAllowed === true && samePublicSpec({ ...named, overwriteDbsInTarget: true }, spec);
}

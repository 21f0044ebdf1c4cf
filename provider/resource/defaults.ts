// Input defaults that do not depend on the machine running Pulumi, read from the engine's own
// schema: `check` fills them so state and previews say what a migration runs with, and `diff`
// compares with them so an old state without them diffs clean. tableJobs and indexJobs follow
// the CPU count and stay out, so one program diffs clean from any machine.
import type { z } from 'zod';
import { defaultSslMode, migrationSpecSchema, serverSpecSchema } from '../engine';

type Props = Record<string, unknown>;

/** Spec fields whose default depends on the machine (the CPU count): never written into state. */
const MACHINE_DEPENDENT_KEYS: readonly string[] = ['tableJobs', 'indexJobs'];

/** Inputs only the Pulumi layer reads, and their defaults. */
const PULUMI_DEFAULTS: Readonly<Props> = Object.freeze({
  cutover: false,
  dropTargetDatabasesOnDelete: false,
  allowReplaceAfterCutover: false,
});

/** What `shape[key].parse(undefined)` gives, for every key that has a default. */
function schemaDefaults(shape: Record<string, z.ZodType>, skip: readonly string[]): Props {
  const out: Props = {};
  for (const [key, field] of Object.entries(shape)) {
    if (skip.includes(key)) continue;
    const parsed = field.safeParse(undefined);
    if (parsed.success && parsed.data !== undefined) out[key] = parsed.data;
  }
  return Object.freeze(out);
}

/**
 * Left unset when not given: no databases means the migration waits for an update to name them
 * (WaitingForDBsToMigrateSpecification), which an empty list written into state would not say.
 */
const UNFILLED_KEYS: readonly string[] = ['databases'];

/** mode, option, overwriteDbsInTarget, migrateRoles, verify, split sizes…: the engine's defaults. */
const SPEC_DEFAULTS = schemaDefaults(migrationSpecSchema.shape as unknown as Record<string, z.ZodType>, [
  ...MACHINE_DEPENDENT_KEYS,
  ...UNFILLED_KEYS,
]);
/** port, maintenanceDatabase; sslMode follows the server's name (serverDefaults). */
const SERVER_DEFAULTS = schemaDefaults(serverSpecSchema.in.shape as unknown as Record<string, z.ZodType>, []);

function isUnset(value: unknown): boolean {
  return value === undefined || value === null;
}

function isPlainObject(value: unknown): value is Props {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function filled(values: Props, defaults: Readonly<Props>): Props {
  const out: Props = { ...values };
  for (const [key, value] of Object.entries(defaults)) if (isUnset(out[key])) out[key] = value;
  return out;
}

/**
 * A server's defaults: sslMode is the engine's for its name (verify-full for an Azure server, else
 * prefer), filled once the name is known.
 */
function serverDefaults(server: Props): Props {
  const out = filled(server, SERVER_DEFAULTS);
  const name = typeof out.sslServerName === 'string' ? out.sslServerName : out.host;
  if (isUnset(out.sslMode) && typeof name === 'string') out.sslMode = defaultSslMode(name);
  return out;
}

/**
 * The inputs with every machine-independent default filled in. Unknown values (preview) and a
 * server that is unknown as a whole are kept as they are.
 */
export function withDefaults(inputs: Props): Props {
  const out = filled(inputs, { ...SPEC_DEFAULTS, ...PULUMI_DEFAULTS });
  for (const side of ['source', 'target'] as const) {
    const server = out[side];
    if (isPlainObject(server)) out[side] = serverDefaults(server);
  }
  return out;
}

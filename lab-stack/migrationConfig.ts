// The lab's migration config: the `migrations` list (one PgMigration each) and the lab-wide
// migration options declared in Pulumi.yaml (timeouts, allowReplicaIdentityFull, table jobs),
// which an entry of the list may override.
import { z } from 'zod';
// The spec module alone: the engine index would load pg into every lab program.
import {
  FALLBACK_WINDOW_RULE,
  isFallbackWindow,
  MIGRATION_MODES,
  MIGRATION_NAME_PATTERN,
  MIGRATION_OPTIONS,
  SSL_MODES,
} from '../provider/engine';
// Azure's spellings (type-only towards the engine, so no driver either).
import { fromAzureSpelling, type AzureEnum } from '../provider/azure/names';
import { identifierSchema, oneOf } from './schemaParts';

/**
 * One of pgferry's `values`, also as Azure spells it (sslMode Prefer or VerifyCA as the portal
 * and the ARM template write it, mode online as az does), so a tutorial's values work unchanged.
 */
const azureSpelled = <T extends readonly [string, ...string[]]>(kind: AzureEnum, values: T) =>
  z.preprocess((v) => (typeof v === 'string' ? (fromAzureSpelling(kind, v) ?? v) : v), oneOf(values));

/** Pulumi durations, as customTimeouts takes them. */
const durationSchema = z
  .string({ error: 'must be a duration such as 6h, 30m or 1h30m' })
  .regex(/^(\d+(\.\d+)?(h|m|s|ms))+$/, 'must be a duration such as 6h, 30m or 1h30m');

const booleanSchema = z.boolean({ error: 'must be true or false' });

/** Parallel jobs; `pulumi config set tableJobs 4` stores the text "4". */
const jobsSchema = (min: number) =>
  z
    .union([z.number(), z.string().regex(/^\d+$/)], { error: `must be a whole number from ${min} to 64` })
    .transform(Number)
    .pipe(z.number().int().min(min, `must be from ${min} to 64`).max(64, `must be from ${min} to 64`));

/** Lab-wide options, top-level config keys (declared with their types in Pulumi.yaml). */
export const migrationOptionShape = {
  migrationCreateTimeout: durationSchema.default('6h'),
  migrationUpdateTimeout: durationSchema.default('6h'),
  migrationDeleteTimeout: durationSchema.default('30m'),
  allowReplicaIdentityFull: booleanSchema.default(false),
  /** 0: as many as the machine running pulumi has CPUs (2–8), decided there, never stored. */
  tableJobs: jobsSchema(0).default(0),
  indexJobs: jobsSchema(0).default(0),
};

const migrationSourceSchema = z.strictObject(
  {
    host: z.string({ error: 'must be a host name or IP address' }).regex(/^[A-Za-z0-9._:-]+$/, 'must be a host name or IP address'),
    port: z
      .number({ error: 'must be a port number' })
      .int()
      .min(1, 'must be from 1 to 65535')
      .max(65535, 'must be from 1 to 65535')
      .default(5432),
    user: identifierSchema.default('postgres'),
    sslMode: azureSpelled('sslMode', SSL_MODES).default('prefer'),
    /** Name of the secret stack config key that holds this source's password. */
    passwordSecret: z
      .string({ error: 'must be a config key name' })
      .regex(/^[A-Za-z][A-Za-z0-9_-]*$/, 'must be a config key name')
      .default('sourcePassword'),
  },
  { error: 'must be an object with host and optionally port, user, sslMode, passwordSecret' },
);

export const migrationSchema = z.strictObject(
  {
    name: z
      .string({ error: 'must be a migration name' })
      .regex(MIGRATION_NAME_PATTERN, 'must be 1-63 letters, digits or hyphens, not starting with a hyphen'),
    databases: z.array(identifierSchema, { error: 'must be a list of database names' }).min(1, 'must name at least one database'),
    mode: azureSpelled('migrationMode', MIGRATION_MODES).default('Offline'),
    option: azureSpelled('migrationOption', MIGRATION_OPTIONS).default('ValidateAndMigrate'),
    overwriteDbsInTarget: booleanSchema.default(false),
    cutover: booleanSchema.default(false),
    /** Omitted: the lab's own source VM (sourceVm.enabled must be true). */
    source: migrationSourceSchema.optional(),
    /** Omitted: the lab-wide key of the same name. */
    allowReplicaIdentityFull: booleanSchema.optional(),
    tableJobs: jobsSchema(1).optional(),
    indexJobs: jobsSchema(1).optional(),
    dropTargetDatabasesOnDelete: booleanSchema.default(false),
    /**
     * Who runs it: `agents` (the default when migrationRuntime.enabled) leaves it to the runtime's
     * `pgferry agent`s, so it goes on after `pulumi up` ends; `local`, the machine running `pulumi up`.
     */
    runtime: oneOf(['local', 'agents'] as const).optional(),
    /** PgMigration's opt-in to replace a migration that has cut over. */
    allowReplaceAfterCutover: booleanSchema.default(false),
    /** Online: fence the source's writers at cutover (PgMigration's fenceWriters). */
    fenceWriters: booleanSchema.optional(),
    /**
     * Online with fenceWriters: the fallback window after the cutover (docs/fallback.md). The lab
     * sets the server's wal_level to logical for it (serverParameters.ts): the reverse stream reads
     * a slot on the server.
     */
    fallbackWindow: z.string({ error: FALLBACK_WINDOW_RULE }).refine(isFallbackWindow, FALLBACK_WINDOW_RULE).optional(),
    /**
     * Online from the lab's source VM: cut over through the lab's PgBouncer (PgMigration's
     * `pooler`). Omitted: true for such a migration when `pooler.enabled`; the lab's agents run it.
     */
    pooler: booleanSchema.optional(),
  },
  { error: 'must be an object with name and databases' },
);

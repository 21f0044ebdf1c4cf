// The migration spec: one zod schema shared by the CLI, the Pulumi resource and the library API.
// It parses into frozen, readonly types; engine functions accept only those and never re-validate.
import os from 'node:os';
import { defaultSslMode, tlsNameOf } from './azureHosts';
import { FALLBACK_WINDOW_RULE, isFallbackWindow } from './fallbackWindow';
import { z } from 'zod';
import { schemaPattern, tablePattern } from './patterns';

export const SSL_MODES = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

export const MIGRATION_MODES = ['Offline', 'Online'] as const;
export type MigrationMode = (typeof MIGRATION_MODES)[number];

/**
 * Where a migration runs. local: a runner process started by the caller (`pgferry create`,
 * `pulumi up`) on its machine. agents: the migration is only registered; `pgferry agent`
 * processes that hold the source's credentials run it.
 */
export const RUNTIMES = ['local', 'agents'] as const;
export type Runtime = (typeof RUNTIMES)[number];

/** Online: what a streamed table dropped or renamed on the source becomes on the target (tableDropsAndRenames). */
export const TABLE_DROPS_AND_RENAMES = ['follow', 'report'] as const;
export type TableDropsAndRenames = (typeof TABLE_DROPS_AND_RENAMES)[number];
/**
 * A materialized view whose rows on the source are not its query's over the same data (refreshed
 * before its tables last changed, or a volatile query), found at the verification that ends a
 * migration (staleMaterializedViews): `stop` says so and does not succeed; `refresh` keeps the
 * target's rows, refreshed from the same data, and names the view in a warning.
 */
export const STALE_MATERIALIZED_VIEWS = ['stop', 'refresh'] as const;
export type StaleMaterializedViews = (typeof STALE_MATERIALIZED_VIEWS)[number];
/**
 * How an online migration learns of the source's schema changes (README, "Schema changes while
 * streaming"): `catalog` compares the source's catalog with the target's (no superuser needed);
 * `eventTrigger` also places an event trigger in each source database that writes every DDL
 * command into the stream, so the change is ordered exactly among the rows (superuser on the source).
 */
export const SCHEMA_CHANGE_CAPTURES = ['catalog', 'eventTrigger'] as const;
export type SchemaChangeCapture = (typeof SCHEMA_CHANGE_CAPTURES)[number];

export const MIGRATION_OPTIONS = ['Validate', 'Migrate', 'ValidateAndMigrate'] as const;
export type MigrationOption = (typeof MIGRATION_OPTIONS)[number];

/** Azure's rule: letters, digits and hyphens, not starting with a hyphen. */
export const MIGRATION_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/;

const hostSchema = z
  .string({ error: 'must be a host name or IP address' })
  .min(1, 'must not be empty')
  .max(253, 'must be at most 253 characters')
  .regex(/^[A-Za-z0-9._:[\]-]+$/, 'must be a host name or IP address (letters, digits, . - : [ ])');

const portSchema = z
  .number({ error: 'must be a number from 1 to 65535' })
  .int('must be an integer from 1 to 65535')
  .min(1, 'must be from 1 to 65535')
  .max(65535, 'must be from 1 to 65535');

const userSchema = z.string({ error: 'must be a role name' }).min(1, 'must not be empty').max(63, 'must be at most 63 characters');

const serverFieldsSchema = z
  .object({
    host: hostSchema,
    port: portSchema.default(5432),
    user: userSchema,
    /** Omitted: taken from PGPASSWORD or ~/.pgpass by the driver and the client tools. */
    password: z.string({ error: 'must be a string' }).optional(),
    /** Omitted: verify-full for an Azure server, else prefer (azureHosts.ts defaultSslMode). */
    sslMode: z.enum(SSL_MODES, { error: `must be one of ${SSL_MODES.join(', ')}` }).optional(),
    /** CA bundle (PEM file path) for verify-ca / verify-full; omitted for an Azure server: Azure's root CAs. */
    sslRootCert: z.string().min(1).optional(),
    /**
     * The server's own name when host is another address for it (PGFERRY_SERVER_HOSTS maps an Azure
     * server's name to a tunnel or a private address): the name its certificate must carry
     * (verify-full) and the name the Azure defaults are judged by.
     */
    sslServerName: hostSchema.optional(),
    /** Database used for connection checks and, on the target, the control catalog. */
    maintenanceDatabase: z.string().min(1).max(63).default('postgres'),
  })
  .strict();

/** A server as pgferry reaches it; an sslMode not given is the default for its name. */
export const serverSpecSchema = serverFieldsSchema.transform((server) => ({
  ...server,
  sslMode: server.sslMode ?? defaultSslMode(tlsNameOf(server)),
}));

export type ServerSpec = Readonly<z.infer<typeof serverSpecSchema>>;

const poolerNameSchema = z
  .string({ error: 'must be a database name of the pooler' })
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/, "must be a name of the pooler's [databases] section (letters, digits, _ . -)");

/**
 * The user's PgBouncer in front of the source (docs/pooler.md): at cutover pgferry pauses the
 * pooler's databases through its admin console, points them at the target in the pooler's
 * configuration file (PgBouncer's admin console cannot change a database's address, so pgferry
 * runs where it can write that file) and resumes them.
 */
const poolerSpecSchema = z
  .object({
    /** The admin console's address (PgBouncer's listen_addr and listen_port). */
    host: hostSchema,
    port: portSchema.default(6432),
    /** A user of the pooler's admin_users (stats_users may not PAUSE). */
    user: userSchema,
    /** Omitted: taken from PGPASSWORD or ~/.pgpass by the driver. */
    password: z.string({ error: 'must be a string' }).optional(),
    /** The pooler's configuration file, whose [databases] lines pgferry points at the target. */
    configFile: z
      .string({ error: "must be the absolute path of the pooler's configuration file" })
      .regex(/^\//, "must be the absolute path of the pooler's configuration file"),
    /** The pooler's databases pgferry pauses and repoints; omitted: one per migrated database, of its name. */
    databases: z.array(poolerNameSchema, { error: "must be a list of the pooler's database names" }).min(1, 'must not be empty').optional(),
    /** The target as the pooler reaches it (host=, port= of its lines); omitted: target.host and target.port. */
    targetHost: hostSchema.optional(),
    targetPort: portSchema.optional(),
    /** How long PAUSE may wait for the transactions in flight to end before the cutover is rolled back. */
    pauseTimeoutSeconds: z
      .number({ error: 'must be a whole number of seconds from 1 to 3600' })
      .int('must be a whole number of seconds from 1 to 3600')
      .min(1, 'must be a whole number of seconds from 1 to 3600')
      .max(3600, 'must be a whole number of seconds from 1 to 3600')
      .default(10),
  })
  .strict();

export type PoolerSpec = Readonly<Omit<z.infer<typeof poolerSpecSchema>, 'databases'>> & { readonly databases?: readonly string[] };

const databaseName = z
  .string({ error: 'must be a database name' })
  .min(1, 'must not be empty')
  .max(63, 'must be at most 63 characters')
  .refine((n) => !n.includes('\0'), 'must not contain NUL');

/**
 * A list of pg_dump-style name patterns (patterns.ts); each is compiled here, so a malformed
 * one is refused with its own one-line message before anything runs.
 */
const patternList = (compile: (text: string) => unknown) =>
  z
    .array(z.string({ error: 'must be a list of name patterns' }).min(1, 'must not contain an empty pattern').max(1000), {
      error: 'must be a list of name patterns',
    })
    .max(1000, 'must hold at most 1000 patterns')
    .superRefine((patterns, ctx) => {
      patterns.forEach((text, index) => {
        try {
          compile(text);
        } catch (error) {
          ctx.addIssue({ code: 'custom', path: [index], message: (error as Error).message });
        }
      });
    })
    .default([]);

/**
 * An instant in UTC as Azure's migrationWindow*TimeInUtc takes it (`2026-05-01T22:00:00Z`; without
 * an offset it is read as UTC, as the property's name says), normalized to ISO 8601 with `Z`.
 */
const utcInstant = z
  .string({ error: 'must be a date and time in UTC, e.g. 2026-05-01T22:00:00Z' })
  .regex(
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$/,
    'must be a date and time in UTC, e.g. 2026-05-01T22:00:00Z',
  )
  .transform((text, ctx) => {
    const ms = Date.parse(/(Z|[+-]\d{2}:\d{2})$/.test(text) ? text : `${text}Z`);
    if (Number.isNaN(ms)) {
      ctx.addIssue({ code: 'custom', message: 'must be a date and time in UTC, e.g. 2026-05-01T22:00:00Z' });
      return z.NEVER;
    }
    return new Date(ms).toISOString();
  });

const defaultJobs = Math.max(2, Math.min(8, os.cpus().length));

const fenceWritersSchema = z.boolean({ error: 'must be true or false' });

const lagBudgetSchema = z
  .number({ error: 'must be a whole number of seconds from 1 to 86400' })
  .int('must be a whole number of seconds from 1 to 86400')
  .min(1, 'must be a whole number of seconds from 1 to 86400')
  .max(86400, 'must be a whole number of seconds from 1 to 86400');

const FALLBACK_NEEDS_FENCE =
  'needs fenceWriters: true (the old source stays read-only for everyone but the reverse stream, so no write lands on both servers)';

/** The fallback window, kept as written (fallbackWindow.ts reads it). */
const fallbackWindowSchema = z.string({ error: FALLBACK_WINDOW_RULE }).refine(isFallbackWindow, FALLBACK_WINDOW_RULE);

/**
 * What a cutover request may set for that cutover alone (`pgferry update --cutover
 * --fence-writers`, a Pulumi update that flips `cutover` with them): recorded with the request,
 * they override the spec the runner was started with. A window asked with the request fences the
 * writers of that cutover unless the request says otherwise, which is refused.
 */
export const cutoverOptionsSchema = z
  .object({
    fenceWriters: fenceWritersSchema.optional(),
    cutoverLagBudgetSeconds: lagBudgetSchema.optional(),
    fallbackWindow: fallbackWindowSchema.optional(),
  })
  .strict()
  .superRefine((options, ctx) => {
    // a window needs the old source fenced: an application left on it would split the two servers
    if (options.fallbackWindow !== undefined && options.fenceWriters === false) {
      ctx.addIssue({ code: 'custom', path: ['fallbackWindow'], message: FALLBACK_NEEDS_FENCE });
    }
  });

export type CutoverOptions = Readonly<z.infer<typeof cutoverOptionsSchema>>;

export const migrationSpecSchema = z
  .object({
    migrationName: z
      .string({ error: 'must be a string' })
      .regex(MIGRATION_NAME_PATTERN, 'must be 1-63 letters, digits or hyphens, not starting with a hyphen'),
    source: serverSpecSchema,
    target: serverSpecSchema,
    databases: z
      .array(databaseName, { error: 'must be a list of database names' })
      .min(1, 'must name at least one database')
      .max(50, 'must name at most 50 databases')
      .refine((dbs) => new Set(dbs).size === dbs.length, 'must not name a database twice')
      .refine((dbs) => !dbs.some((d) => ['template0', 'template1'].includes(d)), 'must not include template0 or template1')
      // Azure's dbsToMigrate may be left out: the migration waits in WaitingForDBsToMigrateSpecification
      // until an update names them (flow/preCopyWaits.ts); a list given is checked as above
      .default([]),
    mode: z.enum(MIGRATION_MODES, { error: 'must be Offline or Online' }).default('Offline'),
    option: z.enum(MIGRATION_OPTIONS, { error: 'must be Validate, Migrate or ValidateAndMigrate' }).default('ValidateAndMigrate'),
    overwriteDbsInTarget: z.boolean({ error: 'must be true or false' }).default(false),
    /**
     * A target database exists and overwriteDbsInTarget is false: wait in
     * WaitingForTargetDBOverwriteConfirmation for the user to allow it (as Azure does) instead of
     * refusing at once (pgferry's default: README, "Defaults that differ from Azure").
     */
    waitForOverwriteConfirmation: z.boolean({ error: 'must be true or false' }).default(false),
    /**
     * Target databases the user confirms may be overwritten although they are live (other clients'
     * sessions in them, or an online migration recorded in this catalog cut over into them or still
     * writes them): overwriteDbsInTarget alone refuses such a database (validate/liveDatabases.ts).
     */
    overwriteLiveDbsInTarget: z
      .array(databaseName, { error: 'must be a list of database names' })
      .refine((dbs) => new Set(dbs).size === dbs.length, 'must not name a database twice')
      .default([]),
    /**
     * Online: a source without wal_level=logical (or with too few slots or WAL senders) is set up
     * with ALTER SYSTEM where the source user may, then the migration waits for the user to restart
     * the source (pgferry never restarts it), re-checking. Without it the migration waits there too,
     * for `pgferry update --setup-replication` (az's) or for the user to set the source up.
     */
    setupLogicalReplicationOnSourceDbIfNeeded: z.boolean({ error: 'must be true or false' }).default(false),
    /**
     * Azure's startDataMigration: false validates (as the option says) and then waits in
     * WaitingForDataMigrationScheduling until the user starts the data migration (an update body
     * with startDataMigration: True, `pgferry update --start-data-migration`).
     */
    startDataMigration: z.boolean({ error: 'must be true or false' }).default(true),
    /** The copy starts no earlier than this (WaitingForDataMigrationWindow until then). */
    migrationWindowStartTimeInUtc: utcInstant.optional(),
    /** The copy must have started by this: a migration whose window passed before it started fails. */
    migrationWindowEndTimeInUtc: utcInstant.optional(),
    /** Migrate the source's roles (attributes a managed target refuses are stripped). */
    migrateRoles: z.boolean({ error: 'must be true or false' }).default(true),
    /** Online: give tables without a usable replica identity REPLICA IDENTITY FULL. */
    allowReplicaIdentityFull: z.boolean({ error: 'must be true or false' }).default(false),
    /**
     * Online: follow the source's column changes on the target while streaming: columns dropped,
     * renamed, derivably retyped and NOT NULL at their stream position, a column dropped and added
     * again under its name by a copy of the table at a pin, defaults at the schema watch's look.
     * false: those stop the stream or the cutover and say the fix (docs/limits.md, "Schema changes
     * while streaming").
     */
    followSchemaChanges: z.boolean({ error: 'must be true or false' }).default(true),
    /** Online, with followSchemaChanges: how schema changes are seen (SCHEMA_CHANGE_CAPTURES). */
    schemaChangeCapture: z.enum(SCHEMA_CHANGE_CAPTURES, { error: 'must be catalog or eventTrigger' }).default('catalog'),
    /**
     * Online: a streamed table dropped or renamed on the source while streaming. `report` (the
     * default): said at once as a warning with the fix, and the cutover's schema check stops on it.
     * `follow`: a rename renames the target table at the stream's point (the relation message
     * carries the new name, same OID), a drop drops it once the apply has passed the drop.
     */
    tableDropsAndRenames: z.enum(TABLE_DROPS_AND_RENAMES, { error: 'must be follow or report' }).default('report'),
    /**
     * A materialized view whose source rows are not its query's over the same data, at the
     * verification that ends the migration (STALE_MATERIALIZED_VIEWS; verify/materializedViews.ts).
     */
    staleMaterializedViews: z.enum(STALE_MATERIALIZED_VIEWS, { error: 'must be stop or refresh' }).default('stop'),
    /**
     * Managed targets: leave out of the schema copy what the target user cannot create (event
     * triggers, untrusted languages, C functions outside extensions) and what depends on it, and
     * list each with its definition, instead of failing validation.
     */
    skipUnsupportedObjects: z.boolean({ error: 'must be true or false' }).default(false),
    /** Filters (pg_dump patterns, README "Choosing what moves"): schemas whose objects move; empty: all. */
    includeSchemas: patternList(schemaPattern),
    /** Schemas left out whole (a schema that holds an extension stays, its relations left out). */
    excludeSchemas: patternList(schemaPattern),
    /** Tables, views, materialized views and foreign tables that move (`schema.table` or `table`); empty: all. */
    includeTables: patternList(tablePattern),
    excludeTables: patternList(tablePattern),
    /** Tables whose definition moves without their rows (and, online, without their changes). */
    schemaOnlyTables: patternList(tablePattern),
    /** Tables whose rows move into their bare definition: no indexes, keys, triggers, rules or policies. */
    dataOnlyTables: patternList(tablePattern),
    runtime: z.enum(RUNTIMES, { error: 'must be local or agents' }).default('local'),
    /** Parallel COPY jobs. */
    tableJobs: z.number().int().min(1, 'must be from 1 to 64').max(64, 'must be from 1 to 64').default(defaultJobs),
    /** Parallel index and constraint builds. */
    indexJobs: z.number().int().min(1, 'must be from 1 to 64').max(64, 'must be from 1 to 64').default(defaultJobs),
    /**
     * Tables larger than this many bytes are split into ranges copied by several jobs; 0 disables.
     * Unset: tables over 256 MB that are also over 1.5 even shares of the copy (copy/plan.ts tableParts).
     */
    splitTablesLargerThan: z.number().int().min(0, 'must be 0 or more bytes').optional(),
    /** Upper bound on parts per split table. */
    splitMaxParts: z.number().int().min(2, 'must be from 2 to 256').max(256, 'must be from 2 to 256').default(16),
    /** Directory with pg_dump, pg_restore (and pg_dumpall) of a major version ≥ the source's. */
    pgBinDir: z.string().min(1).optional(),
    /** Seconds to wait for a lock on the source (the copy's ACCESS SHARE locks) before failing, naming the blocking session. */
    lockTimeoutSeconds: z
      .number()
      .int()
      .min(1, 'must be from 1 to 86400 seconds')
      .max(86400, 'must be from 1 to 86400 seconds')
      .default(30),
    /**
     * Verification (row counts and checksums). Online, true verifies each table while changes
     * stream, pinned to a source position, and the cutover reads again only what changed since
     * (docs/verification.md); 'full' reads every table whole at cutover instead. false: none.
     */
    verify: z.union([z.boolean(), z.literal('full')], { error: "must be true, false or 'full'" }).default(true),
    /** Online: warn when the slot retains more WAL than this many bytes on the source. */
    slotRetainedWarnBytes: z
      .number()
      .int()
      .min(0)
      .default(1024 * 1024 * 1024),
    /**
     * Online: target sessions applying each database's stream. 1 (the default): one session, in
     * commit order. More: independent source transactions applied side by side, those on a common
     * table (or tables linked by a foreign key) in commit order, exactly once under kills
     * (docs/safety.md#parallel-apply-applysessions-issue-65).
     */
    applySessions: z
      .number({ error: 'must be a whole number from 1 to 16' })
      .int('must be a whole number from 1 to 16')
      .min(1, 'must be a whole number from 1 to 16')
      .max(16, 'must be a whole number from 1 to 16')
      .default(1),
    /**
     * Online: a stream stopped on an error the user must fix keeps its slot (and the source keeps
     * WAL for it) at most this many hours; past that the slot is released and the migration fails,
     * to protect the source's disk. Unset: kept until the fix, a cancel or a delete.
     */
    maxApplyStopHours: z
      .number({ error: 'must be a number of hours' })
      .positive('must be more than 0 hours')
      .max(8760, 'must be at most 8760 hours (a year)')
      .optional(),
    /**
     * Online: at cutover, before the cutover point is marked, make each database cut over
     * read-only for new transactions on the source (ALTER DATABASE ... SET
     * default_transaction_read_only = on, its earlier value recorded first) and end the sessions
     * connected to it, so no write can land on the source after the cutover point. Lifted on a
     * roll-back, a cancel or a failure; kept after a successful cutover (README, "Fencing writers").
     */
    fenceWriters: fenceWritersSchema.default(false),
    /**
     * Online: the cutover goes on only if the stream's predicted catch-up (pending bytes at its
     * recent apply rate) is at most this many seconds; otherwise it rolls back (the fence lifted,
     * the request cleared, streaming on). Unset: 30 with fenceWriters, no gate without.
     */
    cutoverLagBudgetSeconds: lagBudgetSchema.optional(),
    /**
     * Online with fenceWriters: after the cutover, keep the old source up to date with the
     * target's writes (the reverse stream) for this long, so `pgferry update --fall-back` can make
     * it the primary again without losing a write (docs/fallback.md). Unset: no window.
     */
    fallbackWindow: fallbackWindowSchema.optional(),
    /**
     * Online: the user's PgBouncer in front of the source; the cutover pauses its databases, points
     * them at the target and resumes them, so the applications keep their connections (docs/pooler.md).
     */
    pooler: poolerSpecSchema.optional(),
  })
  .strict()
  .superRefine((spec, ctx) => {
    // The control catalog lives in the target's maintenance database: overwriting it would drop
    // the catalog (and the connection) the migration is recorded in.
    if (spec.databases.includes(spec.target.maintenanceDatabase)) {
      ctx.addIssue({
        code: 'custom',
        path: ['databases'],
        message: `must not include "${spec.target.maintenanceDatabase}", the target's maintenance database that holds the control catalog; set target.maintenanceDatabase to another existing database`,
      });
    }
    // a fence and a lag gate belong to a cutover, which only an online migration has
    if (spec.mode === 'Offline') {
      for (const key of ['fenceWriters', 'cutoverLagBudgetSeconds', 'fallbackWindow'] as const) {
        if (spec[key] === undefined || spec[key] === false) continue;
        ctx.addIssue({ code: 'custom', path: [key], message: 'applies only to an Online migration (mode), which has a cutover' });
      }
    } else if (spec.fallbackWindow !== undefined && !spec.fenceWriters) {
      ctx.addIssue({ code: 'custom', path: ['fallbackWindow'], message: FALLBACK_NEEDS_FENCE });
    }
    if (spec.pooler !== undefined) {
      const why = poolerRefusal(spec);
      if (why) ctx.addIssue({ code: 'custom', path: ['pooler'], message: why });
    }
    // the event trigger places each change in the stream, which only an online migration that follows them reads
    if (spec.schemaChangeCapture === 'eventTrigger' && (spec.mode !== 'Online' || !spec.followSchemaChanges)) {
      ctx.addIssue({
        code: 'custom',
        path: ['schemaChangeCapture'],
        message: `eventTrigger applies only to an Online migration (mode) with followSchemaChanges: true; use catalog${spec.mode === 'Online' ? ' or set followSchemaChanges: true' : ''}`,
      });
    }
    // an agent is chosen by the databases it holds credentials for: they must be known when it is registered
    if (spec.runtime === 'agents' && spec.databases.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['databases'],
        message:
          'required with runtime agents (an agent is chosen by the databases it holds credentials for); name them, or use runtime local',
      });
    }
    const start = spec.migrationWindowStartTimeInUtc;
    const end = spec.migrationWindowEndTimeInUtc;
    if (start !== undefined && end !== undefined && Date.parse(end) <= Date.parse(start)) {
      ctx.addIssue({
        code: 'custom',
        path: ['migrationWindowEndTimeInUtc'],
        message: `must be after migrationWindowStartTimeInUtc (${start}); got ${end}`,
      });
    }
  });

/**
 * Why a spec may not name a pooler, or undefined: only an online migration has a cutover. Either
 * runtime may: with agents, only an agent holding the pooler's admin credentials in its own
 * environment runs it (docs/agents.md), beside the pooler's configuration file.
 */
function poolerRefusal(spec: { readonly mode: MigrationMode }): string | undefined {
  if (spec.mode !== 'Online') return 'applies only to an Online migration (mode), which has a cutover';
  return undefined;
}

/**
 * Spec fields that tune how a migration runs without changing which migration it is: accepted
 * beside the Azure properties by the CLI, and an in-place update (never a replace) for Pulumi.
 */
export const TUNING_KEYS = [
  'tableJobs',
  'indexJobs',
  'splitTablesLargerThan',
  'splitMaxParts',
  'pgBinDir',
  'verify',
  'allowReplicaIdentityFull',
  'followSchemaChanges',
  'tableDropsAndRenames',
  'staleMaterializedViews',
  'schemaChangeCapture',
  'skipUnsupportedObjects',
  'slotRetainedWarnBytes',
  'maxApplyStopHours',
  'applySessions',
  'lockTimeoutSeconds',
  'fenceWriters',
  'cutoverLagBudgetSeconds',
  'fallbackWindow',
  'pooler',
  'waitForOverwriteConfirmation',
  'overwriteLiveDbsInTarget',
  'setupLogicalReplicationOnSourceDbIfNeeded',
  'startDataMigration',
  'runtime',
] as const satisfies readonly (keyof z.input<typeof migrationSpecSchema>)[];

export type MigrationSpecInput = z.input<typeof migrationSpecSchema>;
export type MigrationSpec = Readonly<Omit<z.infer<typeof migrationSpecSchema>, 'source' | 'target' | 'databases'>> & {
  readonly source: ServerSpec;
  readonly target: ServerSpec;
  readonly databases: readonly string[];
};

// The secret-free form lives apart, without zod, so the runner's start does not load the schema.

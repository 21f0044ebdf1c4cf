// Every code a PgferryError can carry, with its category and what it means. Callers (the CLI's
// exit codes, the Pulumi provider's failures, tests) match on these; a code not listed here does
// not compile. A premigration check's own result codes are in validate/codes.ts.

/** Whose problem an error is: it picks the CLI exit code and the Pulumi `check` failure. */
export type ErrorCategory =
  | 'input' // bad user input: CLI exit 2, Pulumi check failure
  | 'validation' // a premigration check failed
  | 'source' // the source server refused or failed
  | 'target' // the target server refused or failed
  | 'canceled' // the user canceled
  | 'internal';

export interface ErrorCodeInfo {
  /** The usual category; a call site may give another (the same name is input in one place, state in another). */
  readonly category: ErrorCategory;
  /** One line: the condition the code stands for. */
  readonly meaning: string;
  /** What the user can do, when the call site does not say something more precise. */
  readonly fix?: string;
}

export const ERROR_CODES = {
  // What the user gave: CLI exit 2, a Pulumi check failure; nothing has been changed on any server.
  USAGE: { category: 'input', meaning: 'a command-line flag is unknown, malformed or contradicts another', fix: 'see `pgferry --help`' },
  INVALID_INPUT: { category: 'input', meaning: 'a field of the migration body has a value that is not allowed' },
  INVALID_JSON: { category: 'input', meaning: 'the properties file is not valid JSON' },
  INVALID_URL: { category: 'input', meaning: 'a postgres:// URL is malformed or has an unknown parameter' },
  INVALID_RESOURCE_ID: { category: 'input', meaning: 'a server is not given as host:port@user' },
  UNKNOWN_FIELD: { category: 'input', meaning: 'the migration body has a field pgferry does not know' },
  DUPLICATE_FIELD: { category: 'input', meaning: 'the migration body gives one field twice (keys are case-insensitive)' },
  PROPERTIES_FILE: { category: 'input', meaning: 'the properties file cannot be read' },
  NAME_REQUIRED: { category: 'input', meaning: 'no migration name was given' },
  TARGET_REQUIRED: { category: 'input', meaning: 'no target server was given' },
  TARGET_LOGIN_REQUIRED: {
    category: 'input',
    meaning: 'no login was found for the target server (no user flag, PGUSER or ~/.pgpass entry)',
  },
  PASSWORD_ON_COMMAND_LINE: {
    category: 'input',
    meaning: 'a password was given on the command line, where every user of the machine can read it',
    fix: 'use the properties file, PGPASSWORD or ~/.pgpass',
  },
  SPEC_MISMATCH: { category: 'input', meaning: 'a resume names other servers, databases or mode than the migration was created with' },
  STORED_SPEC_INCOMPLETE: { category: 'input', meaning: "the target's catalog does not hold what is needed to act without the properties" },
  SOURCE_PASSWORD_REQUIRED: {
    category: 'input',
    meaning:
      "the source asks for a password and none was given for it: without a body PGPASSWORD is the target's, and ~/.pgpass has no entry for the source",
    fix: 'add a ~/.pgpass entry for the source, or give the migration body with --properties',
  },
  MIGRATION_NOT_FOUND: {
    category: 'input',
    meaning: "no migration of that name is in the target's catalog",
    fix: 'check the name with `pgferry list --filter all`',
  },
  MIGRATION_NAME_TAKEN: { category: 'input', meaning: 'the migration name is already used on this target' },
  MIGRATION_FINISHED: { category: 'input', meaning: 'the migration has ended; there is nothing left to do to it' },
  MIGRATION_IN_PROGRESS: { category: 'input', meaning: 'the migration is still running', fix: '`pgferry update --cancel`, then try again' },
  CUTOVER_OFFLINE: { category: 'input', meaning: 'cutover was asked of an offline migration' },
  CUTOVER_NOT_READY: {
    category: 'input',
    meaning: 'cutover was asked before changes stream',
    fix: 'wait until `pgferry show` reports WaitingForCutoverTrigger',
  },
  MIGRATION_WINDOW_INVALID: {
    category: 'input',
    meaning: 'the migration window ends before it starts, or is already over',
    fix: 'give migrationWindowEndTimeInUtc after migrationWindowStartTimeInUtc and after now (UTC), or leave both unset',
  },
  FALLBACK_WINDOW_NONE: {
    category: 'input',
    meaning:
      'a fallback window was asked to close (or a fall-back asked) of a migration that has none open: offline, not cut over with fallbackWindow, or closed already',
    fix: 'a window is opened by a cutover with fallbackWindow (`pgferry update --cutover --fallback-window 24h`); `pgferry show` says whether one is open',
  },
  FALLBACK_REFUSED: {
    category: 'input',
    meaning:
      'a fall-back was asked of a migration that cannot fall back now: offline, without a fallback window, its window closed, a fall-back asked or done already, or its reverse stream stopped on an error',
    fix: '`pgferry show` says the window and its reverse stream; a stopped reverse stream is tried again by itself once its cause is fixed',
  },
  FENCE_LIFT_REFUSED: {
    category: 'input',
    meaning:
      'a kept writer fence was asked to be lifted while it still keeps writes from splitting: the migration runs (changes stream), a fallback window is open, or a switchover holds the fence',
    fix: 'close the fallback window (`pgferry update --close-fallback`) or let it pass, or wait for the migration to end, then lift it again',
  },
  RESYNC_NOT_STREAMING: {
    category: 'input',
    meaning: 'a table resync was asked of a migration that does not stream (offline, finished, or not copied yet)',
    fix: 'ask once `pgferry show` reports WaitingForCutoverTrigger',
  },
  RESYNC_TABLE: {
    category: 'input',
    meaning:
      'a table resync names no table, a table the migration does not move in that database, or a database the migration does not stream',
    fix: 'name the table as schema.table, with its database first (database/schema.table) when the migration moves several',
  },
  DATABASE_NOT_MIGRATED: {
    category: 'input',
    meaning: 'a per-database cutover or cancel names a database the migration does not migrate',
    fix: "name databases from the migration's dbsToMigrate (`pgferry show`)",
  },
  DATABASE_FINISHED: {
    category: 'input',
    meaning: 'a per-database cutover or cancel names a database that was already cut over or canceled',
  },
  SETUP_REPLICATION_NOT_WAITING: {
    category: 'input',
    meaning: 'a logical replication setup request was given to a migration that does not wait for one',
    fix: 'it applies only in WaitingForLogicalReplicationSetupRequestOnSourceDB (`pgferry show`)',
  },
  DATABASES_NOT_WAITING: {
    category: 'input',
    meaning: 'dbsToMigrate was given to a migration whose databases were named already, or that has ended',
    fix: 'it applies only in WaitingForDBsToMigrateSpecification of a migration created without dbsToMigrate (`pgferry show`)',
  },
  DATA_MIGRATION_NOT_WAITING: {
    category: 'input',
    meaning: 'startDataMigration: True was given to a migration whose data migration is not waiting to be started',
    fix: 'it applies only in WaitingForDataMigrationScheduling of a migration created with startDataMigration: False (`pgferry show`)',
  },
  OVERWRITE_NOT_WAITING: {
    category: 'input',
    meaning: 'an overwrite confirmation was given to a migration that does not wait for one',
    fix: 'it applies only in WaitingForTargetDBOverwriteConfirmation (`pgferry show`)',
  },
  RUNNER_ALREADY_RUNNING: { category: 'input', meaning: 'the migration already has a live runner' },
  RUNNER_STOPPED: { category: 'input', meaning: "the migration's runner has stopped and nothing would act on a request" },

  // A premigration check refused the migration (the checks' own result codes: validate/codes.ts).
  SAME_SERVER: { category: 'validation', meaning: 'source and target are one server: migrating would overwrite the source' },
  SOURCE_DATABASE_MISSING: { category: 'validation', meaning: 'a database to migrate does not exist on the source' },
  TARGET_DATABASE_EXISTS: { category: 'validation', meaning: 'a target database exists and the migration may not replace it' },
  TARGET_DATABASE_LIVE: {
    category: 'validation',
    meaning:
      'a target database to overwrite is live (other sessions, or cut over by a migration) and overwriteLiveDbsInTarget does not name it',
  },
  PG_TOOLS_MISSING: { category: 'validation', meaning: 'pg_dump or pg_restore cannot be found' },
  PG_TOOLS_TOO_OLD: { category: 'validation', meaning: "pg_dump or pg_restore is older than the source's major version" },
  REPLICA_IDENTITY_MISSING: { category: 'validation', meaning: 'a table to stream has no usable key and FULL was not allowed' },
  TABLE_NEEDS_UNSUPPORTED_OBJECT: { category: 'validation', meaning: 'a table depends on an object the target user cannot create' },
  FILTER_FOREIGN_KEY_LEFT_OUT: {
    category: 'validation',
    meaning: 'a moved table has a foreign key to a table the filters leave out (or to a data-only table, whose keys do not move)',
  },
  FILTER_DEPENDENCY_LEFT_OUT: {
    category: 'validation',
    meaning: 'a moved view, function or default needs a relation or schema the filters leave out',
  },
  FILTER_CONTRADICTION: { category: 'validation', meaning: 'a table is matched by both schemaOnlyTables and dataOnlyTables' },
  CONTROL_SCHEMA_NOT_OURS: {
    category: 'validation',
    meaning: 'a source object pgferry did not make is in the schema named pgferry, which no migration copies or compares',
  },
  // A condition of time, not of what was given (the window was valid at create): checked before the
  // copy like the checks above, and like them it ends the migration before anything is changed.
  MIGRATION_WINDOW_MISSED: {
    category: 'validation',
    meaning: "the migration window closed before the migration's copy could start (its runner was stopped)",
    fix: 'create the migration again with a window that is still to come',
  },

  // The source refused or failed.
  SCHEMA_DUMP: { category: 'source', meaning: 'pg_dump failed' },
  SLOT_CREATE: { category: 'source', meaning: 'the replication slot could not be created' },
  SOURCE_DDL_BLOCKED: { category: 'source', meaning: "pgferry's own DDL on the source waited too long behind another session" },
  SNAPSHOT_GONE: {
    category: 'source',
    meaning:
      "a session could not import the copy's snapshot: the session that exported it had ended (a lost connection); the copy starts again with a new snapshot",
  },
  SOURCE_TABLES_CHANGING: { category: 'source', meaning: "the source's tables changed while the copy took its snapshot" },
  SOURCE_TABLE_LOCKED: { category: 'source', meaning: 'a table to copy is locked exclusively by another session' },
  CDC_FAILED: { category: 'source', meaning: 'streaming changes of a database stopped' },
  CDC_SCHEMA_CHANGE: {
    category: 'source',
    meaning: 'a streamed table changed on the source in a way that is not followed (only added columns are)',
    fix: 'make the same change on the target and restart the migration',
  },
  ROW_SECURITY_FILTERED: {
    category: 'source',
    meaning: 'a row-level security policy refused the source user reading every row of a table',
    fix: 'give the source user BYPASSRLS; validation names every such table and the grant',
  },
  CANCEL_RELEASE: { category: 'source', meaning: 'a cancel could not release what the migration holds on the source' },
  WRITER_FENCE_REFUSED: {
    category: 'source',
    meaning:
      "fenceWriters: the source user may not fence a database's writers (its setting, its sessions, a trigger on its tables), a session could not be ended, or a prepared transaction wrote a fenced table; nothing is left changed",
    fix: 'grant what the message names on the source (the database owner role, pg_signal_backend, TRIGGER on the tables), or commit or roll back the prepared transaction it names, then request the cutover again',
  },
  TARGET_GUARD_REFUSED: {
    category: 'target',
    meaning:
      "the target's guard of a held cutover could not be put on: a trigger of someone else's holds its name on a streamed table; nothing is guarded, and the tables are counted inside the hold",
    fix: 'rename that trigger on the target, then request the cutover again',
  },
  WRITER_FENCE_LIFT: {
    category: 'source',
    meaning: 'a writer fence could not be lifted: the source database is still read-only for new transactions',
  },
  POOLER_REFUSED: {
    category: 'source',
    meaning:
      'the pooler in front of the source (pooler) could not be reached, refused an admin command, or its configuration file could not be read or written',
    fix: 'fix what the message names (the admin address, a user of admin_users and its password, the configuration file pgferry must write), then request the cutover again',
  },

  // The target refused or failed.
  TARGET_CONNECT: { category: 'target', meaning: 'the target server cannot be reached or refused the login' },
  TARGET_DATABASE_CREATE: { category: 'target', meaning: 'a target database could not be created' },
  CONTROL_INSTALL: { category: 'target', meaning: "pgferry's catalog could not be installed on the target" },
  CONTROL_CATALOG_NEWER: {
    category: 'target',
    meaning: "the target's control catalog was upgraded by a newer pgferry than this one, which refuses to read or change it",
    fix: 'upgrade pgferry where this command runs to the version that upgraded the catalog, or a later one',
  },
  SCHEMA_RESTORE: { category: 'target', meaning: 'pg_restore failed' },
  CDC_APPLY: { category: 'target', meaning: 'a streamed change could not be applied on the target' },
  CDC_APPLY_FENCED: {
    category: 'target',
    meaning: "another session holds the migration's apply lock on the target database: one applier per database",
  },
  CDC_TARGET_DIVERGED: {
    category: 'target',
    meaning: 'a streamed change did not change as many target rows as it did on the source: the target has diverged',
  },
  CDC_TABLE_MISSING: { category: 'target', meaning: 'a streamed table does not exist on the target' },
  CDC_STOPPED_TOO_LONG: {
    category: 'target',
    meaning: 'a stream stopped on an error was not fixed within maxApplyStopHours: its slot was released',
  },
  VERIFY_MISMATCH: { category: 'target', meaning: 'source and target differ after the copy or at cutover' },
  SCHEMA_MISMATCH: {
    category: 'target',
    meaning: "the target's schema differs from the source's (a table, column, index, function, grant ...) after the copy or at cutover",
    fix: 'run the statements the message gives on the target (or undo the change on the source), then check with `pgferry verify`',
  },
  CUTOVER_LARGE_OBJECTS: {
    category: 'target',
    meaning: "the target refused a statement that brings its large objects level with the source's at cutover (nothing was changed)",
    fix: "let the target user act as the objects' owners (GRANT <owner> TO <target user>), then request the cutover again",
  },
  COPY_CLAIM_LOST: {
    category: 'target',
    meaning: 'a copy work item was claimed again by another worker before this one committed it: its rows were rolled back',
  },

  // The user stopped it.
  CANCELED: { category: 'canceled', meaning: 'the migration was canceled' },
  WAIT_INTERRUPTED: { category: 'canceled', meaning: '--wait was interrupted; the migration goes on in its runner' },

  // pgferry itself.
  CUTOVER_INTERRUPTED: { category: 'internal', meaning: 'streaming stopped before the cutover point was reached' },
  SCHEMA_LIST: { category: 'internal', meaning: "pg_restore could not list or print the dump's contents" },
  RUNNER_START: { category: 'internal', meaning: 'the background runner exited while starting' },
  RUNNER_CUT_OFF: {
    category: 'internal',
    meaning: 'the runner lost its lease and reaches no server any more: its successor resumes the migration',
  },
  RUNNER_LOG_DIR: { category: 'internal', meaning: "the runner's log directory is not private to this user" },
  WAIT_TIMEOUT: { category: 'internal', meaning: 'the migration did not reach the awaited state in time' },
  FAILPOINT: { category: 'internal', meaning: 'a test failpoint fired (PGFERRY_FAILPOINTS)' },
  STATE_PAIR_NOT_ALLOWED: {
    category: 'internal',
    meaning: 'pgferry tried to record a state and substate that Azure never shows together (core/statePairs.ts)',
  },
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

// The flag tables of each command (commander Options): pgferry's own flags and those of
// `az postgres flexible-server migration`, with the value parsers that make az's enum values
// case-insensitive (Offline/offline, ValidateAndMigrate/validate-and-migrate, Active/active).
import { InvalidArgumentError, Option } from 'commander';
import { fromAzureSpelling } from '../azure/names';
import {
  FALLBACK_WINDOW_RULE,
  isFallbackWindow,
  RUNTIMES,
  SCHEMA_CHANGE_CAPTURES,
  SSL_MODES,
  STALE_MATERIALIZED_VIEWS,
  TABLE_DROPS_AND_RENAMES,
  type Runtime,
  type SchemaChangeCapture,
  type SslMode,
  type StaleMaterializedViews,
  type TableDropsAndRenames,
} from '../engine';
import { OUTPUT_FORMATS, type OutputFormat } from './format';

export const COMMANDS = [
  'create',
  'show',
  'list',
  'update',
  'check-name-availability',
  'verify',
  'resume',
  'version',
  'demo',
  'agent',
  'console',
] as const;
export type Command = (typeof COMMANDS)[number];

/** A value parser picking case-insensitively from `allowed` (also matching without - and _). */
function choice<T extends string>(allowed: readonly T[], shown: string): (value: string) => T {
  const squash = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  return (value) => {
    const found = allowed.find((a) => squash(a) === squash(value));
    if (!found) throw new InvalidArgumentError(`must be ${shown}`);
    return found;
  };
}

function port(value: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 65535)
    throw new InvalidArgumentError('must be a number from 1 to 65535');
  return Number(value);
}

function concurrency(value: string): number {
  if (!/^\d{1,2}$/.test(value) || Number(value) < 1 || Number(value) > 64) throw new InvalidArgumentError('must be a number from 1 to 64');
  return Number(value);
}

function lagBudget(value: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 86400)
    throw new InvalidArgumentError('must be a whole number of seconds from 1 to 86400');
  return Number(value);
}

function fallbackWindow(value: string): string {
  if (!isFallbackWindow(value)) throw new InvalidArgumentError(FALLBACK_WINDOW_RULE);
  return value;
}

/** The writer fence and the lag gate of a cutover (create, resume: the migration's; update --cutover: that cutover's). */
const FENCE_OPTIONS = (): Option[] => [
  new Option('--fence-writers', 'at cutover, make the source databases read-only for new transactions and end their sessions first'),
  new Option(
    '--cutover-lag-budget-seconds <s>',
    'roll the cutover back (fence lifted, streaming on) when its predicted catch-up is longer (default 30 with --fence-writers)',
  ).argParser(lagBudget),
  new Option(
    '--fallback-window <duration>',
    'after the cutover, keep the old source up to date with the new server for this long (30m, 24h, 7d), so `update --fall-back` can return to it; needs the writer fence',
  ).argParser(fallbackWindow),
];

/** A value parser for az's enum flags, spelled as Azure spells them (provider/azure/names.ts). */
function azureChoice<E extends 'migrationMode' | 'migrationOption'>(kind: E, shown: string) {
  return (value: string) => {
    const found = fromAzureSpelling(kind, value);
    if (found === undefined) throw new InvalidArgumentError(`must be ${shown}`);
    return found;
  };
}

const MODE = () => azureChoice('migrationMode', 'offline or online');
const OPTION = () => azureChoice('migrationOption', 'validate, migrate or validateandmigrate');

const OUTPUT = () =>
  new Option('-o, --output <format>', `${OUTPUT_FORMATS.join(' | ')} (default table; json with --query)`).argParser(
    choice<OutputFormat>(OUTPUT_FORMATS, OUTPUT_FORMATS.join(', ')),
  );
const QUERY = () => new Option('--query <jmespath>', 'JMESPath query applied to the JSON result (as az --query)');

/** --output and --query: every command but demo. */
export const RESULT_OPTIONS = (): Option[] => [OUTPUT(), QUERY()];

/** az's global and scope flags: accepted on every command that names a migration or server. */
const AZ_OPTIONS = (): Option[] => [
  new Option(
    '--ids <id...>',
    "the migration's ARM id (/subscriptions/S/resourceGroups/G/providers/Microsoft.DBforPostgreSQL/flexibleServers/SERVER/migrations/NAME), instead of --name and the server",
  ),
  new Option('--subscription <id>', "the target server's subscription (recorded by create; shown in the migration's id)"),
  new Option('-g, --resource-group <group>', "the target server's resource group (recorded by create; shown in the id)"),
  new Option('--only-show-errors', 'no progress or warnings on stderr, only errors'),
  new Option('--verbose', 'also INFO lines: where the target server is, what was recorded'),
  new Option('--debug', 'also DEBUG lines and the causes of a failure'),
];

const TARGET_OPTIONS = (): Option[] => [
  new Option('--target-host <host>', 'target server host'),
  new Option('--target-port <port>', 'target server port (default 5432)').argParser(port),
  new Option('--target-user <user>', 'target user (default postgres)'),
  new Option('--target-url <url>', 'postgres://user@host:port/db?sslmode=... (no password: one on a command line is refused)'),
  new Option('--target-ssl-mode <mode>', SSL_MODES.join(' | ')).argParser(choice<SslMode>(SSL_MODES, SSL_MODES.join(', '))),
  new Option('--target-database <db>', "the target's maintenance database (default postgres)"),
];

/** --name and its az companions; which one names the migration is resolved in args.ts (README: CLI). */
const NAME_OPTIONS = (): Option[] => [
  new Option('-n, --name <name>', 'the migration; the target server when --migration-name is given (as in az)'),
  new Option('--migration-name <name>', 'the migration (az); then --name is the target server'),
  new Option('-s, --server-name <server>', 'the target server (az 2.86+); then --name is the migration'),
];

/** list names no migration: --name is always the server there, as in az. */
const SERVER_OPTIONS = (): Option[] => [
  new Option('-n, --name <server>', 'the target server (SERVER.postgres.database.azure.com, or mapped by PGFERRY_SERVER_HOSTS)'),
  new Option('-s, --server-name <server>', 'the target server (az 2.86+ spelling)'),
];

const PROPERTIES = () =>
  new Option('-b, --properties <file>', 'the migration body: a file path, @file, or inline JSON without passwords (Azure form or plain)');

const MODE_OPTIONS = (): Option[] => [
  new Option('--mode <mode>', 'offline | online').argParser(MODE()),
  new Option('--migration-mode <mode>', 'offline | online (az spelling of --mode)').argParser(MODE()),
  new Option('--option <option>', 'validate | migrate | validate-and-migrate').argParser(OPTION()),
  new Option('--migration-option <option>', 'validate | migrate | validateandmigrate (az spelling of --option)').argParser(OPTION()),
];

const RUN_OPTIONS = (): Option[] => [
  new Option('--wait', 'follow the migration with live progress until it is done (online: until changes stream)'),
  new Option('--no-verify', 'skip the final verification'),
  new Option('--allow-replica-identity-full', 'stream tables without a usable key with REPLICA IDENTITY FULL'),
  new Option('--skip-unsupported-objects', 'leave out what a non-superuser target user cannot create, and list it'),
  new Option(
    '--table-drops-and-renames <mode>',
    'online: a streamed table dropped or renamed on the source: follow (on the target) | report (default)',
  ).argParser(choice<TableDropsAndRenames>(TABLE_DROPS_AND_RENAMES, TABLE_DROPS_AND_RENAMES.join(' or '))),
  new Option(
    '--stale-materialized-views <mode>',
    "a materialized view whose source rows are not its query's at the end: stop (default) | refresh (keep the target's)",
  ).argParser(choice<StaleMaterializedViews>(STALE_MATERIALIZED_VIEWS, STALE_MATERIALIZED_VIEWS.join(' or '))),
  new Option(
    '--runtime <runtime>',
    'local (a runner on this machine, default) | agents (only register; `pgferry agent` runs it)',
  ).argParser(choice<Runtime>(RUNTIMES, RUNTIMES.join(' or '))),
  new Option(
    '--schema-change-capture <capture>',
    'online: catalog (compare catalogs, default) | event-trigger (an event trigger on the source orders each DDL among the rows; superuser)',
  ).argParser(choice<SchemaChangeCapture>(SCHEMA_CHANGE_CAPTURES, 'catalog or event-trigger')),
  new Option(
    '--overwrite-live-dbs-in-target <db>',
    'with overwriteDbsInTarget: overwrite this target database although it is live (other sessions in it, or cut over by a migration); repeatable',
  ).argParser(collect),
  ...FENCE_OPTIONS(),
];

/**
 * create: the migration window. az has no such flags (its create reads only some keys of the body);
 * these spell the API's migrationWindowStartTimeInUtc / migrationWindowEndTimeInUtc as az spells
 * flags, as PowerShell's New-AzPostgreSqlFlexibleServerMigration -MigrationWindowStartTimeInUtc does.
 */
const WINDOW_OPTIONS = (): Option[] => [
  new Option('--migration-window-start-time-in-utc <utc>', 'the copy starts no earlier (e.g. 2026-05-01T22:00:00Z); overrides the body'),
  new Option('--migration-window-end-time-in-utc <utc>', 'the copy must have started by then; overrides the body'),
];

/** create: which schemas and tables move; each flag repeats, one pg_dump pattern a time. */
export const FILTER_FLAGS = {
  includeSchemas: ['--include-schema', 'move only schemas matching this pattern (repeatable)'],
  excludeSchemas: ['--exclude-schema', 'leave out schemas matching this pattern (repeatable)'],
  includeTables: ['--include-table', 'move only tables matching this [schema.]table pattern (repeatable)'],
  excludeTables: ['--exclude-table', 'leave out tables matching this pattern (repeatable)'],
  schemaOnlyTables: ['--schema-only-table', 'move the definition of matching tables, not their rows (repeatable)'],
  dataOnlyTables: ['--data-only-table', 'move the rows of matching tables without their indexes, keys and triggers (repeatable)'],
} as const;

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

const FILTER_OPTIONS = (): Option[] =>
  Object.values(FILTER_FLAGS).map(([flag, help]) => new Option(`${flag} <pattern>`, help).argParser(collect));

const FILTER = () =>
  new Option('--filter <filter>', 'Active | All (default Active)').argParser(choice<'active' | 'all'>(['active', 'all'], 'Active or All'));

const UPDATE_OPTIONS = (): Option[] => [
  // az's older spelling `--cutover db1 db2` (Azure's dbsToTriggerCutoverOn): the databases named only
  new Option('--cutover [databases...]', 'cut an online migration over; with database names, those only (the others stream on)'),
  new Option('--cancel [databases...]', 'cancel the migration (its runner stopped: carried out here); with database names, those only'),
  new Option('--overwrite-dbs-in-target', 'allow a migration waiting in WaitingForTargetDBOverwriteConfirmation to overwrite'),
  new Option('--overwrite-dbs', "az's older spelling of --overwrite-dbs-in-target"),
  new Option(
    '--db-names <databases...>',
    "name the databases of a migration created without dbsToMigrate, waiting in WaitingForDBsToMigrateSpecification (az's older update flag; Azure's PATCH of dbsToMigrate)",
  ),
  new Option('--dbs <databases...>', 'the short form of --db-names'),
  new Option(
    '--setup-replication',
    'let a migration waiting in WaitingForLogicalReplicationSetupRequestOnSourceDB set up logical replication on the source (ALTER SYSTEM; you restart the source)',
  ),
  new Option('--start-data-migration', 'start the data migration of a migration created with startDataMigration: False'),
  new Option(
    '--fall-back',
    'make the old source the primary again within the fallback window: the target fenced, its last writes applied to the old source, sequences moved back, both verified, the old source unfenced',
  ),
  new Option(
    '--resume-forward',
    'with --fall-back: the forward stream starts again from the fall-back point (the target stays fenced and follows the old source), so `update --cutover` can cut over again without a new copy',
  ),
  new Option(
    '--close-fallback',
    'close the fallback window of a migration cut over with one: the reverse stream stops, its slot and publication on the target are dropped, the old source stays fenced',
  ),
  new Option(
    '--resync <table>',
    'copy a table again at a pinned source position while the others stream, then stream it (schema.table, or database/schema.table; repeatable)',
  ).argParser(collect),
  new Option('--wait', 'follow it until the outcome'),
  // with --cutover: for that cutover alone, over what the migration was created with
  ...FENCE_OPTIONS(),
  new Option('--no-fence-writers', 'with --cutover: do not fence the writers this time'),
];

export interface CommandSpec {
  readonly summary: string;
  readonly options: () => Option[];
  /** The migration name and the properties file: required after --name is resolved. */
  readonly required: readonly ('migration' | 'properties')[];
}

const common = (): Option[] => [...AZ_OPTIONS(), ...TARGET_OPTIONS()];

export const COMMAND_SPECS: Record<Command, CommandSpec> = {
  create: {
    summary: 'create a migration and start it',
    required: ['migration', 'properties'],
    options: () => [
      ...NAME_OPTIONS(),
      PROPERTIES(),
      ...MODE_OPTIONS(),
      ...RUN_OPTIONS(),
      ...WINDOW_OPTIONS(),
      ...FILTER_OPTIONS(),
      new Option('--tags <tags...>', 'space-separated tags, key[=value] (az): recorded, shown by show'),
      new Option('-l, --location <location>', "the target server's location (az): recorded, shown by show"),
      ...common(),
    ],
  },
  show: {
    summary: "show a migration's state (online: also its slots on the source)",
    required: ['migration'],
    options: () => [
      ...NAME_OPTIONS(),
      PROPERTIES(),
      new Option('--level <level>', 'Default | Summary | Full (az): pgferry always prints the full details').argParser(
        choice(['Default', 'Summary', 'Full'], 'Default, Summary or Full'),
      ),
      ...common(),
    ],
  },
  list: {
    summary: 'list the migrations on the target',
    required: [],
    options: () => [...SERVER_OPTIONS(), PROPERTIES(), FILTER(), ...common()],
  },
  update: {
    summary:
      'cut over or cancel a migration (flags, or an Azure update body with triggerCutover, dbsToTriggerCutoverOn, cancel, dbsToCancelMigrationOn)',
    required: ['migration'],
    options: () => [...NAME_OPTIONS(), PROPERTIES(), ...UPDATE_OPTIONS(), ...common()],
  },
  'check-name-availability': {
    summary: 'say whether a migration name can be used on the target (nameAvailable, reason, message)',
    required: ['migration'],
    options: () => [...NAME_OPTIONS(), PROPERTIES(), ...common()],
  },
  verify: {
    summary: 'compare row counts and checksums now',
    required: ['migration'],
    options: () => [...NAME_OPTIONS(), PROPERTIES(), ...common()],
  },
  resume: {
    summary: 'restart a migration whose runner stopped',
    required: ['migration', 'properties'],
    options: () => [...NAME_OPTIONS(), PROPERTIES(), ...RUN_OPTIONS(), ...common()],
  },
  agent: {
    summary: 'run migrations of runtime agents: a long-running worker near the target (source credentials from PGFERRY_SOURCE_URLS)',
    required: [],
    options: () => [
      new Option('-n, --name <name>', "the agent's name on the target (default: host name and pid)"),
      new Option('--concurrency <n>', 'work items run at once (default 2)').argParser(concurrency),
      ...common(),
    ],
  },
  console: {
    summary: 'a local web page of the migrations on the target: their state, progress, and the cutover and cancel buttons',
    required: [],
    options: () => [
      new Option('--port <port>', 'the port to listen on (default 8080)').argParser(port),
      new Option(
        '--address <address>',
        'the address to listen on (default 127.0.0.1; any other requires the printed token for every request)',
      ),
      ...SERVER_OPTIONS(),
      PROPERTIES(),
      ...common(),
    ],
  },
  version: { summary: "print pgferry's version and its control-catalog schema version", required: [], options: () => [] },
  demo: {
    summary: 'an offline, then an online migration: on its own servers, or on two you have',
    required: [],
    options: () => [
      new Option('--source-url <url>', 'an existing source server, postgres://user@host:port/db (no password: PGPASSWORD or ~/.pgpass)'),
      new Option('--target-url <url>', 'an existing target server, with --source-url'),
    ],
  },
};

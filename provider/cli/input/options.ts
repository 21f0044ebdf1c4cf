// The flag tables of each command (commander Options): pgferry's own flags and those of
// `az postgres flexible-server migration`, with the value parsers that make az's enum values
// case-insensitive (Offline/offline, ValidateAndMigrate/validate-and-migrate, Active/active). The
// flags that set a field of the migration spec are declared in specOptions.ts, those of the target
// server in TARGET_FIELDS here, once each: the parser, the help text and the body's mapping
// (body.ts) read the same entry.
import { InvalidArgumentError, Option } from 'commander';
import { SSL_MODES, type SslMode } from '../../engine';
import type { ServerAddress } from '../../azure/serverName';
import { OUTPUT_FORMATS, type OutputFormat } from '../format';
import { attributeOf, choice, collect, CREATE_KEYS, CUTOVER_KEYS, RUN_KEYS, specOptions } from './specOptions';

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
  // az's two-word commands (a group and its verb), as `az postgres flexible-server migration` nests them
  'fence lift',
] as const;
export type Command = (typeof COMMANDS)[number];

function port(value: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 65535)
    throw new InvalidArgumentError('must be a number from 1 to 65535');
  return Number(value);
}

function concurrency(value: string): number {
  if (!/^\d{1,2}$/.test(value) || Number(value) < 1 || Number(value) > 64) throw new InvalidArgumentError('must be a number from 1 to 64');
  return Number(value);
}

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

/** One target-server flag: its commander option, and the server spec's field it sets (body.ts). */
interface TargetField<T> {
  readonly flags: string;
  readonly help: string;
  readonly parse?: (value: string) => T;
  /** The field of the target server spec the flag sets over the body's. */
  readonly specKey: 'host' | 'port' | 'user' | 'sslMode' | 'maintenanceDatabase';
}

/** The target server's single flags, each declared once: read by the parser, the help and the body's mapping. */
export const TARGET_FIELDS = {
  host: { flags: '--target-host <host>', help: 'target server host', specKey: 'host' } as TargetField<string>,
  port: { flags: '--target-port <port>', help: 'target server port (default 5432)', parse: port, specKey: 'port' } as TargetField<number>,
  user: {
    flags: '--target-user <user>',
    help: "target user (default: the PGFERRY_SERVER_HOSTS entry's user, then PGUSER, then a ~/.pgpass entry for the target)",
    specKey: 'user',
  } as TargetField<string>,
  sslMode: {
    flags: '--target-ssl-mode <mode>',
    help: SSL_MODES.join(' | '),
    parse: choice<SslMode>(SSL_MODES, SSL_MODES.join(', ')),
    specKey: 'sslMode',
  } as TargetField<SslMode>,
  database: {
    flags: '--target-database <db>',
    help: "the target's maintenance database (default postgres)",
    specKey: 'maintenanceDatabase',
  } as TargetField<string>,
};

type TargetFieldKey = keyof typeof TARGET_FIELDS;
type FieldValue<F> = F extends TargetField<infer T> ? T : never;

/** The target server as the command line gives it: the single flags, --target-url, and the server --name names. */
export type TargetFlags = { readonly [K in TargetFieldKey]?: FieldValue<(typeof TARGET_FIELDS)[K]> } & {
  readonly url?: string;
  /** The server named on the command line (az's --name beside --migration-name): the target when nothing else says where. */
  readonly server?: ServerAddress;
};

/** The flag that sets a target field, as written (`--target-host`). */
export const targetFlagOf = (key: TargetFieldKey): string => TARGET_FIELDS[key].flags.split(' ')[0]!;

const TARGET_URL = '--target-url';

const TARGET_OPTIONS = (): Option[] => [
  ...Object.values(TARGET_FIELDS).map((field: TargetField<unknown>) =>
    field.parse ? new Option(field.flags, field.help).argParser(field.parse) : new Option(field.flags, field.help),
  ),
  new Option(`${TARGET_URL} <url>`, 'postgres://user@host:port/db?sslmode=... (no password: one on a command line is refused)'),
];

/** The target flags commander parsed, by TARGET_FIELDS (and --target-url). */
export function readTargetFlags(o: Readonly<Record<string, unknown>>): Omit<TargetFlags, 'server'> {
  const target: Record<string, unknown> = {};
  for (const key of Object.keys(TARGET_FIELDS) as TargetFieldKey[]) {
    const value = o[attributeOf(targetFlagOf(key))];
    if (value !== undefined) target[key] = value;
  }
  if (o[attributeOf(TARGET_URL)] !== undefined) target.url = o[attributeOf(TARGET_URL)];
  return target as Omit<TargetFlags, 'server'>;
}

/** --name and its az companions; which one names the migration is resolved in parse.ts (README: CLI). */
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

const WAIT = () => new Option('--wait', 'follow the migration with live progress until it is done (online: until changes stream)');

const FILTER = () =>
  new Option('--filter <filter>', 'Active | All (default Active)').argParser(choice<'active' | 'all'>(['active', 'all'], 'Active or All'));

/** `fence lift --server`: which server's kept fence. */
const FENCED_SERVER = () =>
  new Option(
    '--server <server>',
    "source | target: the old source's fence kept after a cutover, or the new server's kept after a fall-back",
  ).argParser(choice<'source' | 'target'>(['source', 'target'], 'source or target'));

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
  ...specOptions(CUTOVER_KEYS),
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
      WAIT(),
      ...specOptions(CREATE_KEYS),
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
    options: () => [...NAME_OPTIONS(), PROPERTIES(), WAIT(), ...specOptions(RUN_KEYS), ...common()],
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
        'the address to listen on: an IP address or localhost (default 127.0.0.1; any other needs --tls-cert and --tls-key, and the printed token for every request)',
      ),
      new Option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM, its chain after it); needed off the loopback'),
      new Option('--tls-key <file>', 'the private key of --tls-cert (PEM)'),
      ...SERVER_OPTIONS(),
      PROPERTIES(),
      ...common(),
    ],
  },
  'fence lift': {
    summary:
      'lift the writer fence a migration keeps on a server once it has ended (after a cutover on the source, after a fall-back on the target): the statements show gives, in one transaction',
    required: ['migration'],
    options: () => [...NAME_OPTIONS(), FENCED_SERVER(), PROPERTIES(), ...common()],
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

// Command-line parsing with commander (a well-kept library: per-command option tables, generated
// help and usage) instead of our own layer over node:util's parseArgs. Every usage error —
// unknown, malformed, missing or contradictory flags — becomes one line naming the flag (exit 2).
import { Command as Program, CommanderError, InvalidArgumentError, Option } from 'commander';
import { inputError, MIGRATION_NAME_PATTERN, SSL_MODES, type MigrationMode, type MigrationOption, type SslMode } from '../engine';
import type { TargetFlags } from './properties';

export const COMMANDS = ['create', 'show', 'list', 'update', 'verify', 'resume', 'demo'] as const;
export type Command = (typeof COMMANDS)[number];
export type OutputFormat = 'table' | 'json';

export interface CliArgs {
  readonly command: Command;
  /** Set when --help was asked for: the help text to print, nothing else runs. */
  readonly help?: string;
  readonly output: OutputFormat;
  readonly name?: string;
  readonly properties?: string;
  readonly mode?: MigrationMode;
  readonly option?: MigrationOption;
  readonly wait: boolean;
  readonly noVerify: boolean;
  readonly allowReplicaIdentityFull: boolean;
  readonly skipUnsupportedObjects: boolean;
  readonly filter: 'active' | 'all';
  readonly cancel: boolean;
  readonly cutover: boolean;
  readonly target: TargetFlags;
}

function usage(field: string, message: string) {
  return inputError('USAGE', field, `${field}: ${message}`, 'see `pgferry --help`');
}

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

function migrationName(value: string): string {
  if (!MIGRATION_NAME_PATTERN.test(value))
    throw new InvalidArgumentError('must be 1-63 letters, digits or hyphens, not starting with a hyphen');
  return value;
}

const output = () =>
  new Option('-o, --output <format>', 'table or json').argParser(choice<OutputFormat>(['table', 'json'], 'table or json'));
const TARGET_OPTIONS = (): Option[] => [
  new Option('--target-host <host>', 'target server host'),
  new Option('--target-port <port>', 'target server port (default 5432)').argParser(port),
  new Option('--target-user <user>', 'target user (default postgres)'),
  new Option('--target-url <url>', 'postgres://user@host:port/db?sslmode=... (no password: one on a command line is refused)'),
  new Option('--target-ssl-mode <mode>', SSL_MODES.join(' | ')).argParser(choice<SslMode>(SSL_MODES, SSL_MODES.join(', '))),
  new Option('--target-database <db>', "the target's maintenance database (default postgres)"),
];
const name = () => new Option('-n, --name <name>', 'migration name').argParser(migrationName);
const properties = () => new Option('--properties <file>', 'the migration body (Azure properties JSON or the plain form)');
const RUN_OPTIONS = (): Option[] => [
  new Option('--wait', 'follow the migration with live progress until it is done (online: until changes stream)'),
  new Option('--no-verify', 'skip the final verification'),
  new Option('--allow-replica-identity-full', 'stream tables without a usable key with REPLICA IDENTITY FULL'),
  new Option('--skip-unsupported-objects', 'leave out what a non-superuser target user cannot create, and list it'),
];

interface CommandSpec {
  readonly summary: string;
  readonly options: () => Option[];
  readonly required: readonly ('name' | 'properties')[];
}

const COMMAND_SPECS: Record<Command, CommandSpec> = {
  create: {
    summary: 'create a migration and start it',
    required: ['name', 'properties'],
    options: () => [
      name(),
      properties(),
      new Option('--mode <mode>', 'offline | online').argParser(choice<MigrationMode>(['Offline', 'Online'], 'offline or online')),
      new Option('--option <option>', 'validate | migrate | validate-and-migrate').argParser(
        choice<MigrationOption>(['Validate', 'Migrate', 'ValidateAndMigrate'], 'validate, migrate or validate-and-migrate'),
      ),
      ...RUN_OPTIONS(),
      ...TARGET_OPTIONS(),
    ],
  },
  show: {
    summary: "show a migration's state (online: also its slots on the source)",
    required: ['name'],
    options: () => [name(), properties(), ...TARGET_OPTIONS()],
  },
  list: {
    summary: 'list the migrations on the target',
    required: [],
    options: () => [
      properties(),
      new Option('--filter <filter>', 'active | all (default active)').argParser(
        choice<'active' | 'all'>(['active', 'all'], 'active or all'),
      ),
      ...TARGET_OPTIONS(),
    ],
  },
  update: {
    summary: 'cut over or cancel a migration',
    required: ['name'],
    options: () => [
      name(),
      properties(),
      new Option('--cutover', 'cut an online migration over'),
      new Option('--cancel', 'cancel the migration (its runner stopped: carried out here)'),
      new Option('--wait', 'follow it until the outcome'),
      ...TARGET_OPTIONS(),
    ],
  },
  verify: {
    summary: 'compare row counts and checksums now',
    required: ['name'],
    options: () => [name(), properties(), ...TARGET_OPTIONS()],
  },
  resume: {
    summary: 'restart a migration whose runner stopped',
    required: ['name', 'properties'],
    options: () => [name(), properties(), ...RUN_OPTIONS(), ...TARGET_OPTIONS()],
  },
  demo: { summary: 'embedded servers: an offline, then an online migration', required: [], options: () => [] },
};

const TARGET_HELP = `
The target server (all but demo): --target-host H [--target-port P] [--target-user U]
[--target-ssl-mode M] [--target-database D], or --target-url, or the target in --properties;
passwords come from the file, PGPASSWORD or ~/.pgpass. Exit codes: 0 success, 2 bad input,
1 anything else, 130 an interrupted --wait.`;

/** The program and its commands; `out` collects what commander prints (help). */
function buildProgram(out: { text: string }): Program {
  const program = new Program('pgferry')
    .usage('<command> [flags]')
    .description('moves PostgreSQL databases between servers, offline or online (pgferry <command> --help for its flags)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => (out.text += s), writeErr: () => undefined })
    .addHelpText('after', TARGET_HELP);
  for (const command of COMMANDS) {
    const spec = COMMAND_SPECS[command];
    const sub = program
      .command(command)
      .description(spec.summary)
      .exitOverride()
      .configureOutput({ writeOut: (s) => (out.text += s), writeErr: () => undefined })
      .allowExcessArguments(false)
      .addOption(output());
    for (const option of spec.options()) sub.addOption(option);
    sub.action(() => undefined);
  }
  return program;
}

/** commander's multi-word errors as one line naming the flag. */
function fromCommander(error: CommanderError, command: Command | undefined, allowed: string): Error {
  const flag = /'(?:-\w, )?(--[\w-]+)/.exec(error.message)?.[1] ?? 'flags';
  switch (error.code) {
    case 'commander.unknownOption':
      return usage(flag, `unknown flag for \`pgferry ${command}\`; allowed: ${allowed}`);
    case 'commander.optionMissingArgument':
      return usage(flag, `needs a value (use ${flag}=VALUE for values starting with -)`);
    case 'commander.invalidArgument':
      return usage(flag, error.message.replace(/^.*? is invalid\.\s*/, ''));
    case 'commander.excessArguments':
      return usage('arguments', `\`pgferry ${command}\` takes no positional arguments`);
    case 'commander.unknownCommand':
      return usage('command', `unknown command; one of ${COMMANDS.join(', ')}`);
    default:
      return usage('flags', error.message.replace(/^error:\s*/, ''));
  }
}

/** Flags that contradict each other, or whose absence makes the command meaningless. */
function checkCombinations(command: Command, o: Record<string, unknown>): void {
  if (command === 'update') {
    if (o.cancel && o.cutover) throw usage('--cutover', 'contradicts --cancel; give exactly one of them');
    if (!o.cancel && !o.cutover) throw usage('--cutover', '`pgferry update` needs exactly one of --cutover or --cancel');
  }
  if (o.targetUrl !== undefined && o.targetHost !== undefined) throw usage('--target-url', 'contradicts --target-host; give one of them');
}

/** Parses argv (without node and script); throws an input error (exit 2) on bad usage. */
export function parseCli(argv: readonly string[]): CliArgs {
  if (argv.length === 0) throw usage('command', `missing; one of ${COMMANDS.join(', ')}`);
  const out = { text: '' };
  const program = buildProgram(out);
  const command = (COMMANDS as readonly string[]).includes(argv[0]!) ? (argv[0] as Command) : undefined;
  const sub = program.commands.find((c) => c.name() === command);
  const allowed = sub ? sub.options.map((o) => o.long).join(' ') : '';
  try {
    program.parse([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError && (error.code === 'commander.helpDisplayed' || error.code === 'commander.version')) {
      return { ...defaults(command ?? 'demo'), help: out.text.trimEnd() };
    }
    if (error instanceof CommanderError) throw fromCommander(error, command, allowed);
    throw error;
  }
  if (!command || !sub) throw usage('command', `unknown command; one of ${COMMANDS.join(', ')}`);
  const o = sub.opts<Record<string, unknown>>();
  // Checked here rather than by commander, which reports a missing flag before a stray argument.
  for (const flag of COMMAND_SPECS[command].required) {
    if (o[flag] === undefined) throw usage(`--${flag}`, `required for \`pgferry ${command}\``);
  }
  checkCombinations(command, o);
  return {
    ...defaults(command),
    output: (o.output as OutputFormat | undefined) ?? 'table',
    name: o.name as string | undefined,
    properties: o.properties as string | undefined,
    mode: o.mode as MigrationMode | undefined,
    option: o.option as MigrationOption | undefined,
    wait: o.wait === true,
    noVerify: o.verify === false,
    allowReplicaIdentityFull: o.allowReplicaIdentityFull === true,
    skipUnsupportedObjects: o.skipUnsupportedObjects === true,
    filter: (o.filter as 'active' | 'all' | undefined) ?? 'active',
    cancel: o.cancel === true,
    cutover: o.cutover === true,
    target: {
      host: o.targetHost as string | undefined,
      port: o.targetPort as number | undefined,
      user: o.targetUser as string | undefined,
      url: o.targetUrl as string | undefined,
      sslMode: o.targetSslMode as SslMode | undefined,
      database: o.targetDatabase as string | undefined,
    },
  };
}

function defaults(command: Command): CliArgs {
  return {
    command,
    output: 'table',
    wait: false,
    noVerify: false,
    allowReplicaIdentityFull: false,
    skipUnsupportedObjects: false,
    filter: 'active',
    cancel: false,
    cutover: false,
    target: {},
  };
}

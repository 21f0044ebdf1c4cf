// The command line and the --properties body, read in one pass into one typed value (CliArgs):
// commander parses argv (a well-kept library: per-command option tables, generated help and
// usage) by the tables of options.ts and specOptions.ts, then readInput reads the body once, so
// every command takes the body from CliArgs instead of reading the file again. Every usage error —
// unknown, malformed, missing or contradictory flags — becomes one line naming the flag (exit 2).
// Both pgferry's own flags and `az postgres flexible-server migration`'s are accepted.
import { Command as Program, CommanderError } from 'commander';
import { inputError, MIGRATION_NAME_PATTERN } from '../../engine';
import { serverAddress } from '../../azure/serverName';
import { compileQuery, type CompiledQuery, type OutputFormat } from '../format';
import type { Verbosity } from '../log';
import type { PropertyFlags } from './body';
import { loadProperties } from './file';
import { COMMAND_SPECS, COMMANDS, readTargetFlags, RESULT_OPTIONS, type Command, type TargetFlags } from './options';
import { readSpecFlags, type SpecFlagNames, type SpecFlags } from './specOptions';

export type { Command } from './options';

export interface CliArgs {
  readonly command: Command;
  /** Set when --help was asked for: the help text to print, nothing else runs. */
  readonly help?: string;
  readonly output: OutputFormat;
  readonly query?: CompiledQuery;
  /** The migration's name. */
  readonly name?: string;
  /** The flag that gave the migration's name, for error messages. */
  readonly nameFlag: '--name' | '--migration-name';
  /** The target server's name (az's --name beside --migration-name, or --server-name). */
  readonly server?: string;
  readonly subscription?: string;
  readonly resourceGroup?: string;
  /** create --location / -l (az): recorded. */
  readonly location?: string;
  /** create --tags key[=value] ... (az): recorded. */
  readonly tags?: Readonly<Record<string, string>>;
  /** show --level (az's migrationDetailsLevel). */
  readonly level?: 'Default' | 'Summary' | 'Full';
  readonly verbosity: Verbosity;
  /** The --properties value as given (a path, @path or inline JSON). */
  readonly properties?: string;
  /** The --properties body, parsed and its passwords registered: read once, by readInput. */
  readonly body?: unknown;
  readonly wait: boolean;
  /** The spec fields the flags set (specOptions.ts): create's and resume's over the body, update --cutover's for that cutover. */
  readonly spec: SpecFlags;
  /** The flag that set each of them, for errors. */
  readonly specFlagNames: SpecFlagNames;
  /** `pgferry agent --concurrency`. */
  readonly concurrency?: number;
  readonly filter: 'active' | 'all';
  readonly cancel: boolean;
  readonly cutover: boolean;
  /** `update --cutover db1 db2` / `--cancel db1`: those databases only (dbsToTriggerCutoverOn, dbsToCancelMigrationOn). */
  readonly databases?: readonly string[];
  /** `update --overwrite-dbs-in-target`: answers WaitingForTargetDBOverwriteConfirmation. */
  readonly overwrite: boolean;
  /** `update --setup-replication` (az's): answers WaitingForLogicalReplicationSetupRequestOnSourceDB. */
  readonly setupReplication: boolean;
  /** `update --start-data-migration`: starts a migration created with startDataMigration: False. */
  readonly startDataMigration: boolean;
  /** `update --db-names/--dbs DB...`: the databases of a migration created without dbsToMigrate. */
  readonly dbNames?: readonly string[];
  /** `update --close-fallback`: the fallback window closed (docs/fallback.md). */
  readonly closeFallback?: boolean;
  /** `update --fall-back`: the old source made the primary again within the fallback window (docs/fallback.md). */
  readonly fallBack?: boolean;
  /** `update --fall-back --resume-forward`: the forward stream starts again after it (docs/fallback.md). */
  readonly resumeForward?: boolean;
  /** `update --resync TABLE` (repeatable): tables copied again at a pinned position while the others stream. */
  readonly resync?: readonly string[];
  readonly target: TargetFlags;
  /** `pgferry console --port`, `--address`, and `--tls-cert` with `--tls-key`. */
  readonly console?: {
    readonly port?: number;
    readonly address?: string;
    readonly tls?: { readonly certFile: string; readonly keyFile: string };
  };
  /** `pgferry fence lift --server`: the server whose kept fence is lifted. */
  readonly fencedServer?: 'source' | 'target';
  /** `pgferry demo --source-url`: an existing source (with --target-url, an existing target). */
  readonly sourceUrl?: string;
}

function usage(field: string, message: string) {
  return inputError('USAGE', field, `${field}: ${message}`, 'see `pgferry --help`');
}

const TARGET_HELP = `
The target server (all but demo and version): --name SERVER beside --migration-name (as az;
SERVER.postgres.database.azure.com, or the address PGFERRY_SERVER_HOSTS maps it to), or
--target-host H [--target-port P] [--target-user U] [--target-ssl-mode M] [--target-database D],
or --target-url, or the target in --properties; passwords come from the file, PGPASSWORD or
~/.pgpass. Exit codes: 0 success, 2 bad input, 1 anything else, 130 an interrupted --wait.`;

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
    const [group, verb] = command.split(' ') as [string, string | undefined];
    // a two-word command is a verb of its group (`fence lift`), as az nests them
    const parent = verb === undefined ? program : (program.commands.find((c) => c.name() === group) ?? groupOf(program, group, out));
    const sub = parent
      .command(verb ?? group)
      .description(spec.summary)
      .exitOverride()
      .configureOutput({ writeOut: (s) => (out.text += s), writeErr: () => undefined })
      .allowExcessArguments(false);
    if (command !== 'demo' && command !== 'console') for (const option of RESULT_OPTIONS()) sub.addOption(option);
    for (const option of spec.options()) sub.addOption(option);
    sub.action(() => undefined);
  }
  return program;
}

/** A group of two-word commands (`fence`), whose verbs are its subcommands. */
function groupOf(program: Program, group: string, out: { text: string }): Program {
  const verbs = COMMANDS.filter((c) => c.startsWith(`${group} `)).map((c) => c.slice(group.length + 1));
  return program
    .command(group)
    .description(`a migration's kept ${group}s: ${verbs.join(', ')}`)
    .exitOverride()
    .configureOutput({ writeOut: (s) => (out.text += s), writeErr: () => undefined });
}

/** The command argv names: its first word, or its first two for a group's verb (`fence lift`). */
export function commandOf(argv: readonly string[]): Command | undefined {
  return COMMANDS.find((c) => c === argv.slice(0, c.split(' ').length).join(' '));
}

/** The commander command of a command, a group's verb found under its group. */
function commandNamed(program: Program, command: Command): Program | undefined {
  return command.split(' ').reduce<Program | undefined>((parent, word) => parent?.commands.find((c) => c.name() === word), program);
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

/**
 * The database names after --cutover or --cancel, when given (commander's optional variadic gives
 * true or a list), and those of --db-names/--dbs.
 */
function databasesOf(o: Record<string, unknown>): { databases?: string[]; dbNames?: string[] } {
  const list = Array.isArray(o.cutover) ? o.cutover : Array.isArray(o.cancel) ? o.cancel : undefined;
  const named = o.dbNames ?? o.dbs;
  return {
    ...(list && list.length > 0 ? { databases: list.map(String) } : {}),
    ...(Array.isArray(named) ? { dbNames: named.map(String) } : {}),
  };
}

/** Flags that contradict each other, or whose absence makes the command meaningless. */
function checkCombinations(command: Command, o: Record<string, unknown>): void {
  if (command === 'update') {
    if (o.dbNames !== undefined && o.dbs !== undefined) throw usage('--dbs', 'the short form of --db-names: give one of them');
    if (o.overwriteDbs === true) o.overwriteDbsInTarget = true;
    const given = [
      o.cancel,
      o.cutover,
      o.overwriteDbsInTarget,
      o.setupReplication,
      o.startDataMigration,
      o.resync,
      o.closeFallback,
      o.fallBack,
      o.dbNames ?? o.dbs,
    ].filter((v) => v !== undefined && v !== false).length;
    if (given > 1) throw usage('--cutover', `give exactly one of ${UPDATE_FLAGS}`);
    if (o.resumeForward === true && o.fallBack !== true) throw usage('--resume-forward', 'applies only with --fall-back');
    // a cutover's own fence and gate: only beside the cutover they apply to
    const cutoverOnly =
      o.fenceWriters !== undefined
        ? '--fence-writers'
        : o.cutoverLagBudgetSeconds !== undefined
          ? '--cutover-lag-budget-seconds'
          : o.fallbackWindow !== undefined
            ? '--fallback-window'
            : undefined;
    if (cutoverOnly && (o.cutover === undefined || o.cutover === false) && given > 0) {
      throw usage(o.fenceWriters === false ? '--no-fence-writers' : cutoverOnly, 'applies only with --cutover');
    }
    // without a flag, the operation may come from the --properties body (Azure's PATCH): update.ts reads it
    if (given === 0 && o.properties === undefined) throw usage('--cutover', UPDATE_NEEDS);
  }
  if (command === 'fence lift' && o.server === undefined)
    throw usage('--server', 'required: source or target (the server whose kept fence to lift)');
  if (o.targetUrl !== undefined && o.targetHost !== undefined) throw usage('--target-url', 'contradicts --target-host; give one of them');
  if (command === 'demo' && (o.sourceUrl === undefined) !== (o.targetUrl === undefined)) {
    throw usage(
      o.sourceUrl === undefined ? '--source-url' : '--target-url',
      'the demo on existing servers needs both --source-url and --target-url',
    );
  }
}

/** The one-line usage error of an update that asks for nothing. */
const UPDATE_FLAGS =
  '--cutover, --cancel, --overwrite-dbs-in-target, --setup-replication, --start-data-migration, --db-names, --resync, --close-fallback or --fall-back';
export const UPDATE_NEEDS = `\`pgferry update\` needs exactly one of ${UPDATE_FLAGS}, or a --properties body with triggerCutover, dbsToTriggerCutoverOn, cancel, dbsToCancelMigrationOn, setupLogicalReplicationOnSourceDbIfNeeded, startDataMigration or dbsToMigrate`;

const SERVER_NAME = /^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/;

/**
 * Which flag names the migration and which the server. az (to 2.85) writes `--name SERVER
 * --migration-name M`; az 2.86+ and pgferry write `--name M` with `--server-name SERVER`. So:
 * with --migration-name, --name is the server; otherwise --name is the migration. `list` and
 * `console` name no migration: there --name is the server.
 */
function resolveNames(
  command: Command,
  o: { name?: string; migrationName?: string; serverName?: string },
): { migration?: string; server?: string; nameFlag: '--name' | '--migration-name' } {
  const both = () => usage('--name', 'names the server beside --migration-name, and so does --server-name; give one of them');
  let names: { migration?: string; server?: string; nameFlag: '--name' | '--migration-name' };
  if (command === 'list' || command === 'console') {
    if (o.name !== undefined && o.serverName !== undefined) throw both();
    names = { server: o.serverName ?? o.name, nameFlag: '--name' };
  } else if (o.migrationName !== undefined) {
    if (o.name !== undefined && o.serverName !== undefined) throw both();
    names = { migration: o.migrationName, server: o.serverName ?? o.name, nameFlag: '--migration-name' };
  } else {
    names = { migration: o.name, server: o.serverName, nameFlag: '--name' };
  }
  // check-name-availability answers an invalid name with reason Invalid instead of refusing it.
  if (names.migration !== undefined && command !== 'check-name-availability' && !MIGRATION_NAME_PATTERN.test(names.migration)) {
    throw usage(names.nameFlag, 'must be 1-63 letters, digits or hyphens, not starting with a hyphen');
  }
  if (names.server !== undefined && !SERVER_NAME.test(names.server)) {
    throw usage(o.serverName !== undefined ? '--server-name' : '--name', 'must be a server name (letters, digits, hyphens) or a host name');
  }
  return names;
}

function verbosityOf(o: Record<string, unknown>): Verbosity {
  if (o.debug) return 'debug';
  if (o.verbose) return 'verbose';
  return o.onlyShowErrors ? 'errors' : 'normal';
}

/** Parses argv (without node and script); throws an input error (exit 2) on bad usage. */
export function parseCli(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): CliArgs {
  if (argv.length === 0) throw usage('command', `missing; one of ${COMMANDS.join(', ')}`);
  if (argv[0] === '--version' && argv.length === 1) return defaults('version');
  const out = { text: '' };
  const program = buildProgram(out);
  const command = commandOf(argv);
  const group = COMMANDS.find((c) => c.startsWith(`${argv[0]} `));
  if (command === undefined && group !== undefined && !['--help', '-h'].includes(argv[1] ?? '')) {
    const verbs = COMMANDS.filter((c) => c.startsWith(`${argv[0]} `)).map((c) => c.slice(argv[0]!.length + 1));
    throw usage('command', `\`pgferry ${argv[0]}\` needs one of ${verbs.join(', ')}`);
  }
  const sub = command && commandNamed(program, command);
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
  applyIds(command, o);
  const names = resolveNames(command, o);
  // Checked here rather than by commander, which reports a missing flag before a stray argument.
  for (const need of COMMAND_SPECS[command].required) {
    if (need === 'migration' && names.migration === undefined)
      throw usage('--name', `required for \`pgferry ${command}\` (or --migration-name)`);
    if (need === 'properties' && o.properties === undefined) throw usage('--properties', `required for \`pgferry ${command}\``);
  }
  checkCombinations(command, o);
  const query = o.query === undefined ? undefined : compileQuery(o.query as string);
  return {
    ...defaults(command),
    // az prints JSON unless told otherwise; pgferry's table stays the default without --query.
    output: (o.output as OutputFormat | undefined) ?? (query ? 'json' : 'table'),
    query,
    name: names.migration,
    nameFlag: names.nameFlag,
    server: names.server,
    subscription: o.subscription as string | undefined,
    resourceGroup: o.resourceGroup as string | undefined,
    ...(typeof o.location === 'string' ? { location: o.location } : {}),
    ...(Array.isArray(o.tags) ? { tags: tagsOf(o.tags as string[]) } : {}),
    ...(typeof o.level === 'string' ? { level: o.level as 'Default' | 'Summary' | 'Full' } : {}),
    verbosity: verbosityOf(o),
    properties: o.properties as string | undefined,
    wait: o.wait === true,
    ...readSpecFlags(o),
    concurrency: o.concurrency as number | undefined,
    ...(command === 'console' ? { console: consoleOf(o) } : {}),
    filter: (o.filter as 'active' | 'all' | undefined) ?? 'active',
    cancel: o.cancel !== undefined && o.cancel !== false,
    cutover: o.cutover !== undefined && o.cutover !== false,
    ...databasesOf(o),
    overwrite: o.overwriteDbsInTarget === true,
    setupReplication: o.setupReplication === true,
    startDataMigration: o.startDataMigration === true,
    ...(Array.isArray(o.resync) ? { resync: o.resync.map(String) } : {}),
    ...(o.closeFallback === true ? { closeFallback: true } : {}),
    ...(o.fallBack === true ? { fallBack: true, resumeForward: o.resumeForward === true } : {}),
    target: {
      ...readTargetFlags(o),
      ...(names.server === undefined ? {} : { server: serverAddress(names.server, env) }),
    },
    ...(command === 'fence lift' ? { fencedServer: o.server as 'source' | 'target' } : {}),
    sourceUrl: o.sourceUrl as string | undefined,
  };
}

/**
 * The command line and the --properties body in one pass: argv parsed, then the body read once
 * (a file, @file or inline JSON) with its passwords registered before anything can print them.
 */
export async function readInput(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<CliArgs> {
  const args = parseCli(argv, env);
  if (args.help !== undefined || args.properties === undefined) return args;
  return { ...args, body: await loadProperties(args.properties) };
}

/** What the command line sets over the properties body (body.ts): the migration's name, spec fields, the target. */
export function propertyFlags(args: CliArgs): PropertyFlags {
  return { ...args.spec, name: args.name, nameFlag: args.nameFlag, specFlagNames: args.specFlagNames, target: args.target };
}

/** A migration's ARM id, as az's --ids takes it. */
const ARM_MIGRATION_ID =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.DBforPostgreSQL\/flexibleServers\/([^/]+)\/migrations\/([^/]+)$/i;

/**
 * az's --ids: the migration's ARM id stands for --subscription, --resource-group, the server and
 * the migration's name (az refuses --ids beside them, and so does pgferry). One id: pgferry acts
 * on one migration per command.
 */
function applyIds(command: Command, o: Record<string, unknown>): void {
  if (o.ids === undefined) return;
  const ids = o.ids as string[];
  if (ids.length !== 1) throw usage('--ids', 'give one migration id (pgferry acts on one migration per command)');
  const clash = ['name', 'migrationName', 'serverName', 'subscription', 'resourceGroup'].find((k) => o[k] !== undefined);
  if (clash) throw usage('--ids', `contradicts --${clash.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}; give the id or the names`);
  const match = ARM_MIGRATION_ID.exec(ids[0]!);
  if (!match) {
    throw usage(
      '--ids',
      'must be a migration id, /subscriptions/S/resourceGroups/G/providers/Microsoft.DBforPostgreSQL/flexibleServers/SERVER/migrations/NAME',
    );
  }
  const [, subscription, resourceGroup, server, migration] = match as unknown as [string, string, string, string, string];
  Object.assign(o, { subscription, resourceGroup });
  if (command === 'list' || command === 'console') Object.assign(o, { name: server });
  else Object.assign(o, { migrationName: migration, name: server });
}

/** az's --tags: `key[=value]` words; a key without a value is tagged with the empty string, as az does. */
function tagsOf(words: readonly string[]): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const word of words) {
    if (word === '""' || word === '') continue;
    const eq = word.indexOf('=');
    const key = eq < 0 ? word : word.slice(0, eq);
    if (key === '') throw usage('--tags', `"${word}" must be key[=value]`);
    tags[key] = eq < 0 ? '' : word.slice(eq + 1);
  }
  return tags;
}

/** The console's flags; the certificate and its key go together. */
function consoleOf(o: Record<string, unknown>): NonNullable<CliArgs['console']> {
  const [certFile, keyFile] = [o.tlsCert as string | undefined, o.tlsKey as string | undefined];
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw usage(
      certFile === undefined ? '--tls-cert' : '--tls-key',
      'give --tls-cert and --tls-key together: the certificate and its private key',
    );
  }
  return {
    port: o.port as number | undefined,
    address: o.address as string | undefined,
    ...(certFile !== undefined && keyFile !== undefined ? { tls: { certFile, keyFile } } : {}),
  };
}

function defaults(command: Command): CliArgs {
  return {
    command,
    output: 'table',
    nameFlag: '--name',
    verbosity: 'normal',
    wait: false,
    spec: {},
    specFlagNames: {},
    filter: 'active',
    cancel: false,
    cutover: false,
    overwrite: false,
    setupReplication: false,
    startDataMigration: false,
    target: {},
  };
}

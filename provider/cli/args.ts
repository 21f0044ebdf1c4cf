// Command-line parsing: one strict option table per command; unknown, malformed or contradictory
// flags are refused with one line naming the flag.
import { parseArgs } from 'node:util';
import { inputError, MIGRATION_NAME_PATTERN, SSL_MODES, type MigrationMode, type MigrationOption, type SslMode } from '../engine';
import type { TargetFlags } from './properties';

export const COMMANDS = ['create', 'show', 'list', 'update', 'verify', 'resume', 'demo'] as const;
export type Command = (typeof COMMANDS)[number];
export type OutputFormat = 'table' | 'json';

export interface CliArgs {
  readonly command: Command;
  readonly help: boolean;
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

interface OptionDef {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
}

const COMMON: Record<string, OptionDef> = { output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' } };
const TARGET: Record<string, OptionDef> = {
  'target-host': { type: 'string' },
  'target-port': { type: 'string' },
  'target-user': { type: 'string' },
  'target-url': { type: 'string' },
  'target-ssl-mode': { type: 'string' },
  'target-database': { type: 'string' },
};
const NAME: Record<string, OptionDef> = { name: { type: 'string', short: 'n' }, properties: { type: 'string' } };
const RUN: Record<string, OptionDef> = {
  wait: { type: 'boolean' },
  'no-verify': { type: 'boolean' },
  'allow-replica-identity-full': { type: 'boolean' },
  'skip-unsupported-objects': { type: 'boolean' },
};

export const OPTIONS: Record<Command, Record<string, OptionDef>> = {
  create: { ...COMMON, ...TARGET, ...NAME, ...RUN, mode: { type: 'string' }, option: { type: 'string' } },
  show: { ...COMMON, ...TARGET, ...NAME },
  list: { ...COMMON, ...TARGET, properties: { type: 'string' }, filter: { type: 'string' } },
  update: { ...COMMON, ...TARGET, ...NAME, cancel: { type: 'boolean' }, cutover: { type: 'boolean' }, wait: { type: 'boolean' } },
  verify: { ...COMMON, ...TARGET, ...NAME },
  resume: { ...COMMON, ...TARGET, ...NAME, ...RUN },
  demo: { ...COMMON },
};

const REQUIRED: Record<Command, readonly string[]> = {
  create: ['name', 'properties'],
  show: ['name'],
  list: [],
  update: ['name'],
  verify: ['name'],
  resume: ['name', 'properties'],
  demo: [],
};

export const USAGE = `usage: pgferry <command> [flags]

  create  --name N --properties body.json [--mode offline|online]
          [--option validate|migrate|validate-and-migrate] [--wait] [--no-verify]
          [--allow-replica-identity-full] [--skip-unsupported-objects]
  show    --name N
  list    [--filter active|all]
  update  --name N (--cutover | --cancel) [--wait]
  verify  --name N [--properties body.json]
  resume  --name N --properties body.json [--wait]
  demo

target server (all but demo): --target-host H [--target-port P] [--target-user U]
  [--target-ssl-mode M] [--target-database D], or --target-url postgres://..., or the target
  in --properties; passwords from the file, the URL, PGPASSWORD or ~/.pgpass
output: --output table|json (default table)`;

function usage(field: string, message: string) {
  return inputError('USAGE', field, `${field}: ${message}`, 'see `pgferry --help`');
}

/** Picks a value case-insensitively from `allowed` (also matching without - and _). */
function choice<T extends string>(flag: string, value: string, allowed: readonly T[], shown: string): T {
  const squash = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  const found = allowed.find((a) => squash(a) === squash(value));
  if (!found) throw usage(flag, `must be ${shown}`);
  return found;
}

/** Turns parseArgs' multi-sentence errors into one line naming the flag. */
function parseArgsError(error: unknown, command: Command): Error {
  const e = error as { code?: string; message?: string };
  const text = String(e.message ?? error);
  // parseArgs quotes the flag as '--name', '-n, --name <value>' or '-x'.
  const flag = /'(?:-\w, )?(--?[\w-]+)/.exec(text)?.[1] ?? 'flags';
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return usage(
        flag,
        `unknown flag for \`pgferry ${command}\`; allowed: ${Object.keys(OPTIONS[command])
          .map((o) => `--${o}`)
          .join(' ')}`,
      );
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return usage(
        flag,
        /argument missing/.test(text) || /ambiguous/.test(text)
          ? `needs a value (use ${flag}=VALUE for values starting with -)`
          : 'takes no value',
      );
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return usage(
        'arguments',
        `\`pgferry ${command}\` takes no positional arguments (got ${JSON.stringify(/'([^']*)'/.exec(text)?.[1] ?? '')})`,
      );
    default:
      return usage('flags', text.split('\n')[0] ?? text);
  }
}

/** Parses argv (without node and script); throws an input error (exit 2) on bad usage. */
export function parseCli(argv: readonly string[]): CliArgs {
  const [first, ...rest] = argv;
  if (first === undefined) throw usage('command', `missing; one of ${COMMANDS.join(', ')}`);
  if (first === '--help' || first === '-h' || first === 'help') {
    return {
      command: 'demo',
      help: true,
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
  if (!(COMMANDS as readonly string[]).includes(first)) {
    throw usage('command', `unknown command ${JSON.stringify(first)}; one of ${COMMANDS.join(', ')}`);
  }
  const command = first as Command;
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: [...rest], options: OPTIONS[command], strict: true, allowPositionals: false }).values as Record<
      string,
      string | boolean | undefined
    >;
  } catch (error) {
    throw parseArgsError(error, command);
  }
  const str = (k: string) => values[k] as string | undefined;
  const bool = (k: string) => values[k] === true;
  const help = bool('help');

  if (!help) {
    for (const required of REQUIRED[command]) {
      if (values[required] === undefined) throw usage(`--${required}`, `required for \`pgferry ${command}\``);
    }
  }
  const name = str('name');
  if (name !== undefined && !MIGRATION_NAME_PATTERN.test(name)) {
    throw usage('--name', 'must be 1-63 letters, digits or hyphens, not starting with a hyphen');
  }
  const cancel = bool('cancel');
  const cutover = bool('cutover');
  if (command === 'update' && !help) {
    if (cancel && cutover) throw usage('--cutover', 'contradicts --cancel; give exactly one of them');
    if (!cancel && !cutover) throw usage('--cutover', '`pgferry update` needs exactly one of --cutover or --cancel');
  }
  if (str('target-url') !== undefined && str('target-host') !== undefined) {
    throw usage('--target-url', 'contradicts --target-host; give one of them');
  }
  let port: number | undefined;
  const rawPort = str('target-port');
  if (rawPort !== undefined) {
    if (!/^\d{1,5}$/.test(rawPort) || Number(rawPort) < 1 || Number(rawPort) > 65535)
      throw usage('--target-port', 'must be a number from 1 to 65535');
    port = Number(rawPort);
  }
  const rawSsl = str('target-ssl-mode');
  const target: TargetFlags = {
    host: str('target-host'),
    port,
    user: str('target-user'),
    url: str('target-url'),
    sslMode: rawSsl === undefined ? undefined : choice<SslMode>('--target-ssl-mode', rawSsl, SSL_MODES, SSL_MODES.join(', ')),
    database: str('target-database'),
  };
  const rawOutput = str('output');
  const rawMode = str('mode');
  const rawOption = str('option');
  const rawFilter = str('filter');
  return {
    command,
    help,
    output: rawOutput === undefined ? 'table' : choice<OutputFormat>('--output', rawOutput, ['table', 'json'], 'table or json'),
    name,
    properties: str('properties'),
    mode: rawMode === undefined ? undefined : choice<MigrationMode>('--mode', rawMode, ['Offline', 'Online'], 'offline or online'),
    option:
      rawOption === undefined
        ? undefined
        : choice<MigrationOption>(
            '--option',
            rawOption,
            ['Validate', 'Migrate', 'ValidateAndMigrate'],
            'validate, migrate or validate-and-migrate',
          ),
    wait: bool('wait'),
    noVerify: bool('no-verify'),
    allowReplicaIdentityFull: bool('allow-replica-identity-full'),
    skipUnsupportedObjects: bool('skip-unsupported-objects'),
    filter: rawFilter === undefined ? 'active' : choice<'active' | 'all'>('--filter', rawFilter, ['active', 'all'], 'active or all'),
    cancel,
    cutover,
    target,
  };
}

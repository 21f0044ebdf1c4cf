// The flags that set a field of the migration spec, each declared once here: its commander options
// (pgferry's spelling and az's), the spec field it sets, and how what commander parsed becomes the
// field's value. create and resume take them over the properties body (body.ts), update
// --cutover takes the fence and the gate for that cutover alone; an error about a field a flag set
// names the flag the user wrote.
import { InvalidArgumentError, Option } from 'commander';
import { fromAzureSpelling } from '../../azure/names';
import {
  FALLBACK_WINDOW_RULE,
  isFallbackWindow,
  RUNTIMES,
  SCHEMA_CHANGE_CAPTURES,
  STALE_MATERIALIZED_VIEWS,
  TABLE_DROPS_AND_RENAMES,
  FILTER_KEYS,
  inputError,
  POOLER_PASSWORD_VARIABLE,
  type MigrationSpecInput,
  type Runtime,
  type SchemaChangeCapture,
  type StaleMaterializedViews,
  type TableDropsAndRenames,
} from '../../engine';

/** The fields of how a migration runs, create's and resume's. */
export const RUN_KEYS = [
  'verify',
  'allowReplicaIdentityFull',
  'skipUnsupportedObjects',
  'tableDropsAndRenames',
  'staleMaterializedViews',
  'runtime',
  'schemaChangeCapture',
  'overwriteLiveDbsInTarget',
  'fenceWriters',
  'cutoverLagBudgetSeconds',
  'fallbackWindow',
  'pooler',
] as const satisfies readonly (keyof MigrationSpecInput)[];

/** The spec fields a flag can set: the mode and option, how it runs, its window, which schemas and tables move. */
const SPEC_FLAG_KEYS = [
  'mode',
  'option',
  ...RUN_KEYS,
  'migrationWindowStartTimeInUtc',
  'migrationWindowEndTimeInUtc',
  ...FILTER_KEYS,
] as const satisfies readonly (keyof MigrationSpecInput)[];

type SpecFlagKey = (typeof SPEC_FLAG_KEYS)[number];

/** What the flags given set, as spec fields (undefined: not given, the body's value holds). */
export type SpecFlags = { readonly [K in SpecFlagKey]?: MigrationSpecInput[K] };

/** The flag the user wrote for each field the flags set, to name it in an error about that field. */
export type SpecFlagNames = Readonly<Partial<Record<SpecFlagKey, string>>>;

/** What commander parsed for one command, by attribute name (`--table-drops-and-renames` is tableDropsAndRenames). */
type Parsed = Readonly<Record<string, unknown>>;

interface SpecFlag {
  /** The commander options that set it: pgferry's flag first, then az's spelling where there is one. */
  readonly options: () => Option[];
  /** The field's value and the flag that gave it, from what commander parsed; undefined when not given. */
  readonly read: (o: Parsed) => { readonly value: unknown; readonly flag: string } | undefined;
}

function usage(field: string, message: string): Error {
  return inputError('USAGE', field, `${field}: ${message}`, 'see `pgferry --help`');
}

/** A value parser picking case-insensitively from `allowed` (also matching without - and _). */
export function choice<T extends string>(allowed: readonly T[], shown: string): (value: string) => T {
  const squash = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  return (value) => {
    const found = allowed.find((a) => squash(a) === squash(value));
    if (!found) throw new InvalidArgumentError(`must be ${shown}`);
    return found;
  };
}

/** A value parser for az's enum flags, spelled as Azure spells them (provider/azure/names.ts). */
function azureChoice(kind: 'migrationMode' | 'migrationOption', shown: string) {
  return (value: string) => {
    const found = fromAzureSpelling(kind, value);
    if (found === undefined) throw new InvalidArgumentError(`must be ${shown}`);
    return found;
  };
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

/** `host:port` (or `[v6]:port`, or a host alone: port 6432) of --pooler. */
function poolerAddress(value: string): { host: string; port?: number } {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(value);
  if (!m) throw new InvalidArgumentError("must be the pooler's admin address, host:port (e.g. 10.0.0.5:6432)");
  const host = m[1]!.replace(/^\[|\]$/g, '');
  return m[2] === undefined ? { host } : { host, port: Number(m[2]) };
}

function pauseTimeout(value: string): number {
  if (!/^\d{1,4}$/.test(value) || Number(value) < 1 || Number(value) > 3600)
    throw new InvalidArgumentError('must be a whole number of seconds from 1 to 3600');
  return Number(value);
}

/**
 * The pooler (spec.pooler) from its flags: --pooler (its admin address), --pooler-user,
 * --pooler-config-file, --pooler-database (repeatable), --pooler-pause-timeout-seconds; its
 * password from PGFERRY_POOLER_PASSWORD (absent: PGPASSWORD or ~/.pgpass, as the driver reads
 * them). Any of them given makes the field, which the spec's schema then checks whole.
 */
const POOLER_FLAG: SpecFlag = {
  options: () => [
    new Option(
      '--pooler <host:port>',
      'online: the admin console of the PgBouncer in front of the source; the cutover pauses it, points it at the target and resumes it',
    ).argParser(poolerAddress),
    new Option('--pooler-user <user>', "a user of the pooler's admin_users (its password in PGFERRY_POOLER_PASSWORD)"),
    new Option('--pooler-config-file <path>', "the pooler's configuration file, whose [databases] lines the cutover points at the target"),
    new Option(
      '--pooler-database <name>',
      'a database of the pooler to pause and repoint (repeatable; default: one per migrated database, of its name)',
    ).argParser(collect),
    new Option('--pooler-pause-timeout-seconds <s>', "roll the cutover back when the pooler's PAUSE waits longer (default 10)").argParser(
      pauseTimeout,
    ),
  ],
  read: (o) => {
    const address = o.pooler as { host: string; port?: number } | undefined;
    const fields = {
      ...(address ?? {}),
      ...(o.poolerUser === undefined ? {} : { user: o.poolerUser }),
      ...(o.poolerConfigFile === undefined ? {} : { configFile: o.poolerConfigFile }),
      ...(o.poolerDatabase === undefined ? {} : { databases: o.poolerDatabase }),
      ...(o.poolerPauseTimeoutSeconds === undefined ? {} : { pauseTimeoutSeconds: o.poolerPauseTimeoutSeconds }),
    };
    if (Object.keys(fields).length === 0) return undefined;
    const password = process.env[POOLER_PASSWORD_VARIABLE];
    return { value: { ...fields, ...(password ? { password } : {}) }, flag: '--pooler' };
  },
};

/** A repeatable flag's values, in the order given. */
export const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** The attribute commander keeps a flag's value under. */
export function attributeOf(flag: string): string {
  return flag.replace(/^--(no-)?/, '').replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
}

/** A flag with a value, `--flag <what>` (a list, when repeatable): the field takes it as parsed. */
function valued(flags: string, help: string, parse?: (value: string, previous: string[] | undefined) => unknown): SpecFlag {
  const flag = flags.split(' ')[0]!;
  const attribute = attributeOf(flag);
  return {
    options: () => [
      parse ? new Option(flags, help).argParser(parse as (value: string, previous: unknown) => unknown) : new Option(flags, help),
    ],
    read: (o) => (o[attribute] === undefined ? undefined : { value: o[attribute], flag }),
  };
}

/** A flag without a value that sets the field to `value` (--no-verify: verify false). */
function switched(flag: string, help: string, value: boolean): SpecFlag {
  const attribute = attributeOf(flag);
  // commander keeps --no-x as x: false (and x: true when not given)
  const given = (o: Parsed) => (flag.startsWith('--no-') ? o[attribute] === false : o[attribute] === true);
  return { options: () => [new Option(flag, help)], read: (o) => (given(o) ? { value, flag } : undefined) };
}

/** pgferry's flag and az's spelling of it: both may be given only when they agree. */
function azSpelled([flags, help]: [string, string], [azFlags, azHelp]: [string, string], parse: (v: string) => unknown): SpecFlag {
  const [flag, azFlag] = [flags.split(' ')[0]!, azFlags.split(' ')[0]!];
  const [a, b] = [attributeOf(flag), attributeOf(azFlag)];
  return {
    options: () => [new Option(flags, help).argParser(parse), new Option(azFlags, azHelp).argParser(parse)],
    read: (o) => {
      if (o[a] !== undefined && o[b] !== undefined && o[a] !== o[b]) throw usage(azFlag, `contradicts ${flag}; give one of them`);
      if (o[a] !== undefined) return { value: o[a], flag };
      return o[b] === undefined ? undefined : { value: o[b], flag: azFlag };
    },
  };
}

const SPEC_FLAGS: Readonly<Record<SpecFlagKey, SpecFlag>> = {
  mode: azSpelled(
    ['--mode <mode>', 'offline | online'],
    ['--migration-mode <mode>', 'offline | online (az spelling of --mode)'],
    azureChoice('migrationMode', 'offline or online'),
  ),
  option: azSpelled(
    ['--option <option>', 'validate | migrate | validate-and-migrate'],
    ['--migration-option <option>', 'validate | migrate | validateandmigrate (az spelling of --option)'],
    azureChoice('migrationOption', 'validate, migrate or validateandmigrate'),
  ),
  verify: switched('--no-verify', 'skip the final verification', false),
  allowReplicaIdentityFull: switched(
    '--allow-replica-identity-full',
    'stream tables without a usable key with REPLICA IDENTITY FULL',
    true,
  ),
  skipUnsupportedObjects: switched(
    '--skip-unsupported-objects',
    'leave out what a non-superuser target user cannot create, and list it',
    true,
  ),
  tableDropsAndRenames: valued(
    '--table-drops-and-renames <mode>',
    'online: a streamed table dropped or renamed on the source: follow (on the target) | report (default)',
    choice<TableDropsAndRenames>(TABLE_DROPS_AND_RENAMES, TABLE_DROPS_AND_RENAMES.join(' or ')),
  ),
  staleMaterializedViews: valued(
    '--stale-materialized-views <mode>',
    "a materialized view whose source rows are not its query's at the end: stop (default) | refresh (keep the target's)",
    choice<StaleMaterializedViews>(STALE_MATERIALIZED_VIEWS, STALE_MATERIALIZED_VIEWS.join(' or ')),
  ),
  runtime: valued(
    '--runtime <runtime>',
    'local (a runner on this machine, default) | agents (only register; `pgferry agent` runs it)',
    choice<Runtime>(RUNTIMES, RUNTIMES.join(' or ')),
  ),
  schemaChangeCapture: valued(
    '--schema-change-capture <capture>',
    'online: catalog (compare catalogs, default) | event-trigger (an event trigger on the source orders each DDL among the rows; superuser)',
    choice<SchemaChangeCapture>(SCHEMA_CHANGE_CAPTURES, 'catalog or event-trigger'),
  ),
  overwriteLiveDbsInTarget: valued(
    '--overwrite-live-dbs-in-target <db>',
    'with overwriteDbsInTarget: overwrite this target database although it is live (other sessions in it, or cut over by a migration); repeatable',
    collect,
  ),
  fenceWriters: {
    options: () => [
      new Option('--fence-writers', 'at cutover, make the source databases read-only for new transactions and end their sessions first'),
    ],
    // update adds --no-fence-writers beside it (that cutover alone, unfenced): commander keeps both as fenceWriters
    read: (o) =>
      typeof o.fenceWriters === 'boolean'
        ? { value: o.fenceWriters, flag: o.fenceWriters ? '--fence-writers' : '--no-fence-writers' }
        : undefined,
  },
  cutoverLagBudgetSeconds: valued(
    '--cutover-lag-budget-seconds <s>',
    'roll the cutover back (fence lifted, streaming on) when its predicted catch-up is longer (default 30 with --fence-writers)',
    lagBudget,
  ),
  fallbackWindow: valued(
    '--fallback-window <duration>',
    'after the cutover, keep the old source up to date with the new server for this long (30m, 24h, 7d), so `update --fall-back` can return to it; needs the writer fence',
    fallbackWindow,
  ),
  pooler: POOLER_FLAG,
  // az has no such flags (its create reads only some keys of the body); these spell the API's
  // fields as az spells flags, as PowerShell's New-AzPostgreSqlFlexibleServerMigration does
  migrationWindowStartTimeInUtc: valued(
    '--migration-window-start-time-in-utc <utc>',
    'the copy starts no earlier (e.g. 2026-05-01T22:00:00Z); overrides the body',
  ),
  migrationWindowEndTimeInUtc: valued('--migration-window-end-time-in-utc <utc>', 'the copy must have started by then; overrides the body'),
  // which schemas and tables move; each flag repeats, one pg_dump pattern a time, and replaces the body's list
  includeSchemas: valued('--include-schema <pattern>', 'move only schemas matching this pattern (repeatable)', collect),
  excludeSchemas: valued('--exclude-schema <pattern>', 'leave out schemas matching this pattern (repeatable)', collect),
  includeTables: valued('--include-table <pattern>', 'move only tables matching this [schema.]table pattern (repeatable)', collect),
  excludeTables: valued('--exclude-table <pattern>', 'leave out tables matching this pattern (repeatable)', collect),
  schemaOnlyTables: valued('--schema-only-table <pattern>', 'move the definition of matching tables, not their rows (repeatable)', collect),
  dataOnlyTables: valued(
    '--data-only-table <pattern>',
    'move the rows of matching tables without their indexes, keys and triggers (repeatable)',
    collect,
  ),
};

/** The commander options of these fields' flags, in the order given. */
export function specOptions(keys: readonly SpecFlagKey[]): Option[] {
  return keys.flatMap((key) => SPEC_FLAGS[key].options());
}

/** A cutover's own fence and gate: the migration's at create and resume, that cutover's with update --cutover. */
export const CUTOVER_KEYS = ['fenceWriters', 'cutoverLagBudgetSeconds', 'fallbackWindow'] as const satisfies readonly SpecFlagKey[];

/** Every field create's flags set: the mode and option, how it runs, its window, its filters. */
export const CREATE_KEYS = SPEC_FLAG_KEYS;

/** The fields the parsed flags set, and the flag that set each. */
export function readSpecFlags(o: Parsed): { spec: SpecFlags; specFlagNames: SpecFlagNames } {
  const spec: Record<string, unknown> = {};
  const names: Record<string, string> = {};
  for (const key of SPEC_FLAG_KEYS) {
    const given = SPEC_FLAGS[key].read(o);
    if (!given) continue;
    spec[key] = given.value;
    names[key] = given.flag;
  }
  return { spec: spec as SpecFlags, specFlagNames: names };
}

/** Sets the fields the flags give over the body's (a list replaces the body's list). */
export function applySpecFlags(input: Record<string, unknown>, spec: SpecFlags): void {
  for (const key of SPEC_FLAG_KEYS) {
    const value = spec[key];
    if (value === undefined) continue;
    // the pooler's flags set its fields over the body's pooler (its password may be there alone)
    const body = input[key];
    if (key === 'pooler' && typeof body === 'object' && body !== null) input[key] = { ...(body as object), ...(value as object) };
    else input[key] = Array.isArray(value) ? [...(value as unknown[])] : value;
  }
}

/** Each field the flags set, under the flag that set it (the first spelling, when not told which). */
export function specFieldNames(spec: SpecFlags, names: SpecFlagNames = {}): Record<string, string> {
  const fieldNames: Record<string, string> = {};
  for (const key of SPEC_FLAG_KEYS) {
    if (spec[key] === undefined) continue;
    fieldNames[key] = names[key] ?? SPEC_FLAGS[key].options()[0]!.long!;
  }
  return fieldNames;
}

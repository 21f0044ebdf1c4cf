// The bench programs' command lines (`npm run bench`, drainLab), parsed with commander like the
// CLI's (provider/cli/input/parse.ts): one option table each, generated help, a bad option as one line
// naming it, exit code 2.
import { Command, CommanderError, InvalidArgumentError, type Option } from 'commander';

/** A bad command line; the message is the one line to print. */
export class UsageError extends Error {}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!value || !Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`must be a positive integer, got ${value}`);
  return n;
}

/** An argument parser accepting only the given words. */
export function oneOf<const T extends string>(...allowed: T[]): (value: string) => T {
  return (value) => {
    if (!(allowed as string[]).includes(value)) throw new InvalidArgumentError(`must be ${allowed.join(' or ')}, got ${value}`);
    return value as T;
  };
}

/** commander's error as one line naming the option. */
function fromCommander(error: CommanderError): UsageError {
  const flag = /'(--?[\w-]+)/.exec(error.message)?.[1] ?? 'option';
  switch (error.code) {
    case 'commander.unknownOption':
      return new UsageError(`unknown option ${flag}`);
    case 'commander.optionMissingArgument':
      return new UsageError(`${flag} needs a value`);
    case 'commander.invalidArgument':
      return new UsageError(`${flag} ${error.message.replace(/^.*? is invalid\.\s*/, '')}`);
    default:
      return new UsageError(error.message.replace(/^error:\s*/, ''));
  }
}

export interface ParsedOptions {
  /** Set when --help was asked for: the help text to print, nothing else runs. */
  readonly help?: string;
  /** The options given, by commander's camelCase name. */
  readonly values: Record<string, unknown>;
}

/** Parses argv (without node and script) against `options`; throws a UsageError on a bad command line. */
export function parseOptions(usage: string, description: string, options: readonly Option[], argv: readonly string[]): ParsedOptions {
  const out = { text: '' };
  const program = new Command(usage)
    .description(description)
    .exitOverride()
    .configureOutput({ writeOut: (s) => (out.text += s), writeErr: () => undefined })
    // checked below, naming the argument (commander's message only counts them)
    .allowExcessArguments(true);
  for (const option of options) program.addOption(option);
  try {
    program.parse([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError && error.code === 'commander.helpDisplayed') return { help: out.text.trimEnd(), values: {} };
    if (error instanceof CommanderError) throw fromCommander(error);
    throw error;
  }
  if (program.args.length > 0) throw new UsageError(`unknown option ${program.args[0]}`);
  return { values: program.opts<Record<string, unknown>>() };
}

/**
 * For a program's entry point: the parsed arguments; prints the help and exits 0 when asked for it,
 * prints a bad command line as one line and exits 2.
 */
export function argsOrExit<T extends { readonly help?: string }>(program: string, parse: () => T, helpHint: string): T {
  let args: T;
  try {
    args = parse();
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${program}: ${error.message} (${helpHint})\n`);
    process.exit(2);
  }
  if (args.help !== undefined) {
    process.stdout.write(`${args.help}\n`);
    process.exit(0);
  }
  return args;
}

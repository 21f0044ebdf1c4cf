#!/usr/bin/env node
// The pgferry command: parse the command line, run one command, map errors to exit codes
// (0 success, 2 bad input, 130 interrupted wait, 1 anything else) with one line on stderr.
import { isPgferryError, POOLER_PASSWORD_VARIABLE, zodToInputError, type PgferryError } from '../engine';
import { commandOf, readInput, type CliArgs, type Command } from './input/parse';
import { agentCommand } from './commands/agent';
import { checkNameCommand } from './commands/checkName';
import { consoleCommand } from './commands/console';
import { createCommand, resumeCommand } from './commands/create';
import { demoCommand } from './commands/demo';
import { fenceLiftCommand } from './commands/fence';
import { listCommand, showCommand } from './commands/show';
import { updateCommand } from './commands/update';
import { verifyCommand } from './commands/verify';
import { versionCommand } from './commands/version';
import { registerUrlSecret } from './input/file';
import { debugFailure, setVerbosity } from './log';
import { writeErr, writeOut } from './output';
import { registerSecret } from './secrets';

const COMMAND_RUNNERS: Record<Command, (args: CliArgs) => Promise<number>> = {
  create: createCommand,
  show: showCommand,
  list: listCommand,
  update: updateCommand,
  'check-name-availability': checkNameCommand,
  verify: verifyCommand,
  resume: resumeCommand,
  version: versionCommand,
  demo: demoCommand,
  agent: agentCommand,
  console: consoleCommand,
  'fence lift': fenceLiftCommand,
};

function isZodError(error: unknown): error is Parameters<typeof zodToInputError>[0] {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { name?: string }).name === 'ZodError' &&
    Array.isArray((error as { issues?: unknown }).issues)
  );
}

/**
 * A migration that is not there exits 3, as az does for a resource that is not found (azure-cli's
 * handle_exception in azure-cli-core/azure/cli/core/util.py: a 404 becomes ResourceNotFoundError,
 * whose exit code is 3), so a script written for az reads pgferry's answer the same way.
 */
const NOT_FOUND_EXIT = 3;

/** Exit code and one line for anything thrown; a PgferryError's line ends with its code (docs/cli.md: Error codes). */
export function describeFailure(error: unknown): { code: number; line: string } {
  const e = isZodError(error) ? zodToInputError(error) : error;
  if (isPgferryError(e)) {
    return { code: exitCodeOf(e), line: `${e.oneLine()} [${e.code}]` };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { code: 1, line: message };
}

function exitCodeOf(error: PgferryError): number {
  if (error.code === 'WAIT_INTERRUPTED') return 130;
  if (error.category !== 'input') return 1;
  return error.code === 'MIGRATION_NOT_FOUND' ? NOT_FOUND_EXIT : 2;
}

export async function main(argv: readonly string[]): Promise<number> {
  registerSecret(process.env.PGPASSWORD);
  registerSecret(process.env[POOLER_PASSWORD_VARIABLE]);
  // URL passwords are masked before parsing, so even a usage error cannot echo them.
  for (const arg of argv) registerUrlSecret(arg.replace(/^--[\w-]+=/, ''));
  let args: CliArgs | undefined;
  try {
    args = await readInput(argv);
    setVerbosity(args.verbosity);
    if (args.help !== undefined) {
      writeOut(args.help);
      return 0;
    }
    return await COMMAND_RUNNERS[args.command](args);
  } catch (error) {
    debugFailure(error);
    const { code, line } = describeFailure(error);
    const command = args?.command ?? commandOf(argv);
    const prefix = command ? `pgferry ${command}` : 'pgferry';
    writeErr(`${prefix}: ${line.replace(/\s*\n\s*/g, ' ')}`);
    return code;
  }
}

if (require.main === module) {
  // main never rejects: every error becomes a line on stderr and an exit code
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
    // A driver handle left open must not keep a finished command alive.
    setTimeout(() => process.exit(code), 1000).unref();
  });
}

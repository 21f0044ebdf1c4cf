// `pgferry demo`: an offline then an online migration, on servers of its own or on two the user
// names (--source-url, --target-url). The demo module is loaded only when asked for (it pulls in
// the local cluster machinery).
import type { CliArgs } from '../input/parse';
import { writeErr, writeOut } from '../output';
import { parseConnectionUrl } from '../input/url';

/** A server from a demo flag's URL; the user defaults to postgres, the demo's servers' own superuser (the other commands look for the target's login: input/body.ts). */
function serverFromUrl(url: string, flag: string): Record<string, unknown> {
  return { user: 'postgres', ...parseConnectionUrl(url, flag, { onCommandLine: true }) };
}

export async function demoCommand(args: CliArgs): Promise<number> {
  // Parsed before the demo module loads: a bad URL is exit 2 with nothing started.
  const servers =
    args.sourceUrl === undefined || args.target.url === undefined
      ? undefined
      : { source: serverFromUrl(args.sourceUrl, '--source-url'), target: serverFromUrl(args.target.url, '--target-url') };
  const { runDemo } = await import('../../demo/runDemo');
  // The demo narrates in lines (--output does not change it); a refusal goes to stderr. Its hint
  // repeats the command as it was started: `npm run demo` in a checkout, else the installed command.
  return runDemo((line) => writeOut(line), {
    servers,
    printError: (line) => writeErr(line),
    command: process.env.npm_lifecycle_event === 'demo' ? 'npm run demo --' : 'pgferry demo',
  });
}

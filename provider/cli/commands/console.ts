// `pgferry console [--port 8080] [--address 127.0.0.1] [--tls-cert F --tls-key F]`: serves the web console of the target's
// migrations until SIGINT or SIGTERM. It prints the page's address with its token; the token in
// the fragment stays in the browser, which sends it back in a header (provider/console/security.ts).
import type { CliArgs } from '../input/parse';
import { writeOut } from '../output';
import { onTarget, resolveTarget } from '../target';

export async function consoleCommand(args: CliArgs): Promise<number> {
  // Loaded here: the web server is most of what every other command would load and never use.
  const { startConsole } = await import('../../console/command');
  const target = resolveTarget(args);
  const running = await onTarget(target, () => startConsole({ target, ...args.console }));
  writeOut(`pgferry console: ${running.url}`);
  writeOut('Open that address in a browser (the token after # is needed for the Cutover and Cancel buttons); Ctrl-C stops the console.');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await running.close();
  return 0;
}

// `pgferry demo`: embedded source and target servers, an offline then an online migration. The
// demo module is loaded only when asked for (it pulls in the local cluster machinery).
import type { CliArgs } from '../args';
import { writeOut } from '../output';

export async function demoCommand(args: CliArgs): Promise<number> {
  void args; // the demo narrates in lines; --output does not change it
  const { runDemo } = await import('../../demo');
  return runDemo((line) => writeOut(line));
}

// `pgferry demo`: embedded source and target servers, an offline then an online migration. The
// demo module is loaded only when asked for (it pulls in the local cluster machinery).
import { PgferryError } from '../../engine';
import type { CliArgs } from '../args';

type RunDemo = (options?: { output?: 'table' | 'json' }) => Promise<unknown>;

export async function demoCommand(args: CliArgs): Promise<number> {
  // A computed path: the demo module may not exist in every build.
  const modulePath = '../../demo';
  let runDemo: RunDemo | undefined;
  try {
    runDemo = ((await import(modulePath)) as { runDemo?: RunDemo }).runDemo;
  } catch (error) {
    if ((error as { code?: string }).code !== 'MODULE_NOT_FOUND') throw error;
  }
  if (typeof runDemo !== 'function') {
    throw new PgferryError('NOT_AVAILABLE', '`pgferry demo` is not available in this build (no provider/demo)', { category: 'internal' });
  }
  const result = await runDemo({ output: args.output });
  if (typeof result === 'number') return result;
  return result === false ? 1 : 0;
}

// Named points where a test, or the fault campaign, makes this process fail at exactly that point,
// to prove a step crash-safe or a retry real. Off unless PGFERRY_FAILPOINTS names one
// (comma-separated): `name` ends the process with SIGKILL, as a power cut or the OOM killer would;
// `name:transient` throws, once, an error that says a server went away. A hold point waits
// instead (`name:hold`), so a test can act at exactly that point of a detached runner. A runner's
// successor does not inherit them: it is armed only with PGFERRY_SUCCESSOR_FAILPOINTS
// (runner/spawn.ts runnerEnvironment).
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PgferryError } from '../core/errors';

const fired = new Set<string>();

function armedPoints(): string[] {
  return process.env.PGFERRY_FAILPOINTS?.split(',') ?? [];
}

export function failpoint(name: string): void {
  const armed = armedPoints();
  if (armed.includes(name)) process.kill(process.pid, 'SIGKILL');
  if (armed.includes(`${name}:transient`) && !fired.has(name)) {
    fired.add(name);
    throw new PgferryError('FAILPOINT', `failpoint ${name}: the server went away`, { category: 'internal', transient: true });
  }
}

/** The file a hold point writes while it waits: in PGFERRY_HOLD_DIR (else the temporary directory), named after the point. */
export function holdFile(name: string): string {
  return path.join(process.env.PGFERRY_HOLD_DIR ?? os.tmpdir(), `pgferry-hold-${name.replace(/[^A-Za-z0-9_.-]/g, '_')}`);
}

/**
 * With `name:hold` armed, writes holdFile(name) and waits until the test removes it, once per
 * process: the test does what it must at exactly this point, then lets the runner go on.
 */
export async function holdpoint(name: string): Promise<void> {
  if (!armedPoints().includes(`${name}:hold`) || fired.has(`${name}:hold`)) return;
  fired.add(`${name}:hold`);
  const file = holdFile(name);
  await fs.writeFile(file, String(process.pid));
  for (;;) {
    const there = await fs.access(file).then(
      () => true,
      () => false,
    );
    if (!there) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

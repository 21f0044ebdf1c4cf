// Named points where a test, or the fault campaign, makes this process fail at exactly that point,
// to prove a step crash-safe or a retry real. Off unless PGFERRY_FAILPOINTS names one
// (comma-separated): `name` ends the process with SIGKILL, as a power cut or the OOM killer would;
// `name:transient` throws, once, an error that says a server went away.
import { PgferryError } from '../core/errors';

const fired = new Set<string>();

export function failpoint(name: string): void {
  const armed = process.env.PGFERRY_FAILPOINTS?.split(',') ?? [];
  if (armed.includes(name)) process.kill(process.pid, 'SIGKILL');
  if (armed.includes(`${name}:transient`) && !fired.has(name)) {
    fired.add(name);
    throw new PgferryError('FAILPOINT', `failpoint ${name}: the server went away`, { category: 'internal', transient: true });
  }
}

// Opt-in timing marks for developers: PGFERRY_TRACE=<file> appends "<pid> <ms since the process
// started> <label>" lines to that file (a runner's stderr is not always where one looks).
import { appendFileSync } from 'node:fs';

export function trace(label: string): void {
  const file = process.env.PGFERRY_TRACE;
  if (file) appendFileSync(file, `${process.pid} ${performance.now().toFixed(0)} ${label}\n`);
}

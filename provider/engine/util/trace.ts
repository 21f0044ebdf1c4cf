// Opt-in timing marks for developers: PGFERRY_TRACE=<file> appends "<pid> <ms since the process
// started> <label>" lines to that file (a runner's stderr is not always where one looks). A
// process's first line gives the wall-clock time its clock starts from, so a lab that started the
// process can line the marks up with what it saw itself (bench/restartLab.ts).
import { appendFileSync } from 'node:fs';

let originWritten = false;

/**
 * Marks `label`. A label that costs something to build (figures formatted) is given as a function,
 * called only when tracing is on: most processes never trace, and a hot path should not pay for it.
 */
export function trace(label: string | (() => string)): void {
  const file = process.env.PGFERRY_TRACE;
  if (!file) return;
  if (!originWritten) {
    originWritten = true;
    appendFileSync(file, `${process.pid} 0 process start at ${performance.timeOrigin.toFixed(0)}\n`);
  }
  appendFileSync(file, `${process.pid} ${performance.now().toFixed(0)} ${typeof label === 'string' ? label : label()}\n`);
}

const tracedOnce = new Set<string>();

/** Marks `label` the first time this process reaches it (a restart's first change, first lookup ...). */
export function traceOnce(label: string): void {
  if (tracedOnce.has(label)) return;
  tracedOnce.add(label);
  trace(label);
}

// Named points where a test, or the fault campaign, can kill this process to prove that a step is
// crash-safe at exactly that point. Off unless PGFERRY_FAILPOINTS names one (comma-separated): the
// process then ends itself with SIGKILL on reaching it, as a power cut or the OOM killer would.
export function failpoint(name: string): void {
  const armed = process.env.PGFERRY_FAILPOINTS;
  if (armed && armed.split(',').includes(name)) process.kill(process.pid, 'SIGKILL');
}

// Apply commits refused once the runner's lease is gone. The runner holds its lease in a session of
// its own (runner/lease.ts) and exits when that session ends, but a runner that was stopped (SIGSTOP,
// a laptop asleep) while the lease session was cut wakes up with the answer to its last statement
// before COMMIT and the end of its lease connection both waiting: when the answer is read first,
// COMMIT goes out before the runner knows, and it commits once more without its lease (seen in
// test/cdc/fencing about one run in three). So each apply COMMIT carries a check, run by the target
// in the committing transaction: the lease session still holds its advisory lock, or nothing of the
// transaction commits. The refusal uses admin_shutdown's SQLSTATE, so the applier handles it as a
// lost connection (retry on a new session) rather than a failure to clean up after, and the runner
// exits as soon as it reads the end of its lease. The lease session's pid travels from the runner
// (runner/main.ts) in the run's context to each apply session's configuration, so only the
// commits of the run that holds the lease carry it, and nothing is set for the whole process.

/** SQLSTATE of a commit refused for a lost lease (admin_shutdown: retried like a lost connection). */
export const LEASE_LOST_SQLSTATE = '57P01';

/** The statement that refuses the commit when the lease session `sessionPid` is gone; undefined without a lease (outside a runner). */
export function leaseGuardSql(sessionPid: number | undefined): string | undefined {
  if (sessionPid === undefined) return undefined;
  const pid = Math.trunc(sessionPid);
  return `DO $pgferry_lease$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND pid = ${pid} AND granted) THEN
    RAISE EXCEPTION 'the runner lost its lease (session ${pid} is gone): this transaction is not committed' USING ERRCODE = '${LEASE_LOST_SQLSTATE}';
  END IF;
END $pgferry_lease$`;
}

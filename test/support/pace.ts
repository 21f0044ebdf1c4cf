// The pace of the writers that stand for a source application while a scenario runs (a transfer
// and a ledger line, an insert and an update ...). Unpaced, one such loop commits thousands of
// transactions a second and keeps a core busy, plus the decoding and applying of all of them: on
// the two-core machine the suite runs on, that took the CPU from the migration under test and from
// the files running beside it without proving more. Paced, a writer still commits a transaction
// every few milliseconds, so changes keep arriving during every step a scenario cares about. Not a
// wait for anything: a rate (its cost per suite run is in the commit that set it).

/** Pause after each transaction of a scenario's writer. */
const WRITER_PAUSE_MS = 5;

/** Resolves after the writer's pause. */
export function writerPause(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, WRITER_PAUSE_MS));
}

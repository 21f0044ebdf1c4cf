// The words on a writer fence that `show` prints and the console shows, written once so both say
// the same: the source's of a cutover or the target's of a fall-back. Pure: a fence in, a line out.
import type { WriterFence } from './model';

/** One line on a writer fence, the source's of a cutover or the target's of a fall-back: since when, whether it stays, and the statement that lifts it. */
export function describeFence(f: WriterFence, server: 'source' | 'target'): string {
  const [step, left, stop] =
    server === 'source'
      ? ['cutover', 'the old source', 'a roll-back, cancel or failure']
      : ['fall-back', 'the new server', 'a stop before its point of no return'];
  const why = f.kept
    ? `kept after the ${step}, so no write is lost on ${left}; once nothing writes there, lift it with \`pgferry fence lift --server ${server}\` (by hand: ${f.lift}; then in the database: ${f.liftInDatabase})`
    : `the ${step} is on its way (${stop} lifts it); by hand with ${f.lift}`;
  return `writers fenced on the ${server} since ${f.fencedAt} (new transactions read-only, ${f.sessionsEnded ?? 0} session(s) ended): ${why}`;
}

// When an apply session commits its open target batch: group commit on size, on age, or when
// nothing more is queued, with a session's first batches committing younger than the rest.
import type { TargetTransaction } from './targetTransaction';
import type { SessionConfig } from './sessionConfig';

/**
 * A session's first batch commits at its first source commit, whatever its age: after a restart
 * with a backlog, the first change showed on the target only once a batch had grown old enough,
 * while native's apply worker commits its first transaction as soon as it is applied
 * (docs/bench.md#the-applys-settings). The next batches commit once SECOND_COMMIT_MS
 * old, then at twice the age before, up to commitMs: a full-age batch came well after a short
 * backlog's end. It costs a few more commits per session.
 */
const SECOND_COMMIT_MS = 50;

/** The age at which a session's open batch commits after `dueCommits` commits on age or size. */
export function commitAgeLimitMs(commitMs: number, dueCommits: number): number {
  if (dueCommits === 0) return 0;
  return Math.min(commitMs, SECOND_COMMIT_MS * 2 ** Math.min(dueCommits - 1, 16));
}

/** One session's group commit: its own count of due batches, so each session starts young again. */
export class CommitPolicy {
  /** Batches due() found due in this session: the first ones commit younger. */
  private dueCommits = 0;

  constructor(private readonly config: Pick<SessionConfig, 'commitRows' | 'commitMs'>) {}

  /**
   * Group commit: a batch commits when it is big or old enough, or when nothing more is queued and
   * no COMMIT is on its way. While one is (an fsync on a durable target), the source transactions
   * arriving meanwhile join the open batch, which commits as soon as that COMMIT returns (it wakes
   * the loop): one transaction per commit on a quiet source, as many as arrived during one commit
   * on a busy one.
   */
  due(txn: Pick<TargetTransaction, 'rowCount' | 'age' | 'commitsInFlight'>, queueEmpty: boolean): boolean {
    const due = txn.rowCount >= this.config.commitRows || txn.age >= this.ageLimit() || (queueEmpty && txn.commitsInFlight === 0);
    if (due) this.dueCommits += 1;
    return due;
  }

  /** The age at which the open batch commits now. */
  ageLimit(): number {
    return commitAgeLimitMs(this.config.commitMs, this.dueCommits);
  }
}

// The coordinator's side of a copy shared with agents (control/copyRounds.ts): items another
// claimer holds are watched until they are done there (then counted as if copied here: progress,
// and the table's indexes once its last part is in) or free again (their holder died: copied
// here). The copy queue stays open until every item is resolved one way or the other.
import { sleepUnlessAborted } from '../util/sleep';
import type { WorkQueue } from '../util/workQueue';
import type { CopyJobResult } from './copyJob';
import { itemKey, type CopyJob } from './plan';

/** How often the coordinator looks at the items others hold. */
const WATCH_EVERY_MS = 250;

/** What the ledger of a shared copy answers about the items others hold. */
export interface OtherClaimers {
  /** Where these items are now: done (with their rows), or free to claim again. */
  watch(items: readonly string[]): Promise<{ done: ReadonlyMap<string, CopyJobResult>; free: readonly string[] }>;
  /** Keeps this process's claims alive (their heartbeat) until the returned function is called. */
  beat(): () => void;
}

export class HeldElsewhere {
  private readonly held = new Map<string, CopyJob>();
  private unresolved: number;

  constructor(
    private readonly queue: WorkQueue<CopyJob>,
    jobs: number,
    private readonly others: OtherClaimers,
    private readonly doneThere: (job: CopyJob, result: CopyJobResult) => Promise<void>,
  ) {
    this.unresolved = jobs;
    if (jobs === 0) queue.close();
  }

  /** Another claimer holds this job's item: watch it. */
  add(job: CopyJob): void {
    this.held.set(itemKey(job), job);
  }

  /** One job is done (here or there); the last one closes the queue. */
  resolved(): void {
    this.unresolved -= 1;
    if (this.unresolved === 0 && !this.queue.isClosed()) this.queue.close();
  }

  /** Watches until every job is resolved, or the copy stops. */
  async watch(signal: AbortSignal): Promise<void> {
    const stopBeating = this.others.beat();
    try {
      while (!this.queue.isClosed()) {
        await sleepUnlessAborted(WATCH_EVERY_MS, signal);
        if (signal.aborted) return; // the copy stopped: its workers report why
        if (this.held.size === 0) continue;
        const now = await this.others.watch([...this.held.keys()]);
        for (const [item, result] of now.done) {
          const job = this.held.get(item);
          if (!job || !this.held.delete(item)) continue;
          await this.doneThere(job, result);
          this.resolved();
        }
        for (const item of now.free) {
          const job = this.held.get(item);
          if (!job || !this.held.delete(item)) continue;
          if (!this.queue.isClosed()) this.queue.push(job);
        }
      }
    } finally {
      stopBeating();
    }
  }
}

// The coordinator's side of a copy shared with agents (control/copyRounds.ts): items another
// claimer holds are watched until they are done there (then counted as if copied here: progress,
// and the table's indexes once its last part is in) or free again (their holder died: copied
// here). The copy queue stays open until every item is resolved one way or the other.
import { sleepUnlessAborted } from '../util/sleep';
import type { WorkQueue } from '../util/workQueue';
import type { CopyItemResult } from './copyItem';
import { itemKey, type CopyItem } from './plan';

/** How often the coordinator looks at the items others hold. */
const WATCH_EVERY_MS = 250;

/** What the ledger of a shared copy answers about the items others hold. */
export interface OtherClaimers {
  /** Where these items are now: done (with their rows), or free to claim again. */
  watch(items: readonly string[]): Promise<{ done: ReadonlyMap<string, CopyItemResult>; free: readonly string[] }>;
  /** Keeps this process's claims alive (their heartbeat) until the returned function is called. */
  beat(): () => void;
}

export class HeldElsewhere {
  private readonly held = new Map<string, CopyItem>();
  private unresolved: number;

  constructor(
    private readonly queue: WorkQueue<CopyItem>,
    items: number,
    private readonly others: OtherClaimers,
    private readonly doneThere: (item: CopyItem, result: CopyItemResult) => Promise<void>,
  ) {
    this.unresolved = items;
    if (items === 0) queue.close();
  }

  /** Another claimer holds this item: watch it. */
  add(item: CopyItem): void {
    this.held.set(itemKey(item), item);
  }

  /** One item is done (here or there); the last one closes the queue. */
  resolved(): void {
    this.unresolved -= 1;
    if (this.unresolved === 0 && !this.queue.isClosed()) this.queue.close();
  }

  /** Watches until every item is resolved, or the copy stops. */
  async watch(signal: AbortSignal): Promise<void> {
    const stopBeating = this.others.beat();
    try {
      while (!this.queue.isClosed()) {
        await sleepUnlessAborted(WATCH_EVERY_MS, signal);
        if (signal.aborted) return; // the copy stopped: its workers report why
        if (this.held.size === 0) continue;
        const now = await this.others.watch([...this.held.keys()]);
        for (const [key, result] of now.done) {
          const item = this.held.get(key);
          if (!item || !this.held.delete(key)) continue;
          await this.doneThere(item, result);
          this.resolved();
        }
        for (const key of now.free) {
          const item = this.held.get(key);
          if (!item || !this.held.delete(key)) continue;
          if (!this.queue.isClosed()) this.queue.push(item);
        }
      }
    } finally {
      stopBeating();
    }
  }
}

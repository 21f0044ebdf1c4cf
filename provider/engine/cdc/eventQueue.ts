// A FIFO between the replication socket and the applier, bounded in bytes: past the budget it asks
// the producer to pause (stop reading the socket), below half the budget to resume. The decoded
// size is estimated from the wire size, so a 200k-row transaction or a stalled target holds at
// most about one budget of changes in memory.

export class EventQueue<T> {
  private items: { item: T; bytes: number }[] = [];
  private head = 0;
  private held = 0;
  private waiter: ((value: T | undefined) => void) | undefined;
  private failure: Error | undefined;
  private rejectWaiter: ((error: Error) => void) | undefined;
  private high = false;

  constructor(
    private readonly budgetBytes: number,
    private readonly onHigh: () => void,
    private readonly onLow: () => void,
  ) {}

  get bytes(): number {
    return this.held;
  }

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T, bytes: number): void {
    if (this.waiter) {
      const wake = this.waiter;
      this.waiter = undefined;
      this.rejectWaiter = undefined;
      wake(item);
      return;
    }
    this.items.push({ item, bytes });
    this.held += bytes;
    if (!this.high && this.held > this.budgetBytes) {
      this.high = true;
      this.onHigh();
    }
  }

  /** Wakes the consumer with an error (the stream failed). */
  fail(error: Error): void {
    this.failure ??= error;
    const reject = this.rejectWaiter;
    this.waiter = undefined;
    this.rejectWaiter = undefined;
    reject?.(error);
  }

  /** The next item, or undefined after `timeoutMs` without one. */
  async next(timeoutMs: number): Promise<T | undefined> {
    if (this.head < this.items.length) {
      const { item, bytes } = this.items[this.head]!;
      this.items[this.head] = undefined as never;
      this.head += 1;
      this.held -= bytes;
      if (this.head > 4096 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head); // amortised compaction, no per-item shift
        this.head = 0;
      }
      if (this.high && this.held < this.budgetBytes / 2) {
        this.high = false;
        this.onLow();
      }
      return item;
    }
    if (this.failure) throw this.failure;
    return new Promise<T | undefined>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        this.rejectWaiter = undefined;
        resolve(undefined);
      }, timeoutMs);
      this.waiter = (value) => {
        clearTimeout(timer);
        resolve(value);
      };
      this.rejectWaiter = (error) => {
        clearTimeout(timer);
        reject(error);
      };
    });
  }
}

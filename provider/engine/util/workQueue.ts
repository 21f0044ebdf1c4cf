// N workers taking items from one queue, stopped by one AbortSignal: the shape of every parallel phase
// (copy, indexes, large objects, analyze, verify).
import { canceledError } from '../core/errors';

export class WorkQueue<T> {
  private readonly items: T[] = [];
  private closed = false;
  private waiters: (() => void)[] = [];

  push(...items: T[]): void {
    if (this.closed) throw new Error('push on a closed queue');
    this.items.push(...items);
    this.wake();
  }

  isClosed(): boolean {
    return this.closed;
  }

  /** No more items will come; workers exit once the queue is empty. */
  close(): void {
    this.closed = true;
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  async next(signal?: AbortSignal): Promise<T | undefined> {
    for (;;) {
      if (signal?.aborted) return undefined;
      const item = this.items.shift();
      if (item !== undefined) return item;
      if (this.closed) return undefined;
      await new Promise<void>((resolve) => {
        const done = () => {
          signal?.removeEventListener('abort', done);
          resolve();
        };
        this.waiters.push(done);
        signal?.addEventListener('abort', done, { once: true });
      });
    }
  }
}

/**
 * Runs `concurrency` workers over the queue. Each worker gets its own context from `open` (e.g.
 * connections) and releases it with `close`. The first failure aborts the others and is thrown.
 */
export async function runWorkers<T, C>(args: {
  queue: WorkQueue<T>;
  concurrency: number;
  signal?: AbortSignal;
  open: () => Promise<C>;
  close: (ctx: C) => Promise<void>;
  work: (item: T, ctx: C) => Promise<void>;
}): Promise<void> {
  const local = new AbortController();
  const onAbort = () => local.abort(args.signal?.reason);
  args.signal?.addEventListener('abort', onAbort, { once: true });
  let failure: { readonly error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    let ctx: C | undefined;
    try {
      for (;;) {
        const item = await args.queue.next(local.signal);
        if (item === undefined) break;
        ctx ??= await args.open();
        await args.work(item, ctx);
      }
    } catch (error) {
      failure ??= { error };
      local.abort(error);
    } finally {
      if (ctx !== undefined) await args.close(ctx).catch(() => undefined);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, args.concurrency) }, worker));
  } finally {
    args.signal?.removeEventListener('abort', onAbort);
  }
  if (failure) throw failure.error;
  if (args.signal?.aborted) throw canceledError();
}

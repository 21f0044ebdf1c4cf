// The source sessions that read in one snapshot, shared out among workers: each taken and given back,
// never closed by a worker, since the snapshot and the locks they hold live as long as the pool. The
// copy fills the pool (copy/copySnapshot.ts) and the copy's workers and an offline verification take
// from it, each paired with a target session of its own.
import type pg from 'pg';
import { closeSession, openSession, type SessionOptions, type SessionPair } from './session';
import type { ServerSpec } from '../input/migrationSpec';

/** Source sessions inside the copy's snapshot, each already holding ACCESS SHARE on every copied table. */
export interface SnapshotSessions {
  /** The exported snapshot's name (for pg_dump --snapshot). */
  readonly name: string;
  readonly size: number;
  /** Takes a session (waits while all are in use); give it back with `give`. */
  take(): Promise<pg.Client>;
  give(client: pg.Client): void;
  /** Runs `fn` with a session of the snapshot. */
  use<T>(fn: (client: pg.Client) => Promise<T>): Promise<T>;
}

/**
 * runWorkers()'s open and close for workers that read in the snapshot and write to the target: a
 * snapshot session (given back, not closed) paired with a new target session.
 */
export function pairedWithTarget(
  sessions: SnapshotSessions,
  target: ServerSpec,
  targetOptions: SessionOptions,
): { open: () => Promise<SessionPair>; close: (pair: SessionPair) => Promise<void> } {
  return {
    open: async () => {
      const source = await sessions.take();
      try {
        return { source, target: await openSession(target, targetOptions) };
      } catch (error) {
        sessions.give(source);
        throw error;
      }
    },
    close: async (pair) => {
      sessions.give(pair.source);
      await closeSession(pair.target);
    },
  };
}

export class SessionPool implements SnapshotSessions {
  private readonly free: pg.Client[];
  private readonly waiting: ((client: pg.Client) => void)[] = [];

  constructor(
    readonly name: string,
    sessions: readonly pg.Client[],
  ) {
    this.free = [...sessions];
    this.size = sessions.length;
  }

  readonly size: number;

  async take(): Promise<pg.Client> {
    const client = this.free.pop();
    if (client) return client;
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  give(client: pg.Client): void {
    const next = this.waiting.shift();
    if (next) next(client);
    else this.free.push(client);
  }

  async use<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = await this.take();
    try {
      return await fn(client);
    } finally {
      this.give(client);
    }
  }
}

// One database's change stream inside an online migration: its applier, started or restarted
// with the migration's derived names, and the counters carried over from earlier appliers.
import { cutoverMessagePrefix, streamNamesOf, type StreamNames } from '../../core/names';
import type { MigrationRun } from '../../flow/migrationRun';
import { Applier } from './applier';
import type { SessionEnd } from './types';

/** One database's stream: its applier and what it reported so far. */
export interface OnlineStream {
  readonly database: string;
  readonly slot: string;
  readonly publication: string;
  readonly origin: string;
  applier: Applier;
  done: Promise<SessionEnd>;
  failure?: Error;
  /** Counters carried over from an earlier runner (resume). */
  readonly base: { inserts: number; updates: number; deletes: number };
}

export function streamNames(run: MigrationRun, database: string): StreamNames {
  return streamNamesOf(run.spec.migrationName, database, run.instance);
}

/** Starts (or restarts) the applier of one database. */
export function startStream(run: MigrationRun, database: string, initialLsn: bigint | undefined, base: OnlineStream['base']): OnlineStream {
  const n = streamNames(run, database);
  const applier = new Applier({
    source: run.spec.source,
    target: run.spec.target,
    database,
    ...n,
    migration: run.spec.migrationName,
    cutoverPrefix: cutoverMessagePrefix(run.spec.migrationName),
    initialLsn,
    log: (level, message) => {
      // fire and forget (log is synchronous): a run's warn never rejects
      if (level === 'warning') void run.warn(message, database);
      else run.onProgress({ kind: 'info', message, database });
    },
  });
  const stream: OnlineStream = { database, ...n, applier, done: applier.run(), base };
  stream.done.catch((error: Error) => (stream.failure = error));
  return stream;
}

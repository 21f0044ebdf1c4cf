// The context of one running migration, shared by the offline pipeline and the online flow, and the
// options its caller runs it with. Every stage takes the context, so it ranks below them all.
import type { CatalogConnection } from '../control/connection';
import type { ProgressListener } from '../core/model';
import type { PgTools } from '../schema/pgTools';
import type { MigrationSpec } from '../input/migrationSpec';

export interface MigrationRun {
  readonly spec: MigrationSpec;
  readonly store: CatalogConnection;
  readonly signal: AbortSignal;
  /** Emits to the caller's listener and records in the control catalog. */
  readonly onProgress: ProgressListener;
  /**
   * pg_dump, pg_restore and pg_dumpall, found once when first needed: a resumed runner whose
   * databases stream on from their slots never runs them, and finding them runs each (`--version`).
   */
  tools(): Promise<PgTools>;
  readonly sourceMajor: number;
  readonly targetMajor: number;
  /** Scratch directory for dumps; removed when the run ends. */
  readonly workDir: string;
  /** True when a runner resumes a migration an earlier process started. */
  readonly resuming: boolean;
  /** The migration's instance (undefined: registered before instances existed). */
  readonly instance: string | undefined;
  /** The runner's lease session (runner/lease.ts), checked by every apply COMMIT; undefined in a caller's own process. */
  readonly leaseSessionPid?: number;
  /** Records a warning on the migration (catalog event + progress). */
  warn(message: string, database?: string): Promise<void>;
}

/**
 * What the switchover's steps take of a run (the hold, the target's guard, a fall-back, the reverse
 * stream, the forward stream made again): no pg tools, work directory or server versions, so a
 * resumed runner of a migration past its cutover builds no more than this (flow/afterCutover.ts).
 */
export type SwitchoverRun = Pick<MigrationRun, 'spec' | 'store' | 'instance' | 'signal' | 'warn' | 'onProgress'>;

export interface RunOptions {
  /**
   * Aborts the migration: work in flight stops at once (a COPY cut mid-stream is rolled back on the
   * target, nothing half-written stays), what an online migration holds on the source is released,
   * and the state becomes Canceled.
   */
  readonly signal?: AbortSignal;
  readonly onProgress?: ProgressListener;
}

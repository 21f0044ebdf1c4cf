// A request to hold the apply at an exact source position, so that the target can be read there
// (verify/background.ts, docs/verification.md). Three phases, driven by the apply session at
// source-transaction boundaries only (never inside one, so the target read sees whole source
// transactions):
//   hold    the verifier asked: the session commits what it has applied and stops taking changes;
//   pinned  the verifier took its source snapshot at WAL position `lsn`: the session applies every
//           transaction whose commit record starts before it, noting the tables of those the
//           snapshot does not see (inexact for this pin), and stops again before the first one at
//           or past it (or at a keepalive or message past it);
//   reached the target read runs (`atPin`) while the apply waits, then the apply goes on.
// A session that ends meanwhile rejects the request: the verifier tries again later.

export interface PinnedPosition {
  /** The source position: transactions whose commit record starts before it are in the snapshot, or inexact. */
  readonly lsn: bigint;
  /** Whether the source snapshot sees a committed transaction (pgoutput's 32-bit xid). */
  readonly visible: (xid: number) => boolean;
}

/** What the verifier does while the apply waits at the pinned position. */
export type AtPin = (inexactTables: ReadonlySet<string>) => Promise<void>;

/** Stands for every table: a transaction the snapshot does not see was applied by an earlier session (its tables are not known). */
export const ALL_TABLES = '*';

export class PinRequest {
  phase: 'hold' | 'held' | 'pinned' = 'hold';
  position: PinnedPosition | undefined;
  /** Tables written by transactions before `lsn` that the source snapshot does not see. */
  readonly inexact = new Set<string>();
  private heldResolve!: () => void;
  private releaseResolve!: (position: PinnedPosition | undefined) => void;
  private doneResolve!: () => void;
  private doneReject!: (error: Error) => void;
  /** Resolves once the apply is held (everything applied is committed, nothing more is taken). */
  readonly held = new Promise<void>((resolve) => (this.heldResolve = resolve));
  private readonly released = new Promise<PinnedPosition | undefined>((resolve) => (this.releaseResolve = resolve));
  /** Resolves once `atPin` ran at the position; rejects when the session ended first. */
  readonly done = new Promise<void>((resolve, reject) => {
    this.doneResolve = resolve;
    this.doneReject = reject;
  });

  constructor(readonly atPin: AtPin) {
    this.done.catch(() => undefined); // the verifier awaits it; an unobserved rejection must not end the process
  }

  /** Session: the apply is held; waits for the verifier's position (undefined: let go, no pin). */
  async hold(): Promise<PinnedPosition | undefined> {
    this.phase = 'held';
    this.heldResolve();
    const position = await this.released;
    this.position = position;
    this.phase = 'pinned';
    return position;
  }

  /** Verifier: the source snapshot is taken at `position` (or undefined: give up this pin). */
  release(position: PinnedPosition | undefined): void {
    this.releaseResolve(position);
  }

  /** Session: the position is reached and the target committed up to it. */
  async reach(): Promise<void> {
    try {
      await this.atPin(this.inexact);
      this.doneResolve();
    } catch (error) {
      this.doneReject(error as Error);
    }
  }

  /** Session ended (or failed) before the position was reached. */
  abandon(error: Error): void {
    this.releaseResolve(undefined);
    this.doneReject(error);
  }
}

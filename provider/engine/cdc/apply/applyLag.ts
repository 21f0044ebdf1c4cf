// The apply lag the engine reports: how far the oldest source transaction received and not yet
// applied is behind. Transactions are noted as they arrive, before they wait in the queue: a
// figure taken when a transaction is dequeued read no lag while megabytes of changes waited in it
// (docs/bench.md#the-applys-settings).
import { pgTimeToMs } from '../decode/frames';

/** pgoutput's Begin message: 'B', final (commit) LSN, commit time in µs since 2000-01-01, xid. */
const BEGIN = 0x42;

/** Applied positions are dropped from the front in place; the arrays are compacted past this. */
const COMPACT_AFTER = 4096;

export class ApplyLag {
  private commitLsns: bigint[] = [];
  private commitMs: number[] = [];
  private receivedAt: number[] = [];
  private head = 0;
  private newestCommitMs = 0;

  /** A pgoutput message as it arrives: a Begin notes its transaction's commit LSN and time. */
  received(message: Buffer, start: number): void {
    if (message[start] !== BEGIN || message.length < start + 17) return;
    const ms = pgTimeToMs(message.readBigInt64BE(start + 9));
    this.commitLsns.push(message.readBigUInt64BE(start + 1));
    this.commitMs.push(ms);
    this.receivedAt.push(Date.now());
    if (ms > this.newestCommitMs) this.newestCommitMs = ms;
  }

  /** Every transaction whose commit lies before `lsn` (an applied or confirmed end) is applied. */
  appliedBefore(lsn: bigint): void {
    while (this.head < this.commitLsns.length && this.commitLsns[this.head]! < lsn) this.head += 1;
    if (this.head >= COMPACT_AFTER) {
      this.commitLsns = this.commitLsns.slice(this.head);
      this.commitMs = this.commitMs.slice(this.head);
      this.receivedAt = this.receivedAt.slice(this.head);
      this.head = 0;
    }
  }

  /** A new session receives again everything not applied: forget what the last one received. */
  restart(): void {
    this.commitLsns = [];
    this.commitMs = [];
    this.receivedAt = [];
    this.head = 0;
  }

  /**
   * Seconds the oldest unapplied transaction is behind: in source time, behind the newest one
   * received (a backlog), or waiting here since it arrived (a stalled target), whichever is more.
   * Neither compares this machine's clock with the source's. 0 when everything received is applied.
   */
  seconds(now = Date.now()): number {
    if (this.head >= this.commitLsns.length) return 0;
    const behind = this.newestCommitMs - this.commitMs[this.head]!;
    const waiting = now - this.receivedAt[this.head]!;
    return Math.max(behind, waiting, 0) / 1000;
  }
}

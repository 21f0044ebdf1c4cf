// A copy held mid-stream: a proxy in front of the target (test/support/faultProxy.ts) stops forwarding
// one table's COPY ... FROM STDIN after a few of its rows went through, for as long as a test needs
// the copy "still running" (to kill the runner, restart a server, truncate on the source, cancel).
// Tests used to get that moment from tables large enough to take seconds to copy, which cost
// minutes of CPU per run and raced the copy on a fast machine; the hold only delays, never decides:
// it lets go by itself once the runner gives the COPY up (CopyFail) or goes away, unless told to
// play a target that stopped answering (`answerGiveUp: false`): then only release() lets it go.
import type { Cluster } from '../../provider/localpg/cluster';
import { FaultProxy, type ProxyConnection } from './faultProxy';

/** CopyData messages that reach the target before the hold, so the server has rows of the copy. */
const ROWS_BEFORE_HOLD = 4;

export class CopyHold {
  private readonly held: Promise<void>;
  private heldConn: ProxyConnection | undefined;
  private done = false;
  private onHeld: () => void = () => {};

  private constructor(
    private readonly proxy: FaultProxy,
    private readonly table: RegExp,
    answerGiveUp: boolean,
  ) {
    this.held = new Promise((resolve) => (this.onHeld = resolve));
    const seen = new Map<ProxyConnection, number>();
    proxy.onMessage = (conn, message) => {
      if (answerGiveUp && conn === this.heldConn && message.type === 'f') this.release(); // given up: let it go
      if (this.done || message.type !== 'd' || !conn.copying || !table.test(conn.copying)) return false;
      const count = (seen.get(conn) ?? 0) + 1;
      seen.set(conn, count);
      if (count < ROWS_BEFORE_HOLD) return false;
      this.done = true;
      this.heldConn = conn;
      this.onHeld();
      return true;
    };
  }

  /**
   * Starts a proxy in front of `target` that holds the first COPY into a table matching `table`;
   * `answerGiveUp: false` holds its CopyFail too (a target that no longer reads the connection).
   */
  static async start(target: Cluster, table: RegExp, options: { answerGiveUp?: boolean } = {}): Promise<CopyHold> {
    const proxy = new FaultProxy('target', target.port);
    await proxy.start();
    return new CopyHold(proxy, table, options.answerGiveUp ?? true);
  }

  /** The port the runner's target spec points at instead of the target's own. */
  get port(): number {
    return this.proxy.port;
  }

  /** Resolves once the copy is held (its COPY started, rows went through, the rest waits). */
  async whenHeld(timeoutMs = 120_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out waiting for the COPY into ${this.table} to be held`)), timeoutMs);
    });
    try {
      await Promise.race([this.held, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Lets the held copy go on; no later copy is held. */
  release(): void {
    this.done = true;
    if (this.heldConn) this.proxy.release(this.heldConn);
  }

  async close(): Promise<void> {
    await this.proxy.close();
  }
}

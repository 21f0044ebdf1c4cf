// The start of a protocol suite that migrates between two real servers: a source and a target
// (PostgreSQL 15, each with the suite's own password, which its leak scans look for), the shop made
// in the source's databases, and a protocol session; and the end that stops them all.
import { startCluster, type Cluster } from '../../support';
import { loadShop } from './fixture';
import { closeProtocolSession, openProtocolSession, type ProtocolSession } from './providerHost';

export interface ProtocolPairOptions {
  /** The servers' label, `-src` and `-dst` added. */
  readonly label: string;
  readonly sourcePassword: string;
  readonly targetPassword: string;
  /** The source's databases, each made with the shop (loadShop). */
  readonly shops: readonly string[];
}

/** A suite's two servers and its protocol session. */
export interface ProtocolPair extends ProtocolSession {
  readonly source: Cluster;
  readonly target: Cluster;
}

/** Starts both servers, makes the shops on the source and opens the session; what started is stopped again if a later step fails. */
export async function openProtocolPair(options: ProtocolPairOptions): Promise<ProtocolPair> {
  const started = await Promise.allSettled([
    startCluster({ major: 15, label: `${options.label}-src`, password: options.sourcePassword }),
    startCluster({ major: 15, label: `${options.label}-dst`, password: options.targetPassword }),
  ]);
  const [source, target] = started.map((s) => (s.status === 'fulfilled' ? s.value : undefined));
  try {
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    for (const shop of options.shops) await loadShop(source!, shop);
    return { source: source!, target: target!, ...(await openProtocolSession()) };
  } catch (error) {
    await Promise.all([source?.stop(), target?.stop()]);
    throw error;
  }
}

/** Stops the session's host, removes its program directory and stops both servers (any may be missing after a failed before). */
export async function closeProtocolPair(pair: Partial<ProtocolPair>): Promise<void> {
  await closeProtocolSession(pair);
  await Promise.all([pair.source?.stop(), pair.target?.stop()]);
}

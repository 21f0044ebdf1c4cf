// Where a drain's time goes, for the apply labs: CPU-seconds of each server process that works
// for it (the source's walsender, each target session applying) and of both clusters as a whole,
// and what each of those sessions was doing when sampled (pg_stat_activity's state and wait event:
// running, idle waiting for this process, waiting for a lock, for a WAL flush...).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import type { Cluster } from '../provider/localpg/cluster';
import { treeOf } from './procTree';

const CLOCK_TICKS = 100; // USER_HZ: /proc/<pid>/stat times are in these units on Linux

/** One process's own CPU-seconds (user + system), or undefined once it has exited. */
async function processCpu(pid: number): Promise<number | undefined> {
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** CPU-seconds of a cluster's whole process tree, reaped backends included (the postmaster's children's times). */
async function clusterCpu(cluster: Cluster): Promise<number> {
  const pid = Number((await fs.readFile(path.join(cluster.dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  return (await treeOf(pid)).reduce((sum, e) => sum + e.cpuSeconds, 0);
}

/** The sessions sampled: the source's walsenders, and the target's client sessions in the lab database. */
const SAMPLE_SQL = `SELECT pid, coalesce(application_name, '') AS name, coalesce(state, '') AS state,
  coalesce(wait_event_type || ':' || wait_event, '') AS wait FROM pg_stat_activity
 WHERE pid <> pg_backend_pid() AND (backend_type = 'walsender' OR (backend_type = 'client backend' AND datname = $1))`;

interface Seen {
  readonly label: string;
  cpuAtStart: number | undefined;
  cpu: number;
  readonly states: Map<string, number>;
  samples: number;
}

export interface DrainProfileReport {
  readonly sourceCpu: number;
  readonly targetCpu: number;
  readonly lines: readonly string[];
}

/** Samples both clusters' sessions of a drain until stop(). */
export class DrainProfile {
  private readonly seen = new Map<string, Seen>();
  private running = true;
  private loop: Promise<void> = Promise.resolve();
  private clients: pg.Client[] = [];
  private clusterStart: [number, number] = [0, 0];

  constructor(
    private readonly source: Cluster,
    private readonly target: Cluster,
    private readonly database: string,
    private readonly intervalMs = 100,
  ) {}

  async start(): Promise<void> {
    this.clients = [await this.source.connect(this.database), await this.target.connect(this.database)];
    this.clusterStart = [await clusterCpu(this.source), await clusterCpu(this.target)];
    this.loop = this.sampleUntilStopped();
  }

  private async sampleUntilStopped(): Promise<void> {
    while (this.running) {
      await Promise.all(this.clients.map((c, i) => this.sample(c, i === 0 ? 'source' : 'target')));
      await new Promise((r) => setTimeout(r, this.intervalMs));
    }
  }

  private async sample(client: pg.Client, side: 'source' | 'target'): Promise<void> {
    const { rows } = await client.query<{ pid: number; name: string; state: string; wait: string }>(SAMPLE_SQL, [this.database]);
    await Promise.all(
      rows.map(async (r) => {
        const key = `${side}:${r.pid}`;
        let s = this.seen.get(key);
        if (!s) {
          s = { label: `${side} ${r.name || 'session'} (pid ${r.pid})`, cpuAtStart: undefined, cpu: 0, states: new Map(), samples: 0 };
          this.seen.set(key, s);
        }
        const cpu = await processCpu(r.pid);
        if (cpu !== undefined) {
          s.cpuAtStart ??= cpu;
          s.cpu = cpu - s.cpuAtStart;
        }
        // an active session with no wait event is running on a CPU (or waiting for one)
        const what = r.state === 'active' && !r.wait ? 'active on CPU' : `${r.state}${r.wait ? ` ${r.wait}` : ''}`;
        s.states.set(what, (s.states.get(what) ?? 0) + 1);
        s.samples += 1;
      }),
    );
  }

  /** Stops sampling: CPU-seconds of both clusters, and a line per session seen (its CPU and its states' shares). */
  async stop(): Promise<DrainProfileReport> {
    this.running = false;
    await this.loop;
    const [sourceCpu, targetCpu] = [
      (await clusterCpu(this.source)) - this.clusterStart[0],
      (await clusterCpu(this.target)) - this.clusterStart[1],
    ];
    await Promise.all(this.clients.map((c) => c.end()));
    const lines = [...this.seen.values()]
      .filter((s) => s.samples > 1)
      .map((s) => {
        const states = [...s.states.entries()]
          .sort((a, b) => b[1] - a[1])
          .map(([what, n]) => `${what} ${((100 * n) / s.samples).toFixed(0)}%`)
          .join(', ');
        return `  ${s.label}: ${s.cpu.toFixed(2)} CPU-s; ${states}`;
      });
    return { sourceCpu, targetCpu, lines };
  }
}

// The restart lab's agent way (bench/restartLab.ts): a `pgferry agent` process runs beside the lab
// with the source's credentials and keeps a runner loaded ahead (runner/spareRunner.ts). For its
// rounds the lab makes the lab's migration one of runtime agents (its runtime and run spec in the
// control catalog), and keeps it from every agent while the backlog is written by holding its lease
// itself (the runner's advisory lock, taken as soon as the killed runner's session ends). The
// resume is what a user's `pgferry resume` does for such a migration after its runner died: the
// lease free and the agents notified; the clock starts just before, and the agent's look, its job
// queue's claim and the handing over to its spare are all inside the figure.
import { spawn, type ChildProcess } from 'node:child_process';
import type pg from 'pg';
import type { Cluster } from '../provider/localpg/cluster';
import { parseMigrationSpec } from '../provider/engine';
import { leaseKey, REQUEST_CHANNEL, runSpecOf } from '../provider/engine/internal';
import { waitUntil as until } from './consumers';
import { agentArgs } from './agentCommand';

export class LabAgent {
  private stderr = '';
  private hold: pg.Client | undefined;

  private constructor(
    private readonly child: ChildProcess,
    private readonly target: Cluster,
    private readonly migration: string,
  ) {
    child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
  }

  /** Starts `pgferry agent` against `target` with the credentials of `source`'s database `database`; resolves once it joined. */
  static async start(source: Cluster, target: Cluster, database: string, migration: string): Promise<LabAgent> {
    const sourceUrl = `postgres://${source.user}:${encodeURIComponent(source.password ?? '')}@${source.host}:${source.port}/${database}`;
    const child = spawn(process.execPath, agentArgs('restart-lab', target), {
      env: { ...process.env, PGPASSWORD: target.password ?? '', PGFERRY_SOURCE_URLS: sourceUrl, PGPASSFILE: '/nonexistent' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const agent = new LabAgent(child, target, migration);
    await until('the agent to join', 60_000, async () => (/^agent restart-lab joined/m.test(agent.stderr) ? true : undefined), 50);
    return agent;
  }

  /** The pid of the runner the agent handed the lab's migration to last (undefined before any). */
  runnerPid(): number | undefined {
    const said = [...this.stderr.matchAll(new RegExp(`migration ${this.migration}: runner (\\d+) started`, 'g'))].at(-1);
    return said ? Number(said[1]) : undefined;
  }

  /** The spare runner the agent started after it last handed a job, once it said so. */
  async spare(): Promise<number> {
    return until(
      'the agent to start a spare runner',
      60_000,
      async () => {
        const spares = [...this.stderr.matchAll(/spare runner (\d+) started, waiting for a job/g)];
        const handed = [...this.stderr.matchAll(/migration \S+: runner \d+ started/g)].at(-1)?.index ?? -1;
        const last = spares.at(-1);
        return last && last.index > handed ? Number(last[1]) : undefined;
      },
      20,
    );
  }

  /**
   * Takes the migration's lease for the lab, waiting for it, while `stop` kills the runner holding
   * it: no agent can take the migration up until release().
   */
  async holdLease(stop: () => Promise<void>): Promise<void> {
    this.hold = await this.target.connect();
    const taken = this.hold.query('SELECT pg_advisory_lock($1::bigint)', [leaseKey(this.migration)]);
    await stop();
    await taken;
  }

  /** Makes the migration one of runtime agents (`agents`) or of a local runner again. */
  async runtime(runtime: 'agents' | 'local', spec: Record<string, unknown>): Promise<void> {
    await this.target.query(`UPDATE pgferry.migration SET runtime = $2, run_spec = $3 WHERE name = $1`, [
      this.migration,
      runtime,
      runtime === 'agents' ? JSON.stringify(runSpecOf(parseMigrationSpec(spec))) : null,
    ]);
  }

  /** Frees the lease the lab held; `notify`: and wakes the agents, as `pgferry resume` does for a migration of runtime agents. */
  async release(notify: boolean): Promise<void> {
    const hold = this.hold!;
    this.hold = undefined;
    await hold.query(
      notify ? 'SELECT pg_advisory_unlock($1::bigint), pg_notify($2, $3)' : 'SELECT pg_advisory_unlock($1::bigint)',
      notify ? [leaseKey(this.migration), REQUEST_CHANNEL, this.migration] : [leaseKey(this.migration)],
    );
    await hold.end();
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    await exited;
  }
}

// The agents' job queue: pg-boss (its own schema, pgferry_jobs, in the target's maintenance
// database). One queue per migration of runtime agents, so an agent works only the queues of
// migrations it holds the source's credentials for and never fetches another's job. A job says
// "start a runner for this migration": short, so pg-boss's expiry (no heartbeat in pg-boss 10)
// covers an agent that dies while starting one. The runner's lease (runner/lease.ts) stays what
// says who runs a migration, and the claim epoch of each copy item what may commit; the queue is
// the wake-up, the claim among agents (SKIP LOCKED), and the retry.
import type pg from 'pg';
import PgBoss from 'pg-boss';
import { closeSession, openSession } from '../connect/session';
import type { ServerSpec } from '../input/migrationSpec';

const JOB_SCHEMA = 'pgferry_jobs';
/** A job an agent died with (while starting a runner) is offered again after this. */
const START_EXPIRE_SECONDS = 30;
/** How often a worker looks for a job; pg-boss 10 polls (no LISTEN/NOTIFY), 0.5 s is its floor. */
const POLL_SECONDS = 0.5;
/** How often some agent (one at a time, pg-boss decides) expires jobs of dead workers. */
const MAINTENANCE_SECONDS = 5;
/** How long a stop waits for a job being worked to end before failing it (it is offered again). */
const STOP_WAIT_MS = 15_000;

/** The queue of one migration (migration names are letters, digits and hyphens). */
function queueName(migration: string): string {
  return `run-${migration}`;
}

/**
 * pg-boss's database adapter over one pgferry session (TLS, pinned settings), reopened after a
 * drop. pg-boss sends statements without parameters as one simple query (its locked plans).
 *
 * Statements run one after another: pg-boss sends some at once (a fetch beside its maintenance),
 * which one session would only queue, and a close that waits for the last one then waits for all.
 * pg-boss does not await a job's complete or fail statement, so a rejection there would end the
 * agent: once closed, the adapter drops a statement instead (it never settles, nothing is sent).
 * A job left so expires and is offered again, as when an agent dies while starting a runner.
 */
class SessionAdapter {
  private client: pg.Client | undefined;
  private opening: Promise<pg.Client> | undefined;
  /** The last statement sent, settled or not: the next one waits for it. */
  private last: Promise<unknown> = Promise.resolve();
  private closed = false;
  constructor(private readonly target: ServerSpec) {}

  private async session(): Promise<pg.Client> {
    if (this.client) return this.client;
    this.opening ??= openSession(this.target, { purpose: 'agent queue', writable: true }).then((client) => {
      client.on('error', () => {
        if (this.client === client) this.client = undefined;
      });
      this.client = client;
      this.opening = undefined;
      return client;
    });
    return this.opening.catch((error: unknown) => {
      this.opening = undefined;
      throw error;
    });
  }

  executeSql(text: string, values: unknown[]): Promise<{ rows: unknown[] }> {
    if (this.closed) return new Promise(() => undefined);
    const run = this.last.then(async () => {
      const client = await this.session();
      return client.query(text, values?.length ? values : undefined);
    });
    this.last = run.catch(() => undefined);
    return run;
  }

  /** Waits for the statements already sent, then ends the session; later ones are dropped. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.last;
    const client = this.client;
    this.client = undefined;
    await closeSession(client);
  }
}

export class AgentQueue {
  private readonly adapter: SessionAdapter;
  private readonly boss: PgBoss;
  private readonly served = new Map<string, string>();
  private stopped = false;

  constructor(target: ServerSpec, onError: (error: Error) => void) {
    this.adapter = new SessionAdapter(target);
    this.boss = new PgBoss({
      db: this.adapter,
      schema: JOB_SCHEMA,
      schedule: false,
      supervise: true,
      maintenanceIntervalSeconds: MAINTENANCE_SECONDS,
      monitorStateIntervalSeconds: 3600,
    });
    this.boss.on('error', onError);
  }

  async start(): Promise<void> {
    await this.boss.start();
  }

  /**
   * Offers the migration's start to every agent serving its queue. Stately: one job waiting and
   * one being worked per migration at most, so agents offering it at once add one job.
   */
  async offer(migration: string): Promise<void> {
    const queue = queueName(migration);
    await this.boss.createQueue(queue, {
      name: queue,
      policy: 'stately',
      retryLimit: 3,
      retryDelay: 1,
      expireInSeconds: START_EXPIRE_SECONDS,
    });
    await this.boss.send(queue, { migration }, { singletonKey: migration });
    const worker = this.served.get(migration);
    if (worker) this.boss.notifyWorker(worker);
  }

  /** Works the migration's queue from now on: `start` runs for each job this agent claims. */
  async serve(migration: string, start: () => Promise<void>): Promise<void> {
    if (this.served.has(migration)) return;
    const worker = await this.boss.work(queueName(migration), { pollingIntervalSeconds: POLL_SECONDS, batchSize: 1 }, async () => {
      // a job fetched while the queue stops is failed, to be offered again, not started here
      if (this.stopped) throw new Error('the agent is stopping');
      await start();
    });
    this.served.set(migration, worker);
  }

  /** Stops working the migration's queue (it finished, or this agent is full). */
  async unserve(migration: string): Promise<void> {
    if (!this.served.delete(migration)) return;
    await this.boss.offWork(queueName(migration));
  }

  serving(migration: string): boolean {
    return this.served.has(migration);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    // graceful: a job being worked ends first and is completed, so the session closes after its statement
    await this.boss.stop({ graceful: true, wait: true, close: false, timeout: STOP_WAIT_MS }).catch(() => undefined);
    await this.adapter.close();
  }
}

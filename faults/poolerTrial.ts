// A trial behind a real PgBouncer (issue 64, docs/pooler.md). In a share of the trials at a cutover
// phase, Debian's PgBouncer serves the source's two databases, the migration names it (`pooler`),
// and an application writes through it, one connection per database, into a table of its own
// while the migration runs and through the cutover. The fault is then the runner killed at one step
// of the cutover through the pooler (PGFERRY_FAILPOINTS, provider/engine/util/failpoints.ts, armed
// for the runner `create` starts only) instead of a proxy fault; the user resumes it as any dead
// runner. The judge: the pooler ends resumed, its file and its SHOW DATABASES agree on one server,
// and that server holds every write the application was told committed, exactly once, read back
// through the pooler too; the application saw no error.
import { promises as fs } from 'node:fs';
import { ident, literal } from '../provider/engine';
import type { Cluster } from '../test/support';
import { poolerInputOf, startPgBouncer, type PgBouncer } from '../test/support/pgbouncer';
import { PooledWriter } from '../test/support/pooledWriter';
import type { Rng } from './rng';

/**
 * The steps a pooler trial's runner is killed at in a cutover: after the PAUSE, the drain, the file
 * edit, the RELOAD, the RESUME, and the target's guard dropped inside the pause (its record not yet
 * undone). A seed drawn before the guard's step came may draw another step now; its other draws stay.
 */
const POOLER_STEPS = [
  'cutover-pooler-paused',
  'cutover-drained',
  'cutover-pooler-edited',
  'cutover-pooler-reloaded',
  'cutover-pooler-resumed',
  'cutover-guard-dropped',
] as const;
/** The same steps of a fall-back through the pooler: paused on the new server, its lines pointed back, reloaded, resumed on the old source. */
const FALLBACK_POOLER_STEPS = [
  'fallback-pooler-paused',
  'fallback-pooler-edited',
  'fallback-pooler-reloaded',
  'fallback-pooler-resumed',
] as const;
type PoolerStep = (typeof POOLER_STEPS)[number] | (typeof FALLBACK_POOLER_STEPS)[number];
const ALL_POOLER_STEPS: readonly string[] = [...POOLER_STEPS, ...FALLBACK_POOLER_STEPS];

/** The share of trials at a forward cutover phase run behind a pooler. */
export const POOLER_SHARE = 0.2;

/** The application's own table in each trial database, its rows judged here rather than by the source-to-target comparison. */
export const POOLED_TABLE = 'pooled_writes';

/** The application's role, the same password on both servers (roles travel without their passwords). */
const APP = { user: 'ft_pooled_app', password: 'ft-pooled-app-pw' };

/** How long the application must be seen writing again once the migration ended. */
const WRITES_AGAIN_MS = 30_000;

export interface PoolerDraw {
  readonly step: PoolerStep;
  /** The database whose step kills the runner. */
  readonly database: string;
}

/**
 * Whether a trial runs behind a pooler, and where its runner is killed: drawn from a fork of its
 * own (a seed keeps its other draws), `forced`: `never`, `always`, or a step of POOLER_STEPS or
 * FALLBACK_POOLER_STEPS. A trial at a fall-back phase (`fallBack`) is killed at a step of the
 * fall-back; it runs behind a pooler only when forced, so that seeds drawn before keep their trials.
 */
export function drawPooler(
  rng: Rng,
  databases: readonly string[],
  share: number,
  forced?: string,
  fallBack = false,
): PoolerDraw | undefined {
  const on = forced === undefined ? !fallBack && rng.chance(share) : forced !== 'never';
  const steps: readonly PoolerStep[] = fallBack ? FALLBACK_POOLER_STEPS : POOLER_STEPS;
  const step = rng.pick(steps);
  const database = rng.pick(databases);
  if (!on) return undefined;
  if (forced === undefined || forced === 'always') return { step, database };
  if (!ALL_POOLER_STEPS.includes(forced))
    throw new Error(`--pooler must be never, always or one of ${ALL_POOLER_STEPS.join(', ')}; got "${forced}"`);
  // a step of the other direction: this trial runs without a pooler
  return (steps as readonly string[]).includes(forced) ? { step: forced as PoolerStep, database } : undefined;
}

/** Whether `value` names a step a pooler trial's runner can be killed at. */
export function isPoolerStep(value: string): boolean {
  return ALL_POOLER_STEPS.includes(value);
}

export class TrialPooler {
  private writers = new Map<string, PooledWriter>();

  private constructor(
    readonly draw: PoolerDraw,
    private readonly bouncer: PgBouncer,
    private readonly clusters: { readonly source: Cluster; readonly target: Cluster },
    private readonly sourcePort: number,
    private readonly databases: readonly string[],
  ) {}

  /** The application's role and table, and a PgBouncer serving the databases from `sourcePort` (the source's proxy: the migration's source). */
  static async start(
    draw: PoolerDraw,
    clusters: { readonly source: Cluster; readonly target: Cluster },
    sourcePort: number,
    databases: readonly string[],
  ): Promise<TrialPooler> {
    const role = ident(APP.user);
    for (const c of [clusters.source, clusters.target]) {
      const exists = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [APP.user]);
      if (exists.length === 0) await c.query(`CREATE ROLE ${role} LOGIN`);
      await c.query(`ALTER ROLE ${role} PASSWORD ${literal(APP.password)}`);
    }
    for (const db of databases) {
      await clusters.source.query(
        `CREATE TABLE ${ident(POOLED_TABLE)} (n int PRIMARY KEY, at_port int NOT NULL); GRANT SELECT, INSERT ON ${ident(POOLED_TABLE)} TO ${role}`,
        [],
        db,
      );
    }
    const bouncer = await startPgBouncer({
      databases: Object.fromEntries(databases.map((db) => [db, { host: '127.0.0.1', port: sourcePort }])),
      users: { [APP.user]: APP.password },
    });
    return new TrialPooler(draw, bouncer, clusters, sourcePort, databases);
  }

  /** The migration's `pooler`: the target as the pooler reaches it directly, not through the target's proxy. */
  input(): Record<string, unknown> {
    return { ...poolerInputOf(this.bouncer), targetHost: '127.0.0.1', targetPort: this.clusters.target.port };
  }

  /** The failpoint the runner `create` starts is armed with. */
  failpoints(): string {
    return `${this.draw.step}:${this.draw.database}`;
  }

  /** The application starts writing through the pooler, one connection per database. */
  async startWriting(): Promise<void> {
    for (const db of this.databases) {
      const w = new PooledWriter(await this.bouncer.connect(db, APP.user, APP.password), 1, POOLED_TABLE);
      this.writers.set(db, w);
    }
  }

  /**
   * The judge, once the migration ended: each database's writer goes on writing (not held by a
   * pause left behind), the pooler is not paused and serves the server its file names, and that
   * server holds every committed write once, also read back through a new session of the pooler.
   * Each problem is a reason of the trial.
   */
  async judge(reasons: string[]): Promise<void> {
    for (const [db, w] of this.writers) {
      await w
        .more(5, WRITES_AGAIN_MS)
        .catch((error: Error) => reasons.push(`pooler: ${db}: the application did not write again: ${error.message}`));
      await w.stop();
      for (const e of w.errors) reasons.push(`pooler: ${db}: the application saw an error: ${e}`);
    }
    const served = await this.bouncer.admin<{ name: string; port: number | string; paused: number | string }>('SHOW DATABASES');
    const file = await fs.readFile(this.bouncer.configFile, 'utf8');
    for (const [db, w] of this.writers) {
      const row = served.find((r) => r.name === db);
      const filed = new RegExp(`^${db} = .*\\bport=(\\d+)`, 'm').exec(file)?.[1];
      if (!row) {
        reasons.push(`pooler: ${db}: the pooler no longer serves it`);
        continue;
      }
      if (Number(row.paused) !== 0) reasons.push(`pooler: ${db}: left paused`);
      if (Number(filed) !== Number(row.port))
        reasons.push(`pooler: ${db}: its file says port ${filed}, it serves port ${row.port} (not reloaded)`);
      const server =
        Number(row.port) === this.sourcePort
          ? this.clusters.source
          : Number(row.port) === this.clusters.target.port
            ? this.clusters.target
            : undefined;
      if (!server) {
        reasons.push(`pooler: ${db}: serves port ${row.port}, neither the source nor the target`);
        continue;
      }
      const on = (await server.query<{ n: number }>(`SELECT n FROM ${ident(POOLED_TABLE)} ORDER BY n`, [], db)).map((r) => r.n);
      const missing = difference(w.sorted(), on);
      const extra = difference(on, w.sorted());
      const where = server === this.clusters.source ? 'the source' : 'the target';
      if (missing.length + extra.length > 0)
        reasons.push(
          `pooler: ${db}: ${where}, which it serves, lacks ${missing.length} committed write(s) (${missing.slice(0, 5).join(', ')}) and has ${extra.length} not committed (${extra.slice(0, 5).join(', ')})`,
        );
      const read = await this.bouncer.connect(db, APP.user, APP.password);
      try {
        const through = (await read.query<{ c: string }>(`SELECT count(*) AS c FROM ${ident(POOLED_TABLE)}`)).rows[0]!.c;
        if (Number(through) !== w.committed.length)
          reasons.push(`pooler: ${db}: read through it: ${through} writes, ${w.committed.length} committed`);
      } finally {
        await read.end();
      }
    }
  }

  async stop(): Promise<void> {
    for (const w of this.writers.values()) await w.stop();
    await this.bouncer.stop();
  }
}

function difference(a: readonly number[], b: readonly number[]): number[] {
  const in_b = new Set(b);
  return a.filter((n) => !in_b.has(n));
}

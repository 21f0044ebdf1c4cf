// Polling for a condition in tests, with a deadline that names what was awaited.
import assert from 'node:assert/strict';
import { cancelMigration, fallBackSettled, get, requestCutover, showMigration, type MigrationSpec } from '../../provider/engine';
import { runningClusters } from '../../provider/localpg/cluster';
import type { CatalogConnection } from '../../provider/engine/control/connection';
import { isFinalState, type MigrationStatus } from '../../provider/engine/core/model';
import { events as catalogEvents, get as catalogStatus } from '../../provider/engine/control/store';

/**
 * Calls `probe` until it returns a value (not undefined), or fails after `timeoutMs` saying what
 * the probe last threw and where the migrations of this process's servers stand. A probe that reads
 * the catalog while DDL runs can fail for a moment on what the DDL changes under it (see
 * catalogReadRaced): that is tried again, as pgferry's own readers do, never a test's failure.
 * `what` may be a function, called at the timeout, so that the message says what the probe saw last.
 */
export async function until<T>(
  what: string | (() => string),
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
  intervalMs = 200,
): Promise<T> {
  const deadline = Math.min(Date.now() + timeoutMs, testDeadline());
  let raced: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      if (!catalogReadRaced(error)) throw error;
      raced = error;
    }
    if (Date.now() > deadline) {
      const lastError = raced === undefined ? '' : `; the probe last failed with: ${(raced as Error).message}`;
      const awaited = typeof what === 'string' ? what : what();
      throw new Error(`${timedOut(timeoutMs)} waiting for ${awaited}${lastError}${await migrationsSeen()}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Errors a catalog read gets when a concurrent DDL changes or drops what it reads between the
 * snapshot and the syscache lookup: "cache lookup failed for ...", "could not open relation with
 * OID ...", a deadlock with the DDL's locks, or a relation (a regclass literal) gone for a moment
 * while a table is dropped and created again.
 */
function catalogReadRaced(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  if (e?.code === '40P01' || e?.code === '40001' || e?.code === '42P01') return true;
  return e?.code === 'XX000' && /cache lookup failed|could not open relation with OID/.test(e.message ?? '');
}

/**
 * When the running test's own timeout fires, less a margin: a wait ends by then with what it saw,
 * so a test slowed down by a loaded machine fails saying where it stood instead of by mocha's bare
 * "Timeout of ... exceeded", after which the body goes on unseen.
 */
let currentTestEnds = Number.POSITIVE_INFINITY;

let margin = 0;

/** Called by the root hooks as each test starts: its timeout from now (none when it has none). */
export function testStarted(timeoutMs: number): void {
  currentTestEnds = timeoutMs > 0 ? Date.now() + timeoutMs : Number.POSITIVE_INFINITY;
  margin = Math.min(10_000, timeoutMs / 10);
}

/** Called as each test ends: the hooks between tests wait by their own budgets alone. */
export function testEnded(): void {
  currentTestEnds = Number.POSITIVE_INFINITY;
}

function testDeadline(): number {
  return currentTestEnds - margin;
}

/** What a test killed by mocha's own timeout left: printed, as the body's waits could not say it. */
export async function afterTimeout(): Promise<string> {
  return `the test timed out; migrations seen then:${(await migrationsSeen()).replace(/^; migrations seen:/, '') || ' none'}`;
}

/** How a wait that gave up says so: its own budget, or the test's that ran out first. */
function timedOut(timeoutMs: number): string {
  return Date.now() >= testDeadline()
    ? `the test's own timeout nearly up (a wait of ${timeoutMs / 1000} s)`
    : `timed out after ${timeoutMs / 1000} s`;
}

/** How each migration in the catalogs of this process's servers stands, with its last events. */
async function migrationsSeen(): Promise<string> {
  const lines: string[] = [];
  for (const cluster of runningClusters()) {
    const rows = await cluster
      .query<{ name: string; state: string; sub_state: string; message: string | null; events: string[] | null }>(
        `SELECT m.name, m.state, m.sub_state, m.message,
                (SELECT array_agg(e.level || ': ' || left(e.message, 300) ORDER BY e.id)
                   FROM (SELECT * FROM pgferry.event WHERE migration = m.name ORDER BY id DESC LIMIT 10) e) AS events
           FROM pgferry.migration m ORDER BY m.updated_at DESC LIMIT 5`,
      )
      .catch(() => []);
    for (const m of rows) {
      lines.push(`\n  migration "${m.name}" on port ${cluster.port}: ${m.state}/${m.sub_state}: ${m.message ?? ''}`);
      lines.push(...(m.events ?? []).map((e) => `\n    ${e}`));
    }
  }
  return lines.length === 0 ? '' : `; migrations seen:${lines.join('')}`;
}

/** Waits until the online migration `name` waits for its cutover trigger, and fails naming where it ended if it ended before. */
export async function waitingForCutover(store: CatalogConnection, name: string): Promise<MigrationStatus> {
  const status = await waitForStatus(store, name, (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state));
  assert.equal(status.subState, 'WaitingForCutoverTrigger', status.message);
  return status;
}

/** Reads a migration's status through `store` until `done` holds (the migration may not exist yet). */
export async function waitForStatus(
  store: CatalogConnection,
  name: string,
  done: (status: MigrationStatus) => boolean,
  timeoutMs = 180_000,
): Promise<MigrationStatus> {
  const deadline = Math.min(Date.now() + timeoutMs, testDeadline());
  for (;;) {
    const status = await get(store, name);
    if (status && done(status)) return status;
    if (Date.now() > deadline) {
      // the migration's last events say where it stopped (a run that hangs under load is not replayed easily)
      const events = await catalogEvents(store, name, 15).catch(() => []);
      const told = events
        .reverse()
        .map((e) => `\n  ${e.level}: ${e.message.slice(0, 300)}`)
        .join('');
      // whether its runner still lived, and had the cutover asked of it: a wait that outlasts a dead
      // runner and one that outlasts a live runner are different failures
      const runner = status?.runner
        ? `runner ${status.runner.pid} ${status.runner.alive ? 'alive' : 'not alive'} (heartbeat ${status.runner.heartbeatAt})`
        : 'no runner recorded';
      throw new Error(
        `${timedOut(timeoutMs)} waiting for migration "${name}" (${done.toString()}); last state ${status?.state}/${status?.subState}: ${status?.message}; ${runner}; cutover requested: ${status?.cutoverRequested ?? false}; its last events:${told}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Whether a process (a runner) still exists: signal 0 checks without signalling. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** After a test: a migration it left running is canceled, so the suite leaves nothing behind. */
export async function endIfRunning(
  spec: { target: Parameters<typeof showMigration>[0]; migrationName: string },
  running: Promise<unknown>,
): Promise<void> {
  const status = await showMigration(spec.target, spec.migrationName).catch(() => undefined);
  if (status && !isFinalState(status.state)) await cancelMigration(spec.target, spec.migrationName).catch(() => undefined);
  await running.catch(() => undefined);
}

/**
 * Requests the cutover and waits for its end: the migration's final status, or the status of a
 * cutover that stopped (and streams on), said at once rather than by a test's timeout. `stopped`:
 * the status of an earlier cutover that stopped, whose message is not this one's end.
 */
export async function cutoverEnd(
  store: CatalogConnection,
  spec: Pick<MigrationSpec, 'target' | 'migrationName'>,
  running: Promise<MigrationStatus>,
  stopped?: MigrationStatus,
): Promise<MigrationStatus> {
  await requestCutover(spec.target, spec.migrationName);
  const status = await waitForStatus(
    store,
    spec.migrationName,
    (s) => isFinalState(s.state) || (/^cutover stopped/.test(s.message ?? '') && s.message !== stopped?.message),
    180_000,
  );
  return isFinalState(status.state) ? running : status;
}

/** Waits until the fall-back asked of `name` settles (fell back, or stopped with its stream going on) and returns the catalog's status then. */
export async function fallBackSettles(store: CatalogConnection, name: string, timeoutMs = 300_000): Promise<MigrationStatus> {
  return until(
    'the fall-back settles',
    async () => {
      const s = await catalogStatus(store, name);
      return s && fallBackSettled(s) ? s : undefined;
    },
    timeoutMs,
  );
}

/** SIGKILLs the runner of `name` (read from the catalog) and waits until the catalog sees it dead. */
export async function killRunner(store: CatalogConnection, name: string): Promise<void> {
  const running = await catalogStatus(store, name);
  process.kill(running!.runner!.pid, 'SIGKILL');
  await until('the runner is dead', async () => ((await catalogStatus(store, name))?.runner?.alive === false ? true : undefined));
}

/** Waits until the runner of `name` has exited, its work done (the window closed, the fall-back taken). */
export async function runnerExits(store: CatalogConnection, name: string, timeoutMs = 60_000): Promise<void> {
  await until('the runner exits', async () => ((await catalogStatus(store, name))?.runner?.alive === false ? true : undefined), timeoutMs);
}

// A hold point armed for what this process starts (provider/engine/util/failpoints.ts), and where a
// test reads that it holds: a detached runner inherits the environment at its start, an applier in
// this process reads it when it gets there, so the variables are set only around the start.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startMigration } from '../../provider/engine';
import type { MigrationSpec } from '../../provider/engine/input/migrationSpec';
import { SUCCESSOR_FAILPOINTS } from '../../provider/engine/runner/spawn';
import { holdFile } from '../../provider/engine/util/failpoints';

/**
 * Runs `start` with `point` (or each of several) armed as a hold point writing its file into
 * `holdDir`, disarmed after; `successor`: the points armed for the successor of a runner it starts
 * (which does not inherit the runner's).
 */
export async function withHoldArmed<T>(
  point: string | readonly string[],
  holdDir: string,
  start: () => Promise<T>,
  successor: readonly string[] = [],
): Promise<T> {
  const held = (points: readonly string[]) => points.map((p) => `${p}:hold`).join(',');
  process.env.PGFERRY_FAILPOINTS = held(typeof point === 'string' ? [point] : point);
  if (successor.length > 0) process.env[SUCCESSOR_FAILPOINTS] = held(successor);
  process.env.PGFERRY_HOLD_DIR = holdDir;
  try {
    return await start();
  } finally {
    delete process.env.PGFERRY_FAILPOINTS;
    delete process.env[SUCCESSOR_FAILPOINTS];
    delete process.env.PGFERRY_HOLD_DIR;
  }
}

export async function startHeldAt(spec: MigrationSpec, point: string, holdDir: string): Promise<void> {
  await withHoldArmed(point, holdDir, () => startMigration(spec));
}

/** The file a process armed by withHoldArmed writes while it holds at `point`; removing it lets the process go on. */
export function heldFile(point: string, holdDir: string): string {
  return path.join(holdDir, path.basename(holdFile(point)));
}

/** Whether a process armed by withHoldArmed holds at `point` now. */
export function isHeld(point: string, holdDir: string): Promise<boolean> {
  return fs.access(heldFile(point, holdDir)).then(
    () => true,
    () => false,
  );
}

/** A hold point armed in this process for one test: see holdsInThisProcess. */
export interface HoldsInThisProcess {
  /** Arms `point` as a hold point in a folder of its own, and returns that folder. */
  arm(point: string): Promise<string>;
}

/**
 * For a suite whose hold point is reached by code this process runs (an applier, the schema watch,
 * the supervisor of runMigration), which reads the variables when it gets there, so they stay set
 * for the whole test: after each test, disarmed and the folder removed. Call it in the describe
 * before any hook that should run after it (mocha runs afterEach hooks in the order they are made).
 */
export function holdsInThisProcess(): HoldsInThisProcess {
  let holdDir: string | undefined;
  afterEach(async () => {
    delete process.env.PGFERRY_FAILPOINTS;
    delete process.env.PGFERRY_HOLD_DIR;
    if (holdDir) await fs.rm(holdDir, { recursive: true, force: true });
    holdDir = undefined;
  });
  return {
    async arm(point: string): Promise<string> {
      holdDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pgferry-hold-'));
      process.env.PGFERRY_FAILPOINTS = `${point}:hold`;
      process.env.PGFERRY_HOLD_DIR = holdDir;
      return holdDir;
    },
  };
}

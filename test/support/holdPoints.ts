// Starts a migration's detached runner with one hold point armed (provider/engine/util/failpoints.ts):
// the runner inherits the environment at its start, so the variables are set only around it.
import { startMigration } from '../../provider/engine';
import type { MigrationSpec } from '../../provider/engine/input/migrationSpec';

export async function startHeldAt(spec: MigrationSpec, point: string, holdDir: string): Promise<void> {
  process.env.PGFERRY_FAILPOINTS = `${point}:hold`;
  process.env.PGFERRY_HOLD_DIR = holdDir;
  try {
    await startMigration(spec);
  } finally {
    delete process.env.PGFERRY_FAILPOINTS;
    delete process.env.PGFERRY_HOLD_DIR;
  }
}

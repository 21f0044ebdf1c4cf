// A user's resume after a runner lost its lease. That runner started its successor
// (runner/successor.ts), which may hold the lease before the resume asks for it: the resume is then
// refused as for any live runner, and the migration goes on all the same.
import { isPgferryError, resumeMigration } from '../../provider/engine';
import type { MigrationSpec } from '../../provider/engine/input/migrationSpec';

/**
 * Resumes the migration as `pgferry resume` does: `resumed` when this call started its runner,
 * `running` when a runner held the lease already (refused with RUNNER_ALREADY_RUNNING, which the
 * Pulumi resource's resume takes as resumed, provider/resource/drive.ts).
 */
export async function resumeUnlessRunning(spec: MigrationSpec): Promise<'resumed' | 'running'> {
  try {
    await resumeMigration(spec);
    return 'resumed';
  } catch (error) {
    if (isPgferryError(error) && error.code === 'RUNNER_ALREADY_RUNNING') return 'running';
    throw error;
  }
}

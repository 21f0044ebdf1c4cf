// Starts the detached runner process (being built).
import type { MigrationSpec } from '../spec/schema';

export async function spawnRunner(spec: MigrationSpec, reason: 'create' | 'resume'): Promise<void> {
  void spec;
  void reason;
  throw new Error('spawnRunner: not implemented yet');
}

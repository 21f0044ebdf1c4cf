// The whole migration on one screen: one call per step (being built).
import type { RunOptions } from './api';
import type { MigrationStatus } from './model';
import type { MigrationSpec } from './spec/schema';

export async function orchestrate(spec: MigrationSpec, options: RunOptions): Promise<MigrationStatus> {
  void spec;
  void options;
  throw new Error('orchestrate: not implemented yet');
}

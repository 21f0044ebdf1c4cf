// Verification: row counts and content checksums, source vs target (being built).
import type { ProgressListener, VerificationReport } from '../model';
import type { MigrationSpec } from '../spec/schema';

export async function verifyDatabases(
  spec: MigrationSpec,
  options: { signal?: AbortSignal; onProgress?: ProgressListener },
): Promise<VerificationReport> {
  void spec;
  void options;
  throw new Error('verify: not implemented yet');
}

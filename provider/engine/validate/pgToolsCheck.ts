// pg_dump / pg_restore / pg_dumpall on this machine, of a major version ≥ the source's.
import { errorMessage, isPgferryError } from '../core/errors';
import type { ValidationResult } from '../core/model';
import { resolvePgTools } from '../schema/pgTools';
import type { MigrationSpec } from '../input/migrationSpec';
import { CODES } from './codes';
import { CHECK_TYPES, failed, succeeded } from './result';

export async function checkPgTools(spec: MigrationSpec, sourceMajor: number): Promise<ValidationResult> {
  const type = CHECK_TYPES.tools;
  try {
    const tools = await resolvePgTools(spec, sourceMajor);
    return succeeded(CODES.PG_TOOLS, type, `pg_dump ${tools.version} (major ${tools.major}) in ${tools.binDir}`);
  } catch (error) {
    if (isPgferryError(error)) return failed(error.code, type, error.message, error.fix ?? 'set pgBinDir');
    return failed(
      CODES.PG_TOOLS_MISSING,
      type,
      `cannot run the PostgreSQL client tools: ${errorMessage(error)}`,
      'set pgBinDir to the directory with pg_dump, pg_restore and pg_dumpall',
    );
  }
}

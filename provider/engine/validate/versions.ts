// Source and target major versions: the source must be supported, and the target not older.
import type { ValidationResult } from '../core/model';
import { CODES } from './codes';
import { CHECK_TYPES, failed, succeeded } from './result';
import type { ServerInfo } from './readOnlySessions';

/** Oldest source pgferry supports: pgoutput with the publication features the CDC engine uses. */
const MIN_SOURCE_MAJOR = 11;

export function checkVersions(source: ServerInfo, target: ServerInfo): ValidationResult[] {
  const type = CHECK_TYPES.version;
  const results: ValidationResult[] = [];
  if (source.major < MIN_SOURCE_MAJOR) {
    results.push(
      failed(
        CODES.SOURCE_VERSION_UNSUPPORTED,
        type,
        `the source runs PostgreSQL ${source.version}; pgferry needs ${MIN_SOURCE_MAJOR} or newer`,
        `upgrade the source to PostgreSQL ${MIN_SOURCE_MAJOR} or newer (pg_upgrade), then migrate`,
        { server: 'source' },
      ),
    );
  }
  if (target.major < source.major) {
    results.push(
      failed(
        CODES.TARGET_VERSION_OLDER,
        type,
        `the target runs PostgreSQL ${target.version}, older than the source's ${source.version}: downgrades are not supported`,
        `use a target server of PostgreSQL ${source.major} or newer`,
        { server: 'target' },
      ),
    );
  }
  if (results.length === 0) {
    results.push(succeeded(CODES.SERVER_VERSION, type, `source PostgreSQL ${source.version} → target PostgreSQL ${target.version}`));
  }
  return results;
}

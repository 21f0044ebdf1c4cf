// Which control catalog this build knows, and the refusal of a newer one: a catalog upgraded by a
// newer pgferry may hold states, columns or rules an older one would misread or break, so an older
// pgferry neither reads nor writes it, and says which versions met and what to do.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PgferryError } from '../core/errors';
import { CONTROL_SCHEMA } from '../core/names';
import { CONTROL_SCHEMA_VERSION } from './schemaVersions';

/** This pgferry's version: the package.json above the code (dist/provider/engine/control/, or the sources). */
export const PGFERRY_VERSION = packageVersion(__dirname);

function packageVersion(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'pgferry' && pkg.version) return pkg.version;
    } catch {
      // no package.json here: look further up
    }
    if (path.dirname(dir) === dir) return 'unknown';
  }
}

/**
 * Throws CONTROL_CATALOG_NEWER when the catalog's highest recorded version (`found`, undefined for
 * a catalog not installed yet) is past what this build knows; `where` names the database.
 */
export function checkCatalogVersion(found: number | undefined, where: string): void {
  if (found === undefined || found <= CONTROL_SCHEMA_VERSION) return;
  throw new PgferryError(
    'CONTROL_CATALOG_NEWER',
    `the control catalog (schema ${CONTROL_SCHEMA} in ${where} on the target) is at version ${found}, and this pgferry ` +
      `${PGFERRY_VERSION} knows versions up to ${CONTROL_SCHEMA_VERSION}: a newer pgferry has used this target; nothing was changed`,
  );
}

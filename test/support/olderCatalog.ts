// The control catalog as an older pgferry left it: its schema, its version table and the
// migrations up to a version, for tests that upgrade it or read what it recorded.
import { CONTROL_MIGRATIONS } from '../../provider/engine/control/schemaVersions';

/** The statements that make the catalog of a pgferry that knew the migrations up to `upTo`. */
export function olderCatalogSql(upTo: number): string {
  const older = CONTROL_MIGRATIONS.filter((m) => m.version <= upTo);
  return `CREATE SCHEMA pgferry;
     CREATE TABLE pgferry.schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());
     ${older.map((m) => m.sql).join('\n')}
     INSERT INTO pgferry.schema_version (version) VALUES ${older.map((m) => `(${m.version})`).join(', ')};`;
}

// The lab's own database: AdventureWorks' 68 tables in humanresources, person, production,
// purchasing and sales, with generated rows. One SQL script, the single source of truth that both
// `pgferry demo` and the lab's source VM (lab-stack/cloudInit.ts) load; and the readiness query
// that checks what the Azure lab counts (68 tables, the 16 departments). Run this file with node to
// print the script: `node dist/provider/demo/adventureworks/script.js | psql -d adventureworks`.
import { ADVENTUREWORKS_DEPARTMENTS, ADVENTUREWORKS_ROWS_SQL } from './data';
import { ADVENTUREWORKS_FOREIGN_KEY_COUNT, ADVENTUREWORKS_KEYS_SQL } from './keys';
import { ADVENTUREWORKS_SCHEMAS, ADVENTUREWORKS_TABLES_SQL } from './schema';

export { ADVENTUREWORKS_DEPARTMENTS, ADVENTUREWORKS_FOREIGN_KEY_COUNT, ADVENTUREWORKS_SCHEMAS };

/** The database name the demo and the lab VM give the sample (the tutorial's is "Adventureworks"). */
export const ADVENTUREWORKS_DATABASE = 'adventureworks';

/** Tables the Azure lab's offline migration reports as copied. */
export const ADVENTUREWORKS_TABLE_COUNT = 68;

/**
 * The whole sample as one script for an empty database: tables, rows, then keys, indexes, views and
 * sequences, in one transaction so a failed load leaves nothing half-made. Plain SQL, no psql
 * meta-commands: node-postgres runs it as one simple query and `psql -f` runs it as well.
 */
export const ADVENTUREWORKS_SQL = [
  '-- AdventureWorks sample for the pgferry lab (generated rows; schema after lorint/AdventureWorks-for-Postgres).',
  'BEGIN;',
  "SET LOCAL client_min_messages = 'warning';",
  ADVENTUREWORKS_TABLES_SQL,
  ADVENTUREWORKS_ROWS_SQL,
  ADVENTUREWORKS_KEYS_SQL,
  'COMMIT;',
  '',
].join('\n');

/**
 * One row, one column (`ready`): `tables=<n> departments=<m>`, where n counts the ordinary and partitioned
 * tables in the five schemas and m the departments 1-16 (so the lab's row 17 changes nothing).
 */
export const ADVENTUREWORKS_READINESS_SQL = `SELECT format('tables=%s departments=%s',
  (SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND n.nspname IN (${ADVENTUREWORKS_SCHEMAS.map((s) => `'${s}'`).join(', ')})),
  (SELECT count(*) FROM humanresources.department WHERE departmentid BETWEEN 1 AND ${ADVENTUREWORKS_DEPARTMENTS.length})) AS ready;
`;

/** The answer of ADVENTUREWORKS_READINESS_SQL on a database the sample (or the real AdventureWorks) is loaded in. */
export const ADVENTUREWORKS_READY_ANSWER = `tables=${ADVENTUREWORKS_TABLE_COUNT} departments=${ADVENTUREWORKS_DEPARTMENTS.length}`;

if (require.main === module) process.stdout.write(ADVENTUREWORKS_SQL);

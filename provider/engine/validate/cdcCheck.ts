// Online migrations: one CdcTableReport result per table, Failed when it has no usable replica
// identity (as PostgreSQL judges it: its UPDATEs would fail on the source once published, and
// could not be applied on the target) unless REPLICA IDENTITY FULL is allowed.
import { displayName } from '../connect/quote';
import type { ValidationResult, ValidationStatus } from '../core/model';
import type { MigrationSpec } from '../input/migrationSpec';
import { CODES } from './codes';
import type { CdcTable } from './cdcReport';
import { CHECK_TYPES, failed, succeeded, warning } from './result';
import { listSome } from '../util/listSome';

interface Issue {
  readonly status: ValidationStatus;
  readonly code: string;
  readonly text: string;
  readonly fix: string;
}

const RANK: Record<ValidationStatus, number> = { Succeeded: 0, Warning: 1, Failed: 2 };

function displayTable(t: CdcTable): string {
  return displayName(t.schema, t.name);
}

function describe(t: CdcTable): string {
  const parts = [`replica identity ${t.replicaIdentity}${t.identityIndex ? ` (${t.identityIndex})` : ''}`];
  if (t.partitioned) parts.push(`${t.partitions.length} partition(s)`);
  if (t.generatedColumns.length) parts.push(`generated: ${listSome(t.generatedColumns)}`);
  if (t.toastableColumns.length) parts.push(`TOAST-able: ${listSome(t.toastableColumns)}`);
  if (t.largeObjectColumns.length) parts.push(`large objects: ${listSome(t.largeObjectColumns)}`);
  if (t.unlogged) parts.push('unlogged');
  return parts.join('; ');
}

/** Pure: the per-table results of an online migration. */
export function checkCdcTables(
  tables: readonly CdcTable[],
  database: string,
  spec: Pick<MigrationSpec, 'allowReplicaIdentityFull'>,
): ValidationResult[] {
  const scope = { database };
  return tables.flatMap((t) => [tableResult(t, spec, scope), ...unstableMatch(t, spec, scope)]);
}

/**
 * A table matched on the target by its whole old row (REPLICA IDENTITY FULL, no usable unique
 * index) with a column no comparison is reliable for: its own result, so that its code is seen
 * beside the table's replica identity warning.
 */
function unstableMatch(
  t: CdcTable,
  spec: Pick<MigrationSpec, 'allowReplicaIdentityFull'>,
  scope: { database: string },
): ValidationResult[] {
  if (t.unstableMatchColumns.length === 0 || (t.replicaIdentity !== 'full' && !spec.allowReplicaIdentityFull)) return [];
  const name = displayTable(t);
  return [
    warning(
      CODES.ROW_MATCH_UNSTABLE_COLUMN,
      CHECK_TYPES.cdcTable,
      `table ${name}: its updates and deletes are matched on the target by the whole old row, and columns ${listSome(t.unstableMatchColumns)} ` +
        'have a type with no equality operator whose text form comes from a VOLATILE input or output function, so they are compared by a text ' +
        'that may differ from one reading to the next: when it does, no row matches and streaming stops (CDC_TARGET_DIVERGED) rather than changing another row',
      `add a primary key that is not DEFERRABLE on the source (ALTER TABLE ${name} ADD PRIMARY KEY (…)), or give the column's type a default btree or hash operator class, or leave the table unchanged until cutover`,
      scope,
    ),
  ];
}

function tableResult(t: CdcTable, spec: Pick<MigrationSpec, 'allowReplicaIdentityFull'>, scope: { database: string }): ValidationResult {
  const type = CHECK_TYPES.cdcTable;
  const name = displayTable(t);
  const issues: Issue[] = [];
  if (t.withoutIdentity.length > 0) {
    // as PostgreSQL judges it: a DEFERRABLE or otherwise unusable key does not count
    const which = t.partitioned
      ? `partitions ${listSome(t.withoutIdentity.map((p, i) => `${p} (${t.identityFlaws[i]})`))} have no usable primary key or replica identity index`
      : `it has no usable primary key or replica identity index (${t.identityFlaws.join('; ')})`;
    issues.push(
      spec.allowReplicaIdentityFull
        ? {
            status: 'Warning',
            code: CODES.NO_REPLICA_IDENTITY,
            text: `${which}: it will get REPLICA IDENTITY FULL on the source and the target while the migration streams, set back at cutover (updates and deletes then match on every column, which is slower)`,
            fix: `add a primary key that is not DEFERRABLE on the source (ALTER TABLE ${name} ADD PRIMARY KEY (…)) to avoid REPLICA IDENTITY FULL`,
          }
        : {
            status: 'Failed',
            code: CODES.NO_REPLICA_IDENTITY,
            text: `${which}, so once published its updates and deletes would fail on the source, and they cannot be applied on the target`,
            fix: `on the source add a primary key that is not DEFERRABLE (ALTER TABLE ${name} ADD PRIMARY KEY (…)) or a unique index on NOT NULL columns with REPLICA IDENTITY USING INDEX, or set allowReplicaIdentityFull: true in the spec (CLI --allow-replica-identity-full) to give it REPLICA IDENTITY FULL`,
          },
    );
  }
  if (t.unlogged) {
    issues.push({
      status: 'Warning',
      code: CODES.UNLOGGED_TABLE,
      text: 'it is unlogged: logical decoding does not see its changes, so only the initial copy reaches the target',
      fix: `on the source: ALTER TABLE ${name} SET LOGGED, or keep it unchanged until cutover`,
    });
  }
  if (t.largeObjectColumns.length) {
    issues.push({
      status: 'Warning',
      code: CODES.LARGE_OBJECT_COLUMN,
      text: `columns ${listSome(t.largeObjectColumns)} reference large objects, whose contents CDC does not carry`,
      fix: 'do not create or change large objects between the start of the migration and the cutover (the initial copy moves them)',
    });
  }
  const details = describe(t);
  if (issues.length === 0) return succeeded(CODES.CDC_TABLE, type, `table ${name}: ${details}`, scope);
  const worst = issues.reduce((a, b) => (RANK[b.status] > RANK[a.status] ? b : a));
  const message = `table ${name}: ${issues.map((i) => i.text).join('; ')} (${details})`;
  const fix = issues.map((i) => i.fix).join('; ');
  return worst.status === 'Failed' ? failed(worst.code, type, message, fix, scope) : warning(worst.code, type, message, fix, scope);
}

// The stops of the shape follow (shapeFollower.ts): a change of shape on the source that the
// target cannot follow, or the target's own column in the way, stops the stream exactly before the
// source transaction that carries it, with the fix the user makes on the target before resuming.
import { displayIdent, displayName, ident, qualified } from '../../connect/quote';
import type { QualifiedName } from '../../core/names';
import { causeOf, PgferryError } from '../../core/errors';
import { sourceTableWords, targetTableWords, type StreamWords } from '../../core/streamWords';

class SchemaChangeError extends PgferryError {
  /**
   * The source table (as SQL names it) whose types the fix needs on the target: a column retyped
   * to a type of the database's own, which the schema watch makes there at its next look.
   */
  typesOf?: StopTable;
}

/** A stop's table: as its message prints it, and quoted as SQL (its field, and what a catalog read takes). */
export interface StopTable {
  readonly printed: string;
  readonly field: string;
}

/** The source table whose types a stop's fix needs on the target (stopWith's `typesOf`); undefined for any other failure. */
export function typesAwaitedBy(error: unknown): StopTable | undefined {
  return causeOf(error, SchemaChangeError)?.typesOf;
}

/** The source transaction the apply is in: its final position (its BEGIN's), and whether earlier ones share its target batch. */
export interface CurrentTransaction {
  readonly finalLsn: bigint;
  readonly afterOthers: boolean;
}

/**
 * Not a failure: the session is started again at once, committing its batch before the source
 * transaction that ends at `finalLsn` (ApplyState.commitBefore), so that the stop that comes next
 * stops exactly before it.
 */
export class SettleBeforeStop extends Error {
  constructor(readonly finalLsn: bigint) {
    super('a change of shape: the transactions before it are committed first');
  }
}

/**
 * A stop on a change of shape must leave the applied position exactly before the transaction
 * that carries it: the user then makes the same change on the target and resumes, and the
 * stream goes on with that transaction. When earlier source transactions share the open target
 * batch, stopping now would roll them back too, and they would come again, in the old shape,
 * after the user's change. So the session starts again (SettleBeforeStop) and commits the batch
 * before this transaction; the stop then comes with nothing before it uncommitted.
 */
function settleBeforeStop(current: CurrentTransaction): void {
  if (current.afterOthers) throw new SettleBeforeStop(current.finalLsn);
}

/** Where a stop is made: the source transaction the apply is in, and the words of its direction. */
export interface StopAt {
  readonly current: CurrentTransaction;
  readonly words: StreamWords;
}

/**
 * The stop's table: printed bare in its message (displayName), quoted as SQL in the error's field,
 * which the stop records as its table (StopCause.table) and the follows match by.
 */
function stopTable(table: QualifiedName): StopTable {
  return { printed: displayName(table.schema, table.name), field: qualified(table.schema, table.name) };
}

/** The target's own column keeps the stream from writing: the stream stops, nothing dropped, with the fix. */
export function stopOnTarget({ current, words }: StopAt, table: QualifiedName, description: string, fix: string): never {
  settleBeforeStop(current);
  const { printed, field } = stopTable(table);
  throw new SchemaChangeError('CDC_SCHEMA_CHANGE', `${targetTableWords(words, printed)}: ${description}; streaming stopped`, {
    category: 'target',
    field,
    fix,
  });
}

/**
 * A change of shape not followed: the stream stops exactly before the transaction that carries it.
 * `typesOf`: the fix needs the types the source's table uses on the target (typesAwaitedBy).
 */
export function stopWith(
  { current, words }: StopAt,
  table: QualifiedName,
  description: string,
  following: boolean,
  fix?: string,
  typesOf?: boolean,
): never {
  settleBeforeStop(current);
  const { printed, field } = stopTable(table);
  const same = `make the same change on ${words.target} and resume`;
  const error = new SchemaChangeError(
    'CDC_SCHEMA_CHANGE',
    `${sourceTableWords(words, printed)} changed while streaming: ${description}; streaming stopped`,
    {
      category: 'source',
      field,
      fix: fix ?? (following ? same : `only added columns are followed (followSchemaChanges is off): ${same}`),
    },
  );
  if (typesOf) error.typesOf = { printed, field };
  throw error;
}

/**
 * A column added on the source whose existing rows got values only the source could compute (a
 * volatile default evaluated per row while the source rewrote the table, an identity): adding it
 * on the target would give them other values, which would pass for applied. The stream stops,
 * resumable: once the column exists on the target, the relation is followed as it is. Back in a
 * fallback window the fix is the same the other way; a migration started again is no fix there.
 */
export function stopPerRow({ current, words }: StopAt, table: QualifiedName, column: string, why: string): never {
  settleBeforeStop(current);
  const { source, target } = words;
  const { printed, field } = stopTable(table);
  throw new SchemaChangeError(
    'CDC_SCHEMA_CHANGE',
    `column ${displayIdent(column)} was added to ${sourceTableWords(words, printed)} while streaming and ${why}, so ${target} cannot reproduce the values of its existing rows; streaming stopped`,
    {
      category: 'source',
      field,
      // the stop's message adds the resume step after the fix (flow/streamStops.ts)
      fix:
        `${words.direction === 'forward' ? 'restart the migration, or ' : ''}add the column on ${target} with ${source}'s values (for example: copy the table's key ` +
        `and ${displayIdent(column)} from ${source} into a temporary table on ${target}, ALTER TABLE ${field} ADD COLUMN ${ident(column)} ` +
        `with ${source}'s type and default, and UPDATE it from that copy)`,
    },
  );
}

// What a stream failure means for the migration. Most failures are the user's to fix in a minute
// (an operator or column missing on the target, a constraint or rule refusing a row, a privilege):
// the stream stops with its slot kept, says what failed and how to fix it, and continues
// exactly-once once fixed. Throwing the migration away for them would lose days of copying on a
// large database. Only a failure that no fix on either server can undo ends it: another runner
// holds the apply (this one lost its lease), the slot is gone or has lost WAL it needs, or the
// publication it decodes for was dropped by someone else. Pure.
import { DEPENDENT_OBJECTS_STILL_EXIST, OBJECT_NOT_IN_PREREQUISITE_STATE, sqlStateWithin, UNDEFINED_OBJECT } from '../../connect/sqlstate';
import { causeOf, errorMessage, isPgferryError, PgferryError } from '../../core/errors';
import type { StopCause } from '../../core/model';
import { FORWARD_STREAM_WORDS, type StreamWords } from '../../core/streamWords';
import { displayIdent, ident, literal, qualified } from '../../connect/quote';
import { ApplyFencedError } from './applyTarget';
import { databaseError, describeRefusing, refusingConstraint } from './looseningWait';
import { StatementFailure } from './targetTransaction';
import { LabelsRenamed } from './watchWait';

export type StreamFailure = { readonly kind: 'fatal' } | { readonly kind: 'stop'; readonly cause: StopCause };

/**
 * The slot cannot stream any more: dropped (42704 on START_REPLICATION) or invalidated past
 * max_slot_wal_keep_size (55000, "can no longer get changes from replication slot"). The changes it
 * held are gone, so no fix lets the stream continue: the database must be copied again.
 */
function slotLost(error: unknown): boolean {
  const message = errorMessage(error);
  const state = sqlStateWithin(error);
  return (
    (state === UNDEFINED_OBJECT && /replication slot/i.test(message)) ||
    (state === OBJECT_NOT_IN_PREREQUISITE_STATE && /replication slot|WAL/i.test(message))
  );
}

/** PostgreSQL's refusal to decode for a publication its catalog lacks, naming it. */
const PUBLICATION_MISSING = /publication "((?:[^"]|"")+)" does not exist/;

/**
 * pgferry's publication dropped on the source by someone else while streaming: pgoutput reads the
 * publication as the catalog had it at each change it decodes, so no change made after the drop can
 * be decoded from this slot, even once a publication of that name is made again. The name, if so.
 */
function publicationLost(error: unknown): string | undefined {
  if (sqlStateWithin(error) !== UNDEFINED_OBJECT) return undefined;
  return PUBLICATION_MISSING.exec(errorMessage(error))?.[1];
}

/**
 * The error that ends a migration whose stream of `database` failed past any fix (classified fatal
 * below): what happened in words the user can act on where pgferry knows them, else the server's.
 */
export function fatalStreamError(database: string, error: unknown): PgferryError {
  const where = `database ${displayIdent(database)}`;
  const publication = publicationLost(error);
  if (publication === undefined)
    return new PgferryError('CDC_FAILED', `${where}: ${errorMessage(error)}`, { category: 'source', cause: error });
  return new PgferryError(
    'CDC_FAILED',
    `${where}: pgferry's publication ${publication} was dropped on the source while streaming, not by pgferry: the replication slot cannot decode any change made since, even were the publication made again, so this stream cannot go on`,
    {
      category: 'source',
      cause: error,
      fix: 'start the migration again (the database is copied again); pgferry drops its own publication and slot itself when a migration ends, leave them alone meanwhile',
    },
  );
}

/**
 * What the user can do, from the error's code and SQLSTATE class, naming the servers as `words` do
 * (the reverse stream applies to the old source); the resume step is added by the caller.
 */
function fixFor(code: string, state: string | undefined, given: string | undefined, { source, target }: StreamWords): string {
  if (code === 'CDC_SCHEMA_CHANGE' || code === 'CDC_TARGET_DIVERGED' || code === 'CDC_TABLE_MISSING') return given ?? `fix ${target}`;
  if (state === '42883') {
    return `${target} lacks a function or operator this change needs (an extension missing, or in another schema than on ${source}): create it on ${target}`;
  }
  if (state === '42P01' || state === '42703' || state === '42704') {
    return `the table on ${target} differs from ${source}'s (a table, column or type missing): make it match ${source}`;
  }
  if (state === '42501') return `the user on ${target} lacks a privilege this change needs: grant it on ${target}`;
  if (state === '23502') {
    return `a column NOT NULL on ${target} got no value from the change (a column ${source} does not have, made on ${target} alone?): give it a default (ALTER TABLE ... ALTER COLUMN ... SET DEFAULT ...) or allow NULL (... DROP NOT NULL) on ${target}; pgferry keeps the column and its values`;
  }
  if (state?.startsWith('23')) {
    return `a constraint on ${target} refused the change: ${target} has rows ${source} does not (something else writes to it?) or a constraint ${source} does not enforce; make the rows or the constraint match ${source}`;
  }
  if (state === DEPENDENT_OBJECTS_STILL_EXIST) {
    // the source dropped a column or object that something on the target alone still uses (a
    // DBA's view): that object is not pgferry's, so no fix starts by dropping it with CASCADE
    return `an object on ${target} depends on what ${source} dropped (named above) and pgferry did not make it: pgferry never drops it, nor with CASCADE; change it on ${target} so it no longer depends on it (or drop it yourself if it is no longer needed)`;
  }
  if (state === 'P0001' || state?.startsWith('09') || state?.startsWith('2F') || state?.startsWith('38') || state?.startsWith('39')) {
    return `a trigger, rule or function on ${target} refused the change: fix or disable it on ${target}`;
  }
  return given ?? `fix the cause on ${target}`;
}

/** PostgreSQL's refusal of an enum label its type lacks (enum_in): the type as format_type prints it, and the label. */
const ENUM_LABEL_MISSING = /^invalid input value for enum (.+): "(.*)"$/s;

/**
 * The schema change a value needs on the server it applies to, named as the statement to make there,
 * when the error says which: an enum label the type lacks (ALTER TYPE ... ADD VALUE on the other
 * server, which this one never saw; RENAME VALUE when the apply found it renamed in place there,
 * cdc/apply/watchWait.ts LabelsRenamed), and in the reverse stream a domain's or a table's constraint
 * the new server dropped in the window (it accepted the value). The forward stream waits for its
 * schema watch to drop such a constraint (looseningWait.ts); one it stops on is still on the source,
 * and the general fix stands.
 */
function schemaChangeFix(error: unknown, words: StreamWords): string | undefined {
  const { source, target } = words;
  const refused = databaseError(error);
  const label = refused?.code === '22P02' ? ENUM_LABEL_MISSING.exec(refused.message) : null;
  const renamed = labelsRenamed(error);
  if (label && renamed) {
    return `enum ${label[1]} on ${target} lacks the label ${literal(label[2]!)} that ${source} has (renamed there since, its rows' values with it): rename it on ${target} as on ${source}, not added beside the old one: ${renamed.statements.join('; ')}`;
  }
  if (label) {
    return `enum ${label[1]} on ${target} lacks the label ${literal(label[2]!)} that ${source} has (added there since): add it on ${target}: ALTER TYPE ${label[1]} ADD VALUE ${literal(label[2]!)}`;
  }
  const refusing = words.direction === 'reverse' ? refusingConstraint(error) : undefined;
  if (!refusing) return undefined;
  const owner = qualified(refusing.schema, refusing.name);
  const statement =
    refusing.on === 'domain'
      ? `ALTER DOMAIN ${owner} ${refusing.constraint === undefined ? 'DROP NOT NULL' : `DROP CONSTRAINT ${ident(refusing.constraint)}`}`
      : `ALTER TABLE ${owner} DROP CONSTRAINT ${ident(refusing.constraint!)}`;
  return `${describeRefusing(refusing)} on ${target} refuses a value ${source} accepted (dropped or changed there since?): make it as on ${source}, for a dropped one on ${target}: ${statement}`;
}

function labelsRenamed(error: unknown): LabelsRenamed | undefined {
  return causeOf(error, LabelsRenamed);
}

/**
 * Decides whether a stream failure stops the stream (kept for a fix and a resume) or ends the
 * migration; its fix names the servers as `words`, the stream's direction, do.
 */
export function classifyStreamFailure(error: unknown, words: StreamWords = FORWARD_STREAM_WORDS): StreamFailure {
  if (error instanceof ApplyFencedError || slotLost(error) || publicationLost(error) !== undefined) return { kind: 'fatal' };
  if (isPgferryError(error) && error.category === 'canceled') return { kind: 'fatal' };
  const state = sqlStateWithin(error);
  const failed = findStatementFailure(error);
  const code = isPgferryError(error) ? error.code : 'CDC_APPLY';
  const fix = schemaChangeFix(error, words) ?? fixFor(code, state, isPgferryError(error) ? error.fix : undefined, words);
  return {
    kind: 'stop',
    cause: {
      code,
      ...(state ? { sqlState: state } : {}),
      ...(failed?.table ? { table: failed.table } : isPgferryError(error) && error.field ? { table: error.field } : {}),
      ...(failed ? { statement: failed.statement } : {}),
      error: isPgferryError(error) ? error.message : errorMessage(error),
      fix,
    },
  };
}

function findStatementFailure(error: unknown): StatementFailure | undefined {
  return causeOf(error, StatementFailure);
}

// The apply session's following of renames at the relation message: a streamed table renamed or
// moved on the source (same OID, a new name), and the types its columns use renamed or moved there
// (told by their Type messages, or, when the source renamed one before the stream named it, by the
// target's column: unseenTypeRenames.ts). Each is renamed on the target in the open transaction,
// before any row under the new name, so every row lands once, where the one before it did. It works
// on the session's connections and target tables, given by the shape follow that composes it
// (shapeFollower.ts).
import { displayName, ident, qualified } from '../../connect/quote';
import { sourceTableWords, type StreamWords } from '../../core/streamWords';
import { unseenCandidates, unseenRenames, type TypeName } from './unseenTypeRenames';
import type { SessionConnections } from './sessionConnections';
import type { ApplyState } from './applyState';
import type { TargetDdl } from './targetDdl';
import type { TargetAttribute } from './shapeFollow';
import type { TargetTable } from '../plan/types';
import type { Relation, TypeRename } from '../decode/changeEvents';

/** A session's table and type renames followed at its relation messages, over its connections and target tables. */
export class RenameFollower {
  /** Source type OIDs whose stream name was checked against the target once (followUnseenTypes). */
  private readonly typesChecked = new Set<number>();

  constructor(
    private readonly state: ApplyState,
    private readonly connections: SessionConnections,
    private readonly ddl: TargetDdl,
    /** The session's target tables by relation OID (shapeFollower.ts): a table renamed, or cast to a renamed type, is read again. */
    private readonly tables: Map<number, TargetTable>,
    /** How its messages name the two servers: the stream's direction's words. */
    private readonly words: StreamWords,
  ) {}

  /**
   * A streamed table renamed or moved on the source (same OID, new name in its relation message):
   * the target table renamed in the open transaction, before any row under the new name, so that
   * every row lands once, in the table that had it. IF EXISTS: a target table renamed already (a
   * runner stopped after this commit, the stream sending the message again) is left as it is, and
   * one missing under both names stops the stream as a missing table does.
   */
  async followTable(relation: Relation, from: { readonly schema: string; readonly name: string }): Promise<void> {
    const name = qualified(relation.schema, relation.name);
    const statements: string[] = [];
    const left = await this.nameLeftBy(relation);
    if (left) {
      statements.push(...renameStatements(left.from, left.to));
      this.tables.delete(left.oid);
      this.state.tracker.reshaped(qualified(left.to.schema, left.to.name), undefined);
    }
    statements.push(...renameStatements(from, relation));
    await this.connections.txn.flush();
    await this.ddl.send(relation, statements);
    this.tables.delete(relation.oid);
    this.state.tracker.reshaped(name, undefined);
    if (left)
      this.state.onFollowed?.(
        `${sourceTableWords(this.words, displayName(left.from.schema, left.from.name))} renamed to ${displayName(left.to.schema, left.to.name)} while streaming, leaving its name to ${displayName(from.schema, from.name)}, followed on ${this.words.target} first`,
      );
    this.state.onFollowed?.(
      `${sourceTableWords(this.words, displayName(from.schema, from.name))} renamed to ${displayName(relation.schema, relation.name)} while streaming, followed on ${this.words.target} at its position in the stream`,
    );
  }

  /**
   * Another streamed table the stream last saw under the name `relation` takes now (the swap of an
   * online schema change tool: t renamed to t_old, t_new to t, one transaction): the source has
   * renamed it away before this message (two tables never hold one name), so it is renamed on the
   * target to its name there now, by its OID, before the rename that takes its name; and the stream
   * knows it by that name from here. Undefined when no such table is known, or the source no longer
   * has it (dropped since): the rename then stops as before, on the name taken.
   */
  private async nameLeftBy(relation: Relation): Promise<{ oid: number; from: TableName; to: TableName } | undefined> {
    const normalizer = this.connections.normalizer;
    const other = [...normalizer.knownRelations().values()].find(
      (r) => r.oid !== relation.oid && r.schema === relation.schema && r.name === relation.name,
    );
    if (!other) return undefined;
    const source = await this.connections.sourceSession();
    const { rows } = await source.query<TableName>(
      `SELECT n.nspname AS schema, c.relname AS name FROM pg_catalog.pg_class c
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::pg_catalog.oid`,
      [other.oid],
    );
    const to = rows[0];
    if (!to || (to.schema === other.schema && to.name === other.name)) return undefined;
    normalizer.renamedAhead(other.oid, to);
    return { oid: other.oid, from: { schema: other.schema, name: other.name }, to };
  }

  /**
   * Types renamed or moved on the source (same OID, a new name in their Type message: TypeORM's
   * renameTable renames a table's enum types with it): renamed on the target in the open
   * transaction, before any row written under the new name, as a table's rename is. Only where the
   * target has the type under its old name and nothing under the new one: a type renamed already
   * (a runner stopped after this commit) is left as it is, and a name taken there is no type of the
   * migration's to rename over, so the rows then stop as before, naming the type. The tables read
   * with the old name are read again at their next row.
   */
  async followTypes(renames: readonly TypeRename[]): Promise<void> {
    await this.ddl.settled();
    for (const { from, to } of renames) {
      const { rows } = await this.connections.target.query<{ renames: boolean }>(
        'SELECT pg_catalog.to_regtype($1) IS NOT NULL AND pg_catalog.to_regtype($2) IS NULL AS renames',
        [qualified(from.schema, from.name), qualified(to.schema, to.name)],
      );
      if (rows[0]?.renames === true) await this.renameType(from, to);
    }
  }

  /**
   * Types the stream names, at the session's first Type message of each, by a name the target
   * lacks, where the target's column has under another name a type pgferry made: renamed on the
   * source before the stream carried a row of a table using them, so no Type message told their
   * old names (unseenTypeRenames.ts says which are renamed). Renamed on the target as
   * followTypes does, before the first row under the new name: the schema watch's rename
   * waits for the apply to pass it, and would wait for ever. Each type is looked at once a session,
   * and only where the target's column prints its type under another name (no round trip otherwise).
   */
  async followUnseenTypes(relation: Relation, columns: readonly TargetAttribute[]): Promise<void> {
    const candidates = unseenCandidates(relation, columns, this.typesChecked);
    for (const c of candidates) this.typesChecked.add(c.oid);
    const made = this.state.madeOnTarget;
    if (candidates.length === 0 || !made) return;
    const source = await this.connections.sourceSession();
    const renames = await unseenRenames(this.connections.target, source, candidates, await made());
    for (const { from, to } of renames) await this.renameType(from, to);
    if (renames.length > 0) await this.ddl.settled();
  }

  /** A type renamed or moved on the target as the source did, in the open transaction; tables cast to its old name read again. */
  private async renameType(from: TypeName, to: TypeName): Promise<void> {
    const was = qualified(from.schema, from.name);
    const statements: string[] = [];
    if (from.schema !== to.schema) statements.push(`ALTER TYPE ${was} SET SCHEMA ${ident(to.schema)}`);
    if (from.name !== to.name) statements.push(`ALTER TYPE ${qualified(to.schema, from.name)} RENAME TO ${ident(to.name)}`);
    await this.ddl.send(to, statements);
    for (const [oid, table] of this.tables) if (table.columns.some((c) => c.cast === was)) this.tables.delete(oid);
    this.state.onFollowed?.(
      `source type ${displayName(from.schema, from.name)} renamed to ${displayName(to.schema, to.name)} while streaming, followed on the target at its position in the stream`,
    );
  }
}

interface TableName {
  readonly schema: string;
  readonly name: string;
}

/** A table renamed or moved on the target, IF EXISTS: one renamed already is left as it is. */
function renameStatements(from: TableName, to: TableName): string[] {
  const statements: string[] = [];
  if (from.schema !== to.schema)
    statements.push(`ALTER TABLE IF EXISTS ${qualified(from.schema, from.name)} SET SCHEMA ${ident(to.schema)}`);
  if (from.name !== to.name) statements.push(`ALTER TABLE IF EXISTS ${qualified(to.schema, from.name)} RENAME TO ${ident(to.name)}`);
  return statements;
}

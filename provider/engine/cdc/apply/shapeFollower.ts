// The apply session's following of a streamed table's shape on the target, at the relation message
// that first carries it (issue 49): columns added (addColumnPlan), dropped, renamed and retyped
// (shapeFollow.ts decides, by the attnums each column had: attnumRecords.ts), generated columns (generatedFollow.ts), the target's own columns kept;
// and the stop, exactly before the transaction that carries it, of a change it cannot follow
// (shapeStops.ts). It is the relation message's entry, and composes the parts that follow the rest
// at it, each given the session's connections, the DDL it sends (targetDdl.ts) and its target
// tables: renames of tables and types (renameFollower.ts), NOT NULL dropped and set
// (notNullFollower.ts), the partition tree (partitionFollower.ts). The apply loop that calls it is
// applySession.ts; the event trigger's DDL messages, ddlFollower.ts.
import { typesToMake } from './typesToMake';
import { displayIdent, displayName, qualified } from '../../connect/quote';
import { PgferryError } from '../../core/errors';
import { traceOnce } from '../../util/trace';
import { stopOnTarget, stopPerRow, stopWith, type CurrentTransaction, type StopAt } from './shapeStops';
import { sourceTableWords, targetTableWords, type StreamWords } from '../../core/streamWords';
import type { SessionConnections } from './sessionConnections';
import type { ApplyState } from './applyState';
import type { SessionConfig } from './sessionConfig';
import { ddlTarget, type TargetDdl } from './targetDdl';
import { inspectTargetTable, readTargetColumns, resolveTargetTable } from './targetTables';
import { addColumnPlan, identityPosition, sourceAttributes, sourceColumnDefinitions } from './sourceColumns';
import { keepRecord, recordAttnums, recordedFor, recordedNames } from './attnumRecords';
import { generatedNames, planGeneratedFollow } from './generatedFollow';
import { NotNullFollower } from './notNullFollower';
import { PartitionFollower } from './partitionFollower';
import { RenameFollower } from './renameFollower';
import {
  keptColumnStop,
  planShapeFollow,
  readdedColumns,
  targetOnlyColumns,
  type SourceAttribute,
  type TargetAttribute,
} from './shapeFollow';
import type { TargetTable } from '../plan/types';
import type { ChangeEvent, Relation } from '../decode/changeEvents';

/** A session's target tables and their shapes followed, over its connections (sessionConnections.ts). */
export class ShapeFollower {
  /** The target table of each relation, by OID, as its relation message was followed: forgotten to be read again at the next. */
  private readonly tables = new Map<number, TargetTable>();
  /** Each table's generated columns on the target, as last read or given (followGenerated), sorted. */
  private readonly targetGenerated = new Map<number, readonly string[]>();
  /** The target's own columns already told kept (`oid\0column`): each is reported once per runner. */
  private readonly keptTold = new Set<string>();
  /** Each table's streamed columns written nowhere (leftOutColumns), as last decided at its relation message. */
  private readonly leftOut = new Map<number, ReadonlySet<string>>();
  /** Relations the source has dropped since and the target never had: their changes are not applied (droppedSince). */
  private readonly gone = new Set<number>();
  /** Each relation's replica identity and key columns as its last relation message followed gave them (streamKeyOf). */
  private readonly streamKeys = new Map<number, string>();

  /** The parts that follow the rest at the relation message, each given the same target tables (the opening says which). */
  private readonly renames: RenameFollower;
  private readonly notNull: NotNullFollower;
  private readonly partitions: PartitionFollower;

  constructor(
    private readonly config: SessionConfig,
    private readonly state: ApplyState,
    private readonly connections: SessionConnections,
    /** What the session sends to change the target's tables in its open transaction, the DDL follow's too. */
    private readonly ddl: TargetDdl,
    /** The source transaction the apply is in (a stop settles the batch before it: shapeStops.ts). */
    private readonly current: () => CurrentTransaction,
  ) {
    this.renames = new RenameFollower(state, connections, ddl, this.tables, config.words);
    this.notNull = new NotNullFollower(state, connections, ddl, this.tables, config.words);
    this.partitions = new PartitionFollower(state, connections, ddl, this.tables);
  }

  /** How its messages name the two servers: the stream's direction's words. */
  private get words(): StreamWords {
    return this.config.words;
  }

  /** Where a stop is made: the transaction the apply is in, named in the words of the stream's direction. */
  private stopAt(): StopAt {
    return { current: this.current(), words: this.words };
  }

  /** The target table a relation's rows went to, when its relation message was followed; undefined before. */
  known(oid: number): TargetTable | undefined {
    return this.tables.get(oid);
  }

  /** The target table a relation's rows are written to, looked up once per relation message. */
  async tableOf(relation: Relation): Promise<TargetTable> {
    let table = this.tables.get(relation.oid);
    if (!table) {
      const leftOut = this.leftOut.get(relation.oid);
      table = await resolveTargetTable(this.connections.target, relation, this.connections.foreignKeysFire, leftOut, this.config.words);
      if (leftOut && leftOut.size > 0) this.leftOutMade(relation, leftOut, table);
      this.tables.set(relation.oid, table);
    }
    return table;
  }

  /**
   * Step, at each source transaction's BEGIN: the tables with columns left out are read again at
   * their next row. The user makes such a column on the old source (the fall-back's printed fix)
   * and then rewrites its values on the new server; those rows come in transactions that began
   * after the column was made, so reading the table again at each one writes their values, where
   * the relation message's reading, made before, would leave them out. Tables without such columns
   * are not read again.
   */
  leftOutReadAgain(): void {
    for (const oid of this.leftOut.keys()) this.tables.delete(oid);
  }

  /** Of the columns left out, those the target has now: written from here on, and told once. */
  private leftOutMade(relation: Relation, leftOut: ReadonlySet<string>, table: TargetTable): void {
    const still = new Set(table.columns.filter((c) => c.leftOut).map((c) => c.name));
    if (still.size === leftOut.size) return;
    if (still.size > 0) this.leftOut.set(relation.oid, still);
    else this.leftOut.delete(relation.oid);
    const made = [...leftOut].filter((c) => !still.has(c));
    this.state.onFollowed?.(
      `table ${displayName(relation.schema, relation.name)}: column ${made.map(displayIdent).join(', ')} now made on ${this.words.target}: its values carried there from here on`,
    );
  }

  /**
   * Step: a relation message. Columns added on the source are added on the target (inside the
   * open transaction, before any row uses them), so that the target's existing rows get the values
   * the source's have (addColumnPlan); any other change of shape, or a column whose existing
   * values only the source could compute, stops the stream. A table whose shape changed is
   * verified whole at cutover (ChangeTracker.reshaped).
   */
  async relationChanged(item: ChangeEvent & { kind: 'relation' }): Promise<void> {
    const { relation } = item;
    if (this.gone.has(relation.oid)) return;
    // a replica identity changed on the source (FULL, USING INDEX, back to DEFAULT) changes which
    // columns its old rows carry, in a message whose columns are otherwise the same: the table is
    // read again at it, or a DELETE would be matched by columns the old row no longer holds; the
    // keys tracked until now are another key's, so the cutover reads it whole
    const key = streamKeyOf(relation);
    const seen = this.streamKeys.get(relation.oid);
    if (seen !== undefined && seen !== key) {
      this.state.tracker.reshaped(qualified(relation.schema, relation.name), this.tables.get(relation.oid)?.partitioned);
      this.tables.delete(relation.oid);
    }
    try {
      await this.followRelation(item);
      this.streamKeys.set(relation.oid, key);
    } catch (error) {
      if (!(error instanceof PgferryError && error.code === 'CDC_TABLE_MISSING')) throw error;
      if (await this.droppedSince(item.relation)) return;
      throw (await this.partitions.renamed(item.relation)) ?? error;
    }
  }

  /** Step, after a relation message in a source transaction not applied before: the partition tree (PartitionFollower.follow). */
  followPartitions(relation: Relation): Promise<void> {
    return this.partitions.follow(relation);
  }

  /** Before a source transaction that commits at `finalLsn`: the NOT NULL sets it is past (NotNullFollower.due). */
  notNullSetsDue(finalLsn: bigint): Promise<void> {
    return this.notNull.due(finalLsn);
  }

  /** Whether a relation's changes are not applied: the source dropped its table since, and the target never had it. */
  isGone(oid: number): boolean {
    return this.gone.has(oid);
  }

  /**
   * A table the target lacks whose OID the source no longer has: made and dropped on the source
   * while the stream was behind (a partition a partition manager makes, fills and drops by its
   * retention before the table watch could follow it). The drop took every row of it, so its
   * changes are not applied and the target ends as the source is. A table renamed keeps its OID,
   * and still stops the stream as a missing table does.
   */
  private async droppedSince(relation: Relation): Promise<boolean> {
    const source = await this.connections.sourceSession();
    const { rows } = await source.query('SELECT 1 FROM pg_catalog.pg_class WHERE oid = $1', [relation.oid]);
    if (rows.length > 0) return false;
    this.gone.add(relation.oid);
    this.state.onFollowed?.(
      `${sourceTableWords(this.words, displayName(relation.schema, relation.name))} was created and dropped on ${this.words.source} while the stream was behind, and ${this.words.target} never had it: its changes are not applied (the drop took its rows)`,
    );
    return true;
  }

  /** relationChanged's work on a relation the source still streams. */
  private async followRelation(item: ChangeEvent & { kind: 'relation' }): Promise<void> {
    traceOnce('first relation message');
    const { relation } = item;
    let { change } = item;
    const name = qualified(relation.schema, relation.name);
    const following = this.config.followSchemaChanges;
    if (change.kind === 'unsupported' && change.from && change.columns && this.config.followTableRenames) {
      await this.renames.followTable(relation, change.from);
      change = change.columns;
    }
    if (following && item.renamedTypes) await this.renames.followTypes(item.renamedTypes);
    // marked before any stop, so that it stays marked when the stream resumes after a fix
    const reshaped = (partitioned = this.tables.get(relation.oid)?.partitioned): void => this.state.tracker.reshaped(name, partitioned);
    const atStart = following ? await recordAttnums(this.state, this.connections, this.config.publication, relation) : undefined;
    if (change.kind === 'unsupported' && (!following || change.table)) {
      reshaped();
      stopWith(this.stopAt(), relation, change.description, following);
    }
    // pgoutput re-sends a Relation message after every relcache invalidation on the source (a
    // VACUUM or ANALYZE is enough): an unchanged shape needs no new look at the target, whose
    // round trips otherwise held up the first batch of a backlog (docs/bench.md#the-applys-settings).
    // Followed, an ALTER TABLE ... DROP NOT NULL is one such invalidation: the source's NOT NULL
    // columns are read (one source round trip) and the target's dropped before the next row.
    // A column dropped and added again under its name, type and place sends the same message: the
    // source's attnums tell it (readdedColumns), and it is followed as any other change below.
    let readded = false;
    if (change.kind === 'none' && this.tables.has(relation.oid)) {
      if (!following) return;
      const attributes = await this.sourceAttributesOf(relation);
      readded = readdedColumns(recordedFor(this.state, relation.oid, relation.columns), attributes).length > 0;
      if (!readded) {
        await this.followGenerated(relation, attributes, reshaped);
        return this.notNull.follow(relation, attributes, this.leftOut.get(relation.oid), reshaped);
      }
    }
    const target = this.connections.target;
    // the target's catalog is read on the apply's connection, beside the pipeline: a change of
    // shape sent before (followed at an earlier message) has run first
    if (this.ddl.pending) await this.ddl.settled();
    const ahead = await this.connections.targetTableAhead(relation.schema, relation.name);
    let inspected = await this.inspectFollowingTypes(relation, ahead, following);
    // generated columns are not streamed: the source's catalog is read for them where either side has one
    if (following && (inspected.present.some((c) => c.generated) || (atStart && generatedNames(atStart).length > 0))) {
      const attributes = await this.sourceAttributesOf(relation);
      if (await this.followGenerated(relation, attributes, reshaped, inspected.present)) {
        await this.ddl.settled();
        inspected = await inspectTargetTable(target, relation, this.connections.foreignKeysFire);
      }
    } else this.targetGenerated.set(relation.oid, generatedOf(inspected.present));
    const { retyped, table } = inspected;
    let { missing } = inspected;
    // a column the target alone has (a DBA's) is kept as it is, values and all, and is no change to follow
    const known = following && inspected.extra.length > 0 ? await this.knownColumnsOf(relation) : undefined;
    const kept = this.keptColumns(relation, inspected.extra, known);
    const extra = inspected.extra.filter((c) => !kept.includes(c));
    if (kept.length > 0) {
      const blocked = keptColumnStop(relation.schema, relation.name, inspected.columns, kept, this.words);
      if (blocked) stopOnTarget(this.stopAt(), relation, blocked.description, blocked.fix);
      this.tellKept(relation, kept);
    }
    this.state.targetNotNull ??= new Map();
    this.state.targetNotNull.set(relation.oid, new Set(inspected.columns.filter((c) => c.notNull).map((c) => c.name)));
    if (following && (readded || extra.length > 0 || retyped.length > 0 || change.kind === 'unsupported')) {
      reshaped();
      missing = await this.followShape(relation, inspected.columns, known);
    } else {
      if (extra.length > 0) {
        reshaped();
        stopWith(this.stopAt(), relation, `column ${displayIdent(extra[0]!)} was dropped or renamed`, following);
      }
      if (retyped.length > 0) {
        reshaped();
        stopWith(this.stopAt(), relation, `column ${displayIdent(retyped[0]!)} changed type`, following);
      }
      if (table) {
        if (change.kind !== 'none') reshaped(table.partitioned);
        this.leftOut.delete(relation.oid);
        this.tables.set(relation.oid, table);
        return;
      }
    }
    // none of the streamed columns: no such table on the target (resolving it names that), or another table
    if (missing.length === relation.columns.length)
      await resolveTargetTable(target, relation, this.connections.foreignKeysFire, undefined, this.config.words);
    const leftOut = await this.leftOutColumns(relation, missing);
    if (leftOut.size > 0) missing = missing.filter((c) => !leftOut.has(c));
    if (missing.length > 0) await this.addColumns(relation, missing, reshaped);
    // read once the columns added have run: an identity's GENERATED ALWAYS decides what an UPDATE may set
    if (this.ddl.pending) await this.ddl.settled();
    const resolved = await resolveTargetTable(target, relation, this.connections.foreignKeysFire, leftOut, this.config.words);
    reshaped(resolved.partitioned);
    this.tables.set(relation.oid, resolved);
  }

  /**
   * The relation's table on the target (inspectTargetTable), and the types the source renamed
   * before the stream named them renamed there (RenameFollower.followUnseenTypes) when `following`.
   */
  private async inspectFollowingTypes(
    relation: Relation,
    ahead: Parameters<typeof inspectTargetTable>[3],
    following: boolean,
  ): ReturnType<typeof inspectTargetTable> {
    const inspected = await inspectTargetTable(this.connections.target, relation, this.connections.foreignKeysFire, ahead);
    traceOnce('first target table read');
    if (following) await this.renames.followUnseenTypes(relation, inspected.columns);
    return inspected;
  }

  /** Columns added on the source, added on the target so its existing rows get the source's values (addColumnPlan). */
  private async addColumns(relation: Relation, missing: readonly string[], reshaped: () => void): Promise<void> {
    const target = this.connections.target;
    await this.ddl.settled();
    const source = await this.connections.sourceSession();
    const columns = await sourceColumnDefinitions(source, relation.oid, missing);
    if (columns.length < missing.length) {
      reshaped();
      const gone = missing.find((m) => !columns.some((c) => c.name === m));
      stopWith(
        this.stopAt(),
        relation,
        `column ${displayIdent(gone!)} was added, and ${this.words.source}'s catalog no longer has it (renamed or dropped since)`,
        this.config.followSchemaChanges,
      );
    }
    // the target's rows so far, this open transaction's included (same connection, after the flush)
    // a partition's columns are added on its root (PartitionFollower.rootOf), for every partition's rows
    const at = (await this.partitions.rootOf(relation)) ?? relation;
    const owner = qualified(at.schema, at.name);
    const { rows } = await target.query<{ has: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${owner}) AS has`);
    const hasRows = rows[0]?.has === true;
    const plans = columns.map((column) => ({ column, plan: addColumnPlan(at.schema, at.name, column, hasRows, this.words) }));
    // nothing is changed on the target before every column is known to be reproducible, or the
    // table's copy at a pin, which brings the source's values, is recorded
    const perRow = plans.filter((p) => p.plan.kind === 'per-row');
    const unreproducible = perRow.find((p) => p.plan.kind === 'per-row' && (!p.plan.statements || !this.state.requestResync));
    if (unreproducible && unreproducible.plan.kind === 'per-row') {
      reshaped();
      stopPerRow(this.stopAt(), relation, unreproducible.column.name, unreproducible.plan.why);
    }
    if (perRow.length > 0)
      await this.resyncPerRow(
        relation,
        perRow.map((p) => `column ${displayIdent(p.column.name)} added, which ${p.plan.kind === 'per-row' ? p.plan.why : ''}`),
      );
    // what the apply makes on the target is known from now on, recorded before it is made
    const made = columns.flatMap((c) => (c.attnum === undefined ? [] : [{ name: c.name, attnum: c.attnum }]));
    await this.state.recordKnownColumns?.(relation.schema, relation.name, made);
    for (const { plan } of plans) await this.ddl.send(at, plan.statements ?? []);
    // an identity's sequence at the source's position at least: the values the stream brings stay below it
    for (const { column } of plans) {
      const position = identityPosition(at.schema, column);
      if (position) await this.connections.txn.exec({ op: 'ddl', ...ddlTarget(at), text: position.text, params: position.params, rows: 0 });
    }
  }

  /**
   * Columns added with a default the source evaluated row by row (gen_random_uuid(), random(),
   * clock_timestamp()), or as an identity (each server numbers its existing rows by its own
   * sequence, in its own row order): their values exist only on the source, so the table is copied again at a
   * pinned position (flow/tableResync.ts), its changes skipped from here until the pin, as for a
   * column dropped and added again (resyncReadded). The column is added on the target as the source
   * has it; the values the target gives its existing rows meanwhile are replaced by the copy.
   */
  private async resyncPerRow(relation: Relation, reasons: readonly string[]): Promise<void> {
    await this.resyncAtPin(relation, reasons.join('; '));
  }

  /**
   * Generated columns added, dropped or made plain on the source, followed on the target
   * (generatedFollow.ts) in the open transaction, before the next row: at a re-sent relation message
   * only when the source's generated columns are not the ones the target was last seen or given
   * (targetGenerated), so that an unchanged table costs no target round trip. `present`: the
   * target's columns, when just read. Returns whether anything was sent.
   */
  private async followGenerated(
    relation: Relation,
    attributes: readonly SourceAttribute[],
    reshaped: () => void,
    present?: readonly { name: string; generated: boolean }[],
  ): Promise<boolean> {
    const names = generatedNames(attributes);
    const known = this.targetGenerated.get(relation.oid);
    if (!present && known && known.join('\0') === names.join('\0')) return false;
    if (!present) {
      await this.ddl.settled();
      present = await readTargetColumns(this.connections.target, relation.schema, relation.name);
    }
    const onTarget = generatedOf(present);
    // a generated column the source has not is the target's own unless the migration knows it
    const live = new Set(attributes.filter((a) => !a.dropped).map((a) => a.name));
    const unmatched = onTarget.filter((c) => !live.has(c));
    const knownHere = unmatched.length > 0 && this.config.followSchemaChanges ? await this.knownColumnsOf(relation) : undefined;
    const targetOnly = new Set(this.keptColumns(relation, unmatched, knownHere));
    const plan = planGeneratedFollow(
      relation.schema,
      relation.name,
      attributes,
      new Set(relation.columns.map((c) => c.name)),
      present.map((c) => c.name),
      onTarget,
      targetOnly,
      this.words,
    );
    const made = attributes.filter((a) => a.generated && !a.dropped && plan.generated.includes(a.name) && !onTarget.includes(a.name));
    if (made.length > 0)
      await this.state.recordKnownColumns?.(
        relation.schema,
        relation.name,
        made.map((a) => ({ name: a.name, attnum: a.attnum })),
      );
    this.targetGenerated.set(relation.oid, plan.generated);
    if (plan.statements.length === 0) return false;
    reshaped();
    await this.connections.txn.flush();
    await this.ddl.send(relation, plan.statements);
    this.state.onFollowed?.(
      `${sourceTableWords(this.words, displayName(relation.schema, relation.name))} changed while streaming, followed on ${this.words.target} at its position in the stream: ${plan.followed.join(', ')}`,
    );
    return true;
  }

  /**
   * A relation message whose columns differ from the target's other than by added columns: the
   * change is decided from the source's catalog by attnum (planShapeFollow) and made on the target
   * in the open transaction, before any row of the new shape; or the stream stops with the
   * statement and the fix. Returns the columns to add (addColumns).
   */
  private async followShape(
    relation: Relation,
    targetColumns: readonly TargetAttribute[],
    known?: ReadonlyMap<string, number | null>,
  ): Promise<string[]> {
    const attributes = await this.sourceAttributesOf(relation);
    // the record of the target's columns but its own (kept, planShapeFollow leaves them out)
    const own = this.keptColumns(
      relation,
      targetColumns.map((c) => c.name),
      known,
    );
    const recorded = recordedFor(
      this.state,
      relation.oid,
      targetColumns.filter((c) => !own.includes(c.name)),
    );
    const resync = this.state.requestResync !== undefined;
    // a partition's shape is changed on its root (PartitionFollower.rootOf)
    const at = (await this.partitions.rootOf(relation)) ?? relation;
    const options = { dropNotNull: true, resync, words: this.words, ...(known ? { known } : {}) };
    let plan = planShapeFollow(at.schema, at.name, relation.columns, attributes, targetColumns, recorded, options);
    if (plan.kind === 'stop' && plan.typesOf && this.words.direction === 'reverse') {
      // no watch makes a type on the old source: the fix makes the ones it lacks first, from the new server's catalog
      const typesFirst = await typesToMake(await this.connections.sourceSession(), this.connections.target, qualified(at.schema, at.name));
      plan = planShapeFollow(at.schema, at.name, relation.columns, attributes, targetColumns, recorded, { ...options, typesFirst });
    }
    if (plan.kind === 'stop') stopWith(this.stopAt(), relation, plan.description, true, plan.fix, plan.typesOf);
    // what the apply makes on the target is known from now on, recorded before it is made
    await this.state.recordKnownColumns?.(
      relation.schema,
      relation.name,
      [...plan.attnums].map(([c, attnum]) => ({ name: c, attnum })),
    );
    if (plan.readded.length > 0) await this.resyncReadded(relation, plan.readded);
    if (plan.underived.length > 0) {
      const which = plan.underived.map((c) => displayIdent(c)).join(', ');
      await this.resyncAtPin(relation, `column ${which} retyped to values ${this.words.target} cannot derive`);
    }
    if (plan.reshaped) await this.resyncAtPin(relation, plan.reshaped);
    await this.connections.txn.flush();
    await this.ddl.send(at, plan.statements);
    keepRecord(this.state, relation.oid, plan.attnums);
    if (plan.followed.length > 0)
      this.state.onFollowed?.(
        `${sourceTableWords(this.words, displayName(relation.schema, relation.name))} changed while streaming, followed on ${this.words.target} at its position in the stream: ${plan.followed.join(', ')}`,
      );
    return [...plan.added];
  }

  /** The source table's columns now, dropped ones included (one source round trip). */
  private async sourceAttributesOf(relation: Relation): Promise<SourceAttribute[]> {
    const source = await this.connections.sourceSession();
    return (await sourceAttributes(source, this.connections.sourceMajor, { relation: relation.oid })).get(relation.oid) ?? [];
  }

  /**
   * Columns dropped and added again under their name (readdedColumns): which of the stream's rows
   * came before the drop is not in the stream, so the table is copied again at a pinned position
   * (flow/tableResync.ts), its changes skipped from here until the pin. The request is recorded
   * before the target changes, so that a runner stopped in between leaves it to the next one;
   * without a place to record it (an applier outside a migration) the stream stops instead.
   */
  private async resyncReadded(relation: Relation, columns: readonly string[]): Promise<void> {
    const which = columns.map((c) => displayIdent(c)).join(', ');
    const request = this.state.requestResync;
    if (!request)
      stopWith(
        this.stopAt(),
        relation,
        `column ${which} was dropped and added again under its name, which the stream does not place among the rows`,
        true,
        'copy the table again (pgferry update --resync, or restart the migration)',
      );
    await this.resyncAtPin(relation, `column ${which} dropped and added again under its name`);
  }

  /**
   * The table copied again at a pinned position (flow/tableResync.ts), its changes skipped from here
   * until the pin: recorded before the target changes (resyncReadded says why).
   */
  private async resyncAtPin(relation: Relation, why: string): Promise<void> {
    // a partition's columns are its root's: changed there for the whole tree, so the tree is copied
    const root = await this.partitions.rootOf(relation);
    await this.state.requestResync!(root?.schema ?? relation.schema, root?.name ?? relation.name, why);
    for (const leaf of root?.leaves ?? [qualified(relation.schema, relation.name)]) this.state.tracker.resyncing.add(leaf);
  }

  /** The table's columns the migration knows (ApplyState.knownColumns); undefined without that record. */
  private async knownColumnsOf(relation: Relation): Promise<ReadonlyMap<string, number | null> | undefined> {
    return this.state.knownColumns?.(relation.schema, relation.name);
  }

  /** Of `columns` (target columns), those the target alone has: not streamed, in no attnum record of this runner, not known. */
  private keptColumns(relation: Relation, columns: readonly string[], known: ReadonlyMap<string, number | null> | undefined): string[] {
    const recorded = recordedNames(this.state, relation.oid);
    return targetOnlyColumns(
      columns.map((c) => ({ name: c })),
      new Set(relation.columns.map((c) => c.name)),
      recorded,
      known,
    );
  }

  /**
   * Of the streamed columns the target lacks, those the reverse stream leaves out of every row
   * rather than adds (ApplyState.carriedBack): the new server's own, not known to the migration.
   * Each is told once per runner. None in the forward stream.
   */
  private async leftOutColumns(relation: Relation, missing: readonly string[]): Promise<ReadonlySet<string>> {
    const carried = missing.length > 0 ? await this.state.carriedBack?.(relation.schema, relation.name) : undefined;
    const leftOut = new Set(carried ? missing.filter((c) => !carried.has(c)) : []);
    // kept only where some column is left out: each BEGIN walks this map (leftOutReadAgain)
    if (leftOut.size > 0) this.leftOut.set(relation.oid, leftOut);
    else this.leftOut.delete(relation.oid);
    const fresh = [...leftOut].filter((c) => !this.keptTold.has(`${relation.oid}\0${c}`));
    for (const c of fresh) this.keptTold.add(`${relation.oid}\0${c}`);
    if (fresh.length > 0)
      this.state.onFollowed?.(
        `table ${displayName(relation.schema, relation.name)} of the new server: column ${fresh.map(displayIdent).join(', ')} made there alone (pgferry did not make it, the old source never had it): kept there, left out of the reverse stream, not carried back`,
      );
    return leftOut;
  }

  /** Columns kept on the target, told once each: an event naming them. */
  private tellKept(relation: Relation, kept: readonly string[]): void {
    const fresh = kept.filter((c) => !this.keptTold.has(`${relation.oid}\0${c}`));
    if (fresh.length === 0) return;
    for (const c of fresh) this.keptTold.add(`${relation.oid}\0${c}`);
    this.state.onFollowed?.(
      `${targetTableWords(this.words, displayName(relation.schema, relation.name))}: column ${fresh.map(displayIdent).join(', ')} made on ${this.words.target} alone (pgferry did not make it, ${this.words.source} never had it): kept as it is, with its values`,
    );
  }
}

/** Pure: the names of the generated columns among a table's columns, sorted. */
function generatedOf(columns: readonly { name: string; generated: boolean }[]): string[] {
  return columns
    .filter((c) => c.generated)
    .map((c) => c.name)
    .sort();
}

/** A relation's replica identity and the columns its old rows are keyed by, as its relation message gives them. */
function streamKeyOf(relation: Relation): string {
  return JSON.stringify([relation.replicaIdentity, relation.columns.filter((c) => c.isKey).map((c) => c.name)]);
}

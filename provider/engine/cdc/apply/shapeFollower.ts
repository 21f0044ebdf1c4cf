// The apply session's following of a streamed table's shape on the target, at the relation message
// that first carries it (issue 49): columns added (addColumnPlan), dropped, renamed and retyped
// (shapeFollow.ts decides), NOT NULL dropped and set, a table renamed, the partition tree; and the
// stop, exactly before the transaction that carries it, of a change it cannot follow. It works on
// the session's connections (sessionConnections.ts), given; the apply loop that calls it is
// applySession.ts; the event trigger's DDL messages, ddlFollower.ts; the stops, shapeStops.ts.
import { ident, qualified } from '../../connect/quote';
import { PgferryError } from '../../core/errors';
import { parseLsn } from '../../core/lsn';
import { traceOnce } from '../../util/trace';
import { planPartitionTree, runPartitionSteps } from './partitionTree';
import { stopOnTarget, stopPerRow, stopWith, type CurrentTransaction, type StopAt } from './shapeStops';
import { sourceTableWords, targetTableWords, type StreamWords } from '../../core/streamWords';
import type { SessionConnections } from './sessionConnections';
import type { ApplyState } from './applyState';
import type { SessionConfig } from './sessionConfig';
import { inspectTargetTable, readTargetColumns, resolveTargetTable } from './targetTables';
import { addColumnPlan, identityPosition, sourceAttributes, sourceColumnDefinitions } from './sourceColumns';
import { generatedNames, planGeneratedFollow } from './generatedFollow';
import { unseenCandidates, unseenRenames, type TypeName } from './unseenTypeRenames';
import {
  keptColumnStop,
  planShapeFollow,
  readdedColumns,
  targetOnlyColumns,
  type SourceAttribute,
  type TargetAttribute,
} from './shapeFollow';
import type { TargetTable } from '../plan/types';
import type { ChangeEvent, Relation, TypeRename } from '../decode/changeEvents';

/** Attnum records kept per table (ShapeFollower.recordedFor): a follow not committed still finds the one before it. */
const ATTNUM_RECORDS = 8;

/** The source's WAL insert position (every record inserted so far ends at or before it; a standby's replayed end). */
const SOURCE_WAL_INSERT_SQL = `SELECT (CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn()
  ELSE pg_catalog.pg_current_wal_insert_lsn() END)::pg_catalog.text AS lsn`;

/** A partition's topmost partitioned ancestor and that root's leaves (quoted as quote.ts's qualified); no row for a table that is no partition. */
const PARTITION_ROOT_SQL = `
WITH RECURSIVE up AS (
  SELECT c.oid, 0 AS depth FROM pg_catalog.pg_class c WHERE c.oid = pg_catalog.to_regclass($1) AND c.relispartition
  UNION ALL
  SELECT i.inhparent, up.depth + 1 FROM up
    JOIN pg_catalog.pg_inherits i ON i.inhrelid = up.oid
    JOIN pg_catalog.pg_class p ON p.oid = i.inhparent AND p.relkind = 'p'
), root AS (SELECT oid FROM up ORDER BY depth DESC LIMIT 1),
down AS (
  SELECT oid FROM root
  UNION ALL
  SELECT i.inhrelid FROM down JOIN pg_catalog.pg_inherits i ON i.inhparent = down.oid
)
SELECT n.nspname AS schema, c.relname AS name,
       ARRAY(SELECT '"' || pg_catalog.replace(ln.nspname, '"', '""') || '"."' || pg_catalog.replace(l.relname, '"', '""') || '"' FROM down JOIN pg_catalog.pg_class l ON l.oid = down.oid
               JOIN pg_catalog.pg_namespace ln ON ln.oid = l.relnamespace WHERE l.relkind <> 'p') AS leaves
  FROM root JOIN pg_catalog.pg_class c ON c.oid = root.oid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE root.oid <> pg_catalog.to_regclass($1)`;

/** A session's target tables and their shapes followed, over its connections (sessionConnections.ts). */
export class ShapeFollower {
  private readonly tables = new Map<number, TargetTable>();
  /** A change of shape was sent in the pipeline since it last settled: the target's catalog is read after it runs. */
  private ddlSent = false;
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
  /** Source type OIDs whose stream name was checked against the target once (followUnseenTypeRenames). */
  private readonly typesChecked = new Set<number>();

  constructor(
    private readonly config: SessionConfig,
    private readonly state: ApplyState,
    private readonly connections: SessionConnections,
    /** The source transaction the apply is in (a stop settles the batch before it: shapeStops.ts). */
    private readonly current: () => CurrentTransaction,
  ) {}

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
      table = await resolveTargetTable(
        this.connections.target,
        relation,
        this.connections.foreignKeysFire,
        this.leftOut.get(relation.oid),
        this.config.words,
      );
      this.tables.set(relation.oid, table);
    }
    return table;
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
      throw (await this.renamedPartition(item.relation)) ?? error;
    }
  }

  /**
   * A partition the target lacks under the name the stream gives, whose root on the target has a
   * partition of the same bounds under another name: renamed where the stream comes from (a
   * partition manager's or a DBA's rename; on the new server during a fallback window, the reverse
   * stream). Its rows are not written through the bounds into the other name: the comparison of a
   * switchover would then stop on the names, and a rename pgferry made on its own on a server the
   * user writes is a DDL it was not asked for. The stop names the rename and the statement that
   * follows it; undefined when the bounds match no partition there.
   */
  private async renamedPartition(relation: Relation): Promise<PgferryError | undefined> {
    const source = await this.connections.sourceSession();
    const { rows } = await source.query<{ root_schema: string; root: string; bounds: string }>(PARTITION_BOUNDS_SQL, [relation.oid]);
    const part = rows[0];
    if (!part) return undefined;
    const { rows: same } = await this.connections.target.query<{ schema: string; name: string }>(SAME_BOUNDS_SQL, [
      qualified(part.root_schema, part.root),
      part.bounds,
    ]);
    const there = same[0];
    if (!there) return undefined;
    const [from, to] = this.state.carriedBack ? ['the new server', 'the old source'] : ['the source', 'the target'];
    const name = qualified(relation.schema, relation.name);
    const was = qualified(there.schema, there.name);
    return new PgferryError(
      'CDC_TABLE_MISSING',
      `partition ${name} of ${qualified(part.root_schema, part.root)} (${part.bounds}) is ${was} on ${to}: it was renamed on ${from}, and ${to} has no table of the new name`,
      {
        category: 'target',
        fix: `rename it on ${to} too (ALTER TABLE ${was} RENAME TO ${ident(relation.name)}${there.schema === relation.schema ? '' : `, and SET SCHEMA ${ident(relation.schema)}`}), or rename it back on ${from}; the stream is tried again by itself and applies its rows once`,
      },
    );
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
      `${sourceTableWords(this.words, qualified(relation.schema, relation.name))} was created and dropped on ${this.words.source} while the stream was behind, and ${this.words.target} never had it: its changes are not applied (the drop took its rows)`,
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
      await this.followRename(relation, change.from);
      change = change.columns;
    }
    if (following && item.renamedTypes) await this.followTypeRenames(item.renamedTypes);
    // marked before any stop, so that it stays marked when the stream resumes after a fix
    const reshaped = (partitioned = this.tables.get(relation.oid)?.partitioned): void => this.state.tracker.reshaped(name, partitioned);
    const atStart = following ? await this.recordAttnums(relation) : undefined;
    if (change.kind === 'unsupported' && (!following || change.table)) {
      reshaped();
      stopWith(this.stopAt(), name, change.description, following);
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
      readded = readdedColumns(this.recordedFor(relation.oid, relation.columns), attributes).length > 0;
      if (!readded) {
        await this.followGenerated(relation, attributes, reshaped);
        return this.followNotNull(relation, attributes, reshaped);
      }
    }
    const target = this.connections.target;
    // the target's catalog is read on the apply's connection, beside the pipeline: a change of
    // shape sent before (followed at an earlier message) has run first
    if (this.ddlSent) await this.settled();
    const ahead = await this.connections.targetTableAhead(relation.schema, relation.name);
    let inspected = await this.inspectFollowingTypes(relation, ahead, following);
    // generated columns are not streamed: the source's catalog is read for them where either side has one
    if (following && (inspected.present.some((c) => c.generated) || (atStart && generatedNames(atStart).length > 0))) {
      const attributes = await this.sourceAttributesOf(relation);
      if (await this.followGenerated(relation, attributes, reshaped, inspected.present)) {
        await this.settled();
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
      if (blocked) stopOnTarget(this.stopAt(), name, blocked.description, blocked.fix);
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
        stopWith(this.stopAt(), name, `column ${JSON.stringify(extra[0])} was dropped or renamed`, following);
      }
      if (retyped.length > 0) {
        reshaped();
        stopWith(this.stopAt(), name, `column ${JSON.stringify(retyped[0])} changed type`, following);
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
    if (this.ddlSent) await this.settled();
    const resolved = await resolveTargetTable(target, relation, this.connections.foreignKeysFire, leftOut, this.config.words);
    reshaped(resolved.partitioned);
    this.tables.set(relation.oid, resolved);
  }

  /**
   * The relation's table on the target (inspectTargetTable), and the types the source renamed
   * before the stream named them renamed there (followUnseenTypeRenames) when `following`.
   */
  private async inspectFollowingTypes(
    relation: Relation,
    ahead: Parameters<typeof inspectTargetTable>[3],
    following: boolean,
  ): ReturnType<typeof inspectTargetTable> {
    const inspected = await inspectTargetTable(this.connections.target, relation, this.connections.foreignKeysFire, ahead);
    traceOnce('first target table read');
    if (following) await this.followUnseenTypeRenames(relation, inspected.columns);
    return inspected;
  }

  /**
   * A streamed table renamed or moved on the source (same OID, new name in its relation message):
   * the target table renamed in the open transaction, before any row under the new name, so that
   * every row lands once, in the table that had it. IF EXISTS: a target table renamed already (a
   * runner stopped after this commit, the stream sending the message again) is left as it is, and
   * one missing under both names stops the stream as a missing table does.
   */
  private async followRename(relation: Relation, from: { readonly schema: string; readonly name: string }): Promise<void> {
    const name = qualified(relation.schema, relation.name);
    const statements: string[] = [];
    if (from.schema !== relation.schema)
      statements.push(`ALTER TABLE IF EXISTS ${qualified(from.schema, from.name)} SET SCHEMA ${ident(relation.schema)}`);
    if (from.name !== relation.name)
      statements.push(`ALTER TABLE IF EXISTS ${qualified(relation.schema, from.name)} RENAME TO ${ident(relation.name)}`);
    await this.connections.txn.flush();
    await this.sendDdl(name, statements);
    this.tables.delete(relation.oid);
    this.state.tracker.reshaped(name, undefined);
    this.state.onFollowed?.(
      `${sourceTableWords(this.words, qualified(from.schema, from.name))} renamed to ${name} while streaming, followed on ${this.words.target} at its position in the stream`,
    );
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
  private async followTypeRenames(renames: readonly TypeRename[]): Promise<void> {
    await this.settled();
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
   * followTypeRenames does, before the first row under the new name: the schema watch's rename
   * waits for the apply to pass it, and would wait for ever. Each type is looked at once a session,
   * and only where the target's column prints its type under another name (no round trip otherwise).
   */
  private async followUnseenTypeRenames(relation: Relation, columns: readonly TargetAttribute[]): Promise<void> {
    const candidates = unseenCandidates(relation, columns, this.typesChecked);
    for (const c of candidates) this.typesChecked.add(c.oid);
    const made = this.state.madeOnTarget;
    if (candidates.length === 0 || !made) return;
    const source = await this.connections.sourceSession();
    const renames = await unseenRenames(this.connections.target, source, candidates, await made());
    for (const { from, to } of renames) await this.renameType(from, to);
    if (renames.length > 0) await this.settled();
  }

  /** A type renamed or moved on the target as the source did, in the open transaction; tables cast to its old name read again. */
  private async renameType(from: TypeName, to: TypeName): Promise<void> {
    const [was, now] = [qualified(from.schema, from.name), qualified(to.schema, to.name)];
    const statements: string[] = [];
    if (from.schema !== to.schema) statements.push(`ALTER TYPE ${was} SET SCHEMA ${ident(to.schema)}`);
    if (from.name !== to.name) statements.push(`ALTER TYPE ${qualified(to.schema, from.name)} RENAME TO ${ident(to.name)}`);
    await this.sendDdl(now, statements);
    for (const [oid, table] of this.tables) if (table.columns.some((c) => c.cast === was)) this.tables.delete(oid);
    this.state.onFollowed?.(`source type ${was} renamed to ${now} while streaming, followed on the target at its position in the stream`);
  }

  /** Columns added on the source, added on the target so its existing rows get the source's values (addColumnPlan). */
  private async addColumns(relation: Relation, missing: readonly string[], reshaped: () => void): Promise<void> {
    const name = qualified(relation.schema, relation.name);
    const target = this.connections.target;
    await this.settled();
    const source = await this.connections.sourceSession();
    const columns = await sourceColumnDefinitions(source, relation.oid, missing);
    if (columns.length < missing.length) {
      reshaped();
      const gone = missing.find((m) => !columns.some((c) => c.name === m));
      stopWith(
        this.stopAt(),
        name,
        `column ${JSON.stringify(gone)} was added, and ${this.words.source}'s catalog no longer has it (renamed or dropped since)`,
        this.config.followSchemaChanges,
      );
    }
    // the target's rows so far, this open transaction's included (same connection, after the flush)
    // a partition's columns are added on its root (partitionRoot), for every partition's rows
    const at = (await this.partitionRoot(relation)) ?? relation;
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
      stopPerRow(this.stopAt(), name, unreproducible.column.name, unreproducible.plan.why);
    }
    if (perRow.length > 0)
      await this.resyncPerRow(
        relation,
        perRow.map((p) => `column ${JSON.stringify(p.column.name)} added, which ${p.plan.kind === 'per-row' ? p.plan.why : ''}`),
      );
    // what the apply makes on the target is known from now on, recorded before it is made
    const made = columns.flatMap((c) => (c.attnum === undefined ? [] : [{ name: c.name, attnum: c.attnum }]));
    await this.state.recordKnownColumns?.(relation.schema, relation.name, made);
    for (const { plan } of plans) await this.sendDdl(owner, plan.statements ?? []);
    // an identity's sequence at the source's position at least: the values the stream brings stay below it
    for (const { column } of plans) {
      const position = identityPosition(at.schema, column);
      if (position) await this.connections.txn.exec({ op: 'ddl', target: owner, text: position.text, params: position.params, rows: 0 });
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
   * Sends a change of a table's shape in the open transaction, before the rows that need it;
   * remembered so that the next read of the target's catalog waits for it (settled).
   */
  async sendDdl(table: string, statements: readonly string[]): Promise<void> {
    this.connections.forgetTablesAhead();
    for (const text of statements) await this.connections.txn.exec({ op: 'ddl', target: table, text, params: [], rows: 0 });
    this.ddlSent = true;
  }

  /** Everything planned is sent and has run on the target (the open transaction stays open). */
  async settled(): Promise<void> {
    await this.connections.txn.flush();
    await this.connections.txn.idle();
    this.ddlSent = false;
  }

  /**
   * The attnums of a table's streamed columns, as the source's catalog has them while it still has
   * this message's shape: every published table's columns are read once, at the runner's first
   * relation message, and each table's are kept when they agree with its first message
   * (shapeFollow.ts decides a rename from a drop and an add by them).
   */
  private async recordAttnums(relation: Relation): Promise<readonly SourceAttribute[] | undefined> {
    const known = (this.state.sourceAttnums ??= new Map());
    if (known.has(relation.oid)) return undefined;
    if (!this.state.sourceColumnsAtStart) {
      // read as the session started (sessionConnections.ts), unless an earlier session of this applier started it
      const ahead = this.connections.sourceColumnsAhead();
      const source = ahead ? undefined : await this.connections.sourceSession();
      this.state.sourceColumnsAtStart =
        (await ahead) ?? (await sourceAttributes(source!, this.connections.sourceMajor, { publication: this.config.publication }));
    }
    const columns = this.state.sourceColumnsAtStart.get(relation.oid);
    this.state.sourceColumnsAtStart.delete(relation.oid);
    if (!columns) return undefined;
    const live = columns.filter((a) => !a.dropped && !a.generated);
    const agrees =
      live.length === relation.columns.length &&
      live.every((a, i) => {
        const c = relation.columns[i]!;
        return a.name === c.name && a.typeOid === c.typeOid && a.typeMod === c.typeMod;
      });
    if (agrees) known.set(relation.oid, [new Map(live.map((a) => [a.name, a.attnum]))]);
    return columns;
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
      await this.settled();
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
    const name = qualified(relation.schema, relation.name);
    reshaped();
    await this.connections.txn.flush();
    await this.sendDdl(name, plan.statements);
    this.state.onFollowed?.(
      `${sourceTableWords(this.words, name)} changed while streaming, followed on ${this.words.target} at its position in the stream: ${plan.followed.join(', ')}`,
    );
    return true;
  }

  /**
   * The attnums recorded with the target table's columns as they are (`columns`, by name): the
   * newest record whose names are the target's. A follow's record is kept from when its statements
   * are sent, and a session that fails before their commit leaves the target as it was: the record
   * before it still fits it then, and the change is followed again when the stream brings it again.
   */
  private recordedFor(oid: number, columns: readonly { readonly name: string }[]): ReadonlyMap<string, number> | undefined {
    const versions = this.state.sourceAttnums?.get(oid) ?? [];
    const names = new Set(columns.map((c) => c.name));
    for (let i = versions.length - 1; i >= 0; i--) {
      const v = versions[i]!;
      if (v.size === names.size && [...v.keys()].every((k) => names.has(k))) return v;
    }
    return undefined;
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
    const name = qualified(relation.schema, relation.name);
    const attributes = await this.sourceAttributesOf(relation);
    // the record of the target's columns but its own (kept, planShapeFollow leaves them out)
    const own = this.keptColumns(
      relation,
      targetColumns.map((c) => c.name),
      known,
    );
    const recorded = this.recordedFor(
      relation.oid,
      targetColumns.filter((c) => !own.includes(c.name)),
    );
    const resync = this.state.requestResync !== undefined;
    // a partition's shape is changed on its root (partitionRoot)
    const at = (await this.partitionRoot(relation)) ?? relation;
    const plan = planShapeFollow(at.schema, at.name, relation.columns, attributes, targetColumns, recorded, {
      dropNotNull: true,
      resync,
      words: this.words,
      ...(known ? { known } : {}),
    });
    if (plan.kind === 'stop') stopWith(this.stopAt(), name, plan.description, true, plan.fix);
    // what the apply makes on the target is known from now on, recorded before it is made
    await this.state.recordKnownColumns?.(
      relation.schema,
      relation.name,
      [...plan.attnums].map(([c, attnum]) => ({ name: c, attnum })),
    );
    if (plan.readded.length > 0) await this.resyncReadded(relation, plan.readded);
    if (plan.underived.length > 0) {
      const which = plan.underived.map((c) => JSON.stringify(c)).join(', ');
      await this.resyncAtPin(relation, `column ${which} retyped to values ${this.words.target} cannot derive`);
    }
    if (plan.reshaped) await this.resyncAtPin(relation, plan.reshaped);
    await this.connections.txn.flush();
    await this.sendDdl(qualified(at.schema, at.name), plan.statements);
    // kept with the records before it (recordedFor), the oldest dropped past a few
    const versions = this.state.sourceAttnums?.get(relation.oid);
    if (versions) versions.push(plan.attnums);
    else (this.state.sourceAttnums ??= new Map()).set(relation.oid, [plan.attnums]);
    if (versions && versions.length > ATTNUM_RECORDS) versions.shift();
    if (plan.followed.length > 0)
      this.state.onFollowed?.(
        `${sourceTableWords(this.words, name)} changed while streaming, followed on ${this.words.target} at its position in the stream: ${plan.followed.join(', ')}`,
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
    const name = qualified(relation.schema, relation.name);
    const which = columns.map((c) => JSON.stringify(c)).join(', ');
    const request = this.state.requestResync;
    if (!request)
      stopWith(
        this.stopAt(),
        name,
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
    const root = await this.partitionRoot(relation);
    await this.state.requestResync!(root?.schema ?? relation.schema, root?.name ?? relation.name, why);
    for (const leaf of root?.leaves ?? [qualified(relation.schema, relation.name)]) this.state.tracker.resyncing.add(leaf);
  }

  /**
   * Of a table that is a partition on the target, its partitioned root there and the root's leaf
   * partitions (as the stream names them); undefined for any other table. A partitioned table's
   * shape is followed on its root: PostgreSQL refuses a column added to, dropped from or retyped on
   * a partition, and a change made on the root reaches every partition as it did on the source.
   */
  private async partitionRoot(relation: Relation): Promise<{ schema: string; name: string; leaves: string[] } | undefined> {
    if (this.ddlSent) await this.settled();
    const { rows } = await this.connections.target.query<{ schema: string; name: string; leaves: string[] }>(PARTITION_ROOT_SQL, [
      qualified(relation.schema, relation.name),
    ]);
    return rows[0];
  }

  /**
   * A re-sent relation message of an unchanged shape: NOT NULL the source dropped is dropped on the
   * target before the next row; NOT NULL it set is set once the apply is past it (notNullSetsDue).
   */
  private async followNotNull(relation: Relation, attributes: readonly SourceAttribute[], reshaped: () => void): Promise<void> {
    const notNull = this.state.targetNotNull?.get(relation.oid);
    if (!notNull) return;
    // a column left out (the new server's own, in the reverse stream) is not on the target at all
    const leftOut = this.leftOut.get(relation.oid);
    const streamed = new Set(relation.columns.map((c) => c.name).filter((c) => !leftOut?.has(c)));
    const set = attributes.filter((a) => !a.dropped && !a.generated && a.notNull && streamed.has(a.name) && !notNull.has(a.name));
    if (set.length > 0)
      await this.notNullSetLater(
        relation,
        set.map((a) => a.name),
      );
    const dropped = attributes.filter((a) => !a.dropped && !a.notNull && notNull.has(a.name)).map((a) => a.name);
    if (dropped.length === 0) return;
    const name = qualified(relation.schema, relation.name);
    await this.connections.txn.flush();
    await this.sendDdl(
      name,
      dropped.map((column) => `ALTER TABLE ${name} ALTER COLUMN ${ident(column)} DROP NOT NULL`),
    );
    this.state.targetNotNull!.set(relation.oid, new Set([...notNull].filter((c) => !dropped.includes(c))));
    reshaped();
    this.state.onFollowed?.(
      `${sourceTableWords(this.words, name)}: NOT NULL dropped on ${dropped.map((c) => JSON.stringify(c)).join(', ')}, followed on ${this.words.target} at its position in the stream`,
    );
  }

  /**
   * NOT NULL set on the source: set on the target at the first source transaction that commits at
   * or past the source's WAL insert position read after its catalog showed it (P). The source's SET
   * NOT NULL held ACCESS EXCLUSIVE on the table and committed before P, so every transaction that
   * wrote the table before it committed before it too: once the apply is past P the target's rows
   * are the source's after the change (none NULL), and every later row is one the source checked.
   * Set at the relation message instead, a row streamed before the change (a NULL updated away
   * before it) would be refused. The message may have been sent before the change: the catalog is
   * read when the apply reaches it.
   */
  private async notNullSetLater(relation: Relation, columns: readonly string[]): Promise<void> {
    const pending = this.state.notNullSets ?? [];
    const fresh = columns.filter((c) => !pending.some((p) => p.oid === relation.oid && p.column === c));
    if (fresh.length === 0) return;
    const source = await this.connections.sourceSession();
    const { rows } = await source.query<{ lsn: string }>(SOURCE_WAL_INSERT_SQL);
    const at = parseLsn(rows[0]!.lsn);
    // every BEGIN looks at the list while it is set (handle): set only with something in it
    this.state.notNullSets = [
      ...pending,
      ...fresh.map((column) => ({ oid: relation.oid, schema: relation.schema, table: relation.name, column, at })),
    ];
  }

  /** Before a source transaction that commits at `finalLsn`: the NOT NULL sets it is past (notNullSetLater). */
  async notNullSetsDue(finalLsn: bigint): Promise<void> {
    const pending = this.state.notNullSets ?? [];
    const due = pending.filter((p) => p.at <= finalLsn);
    if (due.length === 0) return;
    this.state.notNullSets = pending.filter((p) => p.at > finalLsn);
    if (this.state.notNullSets.length === 0) this.state.notNullSets = undefined;
    for (const oid of new Set(due.map((p) => p.oid))) {
      const first = due.find((p) => p.oid === oid)!;
      const name = qualified(first.schema, first.table);
      // still NOT NULL on the source: a DROP NOT NULL since is followed at its own message, after this
      const source = await this.connections.sourceSession();
      const now = (await sourceAttributes(source, this.connections.sourceMajor, { relation: oid })).get(oid) ?? [];
      const notNull = new Set(this.state.targetNotNull?.get(oid) ?? []);
      const columns = due
        .filter((p) => p.oid === oid && !notNull.has(p.column))
        .map((p) => p.column)
        .filter((c) => now.some((a) => !a.dropped && a.name === c && a.notNull));
      if (columns.length === 0) continue;
      await this.connections.txn.flush();
      await this.sendDdl(
        name,
        columns.map((column) => `ALTER TABLE ${name} ALTER COLUMN ${ident(column)} SET NOT NULL`),
      );
      for (const column of columns) notNull.add(column);
      this.state.targetNotNull?.set(oid, notNull);
      this.state.tracker.reshaped(name, this.tables.get(oid)?.partitioned);
      this.state.onFollowed?.(
        `${sourceTableWords(this.words, name)}: NOT NULL set on ${columns.map((c) => JSON.stringify(c)).join(', ')}, followed on ${this.words.target} once the apply was past it`,
      );
    }
  }

  /** The table's columns the migration knows (ApplyState.knownColumns); undefined without that record. */
  private async knownColumnsOf(relation: Relation): Promise<ReadonlyMap<string, number | null> | undefined> {
    return this.state.knownColumns?.(relation.schema, relation.name);
  }

  /** Of `columns` (target columns), those the target alone has: not streamed, in no attnum record of this runner, not known. */
  private keptColumns(relation: Relation, columns: readonly string[], known: ReadonlyMap<string, number | null> | undefined): string[] {
    const recorded = new Set((this.state.sourceAttnums?.get(relation.oid) ?? []).flatMap((v) => [...v.keys()]));
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
    this.leftOut.set(relation.oid, leftOut);
    const fresh = [...leftOut].filter((c) => !this.keptTold.has(`${relation.oid}\0${c}`));
    for (const c of fresh) this.keptTold.add(`${relation.oid}\0${c}`);
    if (fresh.length > 0)
      this.state.onFollowed?.(
        `table ${qualified(relation.schema, relation.name)} of the new server: column ${fresh.map((c) => JSON.stringify(c)).join(', ')} made there alone (pgferry did not make it, the old source never had it): kept there, left out of the reverse stream, not carried back`,
      );
    return leftOut;
  }

  /** Columns kept on the target, told once each: an event naming them. */
  private tellKept(relation: Relation, kept: readonly string[]): void {
    const fresh = kept.filter((c) => !this.keptTold.has(`${relation.oid}\0${c}`));
    if (fresh.length === 0) return;
    for (const c of fresh) this.keptTold.add(`${relation.oid}\0${c}`);
    const name = qualified(relation.schema, relation.name);
    this.state.onFollowed?.(
      `${targetTableWords(this.words, name)}: column ${fresh.map((c) => JSON.stringify(c)).join(', ')} made on ${this.words.target} alone (pgferry did not make it, ${this.words.source} never had it): kept as it is, with its values`,
    );
  }

  /**
   * Step, after a relation message of a table that is a partition on the target, in a source
   * transaction not applied before (the apply loop skips the others): the target's partition tree
   * made the source's, inside the open transaction and before the change that follows
   * (partitionTree.ts says why this point is exact). A step the target refuses now is tried again
   * at the next such message, and at the cutover.
   */
  async followPartitions(relation: Relation): Promise<void> {
    if (this.tables.get(relation.oid)?.partition !== true) return;
    await this.connections.txn.flush();
    await this.connections.txn.begin();
    const steps = await planPartitionTree(await this.connections.sourceSession(), this.connections.target, this.state.parentsCopied);
    if (steps.length === 0) return;
    this.connections.forgetTablesAhead();
    const { done } = await runPartitionSteps(this.connections.target, steps);
    // the moved tables' Relation facts (partition or not) are read again at their next message
    for (const step of done) {
      for (const [oid, table] of this.tables) if (qualified(table.schema, table.name) === step.table) this.tables.delete(oid);
    }
  }
}

/** Pure: the names of the generated columns among a table's columns, sorted. */
function generatedOf(columns: readonly { name: string; generated: boolean }[]): string[] {
  return columns
    .filter((c) => c.generated)
    .map((c) => c.name)
    .sort();
}

/** A partition's root (its parent, as the stream names partitions under their own name) and bounds, by OID. */
const PARTITION_BOUNDS_SQL = `
SELECT pn.nspname AS root_schema, p.relname AS root, pg_catalog.pg_get_expr(c.relpartbound, c.oid) AS bounds
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_inherits i ON i.inhrelid = c.oid
  JOIN pg_catalog.pg_class p ON p.oid = i.inhparent
  JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace
 WHERE c.oid = $1 AND c.relispartition`;

/** The partition of a parent (by its qualified name) with the given bounds. */
const SAME_BOUNDS_SQL = `
SELECT n.nspname AS schema, c.relname AS name
  FROM pg_catalog.pg_inherits i
  JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE i.inhparent = pg_catalog.to_regclass($1) AND c.relispartition
   AND pg_catalog.pg_get_expr(c.relpartbound, c.oid) = $2`;

/** A relation's replica identity and the columns its old rows are keyed by, as its relation message gives them. */
function streamKeyOf(relation: Relation): string {
  return JSON.stringify([relation.replicaIdentity, relation.columns.filter((c) => c.isKey).map((c) => c.name)]);
}

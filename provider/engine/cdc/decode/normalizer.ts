// Turns decoded pgoutput messages into change events: resolves relation ids, aligns old keys with
// columns, and notices schema changes. Pure: no IO, one instance per replication session.
import { pgTimeToMs } from './frames';
import type { PgoutputMessage } from './pgoutput';
import { diffRelation, type SchemaChange } from './schemaChange';
import type { ChangeEvent, Relation, TypeRename } from './changeEvents';

export class ChangeNormalizer {
  private readonly relations = new Map<number, Relation>();
  /** Relations seen in earlier sessions survive reconnects, so a change made while disconnected is still noticed. */
  private readonly known = new Map<number, Relation>();
  private readonly types = new Map<number, { schema: string; name: string }>();
  /** Types whose Type message named them otherwise than the one before: told with the next relation message. */
  private renamedTypes: TypeRename[] = [];

  constructor(known?: ReadonlyMap<number, Relation>) {
    if (known) for (const [oid, relation] of known) this.known.set(oid, relation);
  }

  /** Relations seen so far (hand to the next session's normaliser). */
  knownRelations(): ReadonlyMap<number, Relation> {
    return this.known;
  }

  private relation(oid: number): Relation {
    const relation = this.relations.get(oid);
    if (!relation) throw new Error(`pgoutput change for relation ${oid} before its relation message`);
    return relation;
  }

  /**
   * A type renamed on the source: told with the next relation message (pgoutput sends a table's
   * Type messages just before it), and the relations seen with its old name given the new one, so
   * that their rows are written under it whether or not the source sends their relation again.
   */
  private typeRenamed(rename: TypeRename): void {
    this.renamedTypes.push(rename);
    for (const map of [this.relations, this.known])
      for (const [oid, relation] of map) {
        if (!relation.columns.some((c) => c.typeOid === rename.oid)) continue;
        const typeNames = relation.columns.map((c, i) => (c.typeOid === rename.oid ? rename.to : relation.typeNames[i]));
        map.set(oid, { ...relation, typeNames });
      }
  }

  /**
   * A relation the apply renamed on the target before the stream sent it under its new name (it
   * left its name to another table, cdc/apply/renameFollower.ts): its next relation message under
   * that name is then no rename, and its rows are written under it whether or not one comes.
   */
  renamedAhead(oid: number, to: { readonly schema: string; readonly name: string }): void {
    for (const map of [this.relations, this.known]) {
      const relation = map.get(oid);
      if (relation) map.set(oid, { ...relation, schema: to.schema, name: to.name });
    }
  }

  push(message: PgoutputMessage): ChangeEvent | undefined {
    switch (message.tag) {
      case 'begin':
        return { kind: 'begin', finalLsn: message.finalLsn, commitTimeMs: pgTimeToMs(message.commitTime), xid: message.xid };
      case 'commit':
        return { kind: 'commit', commitLsn: message.commitLsn, endLsn: message.endLsn, commitTimeMs: pgTimeToMs(message.commitTime) };
      case 'origin':
        return undefined;
      case 'type': {
        const was = this.types.get(message.oid);
        const to = { schema: message.schema, name: message.name };
        this.types.set(message.oid, to);
        if (was && (was.schema !== to.schema || was.name !== to.name)) this.typeRenamed({ oid: message.oid, from: was, to });
        return undefined;
      }
      case 'relation': {
        const relation: Relation = {
          oid: message.oid,
          schema: message.schema,
          name: message.name,
          replicaIdentity: message.replicaIdentity,
          columns: message.columns,
          typeNames: message.columns.map((c) => this.types.get(c.typeOid)),
        };
        const previous = this.known.get(message.oid);
        this.relations.set(message.oid, relation);
        this.known.set(message.oid, relation);
        const change: SchemaChange = previous ? diffRelation(previous, relation) : { kind: 'none' };
        const renamedTypes = this.renamedTypes;
        this.renamedTypes = [];
        return { kind: 'relation', relation, change, first: !previous, ...(renamedTypes.length > 0 ? { renamedTypes } : {}) };
      }
      case 'insert':
        return { kind: 'row', op: 'insert', relation: this.relation(message.relationOid), values: message.newTuple, identityIsRow: false };
      case 'update': {
        const relation = this.relation(message.relationOid);
        return {
          kind: 'row',
          op: 'update',
          relation,
          identity: message.oldTuple ?? message.newTuple,
          identityIsRow: message.oldKind === 'O',
          values: message.newTuple,
        };
      }
      case 'delete':
        return {
          kind: 'row',
          op: 'delete',
          relation: this.relation(message.relationOid),
          identity: message.oldTuple,
          identityIsRow: message.oldKind === 'O',
        };
      case 'truncate':
        return {
          kind: 'truncate',
          relations: message.relationOids.map((oid) => this.relation(oid)),
          cascade: message.cascade,
          restartIdentity: message.restartIdentity,
        };
      case 'message':
        return {
          kind: 'message',
          prefix: message.prefix,
          content: message.content,
          transactional: message.transactional,
          lsn: message.lsn,
        };
    }
  }
}

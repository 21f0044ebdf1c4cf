// pgoutput (protocol version 1) message decoder: bytes in, typed messages out, values kept in the
// server's text form so floats, numerics, timestamps, arrays and json round-trip exactly, and read
// in place (see tuple.ts). Stateless: the relation cache lives in the normaliser.
// https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html
import { ByteReader } from './byteReader';
import { NULL_VALUE, Tuple, UNCHANGED_VALUE } from './tuple';

export { Tuple, UNCHANGED } from './tuple';

export type ReplicaIdentity = 'default' | 'nothing' | 'full' | 'index';

export interface RelationColumn {
  readonly name: string;
  readonly isKey: boolean;
  readonly typeOid: number;
  readonly typeMod: number;
}

export type PgoutputMessage =
  | { readonly tag: 'begin'; readonly finalLsn: bigint; readonly commitTime: bigint; readonly xid: number }
  | { readonly tag: 'commit'; readonly commitLsn: bigint; readonly endLsn: bigint; readonly commitTime: bigint }
  | { readonly tag: 'origin'; readonly lsn: bigint; readonly name: string }
  | {
      readonly tag: 'relation';
      readonly oid: number;
      readonly schema: string;
      readonly name: string;
      readonly replicaIdentity: ReplicaIdentity;
      readonly columns: readonly RelationColumn[];
    }
  | { readonly tag: 'type'; readonly oid: number; readonly schema: string; readonly name: string }
  | { readonly tag: 'insert'; readonly relationOid: number; readonly newTuple: Tuple }
  | {
      readonly tag: 'update';
      readonly relationOid: number;
      /** 'K': the old replica identity (only when it changed); 'O': the whole old row (FULL). */
      readonly oldKind?: 'K' | 'O';
      readonly oldTuple?: Tuple;
      readonly newTuple: Tuple;
    }
  | { readonly tag: 'delete'; readonly relationOid: number; readonly oldKind: 'K' | 'O'; readonly oldTuple: Tuple }
  | {
      readonly tag: 'truncate';
      readonly relationOids: readonly number[];
      readonly cascade: boolean;
      readonly restartIdentity: boolean;
    }
  | {
      readonly tag: 'message';
      readonly transactional: boolean;
      readonly lsn: bigint;
      readonly prefix: string;
      readonly content: Uint8Array;
    };

const IDENTITIES: Record<string, ReplicaIdentity> = { d: 'default', n: 'nothing', f: 'full', i: 'index' };

function tuple(r: ByteReader): Tuple {
  const count = r.i16();
  const cells = new Array<number>(2 * count);
  for (let i = 0; i < count; i++) {
    const kind = r.u8();
    if (kind === 0x74 /* t */) {
      const size = r.i32();
      cells[2 * i] = r.span(size);
      cells[2 * i + 1] = size;
    } else if (kind === 0x6e /* n */) {
      cells[2 * i] = 0;
      cells[2 * i + 1] = NULL_VALUE;
    } else if (kind === 0x75 /* u */) {
      cells[2 * i] = 0;
      cells[2 * i + 1] = UNCHANGED_VALUE;
    } else if (kind === 0x62 /* b */) throw new Error('binary tuple values are not requested and not supported');
    else throw new Error(`unknown tuple value kind 0x${kind.toString(16)}`);
  }
  return new Tuple(r.buffer, cells);
}

function oldKind(tag: number): 'K' | 'O' {
  if (tag === 0x4b) return 'K';
  if (tag === 0x4f) return 'O';
  throw new Error(`unexpected tuple tag 0x${tag.toString(16)}`);
}

function expect(r: ByteReader, tag: number): void {
  const got = r.u8();
  if (got !== tag) throw new Error(`expected tuple tag 0x${tag.toString(16)}, got 0x${got.toString(16)}`);
}

/** Decodes the message in bytes[start, end) (all of `bytes` by default). */
export function decodePgoutput(bytes: Uint8Array, start = 0, end = bytes.length): PgoutputMessage {
  const r = new ByteReader(bytes, start, end);
  const tag = r.u8();
  switch (tag) {
    case 0x42: // B
      return { tag: 'begin', finalLsn: r.u64(), commitTime: r.i64(), xid: r.u32() };
    case 0x43: // C
      r.u8(); // flags, unused
      return { tag: 'commit', commitLsn: r.u64(), endLsn: r.u64(), commitTime: r.i64() };
    case 0x4f: // O
      return { tag: 'origin', lsn: r.u64(), name: r.cstring() };
    case 0x52: {
      // R
      const oid = r.u32();
      const schema = r.cstring();
      const name = r.cstring();
      const ident = String.fromCharCode(r.u8());
      const replicaIdentity = IDENTITIES[ident];
      if (!replicaIdentity) throw new Error(`unknown replica identity ${JSON.stringify(ident)}`);
      const count = r.i16();
      const columns: RelationColumn[] = [];
      for (let i = 0; i < count; i++) {
        const flags = r.u8();
        columns.push({ isKey: (flags & 1) === 1, name: r.cstring(), typeOid: r.u32(), typeMod: r.i32() });
      }
      return { tag: 'relation', oid, schema: schema === '' ? 'pg_catalog' : schema, name, replicaIdentity, columns };
    }
    case 0x59: {
      // Y
      // For a domain the server names its base type ("" schema meaning pg_catalog): the value is
      // cast to that, and assignment to the column applies the domain's checks.
      const oid = r.u32();
      const schema = r.cstring();
      return { tag: 'type', oid, schema: schema === '' ? 'pg_catalog' : schema, name: r.cstring() };
    }
    case 0x49: {
      // I
      const relationOid = r.u32();
      expect(r, 0x4e);
      return { tag: 'insert', relationOid, newTuple: tuple(r) };
    }
    case 0x55: {
      // U
      const relationOid = r.u32();
      const sub = r.u8();
      if (sub === 0x4e) return { tag: 'update', relationOid, newTuple: tuple(r) };
      const kind = oldKind(sub);
      const oldTuple = tuple(r);
      expect(r, 0x4e);
      return { tag: 'update', relationOid, oldKind: kind, oldTuple, newTuple: tuple(r) };
    }
    case 0x44: {
      // D
      const relationOid = r.u32();
      const kind = oldKind(r.u8());
      return { tag: 'delete', relationOid, oldKind: kind, oldTuple: tuple(r) };
    }
    case 0x54: {
      // T
      const count = r.i32();
      const flags = r.u8();
      const relationOids: number[] = [];
      for (let i = 0; i < count; i++) relationOids.push(r.u32());
      return { tag: 'truncate', relationOids, cascade: (flags & 1) !== 0, restartIdentity: (flags & 2) !== 0 };
    }
    case 0x4d: {
      // M
      const flags = r.u8();
      const lsn = r.u64();
      const prefix = r.cstring();
      const content = r.raw(r.i32());
      return { tag: 'message', transactional: (flags & 1) === 1, lsn, prefix, content };
    }
    default:
      throw new Error(`unknown pgoutput message 0x${tag.toString(16)}`);
  }
}

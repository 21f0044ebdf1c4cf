// Byte builders for pgoutput and replication frames, so decoder tests need no server.

class Bytes {
  private readonly parts: Buffer[] = [];

  u8(v: number): this {
    this.parts.push(Buffer.from([v]));
    return this;
  }
  char(c: string): this {
    return this.u8(c.charCodeAt(0));
  }
  i16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16BE(v);
    this.parts.push(b);
    return this;
  }
  i32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    this.parts.push(b);
    return this;
  }
  u32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v);
    this.parts.push(b);
    return this;
  }
  u64(v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(v);
    this.parts.push(b);
    return this;
  }
  cstr(s: string): this {
    this.parts.push(Buffer.from(s, 'utf8'), Buffer.from([0]));
    return this;
  }
  raw(b: Buffer): this {
    this.parts.push(b);
    return this;
  }
  /** TupleData: strings are 't', null is 'n', undefined is 'u' (unchanged TOAST). */
  tuple(values: readonly (string | null | undefined)[]): this {
    this.i16(values.length);
    for (const v of values) {
      if (v === null) this.char('n');
      else if (v === undefined) this.char('u');
      else {
        const b = Buffer.from(v, 'utf8');
        this.char('t').i32(b.length).raw(b);
      }
    }
    return this;
  }
  build(): Buffer {
    return Buffer.concat(this.parts);
  }
}

export const begin = (finalLsn: bigint, xid: number): Buffer => new Bytes().char('B').u64(finalLsn).u64(1000n).u32(xid).build();
export const commit = (commitLsn: bigint, endLsn: bigint): Buffer =>
  new Bytes().char('C').u8(0).u64(commitLsn).u64(endLsn).u64(1000n).build();

export function relation(
  oid: number,
  schema: string,
  name: string,
  identity: string,
  columns: readonly { name: string; key?: boolean; type: number; mod?: number }[],
): Buffer {
  const b = new Bytes().char('R').u32(oid).cstr(schema).cstr(name).char(identity).i16(columns.length);
  for (const c of columns)
    b.u8(c.key ? 1 : 0)
      .cstr(c.name)
      .u32(c.type)
      .i32(c.mod ?? -1);
  return b.build();
}

export const insert = (oid: number, values: readonly (string | null | undefined)[]): Buffer =>
  new Bytes().char('I').u32(oid).char('N').tuple(values).build();

export function update(
  oid: number,
  values: readonly (string | null | undefined)[],
  old?: { kind: 'K' | 'O'; values: readonly (string | null | undefined)[] },
): Buffer {
  const b = new Bytes().char('U').u32(oid);
  if (old) b.char(old.kind).tuple(old.values);
  return b.char('N').tuple(values).build();
}

export const del = (oid: number, kind: 'K' | 'O', values: readonly (string | null | undefined)[]): Buffer =>
  new Bytes().char('D').u32(oid).char(kind).tuple(values).build();

export function truncate(oids: readonly number[], flags: number): Buffer {
  const b = new Bytes().char('T').i32(oids.length).u8(flags);
  for (const o of oids) b.u32(o);
  return b.build();
}

export const message = (prefix: string, content: string, transactional = true): Buffer =>
  new Bytes()
    .char('M')
    .u8(transactional ? 1 : 0)
    .u64(0x1234n)
    .cstr(prefix)
    .i32(Buffer.byteLength(content))
    .raw(Buffer.from(content))
    .build();

export const typeMessage = (oid: number, schema: string, name: string): Buffer =>
  new Bytes().char('Y').u32(oid).cstr(schema).cstr(name).build();

export const xlog = (start: bigint, payload: Buffer): Buffer => new Bytes().char('w').u64(start).u64(start).u64(0n).raw(payload).build();
export const keepalive = (end: bigint, reply: boolean): Buffer =>
  new Bytes()
    .char('k')
    .u64(end)
    .u64(0n)
    .u8(reply ? 1 : 0)
    .build();

// A developer's loop for the apply path's CPU in this process, without servers: a pgbench-shaped
// pgoutput stream (per transaction: three updates and one insert) decoded, normalised, planned
// and turned into the bytes that would go to the target's socket. Deterministic, unlike a drain on
// a shared machine, so a change to decoding or planning shows as microseconds per row.
//   node dist/bench/applyMicro.js [--tx 120000] [--rounds 5]
import { ChangeNormalizer, decodePgoutput } from '../provider/decoder';
import { BatchPlanner, DEFAULT_LIMITS } from '../provider/engine/cdc/plan/planner';
import type { Statement, TargetTable } from '../provider/engine/cdc/plan/types';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** pgoutput bytes, written the way the walsender does (big-endian, text values). */
class Writer {
  private buf = Buffer.alloc(1 << 20);
  private pos = 0;
  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  u8(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v;
    return this;
  }
  i16(v: number): this {
    this.ensure(2);
    this.buf.writeInt16BE(v, this.pos);
    this.pos += 2;
    return this;
  }
  u32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }
  u64(v: bigint): this {
    this.ensure(8);
    this.buf.writeBigUInt64BE(v, this.pos);
    this.pos += 8;
    return this;
  }
  cstr(s: string): this {
    const n = Buffer.byteLength(s);
    this.ensure(n + 1);
    this.pos += this.buf.write(s, this.pos);
    return this.u8(0);
  }
  tuple(values: readonly (string | null)[]): this {
    this.i16(values.length);
    for (const v of values) {
      if (v === null) this.u8(0x6e);
      else {
        const n = Buffer.byteLength(v);
        this.u8(0x74).u32(n);
        this.ensure(n);
        this.pos += this.buf.write(v, this.pos);
      }
    }
    return this;
  }
  /** Ends a message: its [start, end) within the stream. */
  mark(messages: [number, number][], start: number): void {
    messages.push([start, this.pos]);
  }
  get offset(): number {
    return this.pos;
  }
  get bytes(): Buffer {
    return this.buf;
  }
}

const TABLES: { oid: number; name: string; cols: [string, string, boolean][] }[] = [
  {
    oid: 1,
    name: 'pgbench_accounts',
    cols: [
      ['aid', 'integer', true],
      ['bid', 'integer', false],
      ['abalance', 'integer', false],
      ['filler', 'character(84)', false],
    ],
  },
  {
    oid: 2,
    name: 'pgbench_tellers',
    cols: [
      ['tid', 'integer', true],
      ['bid', 'integer', false],
      ['tbalance', 'integer', false],
      ['filler', 'character(84)', false],
    ],
  },
  {
    oid: 3,
    name: 'pgbench_branches',
    cols: [
      ['bid', 'integer', true],
      ['bbalance', 'integer', false],
      ['filler', 'character(88)', false],
    ],
  },
  {
    oid: 4,
    name: 'pgbench_history',
    cols: [
      ['tid', 'integer', false],
      ['bid', 'integer', false],
      ['aid', 'integer', false],
      ['delta', 'integer', false],
      ['mtime', 'timestamp without time zone', false],
      ['filler', 'character(22)', false],
      ['hid', 'bigint', true],
    ],
  },
];

function stream(transactions: number): { bytes: Buffer; messages: [number, number][] } {
  const w = new Writer();
  const messages: [number, number][] = [];
  let lsn = 0x1000000n;
  let at = w.offset;
  for (const t of TABLES) {
    w.u8(0x52).u32(t.oid).cstr('public').cstr(t.name).u8(0x64).i16(t.cols.length);
    for (const [name, , key] of t.cols)
      w.u8(key ? 1 : 0)
        .cstr(name)
        .u32(23)
        .u32(0xffffffff);
    w.mark(messages, at);
    at = w.offset;
  }
  const filler = ' '.repeat(84);
  let seed = 1;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return 1 + (seed % n);
  };
  for (let x = 1; x <= transactions; x++) {
    const aid = random(2_000_000);
    const tid = random(200);
    const bid = random(20);
    const delta = String(random(10_000) - 5_000);
    w.u8(0x42).u64(lsn).u64(0n).u32(x).mark(messages, at);
    at = w.offset;
    w.u8(0x55)
      .u32(1)
      .u8(0x4e)
      .tuple([String(aid), String(bid), delta, filler])
      .mark(messages, at);
    at = w.offset;
    w.u8(0x55)
      .u32(2)
      .u8(0x4e)
      .tuple([String(tid), String(bid), delta, null])
      .mark(messages, at);
    at = w.offset;
    w.u8(0x55)
      .u32(3)
      .u8(0x4e)
      .tuple([String(bid), delta, null])
      .mark(messages, at);
    at = w.offset;
    w.u8(0x49)
      .u32(4)
      .u8(0x4e)
      .tuple([String(tid), String(bid), String(aid), delta, '2026-11-21 15:04:05.123456', null, String(x)])
      .mark(messages, at);
    at = w.offset;
    lsn += 1000n;
    w.u8(0x43)
      .u8(0)
      .u64(lsn)
      .u64(lsn + 8n)
      .u64(0n)
      .mark(messages, at);
    at = w.offset;
  }
  return { bytes: w.bytes, messages };
}

/** What the socket would be handed: COPY data and parameters as bytes. */
function wireBytes(statement: Statement): number {
  let n = Buffer.byteLength(statement.text);
  if (statement.copyData !== undefined)
    n += typeof statement.copyData === 'string' ? Buffer.from(statement.copyData).length : statement.copyData.length;
  for (const p of statement.params) if (p !== null) n += Buffer.from(p).length;
  return n;
}

function once(input: { bytes: Buffer; messages: [number, number][] }): { rows: number; wire: number } {
  const normalizer = new ChangeNormalizer();
  const planner = new BatchPlanner({ ...DEFAULT_LIMITS, perTable: true, stageMinRows: 100 });
  const tables = new Map<number, TargetTable>();
  let rows = 0;
  let wire = 0;
  let batch = 0;
  for (const [start, end] of input.messages) {
    const event = normalizer.push(decodePgoutput(input.bytes, start, end));
    if (!event) continue;
    if (event.kind === 'relation') {
      const t = TABLES.find((x) => x.oid === event.relation.oid)!;
      tables.set(t.oid, {
        oid: t.oid,
        schema: 'public',
        name: t.name,
        identityFull: false,
        partitioned: false,
        columns: t.cols.map(([name, cast, isKey]) => ({ name, cast, isKey, equality: 'OPERATOR("pg_catalog".=)', stableText: true })),
      });
    } else if (event.kind === 'row') {
      for (const s of planner.add({ op: event.op, table: tables.get(event.relation.oid)!, identity: event.identity, values: event.values }))
        wire += wireBytes(s);
      rows += 1;
      batch += 1;
    } else if (event.kind === 'commit' && batch >= 2000) {
      for (const s of planner.flush()) wire += wireBytes(s);
      batch = 0;
    }
  }
  for (const s of planner.flush()) wire += wireBytes(s);
  return { rows, wire };
}

const input = stream(arg('tx', 120_000));
const rounds = arg('rounds', 5);
const perRow: number[] = [];
for (let r = 0; r < rounds; r++) {
  const cpu = process.cpuUsage();
  const { rows, wire } = once(input);
  const used = process.cpuUsage(cpu);
  perRow.push((used.user + used.system) / rows);
  console.log(`round ${r + 1}: ${rows} rows, ${(wire / 2 ** 20).toFixed(1)} MiB to the target, ${perRow[r]!.toFixed(2)} µs CPU per row`);
}
perRow.sort((a, b) => a - b);
console.log(`median ${perRow[Math.floor(perRow.length / 2)]!.toFixed(2)} µs CPU per row`);

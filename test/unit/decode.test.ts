import assert from 'node:assert/strict';
import { decodeFrame, encodeStatusUpdate } from '../../provider/engine/cdc/decode/frames';
import { formatLsn, parseLsn } from '../../provider/engine/core/lsn';
import { ChangeNormalizer } from '../../provider/engine/cdc/decode/normalizer';
import { decodePgoutput, Tuple, UNCHANGED } from '../../provider/engine/cdc/decode/pgoutput';
import { diffRelation } from '../../provider/engine/cdc/decode/schemaChange';
import * as b from './pgoutputBytes';

const cols = [
  { name: 'id', key: true, type: 23 },
  { name: 'note "x"', type: 25 },
  { name: 'amount', type: 1700, mod: 655366 },
];

describe('cdc/decode (pure)', () => {
  it('parses and formats WAL positions', () => {
    assert.equal(parseLsn('16/B374D848'), 0x16b374d848n);
    assert.equal(formatLsn(0x16b374d848n), '16/B374D848');
    assert.equal(formatLsn(parseLsn('0/0')), '0/0');
    assert.throws(() => parseLsn('16-B3'));
  });

  it('decodes every pgoutput message kind, keeping values as the server text', () => {
    assert.deepEqual(decodePgoutput(b.begin(0x100n, 7)), { tag: 'begin', finalLsn: 0x100n, commitTime: 1000n, xid: 7 });
    assert.deepEqual(decodePgoutput(b.commit(0x100n, 0x130n)), { tag: 'commit', commitLsn: 0x100n, endLsn: 0x130n, commitTime: 1000n });
    const rel = decodePgoutput(b.relation(16384, '', 'tä"ble', 'd', cols));
    assert.equal(rel.tag, 'relation');
    if (rel.tag === 'relation') {
      assert.equal(rel.schema, 'pg_catalog');
      assert.equal(rel.name, 'tä"ble');
      assert.deepEqual(
        rel.columns.map((c) => [c.name, c.isKey, c.typeOid, c.typeMod]),
        [
          ['id', true, 23, -1],
          ['note "x"', false, 25, -1],
          ['amount', false, 1700, 655366],
        ],
      );
    }
    // tuples are read in place: compare their values
    const plain = (m: ReturnType<typeof decodePgoutput>): unknown => {
      const out: Record<string, unknown> = { ...m };
      for (const k of ['newTuple', 'oldTuple']) if (out[k] instanceof Tuple) out[k] = (out[k] as Tuple).values();
      return out;
    };
    const ins = decodePgoutput(b.insert(16384, ['1', null, '0.1000000000000000055511151231257827']));
    assert.deepEqual(plain(ins), { tag: 'insert', relationOid: 16384, newTuple: ['1', null, '0.1000000000000000055511151231257827'] });
    const upd = decodePgoutput(b.update(16384, ['2', undefined, '3'], { kind: 'K', values: ['1', null, null] }));
    assert.deepEqual(plain(upd), {
      tag: 'update',
      relationOid: 16384,
      oldKind: 'K',
      oldTuple: ['1', null, null],
      newTuple: ['2', UNCHANGED, '3'],
    });
    assert.deepEqual(plain(decodePgoutput(b.update(16384, ['2', 'x', '3']))), {
      tag: 'update',
      relationOid: 16384,
      newTuple: ['2', 'x', '3'],
    });
    assert.deepEqual(plain(decodePgoutput(b.del(16384, 'O', ['1', 'a', null]))), {
      tag: 'delete',
      relationOid: 16384,
      oldKind: 'O',
      oldTuple: ['1', 'a', null],
    });
    assert.deepEqual(decodePgoutput(b.truncate([1, 2], 3)), {
      tag: 'truncate',
      relationOids: [1, 2],
      cascade: true,
      restartIdentity: true,
    });
    const msg = decodePgoutput(b.message('pgferry.cutover.m', 'go'));
    assert.equal(msg.tag, 'message');
    if (msg.tag === 'message') {
      assert.equal(msg.prefix, 'pgferry.cutover.m');
      assert.equal(Buffer.from(msg.content).toString(), 'go');
      assert.equal(msg.transactional, true);
    }
    assert.deepEqual(decodePgoutput(b.typeMessage(99999, 'public', 'mood')), { tag: 'type', oid: 99999, schema: 'public', name: 'mood' });
    // a domain is announced as its base type, "" meaning pg_catalog
    assert.deepEqual(decodePgoutput(b.typeMessage(99998, '', 'int4')), { tag: 'type', oid: 99998, schema: 'pg_catalog', name: 'int4' });
  });

  it('refuses every truncated message instead of returning a partial one', () => {
    const messages = [
      b.begin(0x100n, 7),
      b.commit(1n, 2n),
      b.relation(1, 's', 't', 'f', cols),
      b.insert(1, ['1', 'ünï', null]),
      b.update(1, ['2', undefined, '3'], { kind: 'O', values: ['1', 'a', 'b'] }),
      b.del(1, 'K', ['1', null, null]),
      b.truncate([1, 2, 3], 0),
      b.message('p', 'content'),
    ];
    for (const full of messages) {
      for (let cut = 0; cut < full.length; cut++) {
        assert.throws(() => decodePgoutput(full.subarray(0, cut)), /truncated|unknown|expected|negative/, `cut at ${cut} of ${full[0]}`);
      }
      assert.doesNotThrow(() => decodePgoutput(full));
    }
  });

  it('decodes XLogData and keepalive frames and encodes an exact status update', () => {
    const payload = b.insert(1, ['1']);
    const frame = decodeFrame(b.xlog(0xabn, payload));
    assert.equal(frame.kind, 'xlog');
    if (frame.kind === 'xlog') assert.deepEqual(Buffer.from(frame.payload), payload);
    assert.deepEqual(decodeFrame(b.keepalive(0x1_0000_0000n, true)), { kind: 'keepalive', walEnd: 0x1_0000_0000n, replyRequested: true });
    const full = b.keepalive(5n, false);
    for (let cut = 0; cut < full.length; cut++) assert.throws(() => decodeFrame(full.subarray(0, cut)));
    const status = encodeStatusUpdate(0x1_0000_0010n, 0x1_0000_0010n, 0x1_0000_0010n, Date.UTC(2000, 0, 1));
    assert.equal(status.length, 34);
    assert.equal(status[0], 0x72);
    assert.equal(status.readBigUInt64BE(9), 0x1_0000_0010n); // flushed exactly, not +1
    assert.equal(status.readBigInt64BE(25), 0n);
  });

  it('normalises changes: relation lookup, key alignment, type names, schema changes', () => {
    const n = new ChangeNormalizer();
    assert.equal(n.push(decodePgoutput(b.typeMessage(70000, 'public', 'mood'))), undefined);
    const first = n.push(decodePgoutput(b.relation(5, 'public', 't', 'd', [...cols, { name: 'm', type: 70000 }])));
    assert.ok(first && first.kind === 'relation' && first.first && first.change.kind === 'none');
    if (first?.kind === 'relation') assert.deepEqual(first.relation.typeNames[3], { schema: 'public', name: 'mood' });
    const upd = n.push(decodePgoutput(b.update(5, ['2', undefined, '3', 'ok'], { kind: 'K', values: ['1', null, null, null] })));
    assert.ok(upd?.kind === 'row' && upd.op === 'update');
    if (upd?.kind === 'row') {
      assert.deepEqual(upd.identity?.values(), ['1', null, null, null]);
      assert.equal(upd.identityIsRow, false);
    }
    const again = n.push(
      decodePgoutput(b.relation(5, 'public', 't', 'd', [...cols, { name: 'm', type: 70000 }, { name: 'added', type: 20 }])),
    );
    assert.ok(again?.kind === 'relation' && again.change.kind === 'added');
    assert.throws(() => n.push(decodePgoutput(b.insert(6, ['1']))), /before its relation message/);
    // a fresh session's normaliser still remembers the shape, so a change made while disconnected is seen
    const next = new ChangeNormalizer(n.knownRelations());
    const dropped = next.push(decodePgoutput(b.relation(5, 'public', 't', 'd', cols)));
    assert.ok(dropped?.kind === 'relation' && dropped.change.kind === 'unsupported');
    if (dropped?.kind === 'relation' && dropped.change.kind === 'unsupported')
      assert.match(dropped.change.description, /column m was dropped/);
  });

  it('describes type changes and renames, a name bare when plain and quoted part by part otherwise', () => {
    const base = { schema: 's', name: 't', columns: [{ name: 'a', isKey: true, typeOid: 23, typeMod: -1 }] };
    assert.deepEqual(diffRelation(base, base), { kind: 'none' });
    const retyped = diffRelation(base, { ...base, columns: [{ name: 'a', isKey: true, typeOid: 20, typeMod: -1 }] });
    assert.equal(retyped.kind === 'unsupported' && retyped.description, 'column a changed type');
    const renamed = diffRelation(base, { ...base, name: 'u' });
    assert.equal(renamed.kind === 'unsupported' && renamed.description, 'table renamed to s.u');
    // a name that is no plain word prints quoted, each part on its own, so a dot in it is no boundary
    const quoted = diffRelation(base, { ...base, schema: 'My.S', name: 'Order Lines', columns: [] });
    assert.equal(quoted.kind === 'unsupported' && quoted.description, 'table renamed to "My.S"."Order Lines"');
    const odd = { ...base, columns: [{ name: 'Qty"x', isKey: true, typeOid: 23, typeMod: -1 }] };
    const retypedOdd = diffRelation(odd, { ...odd, columns: [{ name: 'Qty"x', isKey: true, typeOid: 20, typeMod: -1 }] });
    assert.equal(retypedOdd.kind === 'unsupported' && retypedOdd.description, 'column "Qty""x" changed type');
  });
});

// The decision a relation message's change of shape is followed by (cdc/apply/shapeFollow.ts): a
// rename from a drop and an add by the source's attnums, retypes the target can derive, and stops
// for what cannot be decided.
import assert from 'node:assert/strict';
import {
  derivableRetype,
  planShapeFollow,
  readdedColumns,
  type SourceAttribute,
  type TargetAttribute,
} from '../../provider/engine/cdc/apply/shapeFollow';

const INT4 = { typeOid: 23, typeMod: -1, type: 'integer' };
const INT8 = { typeOid: 20, typeMod: -1, type: 'bigint' };
const TEXT = { typeOid: 25, typeMod: -1, type: 'text' };
const numeric = (p: number, s: number) => ({ typeOid: 1700, typeMod: ((p << 16) | s) + 4, type: `numeric(${p},${s})` });
const varchar = (n: number) => ({ typeOid: 1043, typeMod: n + 4, type: `character varying(${n})` });

const src = (
  attnum: number,
  name: string,
  t: { typeOid: number; typeMod: number; type: string },
  extra: Partial<SourceAttribute> = {},
) => ({
  attnum,
  name,
  dropped: false,
  generated: false,
  notNull: false,
  ...t,
  ...extra,
});
const dropped = (attnum: number): SourceAttribute => ({
  ...src(attnum, `........pg.dropped.${attnum}........`, { typeOid: 0, typeMod: -1, type: '-' }),
  dropped: true,
});
const tgt = (name: string, t: { typeOid: number; typeMod: number; type: string }, notNull = false): TargetAttribute => ({
  name,
  ...t,
  notNull,
});
const live = (source: readonly SourceAttribute[]) => source.filter((a) => !a.dropped && !a.generated);

function plan(source: SourceAttribute[], target: TargetAttribute[], recorded?: Record<string, number>) {
  return planShapeFollow('public', 't', live(source), source, target, recorded ? new Map(Object.entries(recorded)) : undefined);
}

describe('following a change of shape (unit)', () => {
  it('a rename keeps its attnum: renamed on the target', () => {
    const p = plan([src(1, 'id', INT4), src(2, 'padding', TEXT)], [tgt('id', INT4), tgt('pad', TEXT)], { id: 1, pad: 2 });
    assert.equal(p.kind, 'follow');
    assert.deepEqual(p.kind === 'follow' && p.statements, ['ALTER TABLE "public"."t" RENAME COLUMN "pad" TO "padding"']);
  });

  it('a drop and an add of another name: dropped, then added (not renamed)', () => {
    const p = plan([src(1, 'id', INT4), dropped(2), src(3, 'padding', TEXT)], [tgt('id', INT4), tgt('pad', TEXT)], { id: 1, pad: 2 });
    assert.equal(p.kind, 'follow');
    if (p.kind !== 'follow') return;
    assert.deepEqual(p.statements, ['ALTER TABLE "public"."t" DROP COLUMN "pad"']);
    assert.deepEqual(p.added, ['padding']);
  });

  it('a drop and an add of the same name: dropped and added again, and the table copied again (readded)', () => {
    const p = plan([src(1, 'id', INT4), dropped(2), src(3, 'pad', TEXT)], [tgt('id', INT4), tgt('pad', TEXT)], { id: 1, pad: 2 });
    assert.deepEqual(p.kind === 'follow' && [p.statements, p.added, p.readded], [
      ['ALTER TABLE "public"."t" DROP COLUMN "pad"'],
      ['pad'],
      ['pad'],
    ]);
  });

  it('readdedColumns: a recorded attnum dropped while a live column has its name', () => {
    const recorded = new Map(Object.entries({ id: 1, pad: 2, tag: 3 }));
    // tag dropped and added again (same name, type, last place: the relation message is the same)
    assert.deepEqual(readdedColumns(recorded, [src(1, 'id', INT4), src(2, 'pad', TEXT), dropped(3), src(4, 'tag', TEXT)]), ['tag']);
    // tag dropped only (a later message drops it), pad renamed and a new pad added: neither is re-added
    assert.deepEqual(readdedColumns(recorded, [src(1, 'id', INT4), src(2, 'padding', TEXT), dropped(3), src(4, 'pad', TEXT)]), []);
    assert.deepEqual(readdedColumns(undefined, [src(1, 'id', INT4)]), []);
  });

  it('without the attnums seen before, a gone column and a new one is a stop', () => {
    const p = plan([src(1, 'id', INT4), src(2, 'padding', TEXT)], [tgt('id', INT4), tgt('pad', TEXT)]);
    assert.equal(p.kind, 'stop');
  });

  it('two columns swapped by name go through free names', () => {
    const p = plan([src(1, 'b', TEXT), src(2, 'a', TEXT)], [tgt('a', TEXT), tgt('b', TEXT)], { a: 1, b: 2 });
    assert.deepEqual(p.kind === 'follow' && p.statements, [
      'ALTER TABLE "public"."t" RENAME COLUMN "a" TO "pgferry rename 0"',
      'ALTER TABLE "public"."t" RENAME COLUMN "b" TO "pgferry rename 1"',
      'ALTER TABLE "public"."t" RENAME COLUMN "pgferry rename 0" TO "b"',
      'ALTER TABLE "public"."t" RENAME COLUMN "pgferry rename 1" TO "a"',
    ]);
  });

  it('a derivable retype is followed with the source type; a narrowing stops with the statement', () => {
    const up = plan([src(1, 'id', INT4), src(2, 'n', INT8)], [tgt('id', INT4), tgt('n', INT4)], { id: 1, n: 2 });
    assert.deepEqual(up.kind === 'follow' && up.statements, ['ALTER TABLE "public"."t" ALTER COLUMN "n" TYPE bigint']);
    const down = plan([src(1, 'id', INT4), src(2, 'n', INT4)], [tgt('id', INT4), tgt('n', INT8)], { id: 1, n: 2 });
    assert.equal(down.kind, 'stop');
    // bigint to integer is an assignment cast: PostgreSQL converts the values without a USING
    assert.match(down.kind === 'stop' ? down.fix : '', /\(ALTER TABLE "public"\."t" ALTER COLUMN "n" TYPE integer as on the source\)/);
  });

  it('a retype not derivable, where the table can be copied again: emptied, given the source type, copied at a pin', () => {
    const source = [src(1, 'id', INT4), src(2, 'n', TEXT), src(3, 'amount', numeric(10, 2))];
    const target = [tgt('id', INT4), tgt('n', INT4), tgt('amount', numeric(12, 4))];
    const p = planShapeFollow(
      'public',
      't',
      live(source),
      source,
      target,
      new Map([
        ['id', 1],
        ['n', 2],
        ['amount', 3],
      ]),
      {
        dropNotNull: true,
        resync: true,
      },
    );
    assert.deepEqual(p.kind === 'follow' && [p.statements, p.underived], [
      [
        'DELETE FROM "public"."t"',
        'ALTER TABLE "public"."t" ALTER COLUMN "n" TYPE text USING NULL',
        'ALTER TABLE "public"."t" ALTER COLUMN "amount" TYPE numeric(10,2) USING NULL',
      ],
      ['n', 'amount'],
    ]);
    // a derivable one beside it is retyped as before, and the table needs no copy for it alone
    const up = planShapeFollow(
      'public',
      't',
      live(source),
      source,
      [tgt('id', INT4), tgt('n', TEXT), tgt('amount', numeric(8, 2))],
      undefined,
      {
        dropNotNull: true,
        resync: true,
      },
    );
    assert.deepEqual(up.kind === 'follow' && [up.statements, up.underived], [
      ['ALTER TABLE "public"."t" ALTER COLUMN "amount" TYPE numeric(10,2)'],
      [],
    ]);
  });

  it('NOT NULL the source dropped is dropped on the target; a source whose catalog moved on since is a stop', () => {
    const p = plan([src(1, 'id', INT4, { notNull: true }), src(2, 'n', INT8)], [tgt('id', INT4, true), tgt('n', INT4, true)], {
      id: 1,
      n: 2,
    });
    assert.deepEqual(p.kind === 'follow' && p.statements, [
      'ALTER TABLE "public"."t" ALTER COLUMN "n" TYPE bigint',
      'ALTER TABLE "public"."t" ALTER COLUMN "n" DROP NOT NULL',
    ]);
    const source = [src(1, 'id', INT4), src(2, 'm', INT8)];
    const moved = planShapeFollow(
      'public',
      't',
      [
        { name: 'id', ...INT4 },
        { name: 'n', ...INT8 },
      ],
      source,
      [tgt('id', INT4), tgt('n', INT4)],
      undefined,
    );
    assert.equal(moved.kind, 'stop');
  });

  it('derivable retypes: widenings only', () => {
    assert.ok(derivableRetype(INT4, INT8));
    assert.ok(!derivableRetype(INT8, INT4));
    assert.ok(derivableRetype(varchar(10), varchar(20)));
    assert.ok(derivableRetype(varchar(10), TEXT));
    assert.ok(!derivableRetype(varchar(20), varchar(10)));
    assert.ok(!derivableRetype(TEXT, varchar(10)));
    assert.ok(derivableRetype(numeric(10, 2), numeric(12, 2)));
    assert.ok(derivableRetype(numeric(10, 2), numeric(12, 4)));
    assert.ok(!derivableRetype(numeric(12, 4), numeric(12, 2)));
    assert.ok(!derivableRetype(numeric(12, 2), numeric(12, 4)));
    assert.ok(derivableRetype(numeric(12, 2), { typeOid: 1700, typeMod: -1 }));
    assert.ok(!derivableRetype(INT4, TEXT));
  });
});

describe('following a change of shape when the source has changed again since (unit)', () => {
  const target = [tgt('id', INT4), tgt('pad', TEXT), tgt('price', TEXT)];
  const recorded = new Map(Object.entries({ id: 1, pad: 2, price: 3 }));

  it('a rename met after a later drop and add: renamed, not dropped', () => {
    // pad renamed to padding (the message), then price dropped and x added (the catalog now)
    const source = [src(1, 'id', INT4), src(2, 'padding', TEXT), dropped(3), src(4, 'x', TEXT)];
    const p = planShapeFollow(
      'public',
      't',
      [
        { name: 'id', ...INT4 },
        { name: 'padding', ...TEXT },
        { name: 'price', ...TEXT },
      ],
      source,
      target,
      recorded,
    );
    assert.deepEqual(p.kind === 'follow' && [p.statements, p.added], [['ALTER TABLE "public"."t" RENAME COLUMN "pad" TO "padding"'], []]);
  });

  it('the later drop then follows; an add the catalog confirms is added', () => {
    const source = [src(1, 'id', INT4), src(2, 'padding', TEXT), dropped(3), src(4, 'x', TEXT), src(5, 'y', TEXT)];
    const now = [tgt('id', INT4), tgt('padding', TEXT), tgt('price', TEXT)];
    const p = planShapeFollow(
      'public',
      't',
      [
        { name: 'id', ...INT4 },
        { name: 'padding', ...TEXT },
        { name: 'x', ...TEXT },
      ],
      source,
      now,
      new Map(Object.entries({ id: 1, padding: 2, price: 3 })),
    );
    assert.deepEqual(p.kind === 'follow' && [p.statements, p.added], [['ALTER TABLE "public"."t" DROP COLUMN "price"'], ['x']]);
  });

  it('a column the message keeps but the catalog dropped and added again under its name: dropped, added, readded', () => {
    // the message still has pad (its first attnum); the catalog has pad dropped, added again, and id retyped since
    const source = [src(1, 'id', INT8), dropped(2), src(3, 'price', TEXT), src(4, 'pad', TEXT)];
    const p = planShapeFollow(
      'public',
      't',
      [
        { name: 'id', ...INT4 },
        { name: 'pad', ...TEXT },
        { name: 'price', ...TEXT },
      ],
      source,
      target,
      recorded,
    );
    assert.equal(p.kind, 'follow');
    if (p.kind !== 'follow') return;
    assert.deepEqual([p.statements, p.added, p.readded], [['ALTER TABLE "public"."t" DROP COLUMN "pad"'], ['pad'], ['pad']]);
    assert.equal(p.attnums.get('pad'), 4);
  });

  it('a retype met after later changes is followed from the message, built-in types only', () => {
    const source = [src(1, 'id', INT4), src(2, 'pad', TEXT), src(3, 'price', TEXT), src(4, 'z', TEXT)];
    const p = planShapeFollow(
      'public',
      't',
      [
        { name: 'id', ...INT8 },
        { name: 'pad', ...TEXT },
        { name: 'price', ...TEXT },
      ],
      source,
      target,
      recorded,
    );
    assert.deepEqual(p.kind === 'follow' && p.statements, ['ALTER TABLE "public"."t" ALTER COLUMN "id" TYPE bigint']);
  });

  it('a retype the target cannot derive, met after later changes: copied again where it can be, else a stop', () => {
    // the message has pad retyped to integer (a USING only the source ran); the catalog added z since
    const source = [src(1, 'id', INT4), src(2, 'pad', INT4), src(3, 'price', TEXT), src(4, 'z', TEXT)];
    const streamed = [
      { name: 'id', ...INT4 },
      { name: 'pad', ...INT4 },
      { name: 'price', ...TEXT },
    ];
    const resync = planShapeFollow('public', 't', streamed, source, target, recorded, { dropNotNull: true, resync: true });
    assert.equal(resync.kind, 'follow');
    if (resync.kind !== 'follow') return;
    assert.deepEqual(resync.statements, [
      'DELETE FROM "public"."t"',
      'ALTER TABLE "public"."t" ALTER COLUMN "pad" TYPE integer USING NULL',
      'ALTER TABLE "public"."t" ADD COLUMN "z" text',
    ]);
    assert.match(resync.reshaped ?? '', /column pad changed type, a change whose values the target cannot derive/);
    assert.equal(planShapeFollow('public', 't', streamed, source, target, recorded).kind, 'stop');
  });
});

describe('following a change of shape that cannot be decided (unit)', () => {
  it('what cannot be decided, where the table can be copied again: emptied, given the source columns by name, copied at a pin', () => {
    // the message still has a renamed "b"; the catalog has dropped it and added "c" since
    const source = [src(1, 'id', INT4, { notNull: true }), dropped(2), src(3, 'keep', INT8), src(4, 'c', TEXT)];
    const streamed = [
      { name: 'id', ...INT4 },
      { name: 'b', ...TEXT },
      { name: 'keep', ...INT4 },
    ];
    const target = [tgt('id', INT4, true), tgt('a', TEXT, true), tgt('keep', INT4)];
    const p = planShapeFollow('public', 't', streamed, source, target, undefined, { dropNotNull: true, resync: true });
    assert.equal(p.kind, 'follow');
    if (p.kind !== 'follow') return;
    assert.deepEqual(p.statements, [
      'DELETE FROM "public"."t"',
      'ALTER TABLE "public"."t" DROP COLUMN "a"',
      'ALTER TABLE "public"."t" ALTER COLUMN "keep" TYPE bigint USING NULL',
      'ALTER TABLE "public"."t" ADD COLUMN "c" text',
    ]);
    assert.match(p.reshaped ?? '', /cannot tell a rename from a drop and an add/);
    assert.deepEqual(
      [...p.attnums],
      [
        ['id', 1],
        ['keep', 3],
        ['c', 4],
      ],
    );
    // without a place to record the copy: a stop, as before
    assert.equal(planShapeFollow('public', 't', streamed, source, target, undefined).kind, 'stop');
  });
});

describe('following a change of shape: what the target alone has is kept (unit)', () => {
  it('without them, a gone column the known objects hold is a drop: the source dropped it', () => {
    const known = new Map<string, number | null>([
      ['id', 1],
      ['pad', 2],
    ]);
    const p = planShapeFollow(
      'public',
      't',
      [src(1, 'id', INT4)],
      [src(1, 'id', INT4), dropped(2)],
      [tgt('id', INT4), tgt('pad', TEXT)],
      undefined,
      {
        dropNotNull: true,
        known,
      },
    );
    assert.deepEqual(p.kind === 'follow' && [p.statements, p.kept], [['ALTER TABLE "public"."t" DROP COLUMN "pad"'], []]);
  });

  it('a column the target alone has (not streamed, not recorded, not known) is kept, never dropped', () => {
    const known = new Map<string, number | null>([['id', 1]]);
    const source = [src(1, 'id', INT4), dropped(2), src(3, 'n', INT4)];
    const target = [tgt('id', INT4), tgt('dba_note', TEXT)];
    const p = planShapeFollow('public', 't', live(source), source, target, undefined, { dropNotNull: true, known });
    assert.equal(p.kind, 'follow');
    if (p.kind !== 'follow') return;
    assert.deepEqual([p.statements, p.added, p.kept], [[], ['n'], ['dba_note']]);
    // with the attnums seen before too: a rename beside it is followed, the column kept
    const q = planShapeFollow(
      'public',
      't',
      [src(1, 'id', INT4), src(2, 'note', TEXT)],
      [src(1, 'id', INT4), src(2, 'note', TEXT)],
      [tgt('id', INT4), tgt('remark', TEXT), tgt('dba_note', TEXT)],
      new Map([
        ['id', 1],
        ['remark', 2],
      ]),
      {
        dropNotNull: true,
        known: new Map([
          ['id', 1],
          ['remark', 2],
        ]),
      },
    );
    assert.deepEqual(q.kind === 'follow' && [q.statements, q.kept], [
      ['ALTER TABLE "public"."t" RENAME COLUMN "remark" TO "note"'],
      ['dba_note'],
    ]);
  });

  it('a kept column NOT NULL without a default is a stop naming it and the fix, never a drop', () => {
    const known = new Map<string, number | null>([['id', 1]]);
    const source = [src(1, 'id', INT4)];
    const blocking = { ...tgt('dba_flag', TEXT, true), hasDefault: false };
    const p = planShapeFollow('public', 't', live(source), source, [tgt('id', INT4), blocking], undefined, { dropNotNull: true, known });
    assert.equal(p.kind, 'stop');
    if (p.kind !== 'stop') return;
    assert.match(p.description, /column dba_flag was made on the target alone .* NOT NULL without a default/);
    assert.match(p.fix, /SET DEFAULT .* DROP NOT NULL/);
    assert.doesNotMatch(p.fix, /DROP COLUMN/);
    // with a default, simply kept
    const withDefault = { ...blocking, hasDefault: true };
    const q = planShapeFollow('public', 't', live(source), source, [tgt('id', INT4), withDefault], undefined, { dropNotNull: true, known });
    assert.deepEqual(q.kind === 'follow' && [q.statements, q.kept], [[], ['dba_flag']]);
  });

  it('a change only a copy at a pin follows is a stop where a kept column would be emptied by it', () => {
    const known = new Map<string, number | null>([
      ['id', 1],
      ['v', 2],
    ]);
    // v narrowed: underived, copied again at a pin when nothing of the target's own is there
    const source = [src(1, 'id', INT4), src(2, 'v', INT4)];
    const target = [tgt('id', INT4), tgt('v', INT8), tgt('dba_note', TEXT)];
    const p = planShapeFollow(
      'public',
      't',
      live(source),
      source,
      target,
      new Map([
        ['id', 1],
        ['v', 2],
      ]),
      {
        dropNotNull: true,
        resync: true,
        known,
      },
    );
    assert.equal(p.kind, 'stop');
    assert.doesNotMatch(p.kind === 'stop' ? p.fix : '', /DROP COLUMN|DELETE/);
    const q = planShapeFollow(
      'public',
      't',
      live(source),
      source,
      target.slice(0, 2),
      new Map([
        ['id', 1],
        ['v', 2],
      ]),
      {
        dropNotNull: true,
        resync: true,
        known,
      },
    );
    assert.deepEqual(q.kind === 'follow' && q.underived, ['v']);
  });
});

describe('the fix of a retype the target cannot derive (unit)', () => {
  it("a retype from one type of the database's own to another stops with a fix whose USING goes through the value's text", () => {
    const oldEnum = { typeOid: 16500, typeMod: -1, type: 'public.old_status' };
    const newEnum = { typeOid: 16600, typeMod: -1, type: '"Shop".order_status' };
    const stopFix = (from: typeof TEXT, to: typeof TEXT) => {
      const p = plan([src(1, 'id', INT4), src(2, 'Status', to)], [tgt('id', INT4), tgt('Status', from)], { id: 1, Status: 2 });
      return p.kind === 'stop' ? p.fix : `followed: ${JSON.stringify(p)}`;
    };
    // an enum (or a domain) to another enum: no cast exists between them, the text is the way
    assert.match(
      stopFix(oldEnum, newEnum),
      /\(ALTER TABLE "public"\."t" ALTER COLUMN "Status" TYPE "Shop"\.order_status USING "Status"::text::"Shop"\.order_status as on the source\)/,
    );
    // text to an enum: an explicit cast only
    assert.match(stopFix(TEXT, newEnum), /TYPE "Shop"\.order_status USING "Status"::"Shop"\.order_status as on the source/);
    // an enum to integer: no cast from an enum but through its text
    assert.match(stopFix(oldEnum, INT4), /TYPE integer USING "Status"::text::integer as on the source/);
  });
});

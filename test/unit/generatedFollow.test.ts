// Generated columns changed on the source while streaming, followed on the target (issue 49, pure).
import assert from 'node:assert/strict';
import { generatedNames, planGeneratedFollow } from '../../provider/engine/cdc/apply/generatedFollow';
import type { SourceAttribute } from '../../provider/engine/cdc/apply/shapeFollow';

const attr = (attnum: number, name: string, extra: Partial<SourceAttribute> = {}): SourceAttribute => ({
  attnum,
  name,
  dropped: false,
  generated: false,
  typeOid: 23,
  typeMod: -1,
  type: 'integer',
  notNull: false,
  ...extra,
});

const gen = (attnum: number, name: string, expression: string): SourceAttribute =>
  attr(attnum, name, { generated: true, expression, type: 'bigint', typeOid: 20 });

describe('generated columns followed on the target (pure)', () => {
  it('a generated column only the source has is added with its type and expression', () => {
    const source = [attr(1, 'id'), attr(2, 'n'), gen(3, 'twice', '(n * 2)')];
    assert.deepEqual(planGeneratedFollow('s', 't', source, new Set(['id', 'n']), ['id', 'n'], []), {
      statements: ['ALTER TABLE "s"."t" ADD COLUMN IF NOT EXISTS "twice" bigint GENERATED ALWAYS AS ((n * 2)) STORED'],
      followed: ["generated column twice added, its values computed on the target by the source's expression"],
      generated: ['twice'],
    });
    // already there: nothing
    assert.deepEqual(planGeneratedFollow('s', 't', source, new Set(['id', 'n']), ['id', 'n', 'twice'], ['twice']).statements, []);
  });

  it('dropped on the source: dropped; DROP EXPRESSION: made plain, its values kept; renamed: dropped and added', () => {
    const dropped = [attr(1, 'id'), attr(2, 'n'), { ...gen(3, '........pg.dropped.3........', '(n * 2)'), dropped: true }];
    assert.deepEqual(planGeneratedFollow('s', 't', dropped, new Set(['id', 'n']), ['id', 'n', 'twice'], ['twice']).statements, [
      'ALTER TABLE "s"."t" DROP COLUMN IF EXISTS "twice"',
    ]);
    // DROP EXPRESSION: only at the relation message that streams the column; before it (the catalog
    // read ahead of the stream) the rows still had it generated
    const plain = [attr(1, 'id'), attr(2, 'n'), attr(3, 'twice', { type: 'bigint', typeOid: 20 })];
    assert.deepEqual(planGeneratedFollow('s', 't', plain, new Set(['id', 'n']), ['id', 'n', 'twice'], ['twice']), {
      statements: [],
      followed: [],
      generated: ['twice'],
    });
    assert.deepEqual(planGeneratedFollow('s', 't', plain, new Set(['id', 'n', 'twice']), ['id', 'n', 'twice'], ['twice']), {
      statements: ['ALTER TABLE "s"."t" ALTER COLUMN "twice" DROP EXPRESSION IF EXISTS'],
      followed: ['generated column twice made a plain column (DROP EXPRESSION), its values kept'],
      generated: [],
    });
    const renamed = [attr(1, 'id'), attr(2, 'n'), gen(3, 'double', '(n * 2)')];
    assert.deepEqual(planGeneratedFollow('s', 't', renamed, new Set(['id', 'n']), ['id', 'n', 'twice'], ['twice']).statements, [
      'ALTER TABLE "s"."t" DROP COLUMN IF EXISTS "twice"',
      'ALTER TABLE "s"."t" ADD COLUMN IF NOT EXISTS "double" bigint GENERATED ALWAYS AS ((n * 2)) STORED',
    ]);
  });

  it("a generated column the target alone has (a DBA's) is kept, never dropped", () => {
    const source = [attr(1, 'id'), attr(2, 'n')];
    const plan = planGeneratedFollow('s', 't', source, new Set(['id', 'n']), ['id', 'n', 'dba_sum'], ['dba_sum'], new Set(['dba_sum']));
    assert.deepEqual(plan, { statements: [], followed: [], generated: ['dba_sum'] });
  });

  it('a name the target holds as a plain column is left to the shape follow and the schema check', () => {
    const source = [attr(1, 'id'), gen(4, 'n', '(id + 1)')];
    assert.deepEqual(planGeneratedFollow('s', 't', source, new Set(['id', 'n']), ['id', 'n'], []).statements, []);
    assert.deepEqual(generatedNames([gen(5, 'b', 'x'), gen(4, 'a', 'y'), attr(1, 'id'), { ...gen(6, 'c', 'z'), dropped: true }]), [
      'a',
      'b',
    ]);
  });
});

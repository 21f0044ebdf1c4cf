// How a column added on the source is added on the target (issue 47), a table's shape change in the
// change tracker, and the reason verification gives for columns on one side only (pure).
import assert from 'node:assert/strict';
import { ChangeTracker } from '../../provider/engine/cdc/plan/changeTracker';
import { addColumnPlan, type SourceColumnDefinition } from '../../provider/engine/cdc/apply/targetTables';
import { columnDifference } from '../../provider/engine/verify/verifyTables';

const column = (extra: Partial<SourceColumnDefinition>): SourceColumnDefinition => ({
  name: 'placed_at',
  type: 'timestamp with time zone',
  defaultExpr: 'now()',
  notNull: false,
  identity: false,
  mutableDefault: true,
  existingValue: null,
  ...extra,
});

describe('a column added on the source, added on the target (pure)', () => {
  it('an empty target table, no default or an immutable one: added as the source has it', () => {
    const add = 'ALTER TABLE "s"."t" ADD COLUMN IF NOT EXISTS "placed_at" timestamp with time zone DEFAULT now()';
    assert.deepEqual(addColumnPlan('s', 't', column({}), false), { kind: 'as-source', statements: [add] });
    assert.deepEqual(addColumnPlan('s', 't', column({ defaultExpr: null, mutableDefault: false }), true).kind, 'as-source');
    const immutable = addColumnPlan(
      's',
      't',
      column({ type: 'integer', defaultExpr: '5', mutableDefault: false, existingValue: '5' }),
      true,
    );
    assert.deepEqual(immutable, {
      kind: 'as-source',
      statements: ['ALTER TABLE "s"."t" ADD COLUMN IF NOT EXISTS "placed_at" integer DEFAULT 5'],
    });
  });

  it("a non-immutable default with the source's existing value: that value as a constant, then the source's default", () => {
    const plan = addColumnPlan('s', 't', column({ existingValue: "2024-01-02 03:04:05.123456+00'x", notNull: true }), true);
    assert.deepEqual(plan, {
      kind: 'existing-value',
      statements: [
        `ALTER TABLE "s"."t" ADD COLUMN IF NOT EXISTS "placed_at" timestamp with time zone DEFAULT CAST('2024-01-02 03:04:05.123456+00''x' AS timestamp with time zone) NOT NULL`,
        'ALTER TABLE "s"."t" ALTER COLUMN "placed_at" SET DEFAULT now()',
      ],
    });
    // a domain's own default, evaluated once on the source: the value, and no column default after
    const domain = addColumnPlan(
      's',
      't',
      column({ type: '"s"."stamp"', defaultExpr: null, mutableDefault: false, existingValue: 'v' }),
      true,
    );
    assert.equal(domain.kind === 'existing-value' && domain.statements[1], 'ALTER TABLE "s"."t" ALTER COLUMN "placed_at" DROP DEFAULT');
  });

  it('a non-immutable default without an existing value, or an identity: per row, its values copied from the source', () => {
    assert.deepEqual(addColumnPlan('s', 't', column({ name: 'u', type: 'uuid', defaultExpr: 'gen_random_uuid()' }), true), {
      kind: 'per-row',
      why: 'has a default evaluated per row on the source (gen_random_uuid())',
      // the column as the source has it; the table's copy at a pin replaces the target's values
      statements: ['ALTER TABLE "s"."t" ADD COLUMN IF NOT EXISTS "u" uuid DEFAULT gen_random_uuid()'],
    });
    // an identity has no statement: the stream stops on it
    const identity = addColumnPlan('s', 't', column({ defaultExpr: null, mutableDefault: false, identity: true }), true);
    assert.deepEqual(identity, { kind: 'per-row', why: 'is an identity column: its existing rows were numbered on the source' });
  });
});

describe('a table whose shape changed while streaming (pure)', () => {
  it('stays marked through later pins; a partitioned table marks its partitions', () => {
    const tracker = new ChangeTracker();
    tracker.startAt('"s"."t"', 10n, false);
    tracker.startAt('"s"."p1"', 10n, true);
    tracker.reshaped('"s"."t"', false);
    tracker.startAt('"s"."t"', 20n, false);
    assert.equal(tracker.wasReshaped('"s"."t"'), true);
    assert.equal(tracker.wasReshaped('"s"."p1"'), false);
    tracker.reshaped('"s"."root"', true);
    assert.equal(tracker.wasReshaped('"s"."p1"'), true);
    assert.equal(tracker.wasReshaped('"s"."other"'), false);
  });
});

describe('verification: columns on one side only (pure)', () => {
  it('names each, the order of the columns aside', () => {
    assert.equal(columnDifference(['id', 'a', 'b'], ['b', 'id', 'a']), undefined);
    assert.equal(columnDifference(['id', 'a', 'b'], ['id', 'a']), 'column "b" is missing on the target');
    assert.equal(columnDifference(['id'], ['id', 'x"y']), 'column "x""y" is only on the target');
    assert.equal(columnDifference(['id', 'b'], ['id', 'c']), 'column "b" is missing on the target; column "c" is only on the target');
  });
});

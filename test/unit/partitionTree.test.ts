// Issue 49: the target's steps to hang its tables as the source does (pure).
import assert from 'node:assert/strict';
import { partitionSteps, type PartitionLink } from '../../provider/engine/cdc/apply/partitionTree';
import { qualifiedKey } from '../../provider/engine/core/names';

const link = (name: string, parent: string, bound: string): PartitionLink => ({
  schema: 'public',
  name,
  parentSchema: 'public',
  parent,
  bound,
});
const q = (name: string) => `"public"."${name}"`;

describe('partition tree steps (pure, issue 49)', () => {
  const eu = link('m_eu', 'm', "FOR VALUES IN ('eu')");
  const old = link('m_old', 'm', "FOR VALUES IN ('old')");

  it('nothing to do when both trees hang alike', () => {
    assert.deepEqual(partitionSteps([eu, old], [eu, old], new Set(), new Set()), []);
  });

  it('detaches what the source detached, attaches what it attached, detaches first', () => {
    const attached = link('m_new', 'm', "FOR VALUES IN ('new')");
    const steps = partitionSteps([eu, attached], [eu, old], new Set([q('m_old')]), new Set([q('m_new'), q('m')]));
    assert.deepEqual(
      steps.map((s) => s.statement),
      [
        `ALTER TABLE "public"."m" DETACH PARTITION "public"."m_old"`,
        `ALTER TABLE "public"."m" ATTACH PARTITION "public"."m_new" FOR VALUES IN ('new')`,
      ],
    );
  });

  it('a bound or parent changed is a detach and an attach', () => {
    const moved = link('m_old', 'm', "FOR VALUES IN ('old', 'older')");
    assert.deepEqual(
      partitionSteps([eu, moved], [eu, old], new Set(), new Set([q('m_old'), q('m')])).map((s) => s.kind),
      ['detach', 'attach'],
    );
  });

  it('a parent the source renamed, not yet on the target: the partition left where it is, not detached', () => {
    const renamed = { ...link('m_old', 'measurements', "FOR VALUES IN ('old')"), parentOid: '16400' };
    const copied = new Map([['16400', qualifiedKey('public', 'm')]]);
    assert.deepEqual(partitionSteps([eu, renamed], [eu, old], new Set(), new Set([q('m_old'), q('m')]), copied), []);
  });

  it('a partition moved under a parent the copy did not make of its old one, or renamed with a new bound: detached as before', () => {
    const moved = { ...link('m_old', 'm2', "FOR VALUES IN ('old')"), parentOid: '16500' };
    const copied = new Map([['16400', qualifiedKey('public', 'm')]]);
    assert.deepEqual(
      partitionSteps([eu, moved], [eu, old], new Set(), new Set([q('m_old'), q('m')]), copied).map((s) => s.statement),
      [`ALTER TABLE "public"."m" DETACH PARTITION "public"."m_old"`],
    );
    // renamed, but its bound changed too: the old bound may refuse rows the new one takes
    const rebound = { ...link('m_old', 'measurements', "FOR VALUES IN ('old', 'older')"), parentOid: '16400' };
    assert.deepEqual(
      partitionSteps([eu, rebound], [eu, old], new Set(), new Set([q('m_old'), q('m')]), copied).map((s) => s.kind),
      ['detach'],
    );
  });

  it('leaves alone a table on one side only: dropped on the source, or missing on the target', () => {
    assert.deepEqual(partitionSteps([eu], [eu, old], new Set(), new Set()), []);
    assert.deepEqual(partitionSteps([eu, old], [eu], new Set(), new Set([q('m')])), []);
  });
});

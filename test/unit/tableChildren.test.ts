// The children of a table the source dropped that its drop on the target keeps (pure): what the
// migration did not make, what the source still has, inheritance children, down a sub-partitioned tree.
import assert from 'node:assert/strict';
import { childrenFate, tableKey, type TableChild } from '../../provider/engine/flow/tableChildren';

const child = (name: string, parent: string, partition = true): TableChild => ({
  oid: name,
  schema: 'public',
  name,
  parentSchema: 'public',
  parent,
  partition,
});
const q = (name: string) => `"public"."${name}"`;
const knownOf = (...names: string[]) => new Map(names.map((n) => [tableKey({ schema: 'public', name: n }), null]));

describe('children kept when a table the source dropped is dropped on the target (pure)', () => {
  const root = { schema: 'public', name: 'events' };

  it('keeps nothing when every partition is known and gone from the source', () => {
    const children = [child('events_2025', 'events'), child('events_2026', 'events')];
    const fate = childrenFate(root, children, knownOf('events', 'events_2025', 'events_2026'), new Set());
    assert.deepEqual(fate.kept, []);
    assert.deepEqual(
      fate.going.map((c) => c.name),
      ['events_2025', 'events_2026'],
    );
  });

  it("detaches a DBA's partition and one the source still has, each from its own parent, down a sub-partitioned tree", () => {
    const children = [
      child('events_2025', 'events'),
      child('events_2025_q1', 'events_2025'),
      child('events_2025_dba', 'events_2025'),
      child('events_kept', 'events'),
      child('events_kept_q1', 'events_kept'),
    ];
    const { kept, going } = childrenFate(
      root,
      children,
      knownOf('events_2025', 'events_2025_q1', 'events_kept', 'events_kept_q1'),
      new Set([q('events_kept')]),
    );
    assert.deepEqual(
      kept.map((k) => [k.because, k.statement]),
      [
        ['a table of its own on the source', `ALTER TABLE ${q('events')} DETACH PARTITION ${q('events_kept')}`],
        ['not made by pgferry', `ALTER TABLE ${q('events_2025')} DETACH PARTITION ${q('events_2025_dba')}`],
      ],
      'a kept partition keeps its own partitions: events_kept_q1 is not looked at',
    );
    assert.deepEqual(
      going.map((c) => c.name),
      ['events_2025', 'events_2025_q1'],
    );
  });

  it('an inheritance child is made a table of its own, known or not', () => {
    const { kept, going } = childrenFate(
      { schema: 'public', name: 'notes' },
      [child('notes_old', 'notes', false)],
      knownOf('notes_old'),
      new Set(),
    );
    assert.deepEqual(going, []);
    assert.deepEqual(
      kept.map((k) => k.statement),
      [`ALTER TABLE ${q('notes_old')} NO INHERIT ${q('notes')}`],
    );
  });
});

// Issue 18: what pgferry's publication lists, and what the table watch acts on (pure).
import assert from 'node:assert/strict';
import {
  identityFix,
  shapeSourceRelation,
  type KeyFacts,
  type SourceRelation,
  type SourceRelationRow,
} from '../../provider/engine/catalog/identityVerdict';
import { newTableReason, planPublication, reviewTables } from '../../provider/engine/cdc/prepare/publicationPlan';

const pk = (name: string, extra: Partial<KeyFacts> = {}): KeyFacts => ({
  name,
  primary: true,
  replident: false,
  unique: true,
  partial: false,
  immediate: true,
  valid: true,
  expressions: false,
  nullable: [],
  ...extra,
});

const rel = (o: Partial<SourceRelationRow> & Pick<SourceRelationRow, 'oid' | 'name'>): SourceRelation =>
  shapeSourceRelation({
    schema: 'public',
    kind: 'r',
    replident: 'd',
    persistence: 'p',
    parent: null,
    owned: true,
    owner: 'app',
    keys: [],
    published: false,
    ...o,
  });

const names = (relations: readonly SourceRelation[]) => relations.map((r) => r.name);

describe('publication plan (pure, issue 18)', () => {
  const keyedRoot = [
    rel({ oid: '1', name: 'orders', kind: 'p', keys: [pk('orders_pkey')] }),
    rel({ oid: '2', name: 'orders_1', parent: '1', keys: [pk('orders_1_pkey')] }),
    rel({ oid: '3', name: 'orders_2', parent: '1', keys: [pk('orders_2_pkey')] }),
  ];
  const keylessRoot = [
    rel({ oid: '11', name: 'logs', kind: 'p' }),
    rel({ oid: '12', name: 'logs_1', parent: '11' }),
    rel({ oid: '13', name: 'logs_1a', parent: '11', kind: 'p' }),
    rel({ oid: '14', name: 'logs_1a_x', parent: '13', replident: 'f' }),
  ];

  it('lists a partitioned table itself only when its own primary key is usable, and every partition by name (issue 49)', () => {
    const plan = planPublication([...keyedRoot, ...keylessRoot], { viaRoot: true });
    assert.deepEqual(names(plan.publish), ['orders', 'orders_1', 'orders_2', 'logs_1', 'logs_1a_x']);
    assert.deepEqual(names(plan.withoutIdentity), ['logs_1']);
  });

  it('publishes partitions one by one before PostgreSQL 13 (no publish_via_partition_root)', () => {
    const plan = planPublication(keyedRoot, { viaRoot: false });
    assert.deepEqual(names(plan.publish), ['orders_1', 'orders_2']);
  });

  it('a DEFERRABLE root key is no key: its partitions are listed and need an identity', () => {
    const plan = planPublication(
      [
        rel({ oid: '1', name: 'p', kind: 'p', keys: [pk('p_pkey', { immediate: false })] }),
        rel({ oid: '2', name: 'p_1', parent: '1', keys: [pk('p_1_pkey', { immediate: false })] }),
      ],
      { viaRoot: true },
    );
    assert.deepEqual(names(plan.publish), ['p_1']);
    assert.deepEqual(names(plan.withoutIdentity), ['p_1']);
  });

  it('never lists an unlogged table (it cannot be published) and needs no identity for it', () => {
    const plan = planPublication([rel({ oid: '1', name: 'scratch', persistence: 'u' }), rel({ oid: '2', name: 'child_of_inh' })], {
      viaRoot: true,
    });
    assert.deepEqual(names(plan.publish), ['child_of_inh']);
    assert.deepEqual(names(plan.withoutIdentity), ['child_of_inh']);
    assert.deepEqual(
      plan.unstreamable.map((u) => u.relation.name),
      ['scratch'],
    );
  });

  it('the watch finds new tables, and streamed tables that lost their usable identity', () => {
    const relations = [
      rel({ oid: '1', name: 'orders', kind: 'p', keys: [pk('orders_pkey')], published: true }),
      rel({ oid: '2', name: 'orders_1', parent: '1', keys: [pk('orders_1_pkey')] }),
      // attached later with REPLICA IDENTITY NOTHING: published through its root
      rel({ oid: '3', name: 'orders_2', parent: '1', replident: 'n', keys: [pk('orders_2_pkey')] }),
      // its primary key was dropped while streaming
      rel({ oid: '4', name: 'accounts', published: true }),
      rel({ oid: '5', name: 'created_later', keys: [pk('created_later_pkey')] }),
      rel({ oid: '6', name: 'scratch', persistence: 'u' }),
      rel({ oid: '7', name: 'reported_before' }),
      // an unlogged partition of a published table is not decoded: reported, never given a key
      rel({ oid: '8', name: 'orders_scratch', parent: '1', persistence: 'u' }),
    ];
    const review = reviewTables(relations, new Set(['6', '7']), { viaRoot: true });
    assert.deepEqual(
      review.lostIdentity.map((l) => [l.relation.name, l.publishedAs.name]),
      [
        ['orders_2', 'orders'],
        ['accounts', 'accounts'],
      ],
    );
    assert.deepEqual(names(review.newTables), ['created_later', 'orders_scratch']);
  });

  it('says why a new table is not streamed, and what would keep it from being published safely', () => {
    const keyed = rel({ oid: '1', name: 'a', keys: [pk('a_pkey')] });
    assert.doesNotMatch(newTableReason(keyed, false), /could not be published/);
    const deferrable = rel({ oid: '2', name: 'b', keys: [pk('b_pkey', { immediate: false })], owned: false, owner: 'etl' });
    const reason = newTableReason(deferrable, false);
    assert.match(reason, /created on the source after the migration started/);
    assert.match(reason, /primary key "b_pkey" is DEFERRABLE \(allowReplicaIdentityFull is off\)/);
    assert.match(reason, /does not own it \(owner etl\)/);
    assert.doesNotMatch(newTableReason(deferrable, true), /DEFERRABLE/);
  });

  it('names the statement that gives a table without a usable identity one: its own primary key back, a key, or FULL', () => {
    const keyless = rel({ oid: '1', name: 'late' });
    assert.equal(
      identityFix(keyless),
      'ALTER TABLE public.late ADD PRIMARY KEY (column, ...), or ALTER TABLE public.late REPLICA IDENTITY FULL',
    );
    const nothing = rel({ oid: '2', name: 'quiet', replident: 'n', keys: [pk('quiet_pkey')] });
    assert.equal(nothing.identity.kind, 'none');
    assert.equal(identityFix(nothing), 'ALTER TABLE public.quiet REPLICA IDENTITY DEFAULT');
    const indexGone = rel({ oid: '3', name: 'Odd', replident: 'i' });
    assert.match(
      identityFix(indexGone),
      /^ALTER TABLE public\."Odd" REPLICA IDENTITY FULL, or ALTER TABLE public\."Odd" REPLICA IDENTITY USING INDEX/,
    );
    const deferrable = rel({ oid: '4', name: 'b', keys: [pk('b_pkey', { immediate: false })] });
    assert.match(identityFix(deferrable), /^ALTER TABLE public\.b REPLICA IDENTITY FULL/);
  });
});

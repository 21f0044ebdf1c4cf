import assert from 'node:assert/strict';
import { BatchPlanner, DEFAULT_LIMITS } from '../../provider/engine/cdc/plan/planner';
import { tupleOf, UNCHANGED } from '../../provider/engine/cdc/decode/tuple';
import type { Statement, TargetTable } from '../../provider/engine/cdc/plan/types';
import { truncateStatement } from '../../provider/engine/cdc/plan/statements';

const EQ = 'OPERATOR("pg_catalog".=)';
const table: TargetTable = {
  oid: 1,
  schema: 'My "S"',
  name: 't.x',
  identityFull: false,
  partitioned: false,
  columns: [
    { name: 'id', cast: 'integer', isKey: true, equality: EQ, stableText: true },
    { name: 'body', cast: 'text', isKey: false, equality: EQ, stableText: true },
    { name: 'n', cast: 'numeric', isKey: false, equality: EQ, stableText: true },
  ],
};
const full: TargetTable = {
  ...table,
  oid: 2,
  name: 'nopk',
  identityFull: true,
  columns: table.columns.map((c) => ({ ...c, isKey: true })),
};

describe('cdc/planner (pure): inserts', () => {
  it('groups consecutive inserts into one COPY, escaping its text format', () => {
    const p = new BatchPlanner();
    assert.deepEqual(p.add({ op: 'insert', table, values: tupleOf(['1', 'a\tb\\c\nd\re', '1.5']) }), []);
    assert.deepEqual(p.add({ op: 'insert', table, values: tupleOf(['2', null, '2']) }), []);
    assert.deepEqual(p.add({ op: 'insert', table, values: tupleOf(['3', '\\N', '\\.']) }), []);
    const [stmt, ...rest] = p.flush();
    assert.equal(rest.length, 0);
    assert.equal(stmt!.text, 'COPY "My ""S"""."t.x" ("id", "body", "n") FROM STDIN');
    assert.equal(stmt!.copyData?.toString(), '1\ta\\tb\\\\c\\nd\\re\t1.5\n2\t\\N\t2\n3\t\\\\N\t\\\\.\n');
    assert.deepEqual(stmt!.params, []);
    assert.equal(stmt!.rows, 3);
  });

  it('inserts with a multi-row INSERT into tables under row-level security and tables without columns', () => {
    const p = new BatchPlanner();
    const secured: TargetTable = { ...table, rowSecurity: true };
    p.add({ op: 'insert', table: secured, values: tupleOf(['1', 'a', '1.5']) });
    p.add({ op: 'insert', table: secured, values: tupleOf(['2', null, '2']) });
    const [stmt] = p.flush();
    assert.equal(
      stmt!.text,
      'INSERT INTO "My ""S"""."t.x" ("id", "body", "n") OVERRIDING SYSTEM VALUE VALUES ($1::integer, $2::text, $3::numeric), ($4::integer, $5::text, $6::numeric)',
    );
    assert.deepEqual(stmt!.params, ['1', 'a', '1.5', '2', null, '2']);
    const empty: TargetTable = { ...table, oid: 7, name: 'nothing', columns: [] };
    p.add({ op: 'insert', table: empty, values: tupleOf([]) });
    p.add({ op: 'insert', table: empty, values: tupleOf([]) });
    const [none] = p.flush();
    assert.equal(none!.text, 'INSERT INTO "My ""S"""."nothing" SELECT FROM generate_series(1, $1::int)');
    assert.deepEqual(none!.params, ['2']);
  });
});

describe('cdc/planner (pure): updates and deletes', () => {
  it('never puts two changes of one key into one UPDATE, including primary-key changes', () => {
    const p = new BatchPlanner();
    assert.equal(p.add({ op: 'update', table, values: tupleOf(['1', 'a', '1']) }).length, 0);
    assert.equal(p.add({ op: 'update', table, values: tupleOf(['2', 'a', '1']) }).length, 0);
    // key 1 again, same columns: the later update supersedes the earlier one in place
    assert.equal(p.add({ op: 'update', table, values: tupleOf(['1', 'b', '1']) }).length, 0);
    // key 1 again with other columns (unchanged TOAST): the open group must run first
    const before = p.add({ op: 'update', table, values: tupleOf(['1', UNCHANGED, '3']) });
    assert.equal(before.length, 1);
    // the superseding row takes the superseded one's place at the end (keys in one UPDATE are distinct: order is free)
    assert.deepEqual(before[0]!.params, ['2', '2', 'a', '1', '1', '1', 'b', '1']);
    // pk change 5 -> 1: the new key is in the group, so it closes
    assert.equal(p.add({ op: 'update', table, identity: tupleOf(['5', null, null]), values: tupleOf(['1', 'c', '1']) }).length, 1);
    const [pk] = p.flush();
    assert.deepEqual(pk!.params, ['5', '1', 'c', '1']);
  });

  it('plans deletes by key and refuses an unchanged TOAST key', () => {
    const p = new BatchPlanner();
    p.add({ op: 'delete', table, identity: tupleOf(['1', null, null]) });
    p.add({ op: 'delete', table, identity: tupleOf(['2', null, null]) });
    const [del] = p.flush();
    assert.equal(
      del!.text,
      'DELETE FROM ONLY "My ""S"""."t.x" AS t USING (VALUES ($1::integer), ($2::integer)) AS v("k0") WHERE t."id" OPERATOR("pg_catalog".=) v."k0"',
    );
    assert.throws(() => p.add({ op: 'update', table, values: tupleOf([UNCHANGED, 'x', '1']) }), /unchanged TOAST/);
  });

  it('uses one row per statement for REPLICA IDENTITY FULL, matching all old values', () => {
    const p = new BatchPlanner();
    const out = p.add({ op: 'update', table: full, identity: tupleOf(['1', null, '2']), values: tupleOf(['1', 'b', UNCHANGED]) });
    assert.equal(out.length, 1);
    assert.match(out[0]!.text, /^WITH f AS \(SELECT s\.tableoid AS o, s\.ctid AS c FROM ONLY "My ""S"""\."nopk" AS s WHERE /);
    assert.ok(
      out[0]!.text.includes(
        's."id" OPERATOR("pg_catalog".=) $1::integer AND s."id"::text = $1::integer::text COLLATE pg_catalog."C" AND s."body" IS NULL AND ' +
          's."n" OPERATOR("pg_catalog".=) $2::numeric AND s."n"::text = $2::numeric::text COLLATE pg_catalog."C" LIMIT 1) UPDATE',
      ),
      out[0]!.text,
    );
    assert.deepEqual(out[0]!.params, ['1', '2', '1', 'b']);
    const del = p.add({ op: 'delete', table: full, identity: tupleOf(['1', 'x', '2']) });
    assert.match(del[0]!.text, /DELETE FROM ONLY "My ""S"""\."nopk" AS t USING f WHERE t\.tableoid = f\.o AND t\.ctid = f\.c$/);
  });

  it('does not SET a GENERATED ALWAYS identity column in an UPDATE', () => {
    const gen: TargetTable = { ...table, oid: 5, columns: table.columns.map((c, i) => (i === 0 ? { ...c, identityAlways: true } : c)) };
    const p = new BatchPlanner();
    p.add({ op: 'update', table: gen, values: tupleOf(['1', 'b', '2']) });
    const [upd] = p.flush();
    assert.match(upd!.text, /SET "body" = v\."s0", "n" = v\."s1" FROM/);
    assert.deepEqual(upd!.params, ['1', 'b', '2']);
  });
});

describe('cdc/planner (pure): a column left out (the reverse stream, the new server alone has it)', () => {
  const withNote: TargetTable = {
    ...table,
    oid: 8,
    columns: [
      ...table.columns.slice(0, 2),
      { name: 'dba_note', cast: 'text', isKey: false, stableText: true, leftOut: true },
      table.columns[2]!,
    ],
  };

  it('names it in no insert, update or delete, and sends none of its values', () => {
    const p = new BatchPlanner();
    p.add({ op: 'insert', table: withNote, values: tupleOf(['1', 'a', 'note', '1.5']) });
    const [copy] = p.add({ op: 'update', table: withNote, values: tupleOf(['1', 'b', 'note', '2']) });
    assert.equal(copy!.text, 'COPY "My ""S"""."t.x" ("id", "body", "n") FROM STDIN');
    assert.equal(copy!.copyData?.toString(), '1\ta\t1.5\n');
    const [upd] = p.add({ op: 'delete', table: withNote, identity: tupleOf(['1', null, null, null]) });
    assert.match(upd!.text, /SET "id" = v\."s0", "body" = v\."s1", "n" = v\."s2" FROM/);
    assert.deepEqual(upd!.params, ['1', '1', 'b', '2']);
    const [del] = p.flush();
    assert.doesNotMatch(del!.text, /dba_note/);
  });

  it('matches a REPLICA IDENTITY FULL row by the other columns only', () => {
    const fullNote: TargetTable = {
      ...withNote,
      oid: 9,
      identityFull: true,
      columns: withNote.columns.map((c) => ({ ...c, isKey: true })),
    };
    const p = new BatchPlanner();
    const [upd] = p.add({
      op: 'update',
      table: fullNote,
      identity: tupleOf(['1', 'a', 'note', '1']),
      values: tupleOf(['1', 'b', 'other', '1']),
    });
    assert.doesNotMatch(upd!.text, /dba_note/);
    assert.deepEqual(upd!.params, ['1', 'a', '1', '1', 'b', '1']);
  });
});

describe('cdc/planner (pure): batches and their order', () => {
  it('breaks the batch when the shape changes, keeping commit order', () => {
    const p = new BatchPlanner();
    p.add({ op: 'insert', table, values: tupleOf(['1', 'a', '1']) });
    const out = p.add({ op: 'update', table, identity: tupleOf(['1', null, null]), values: tupleOf(['1', 'b', '1']) });
    assert.equal(out.length, 1);
    assert.equal(out[0]!.op, 'insert');
    // a different set of changed columns (unchanged TOAST) is a different shape
    const out2 = p.add({ op: 'update', table, values: tupleOf(['2', UNCHANGED, '5']) });
    assert.equal(out2[0]!.op, 'update');
    const [upd] = p.flush();
    assert.equal(
      upd!.text,
      'UPDATE ONLY "My ""S"""."t.x" AS t SET "id" = v."s0", "n" = v."s1" FROM (VALUES ($1::integer, $2::integer, $3::numeric)) AS v("k0", "s0", "s1") WHERE t."id" OPERATOR("pg_catalog".=) v."k0"',
    );
    assert.deepEqual(upd!.params, ['2', '2', '5']);
  });

  it('respects row and parameter limits', () => {
    const p = new BatchPlanner({ maxRows: 3, maxParams: 1000, maxBytes: 1 << 20 });
    const statements = [];
    for (let i = 0; i < 10; i++) statements.push(...p.add({ op: 'insert', table, values: tupleOf([String(i), 'x', '1']) }));
    statements.push(...p.flush());
    assert.deepEqual(
      statements.map((s) => s.rows),
      [3, 3, 3, 1],
    );
    const q = new BatchPlanner({ maxRows: 100, maxParams: 7, maxBytes: 1 << 20 });
    const s2 = [];
    for (let i = 0; i < 5; i++) s2.push(...q.add({ op: 'insert', table, values: tupleOf([String(i), 'x', '1']) }));
    s2.push(...q.flush());
    assert.deepEqual(
      s2.map((s) => s.rows),
      [2, 2, 1],
    );
  });

  it('keeps one group per table when allowed, and one global order when not', () => {
    const other: TargetTable = { ...table, oid: 9, name: 'ledger' };
    const mixed = (p: BatchPlanner): string[] => {
      const out = [];
      for (let i = 0; i < 3; i++) {
        out.push(...p.add({ op: 'update', table, values: tupleOf([String(i), 'x', '1']) }));
        out.push(...p.add({ op: 'insert', table: other, values: tupleOf([String(i), 'y', '2']) }));
      }
      out.push(...p.flush());
      return out.map((s) => `${s.op}:${s.rows}`);
    };
    assert.deepEqual(mixed(new BatchPlanner({ ...DEFAULT_LIMITS, perTable: true })), ['update:3', 'insert:3']);
    assert.deepEqual(mixed(new BatchPlanner({ ...DEFAULT_LIMITS, perTable: false })), [
      'update:1',
      'insert:1',
      'update:1',
      'insert:1',
      'update:1',
      'insert:1',
    ]);
  });

  it("runs a table's deletes before its inserts only when no key is shared", () => {
    const p = new BatchPlanner({ ...DEFAULT_LIMITS, perTable: true });
    const out: string[] = [];
    // the keys a statement touches: delete parameters, or the first field of each COPY line
    const keys = (s: Statement): string =>
      s.copyData === undefined
        ? s.params.join(',')
        : s.copyData
            .toString()
            .split('\n')
            .filter(Boolean)
            .map((line) => line.split('\t')[0])
            .join(',');
    const run = (c: Parameters<BatchPlanner['add']>[0]): void => {
      out.push(...p.add(c).map((s) => `${s.op}:${keys(s)}`));
    };
    run({ op: 'insert', table, values: tupleOf(['1', 'a', '1']) });
    run({ op: 'delete', table, identity: tupleOf(['9', null, null]) }); // held beside the inserts
    run({ op: 'insert', table, values: tupleOf(['2', 'a', '1']) });
    run({ op: 'delete', table, identity: tupleOf(['1', null, null]) }); // key 1 is pending as an insert: flush, in order
    run({ op: 'insert', table, values: tupleOf(['1', 'b', '1']) }); // re-insert after the delete: the delete runs first
    out.push(...p.flush().map((s) => `${s.op}:${keys(s)}`));
    assert.deepEqual(out, ['delete:9', 'insert:1,2', 'delete:1', 'insert:1']);
  });
});

describe('cdc/planner (pure): staging tables', () => {
  it('makes a new stage of the new types once a key column is retyped, and reuses it while the types hold', () => {
    const p = new BatchPlanner({ ...DEFAULT_LIMITS, stageMinRows: 2 });
    const deletes = (t: TargetTable, from: number) => {
      p.add({ op: 'delete', table: t, identity: tupleOf([String(from), null, null]) });
      p.add({ op: 'delete', table: t, identity: tupleOf([String(from + 1), null, null]) });
      return p.flush()[0]!.requires!;
    };
    const first = deletes(table, 1);
    assert.equal(first.sql, 'CREATE TEMPORARY TABLE pg_temp."pgferry_stage_1" ("k0" integer) ON COMMIT DELETE ROWS');
    assert.equal(deletes(table, 3).key, first.key);
    // the relation message after ALTER COLUMN id TYPE bigint gives the table its new cast
    const retyped: TargetTable = { ...table, columns: table.columns.map((c, i) => (i === 0 ? { ...c, cast: 'bigint' } : c)) };
    const second = deletes(retyped, 3_000_000_000);
    assert.notEqual(second.key, first.key);
    assert.equal(second.sql, 'CREATE TEMPORARY TABLE pg_temp."pgferry_stage_2" ("k0" bigint) ON COMMIT DELETE ROWS');
    assert.equal(deletes(retyped, 3_000_000_002).key, second.key);
  });
});

describe('cdc/planner (pure): truncate', () => {
  it('truncates with ONLY except partitioned tables, and never with CASCADE', () => {
    const s = truncateStatement([table, { ...table, partitioned: true, name: 'p' }], false);
    assert.equal(s.text, 'TRUNCATE ONLY "My ""S"""."t.x", "My ""S"""."p"');
  });
});

// How an update or delete finds its row on the target (pure): each type's equality operator,
// schema-qualified (sessions run with an empty search_path), the choice between a unique index and
// the whole old row for REPLICA IDENTITY FULL tables, and the statement text that results.
import assert from 'node:assert/strict';
import { type TypeFacts, typeComparison } from '../../provider/engine/cdc/plan/equality';
import { deleteStatement, fullIdentityStatement, stagedStatements } from '../../provider/engine/cdc/plan/statements';
import { GroupRows } from '../../provider/engine/cdc/plan/groupRows';
import { chooseMatch } from '../../provider/engine/cdc/apply/targetTables';
import { tupleOf } from '../../provider/engine/cdc/decode/tuple';
import type { TargetTable } from '../../provider/engine/cdc/plan/types';

const base = (o: Partial<TypeFacts> = {}): TypeFacts => ({ kind: 'b', base: 0, element: 0, fields: [], volatileText: false, ...o });
const PUBLIC_EQ = { schema: 'public', name: '=' };
const CATALOG_EQ = { schema: 'pg_catalog', name: '=' };

// 1 citext, 2 citext[], 3 domain over citext, 4 domain over 3, 5 json, 6 json[], 7 composite (citext, json),
// 8 composite (citext), 9 enum, 10 range, 11 a type with a VOLATILE output and no equality, 12 its array,
// 13 a type with an equality and a VOLATILE output
const FACTS = new Map<number, TypeFacts>([
  [1, base({ eq: PUBLIC_EQ })],
  [2, base({ element: 1 })],
  [3, base({ kind: 'd', base: 1 })],
  [4, base({ kind: 'd', base: 3 })],
  [5, base()],
  [6, base({ element: 5 })],
  [7, base({ kind: 'c', fields: [1, 5] })],
  [8, base({ kind: 'c', fields: [1] })],
  [9, base({ kind: 'e' })],
  [10, base({ kind: 'r' })],
  [11, base({ volatileText: true })],
  [12, base({ element: 11 })],
  [13, base({ eq: PUBLIC_EQ, volatileText: true })],
]);

describe('cdc/equality (pure): the equality a type is compared with', () => {
  it("uses a base type's own operator class equality, a domain's base type's, and pg_catalog's for arrays, composites, enums and ranges", () => {
    assert.deepEqual(typeComparison(1, FACTS), { eq: PUBLIC_EQ, stableText: true });
    assert.deepEqual(typeComparison(4, FACTS), { eq: PUBLIC_EQ, stableText: true });
    assert.deepEqual(typeComparison(2, FACTS), { eq: CATALOG_EQ, stableText: true });
    assert.deepEqual(typeComparison(8, FACTS), { eq: CATALOG_EQ, stableText: true });
    assert.deepEqual(typeComparison(9, FACTS).eq, CATALOG_EQ);
    assert.deepEqual(typeComparison(10, FACTS).eq, CATALOG_EQ);
  });

  it('has no equality for a type without an operator class, nor for arrays and composites holding one', () => {
    for (const type of [5, 6, 7, 11, 12, 999]) assert.equal(typeComparison(type, FACTS).eq, undefined, `type ${type}`);
  });

  it('marks a text form that comes from a VOLATILE input or output function, also inside an array', () => {
    assert.equal(typeComparison(11, FACTS).stableText, false);
    assert.equal(typeComparison(12, FACTS).stableText, false);
    assert.deepEqual(typeComparison(13, FACTS), { eq: PUBLIC_EQ, stableText: false });
  });
});

describe('cdc/targetTables (pure): what a streamed table is matched by on the target', () => {
  const column = (name: string, isKey: boolean) => ({ name, isKey, typeOid: 25, typeMod: -1 });
  const pk = { columns: ['id'], eq: [PUBLIC_EQ] };

  it('matches a REPLICA IDENTITY FULL table by a usable unique index, with its operators, and otherwise by the whole row', () => {
    const full = { replicaIdentity: 'full' as const, columns: [column('id', true), column('v', true)] };
    const byKey = chooseMatch(full, [pk]);
    assert.deepEqual([...byKey.keyColumns], ['id']);
    assert.deepEqual(byKey.keyEq.get('id'), PUBLIC_EQ);
    assert.equal(byKey.wholeRow, false);
    assert.equal(chooseMatch(full, []).wholeRow, true);
    // an index on a column the stream does not carry (generated on the target)
    assert.equal(chooseMatch(full, [{ columns: ['gen'], eq: [CATALOG_EQ] }]).wholeRow, true);
  });

  it("matches a keyed table by the source's key columns, with the operators of the target's unique index on exactly them", () => {
    const keyed = { replicaIdentity: 'default' as const, columns: [column('id', true), column('v', false)] };
    const m = chooseMatch(keyed, [{ columns: ['id', 'v'], eq: [CATALOG_EQ, CATALOG_EQ] }, pk]);
    assert.deepEqual([...m.keyColumns], ['id']);
    assert.deepEqual(m.keyEq.get('id'), PUBLIC_EQ);
    assert.equal(chooseMatch(keyed, []).keyEq.size, 0);
  });
});

describe('cdc/statements (pure): comparisons under an empty search_path', () => {
  const table: TargetTable = {
    oid: 1,
    schema: 'public',
    name: 'things',
    identityFull: true,
    partitioned: false,
    columns: [
      { name: 'c', cast: '"public"."citext"', isKey: true, equality: 'OPERATOR("public".=)', stableText: true },
      { name: 'j', cast: 'json', isKey: true, stableText: true },
      { name: 'v', cast: '"public"."vt"', isKey: true, stableText: false },
      { name: 'w', cast: '"public"."wt"', isKey: true, equality: 'OPERATOR("public".=)', stableText: false },
      { name: 'n', cast: 'numeric', isKey: true, equality: 'OPERATOR("pg_catalog".=)', stableText: true },
    ],
  };

  it('matches a whole old row by each equality and, where it may be looser than identity, by the exact text as the target reads it', () => {
    const stmt = fullIdentityStatement(table, 'delete', tupleOf(['Abc', '{"a": 1}', 'x', 'y', null]));
    assert.equal(
      stmt.text,
      'WITH f AS (SELECT s.tableoid AS o, s.ctid AS c FROM ONLY "public"."things" AS s WHERE ' +
        's."c" OPERATOR("public".=) $1::"public"."citext" AND s."c"::text = $1::"public"."citext"::text COLLATE pg_catalog."C" AND ' +
        's."j"::text = $2::json::text COLLATE pg_catalog."C" AND ' +
        's."v"::text = $3::"public"."vt"::text COLLATE pg_catalog."C" AND ' +
        's."w" OPERATOR("public".=) $4::"public"."wt" AND ' +
        's."n" IS NULL LIMIT 1) DELETE FROM ONLY "public"."things" AS t USING f WHERE t.tableoid = f.o AND t.ctid = f.c',
    );
    assert.deepEqual(stmt.params, ['Abc', '{"a": 1}', 'x', 'y']);
  });

  it("matches keys with each key column's equality, in parameter and staged statements, and by exact text where a type has none", () => {
    const keyed: TargetTable = { ...table, identityFull: false, columns: table.columns.slice(0, 2) };
    const rows = new GroupRows();
    rows.append(tupleOf(['Abc', '{}']), [0, 1], undefined, []);
    const match = 't."c" OPERATOR("public".=) v."k0" AND t."j"::text = v."k1"::text COLLATE pg_catalog."C"';
    assert.ok(deleteStatement(keyed, [0, 1], rows).text.endsWith(`WHERE ${match}`));
    const [fill, apply] = stagedStatements(keyed, 'delete', [0, 1], [], rows, { name: 'stage_1' });
    // a type of the database's own is staged as its text and cast where it is read: the stage never holds the type
    const staged = 't."c" OPERATOR("public".=) v."k0"::"public"."citext" AND t."j"::text = v."k1"::text COLLATE pg_catalog."C"';
    assert.ok(apply!.text.endsWith(`WHERE ${staged}`), apply!.text);
    assert.equal(fill!.requires?.sql, 'CREATE TEMPORARY TABLE pg_temp."stage_1" ("k0" text, "k1" json) ON COMMIT DELETE ROWS');
  });
});

// The names the engine's messages print outside validation (a cutover's late writes, the owner
// check's routes) go through the one printing helper, displayIdent: bare when plain, quoted
// otherwise, a control character escaped so a message stays on one line. A fix meant to be pasted
// and run keeps the SQL quoting, so it stays valid SQL.
import assert from 'node:assert/strict';
import { lateWritesMessage } from '../../provider/engine/switchover/lateWrites';
import { inheritFix, targetOwnerRoute, type TargetOwnerContext } from '../../provider/engine/schema/ownerAccess';
import pg from 'pg';
import { classifyStreamFailure } from '../../provider/engine/cdc/apply/applyStop';
import { describeRefusing } from '../../provider/engine/cdc/apply/looseningWait';
import { SettleBeforeStop, stopOnTarget, stopPerRow, stopWith } from '../../provider/engine/cdc/apply/shapeStops';
import { applyError, referencedError, StatementFailure, type ReferencingKey } from '../../provider/engine/cdc/apply/targetTransaction';
import { AffectedRowsError } from '../../provider/engine/cdc/apply/statementPipeline';
import { truncateStatement, updateStatement } from '../../provider/engine/cdc/plan/statements';
import type { GroupRows } from '../../provider/engine/cdc/plan/groupRows';
import type { TargetTable } from '../../provider/engine/cdc/plan/types';
import { FORWARD_STREAM_WORDS, REVERSE_STREAM_WORDS } from '../../provider/engine/core/streamWords';
import { warningFor, type ForeignKeyRecord } from '../../provider/engine/footprint/targetForeignKeys';
import { columnDifference } from '../../provider/engine/verify/verifyTables';
import { removedLabelMessage } from '../../provider/engine/flow/enumRemake';
import { describeDependent, dropDependent, type Dependent } from '../../provider/engine/flow/targetDependents';
import { alterStatement, createStatement, describeObject } from '../../provider/engine/verify/schema/fixes';
import type { SchemaObject } from '../../provider/engine/verify/schema/catalog';

describe('names printed in the messages of the cutover and the owner check', () => {
  it('a late write names its database and user as displayIdent prints them, on one line', () => {
    const message = lateWritesMessage('shop\nEU', [
      { xid: 1, commitLsn: '0/1', tables: ['public.items'], writers: [{ user: 'app', application: 'web', address: '::1', pid: 7 }] },
      {
        xid: 2,
        commitLsn: '0/2',
        tables: ['public.items'],
        writers: [{ user: 'Ops "team"', application: 'psql', address: '::1', pid: 8 }],
      },
    ]);
    assert.equal(message.includes('\n'), false, message);
    assert.ok(
      message.startsWith('U&"shop\\000AEU": 2 transaction(s) committed on the source after the cutover point wrote public.items, by '),
      message,
    );
    assert.ok(message.includes('user app, application "web"'), message);
    assert.ok(message.includes('user "Ops ""team""", application "psql"'), message);
  });

  it('an unseen late write names its database as displayIdent prints it', () => {
    const message = lateWritesMessage('shop', [{ xid: 1, commitLsn: '0/1', tables: ['public.items'], writers: [] }]);
    assert.ok(message.startsWith('shop: 1 transaction(s)'), message);
    assert.ok(message.includes('look for it in pg_stat_activity of shop on the source'), message);
  });

  it("the owner check's route prints roles bare when plain, and its fix keeps the SQL quoting", () => {
    const ctx: TargetOwnerContext = {
      user: 'pgadmin',
      superuser: false,
      createRole: true,
      inherit: false,
      major: 15,
      migrateRoles: true,
      existing: new Map(),
    };
    assert.equal(
      targetOwnerRoute('App Owner', ctx).route,
      'owned by "App Owner", which pgferry creates with pgadmin as a member, but pgadmin is NOINHERIT',
    );
    assert.equal(
      inheritFix({ ...ctx, major: 16 }, ['App Owner']),
      'on the target, as an administrator: GRANT "App Owner" TO "pgadmin" WITH INHERIT TRUE; or set migrateRoles: false so that pgadmin owns the tables',
    );
  });
});

describe('names printed in the messages of the stream, the verification and the foreign keys', () => {
  /** A CHECK refusal as pg's DatabaseError carries it, with the constraint's and the table's names. */
  function checkRefusal(table: string, constraint: string): pg.DatabaseError {
    return Object.assign(new pg.DatabaseError('new row violates check constraint', 0, 'error'), {
      code: '23514',
      schema: 'public',
      table,
      constraint,
    });
  }

  it("a verification's column difference prints plain names bare, others quoted, a newline escaped", () => {
    assert.equal(
      columnDifference(['id', 'note\nEU', 'Amount'], ['id']),
      'column U&"note\\000AEU" is missing on the target; column "Amount" is missing on the target',
    );
    assert.equal(columnDifference(['id'], ['id', 'extra']), 'column extra is only on the target');
  });

  it("a refusing constraint's message prints its names as displayIdent does, its fix statement keeps the SQL quoting", () => {
    assert.equal(
      describeRefusing({ on: 'table', schema: 'public', name: 'Order Lines', constraint: 'qty\npositive' }),
      'constraint U&"qty\\000Apositive" of table public."Order Lines"',
    );
    assert.equal(describeRefusing({ on: 'domain', schema: 'public', name: 'amount' }), 'the NOT NULL of domain public.amount');
    const failure = classifyStreamFailure(checkRefusal('orders', 'qty_positive'), REVERSE_STREAM_WORDS);
    assert.equal(failure.kind, 'stop');
    assert.equal(
      failure.kind === 'stop' && failure.cause.fix,
      'constraint qty_positive of table public.orders on the old source refuses a value the new server accepted (dropped or changed there since?): ' +
        'make it as on the new server, for a dropped one on the old source: ALTER TABLE "public"."orders" DROP CONSTRAINT "qty_positive"',
    );
  });

  it("a column added with per-row values is named as displayIdent prints it; the fix's ADD COLUMN keeps the SQL quoting", () => {
    const at = { current: { finalLsn: 1n, afterOthers: false }, words: FORWARD_STREAM_WORDS };
    assert.throws(
      () => stopPerRow(at, { schema: 'public', name: 'orders' }, 'Made\tAt', 'its default is volatile'),
      (error: Error & { fix?: string; field?: string }) => {
        assert.ok(!(error instanceof SettleBeforeStop));
        assert.ok(
          error.message.startsWith('column U&"Made\\0009At" was added to source table public.orders while streaming'),
          error.message,
        );
        assert.equal(error.message.includes('\t'), false, error.message);
        assert.ok(error.fix?.includes('ALTER TABLE "public"."orders" ADD COLUMN "Made\tAt"'), error.fix);
        // the stop's table, which the stop records and the follows match, keeps the SQL quoting
        assert.equal(error.field, '"public"."orders"');
        return true;
      },
    );
  });

  it("a change of shape's stop names its table as displayName prints it; the stop's table and the fix keep the SQL quoting", () => {
    const at = { current: { finalLsn: 1n, afterOthers: false }, words: FORWARD_STREAM_WORDS };
    const fix = 'ALTER TABLE "Sales"."order lines" ALTER COLUMN "qty" DROP NOT NULL';
    assert.throws(
      // the description as the shape follower writes it: `column ${displayIdent(name)} changed type`
      () => stopWith(at, { schema: 'Sales', name: 'order lines' }, 'column qty changed type', true, fix),
      (error: Error & { fix?: string; field?: string }) => {
        assert.equal(
          error.message,
          'source table "Sales"."order lines" changed while streaming: column qty changed type; streaming stopped',
        );
        assert.equal(error.field, '"Sales"."order lines"');
        assert.equal(error.fix, fix);
        return true;
      },
    );
    assert.throws(
      () => stopWith(at, { schema: 'public', name: 'orders' }, 'its columns changed', false),
      (error: Error & { fix?: string; field?: string }) => {
        assert.equal(error.message, 'source table public.orders changed while streaming: its columns changed; streaming stopped');
        assert.equal(error.field, '"public"."orders"');
        return true;
      },
    );
    const back = { current: { finalLsn: 1n, afterOthers: false }, words: REVERSE_STREAM_WORDS };
    assert.throws(
      () => stopOnTarget(back, { schema: 'public', name: 'line\nitems' }, 'column dba is NOT NULL without a default', fix),
      (error: Error & { fix?: string; field?: string }) => {
        assert.equal(
          error.message,
          'table public.U&"line\\000Aitems" of the old source: column dba is NOT NULL without a default; streaming stopped',
        );
        assert.equal(error.field, '"public"."line\nitems"');
        return true;
      },
    );
  });

  it("a foreign key's warning names the key and its table as displayIdent prints them; its statements keep the SQL quoting", () => {
    const key: ForeignKeyRecord = {
      schema: 'public',
      table: 'visit',
      name: 'visit "region"',
      definition: 'FOREIGN KEY (region_id) REFERENCES public.region(id)',
      validated: true,
      columns: ['region_id'],
      referencedSchema: 'public',
      referencedTable: 'region',
      referencedColumns: ['id'],
      matchFull: false,
    };
    assert.equal(
      warningFor(key, { outcome: 'left out', detail: 'no region' }),
      'foreign key "visit ""region""" of public.visit could not be added back on the target (no region); its definition is kept in ' +
        'pgferry.footprint: ALTER TABLE "public"."visit" ADD CONSTRAINT "visit ""region""" FOREIGN KEY (region_id) REFERENCES public.region(id)',
    );
    const notValid = warningFor({ ...key, name: 'visit_fk' }, { outcome: 'not valid', violatingRows: 2, detail: 'Key (region_id)=(3)' });
    assert.ok(notValid.startsWith('foreign key visit_fk of public.visit is back on the target NOT VALID: 2 row(s) violate it'), notValid);
    assert.ok(notValid.endsWith('once they are fixed: ALTER TABLE "public"."visit" VALIDATE CONSTRAINT "visit_fk"'), notValid);
  });

  it('a dependent in the way of a follow is named as displayIdent prints it; the statement that drops it keeps the SQL quoting', () => {
    const trigger: Dependent = {
      kind: 'trigger',
      schema: 'public',
      relation: 'Gone Guarded',
      name: 'dba\nguard',
      args: null,
      definition: null,
      oid: '1',
    };
    assert.equal(describeDependent(trigger), 'trigger U&"dba\\000Aguard" on public."Gone Guarded"');
    assert.equal(describeDependent({ ...trigger, kind: 'default', name: 'due_at' }), 'the default of column public."Gone Guarded".due_at');
    assert.equal(
      describeDependent({ ...trigger, kind: 'function', relation: null, name: 'tax', args: 'integer' }),
      'function public.tax(integer)',
    );
    assert.equal(describeDependent({ ...trigger, kind: 'view', relation: null, name: 'dba_view' }), 'view public.dba_view');
    assert.equal(dropDependent({ ...trigger, kind: 'view', relation: null, name: 'dba_view' }), 'DROP VIEW "public"."dba_view"');
  });

  it('a removed enum label still in rows names the column and the type as displayIdent prints them; its SELECT keeps the SQL quoting', () => {
    const column = { schema: 'public', table: 'people', column: 'Mood', array: false, default: null };
    assert.equal(
      removedLabelMessage({ schema: 'public', name: 'mood' }, column, "'sad'", '1'),
      `column public.people."Mood" holds the label 'sad', which the source's public.mood no longer has, in 1 row of the target: ` +
        `change or delete it (SELECT * FROM "public"."people" WHERE "Mood"::text = 'sad'), and the next look makes the type again`,
    );
    assert.ok(
      removedLabelMessage({ schema: 'public', name: 'mood' }, { ...column, column: 'moods', array: true }, "'sad'", '3').includes(
        `column public.people.moods holds the label 'sad', which the source's public.mood no longer has, in 3 rows of the target: change or delete them (SELECT * FROM "public"."people" WHERE 'sad' = ANY("moods"::text[]))`,
      ),
    );
  });
});

describe('names printed in the stop of a replayed TRUNCATE', () => {
  const statementOf = (tables: { schema: string; name: string }[]) =>
    truncateStatement(
      tables.map((t, i): TargetTable => ({ ...t, oid: i + 1, targetOid: 100 + i, columns: [], identityFull: false, partitioned: false })),
      false,
    );
  const serverError = (detail: string) =>
    Object.assign(new Error('cannot truncate a table referenced in a foreign key constraint'), {
      code: '0A000',
      severity: 'ERROR',
      detail,
    });
  const key = (schema: string, name: string, constraint: string, references: { schema: string; name: string }): ReferencingKey => ({
    table: { schema, name },
    constraint,
    references,
  });

  it("a TRUNCATE refused for a foreign key names the keys the catalog read as displayName prints them; the fix's statement and the stop's table keep the SQL quoting", () => {
    const items = { schema: 'public', name: 'items' };
    const plain = referencedError(statementOf([items]), serverError('Table "audit" references "items".'), FORWARD_STREAM_WORDS, [
      key('public', 'audit', 'audit_item_fkey', items),
    ]);
    assert.equal(
      plain?.message,
      'TRUNCATE of public.items refused: table public.audit, which the stream does not write, references public.items by a foreign key; pgferry never truncates with CASCADE, so nothing was emptied',
    );
    assert.equal(
      plain?.fix,
      'to keep the rows of table public.audit, drop its foreign key to public.items on the target: ALTER TABLE "public"."audit" DROP CONSTRAINT "audit_item_fkey"; if its rows are meant to go with the TRUNCATE, empty it there yourself; the stream then applies the TRUNCATE',
    );
    const lineItems = { schema: 'Sales', name: 'line items' };
    const odd = referencedError(
      statementOf([items, lineItems]),
      serverError('Table "dba "notes"" references "line items".'),
      REVERSE_STREAM_WORDS,
      [key('dba', 'dba "notes"', 'notes_fkey', lineItems), key('public', 'audit', 'audit_item_fkey', items)],
    );
    assert.equal(
      odd?.message,
      'TRUNCATE of public.items, "Sales"."line items" refused: tables the stream does not write reference them by foreign keys: dba."dba ""notes""" references "Sales"."line items", public.audit references public.items; pgferry never truncates with CASCADE, so nothing was emptied',
    );
    assert.ok(
      odd?.fix?.startsWith(
        'to keep the rows of those tables, drop their foreign keys on the old source: ALTER TABLE "dba"."dba ""notes""" DROP CONSTRAINT "notes_fkey"; ALTER TABLE "public"."audit" DROP CONSTRAINT "audit_item_fkey"; ',
      ),
      odd?.fix,
    );
    assert.equal((odd as { field?: string } | undefined)?.field, '"public"."items", "Sales"."line items"');
  });

  it("a TRUNCATE refused before the catalog was read names no table from the server's detail: of two tables of one name it quotes the detail whole", () => {
    const refused = referencedError(
      statementOf([
        { schema: 'a', name: 'items' },
        { schema: 'b', name: 'items' },
      ]),
      serverError('Table "refs" references "items".'),
    );
    assert.equal(
      refused?.message,
      'TRUNCATE of a.items, b.items refused: a table the stream does not write references one of them by a foreign key (the server\'s detail: Table "refs" references "items".); pgferry never truncates with CASCADE, so nothing was emptied',
    );
    assert.deepEqual(
      refused?.refused.tables?.map((t) => t.targetOid),
      [100, 101],
      'the stop keeps the target OIDs its catalog read takes',
    );
  });
});

describe('names printed in the stops of a refused or diverged row change', () => {
  const table: TargetTable = {
    schema: 'public',
    name: 'line items',
    oid: 1,
    columns: [{ name: 'id', cast: 'integer', isKey: true, stableText: true }],
    identityFull: false,
    partitioned: false,
  };
  const update = updateStatement(table, [0], [0], { rows: 1, params: () => [['1', '1']] } as unknown as GroupRows);

  it('a refused statement names its table as displayName prints it; its field and statement keep the SQL quoting', () => {
    const refused = applyError(
      update,
      Object.assign(new Error('permission denied for table line items'), { code: '42501', severity: 'ERROR' }),
      REVERSE_STREAM_WORDS,
    ) as StatementFailure;
    assert.equal(
      refused.message,
      'applying update to public."line items" on the old source failed: permission denied for table line items',
    );
    assert.deepEqual([refused.table, refused.printed], ['"public"."line items"', 'public."line items"']);
    assert.ok(refused.statement.startsWith('UPDATE ONLY "public"."line items" AS t SET'), refused.statement);
  });

  it('a statement that changed another number of rows stops as diverged, naming its table as displayName prints it', () => {
    const diverged = applyError(update, new AffectedRowsError(5, 4), FORWARD_STREAM_WORDS) as StatementFailure;
    assert.equal(
      diverged.message,
      'update of 5 row(s) of public."line items" changed 4 on the target: rows the source changed are missing on the target; the target has diverged from the source, streaming stopped',
    );
    assert.equal(diverged.table, '"public"."line items"');
  });
});

describe("names printed in the schema check's objects", () => {
  it('the schema check names an object as displayIdent prints its names; the fix beside it keeps the SQL quoting', () => {
    const object = (kind: string, schema: string, relation: string | null, name: string, args: string | null = null): SchemaObject => ({
      kind,
      schema,
      relation,
      name,
      args,
      classId: '',
      objectId: '',
      ownerObjectId: '',
      props: { type: 'integer' },
    });
    const odd = object('column', 'Sales', 'order lines', 'qty\nEU');
    assert.deepEqual(
      [
        describeObject(object('column', 'public', 'orders', 'placed_at')),
        describeObject(odd),
        describeObject(object('trigger', 'public', 'orders', 'Audit')),
        describeObject(object('function', 'public', null, 'tax', 'numeric')),
        describeObject(object('schema', 'Reports', null, 'Reports')),
        describeObject(object('index', 'public', 'orders', 'orders_idx')),
      ],
      [
        'column public.orders.placed_at',
        'column "Sales"."order lines".U&"qty\\000AEU"',
        'trigger "Audit" on public.orders',
        'function public.tax(numeric)',
        'schema "Reports"',
        'index public.orders_idx',
      ],
    );
    assert.equal(createStatement(odd), 'ALTER TABLE "Sales"."order lines" ADD COLUMN "qty\nEU" integer;');
    assert.equal(
      alterStatement(object('table', 'public', null, 'orders'), 'columns', null, null, 'postgres'),
      'recreate table public.orders as on the source (its columns differs)',
    );
  });
});

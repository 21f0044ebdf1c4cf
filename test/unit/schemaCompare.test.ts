// The schema check's comparison (verify/schema/compare.ts), pure: two catalogs in, differences
// with their fixes and the deliberate differences with their reasons out.
import assert from 'node:assert/strict';
import { objectKey, type SchemaObject } from '../../provider/engine/verify/schema/catalog';
import { compareSchemas, type CompareContext } from '../../provider/engine/verify/schema/compare';
import { NONE_MADE, targetIdentity } from '../../provider/engine/verify/schema/identity';
import type { OwnerRule } from '../../provider/engine/schema/ownerAccess';

/** A managed target's: the admin pgadmin, a member of app (which pgferry made), of no superuser. */
const MANAGED: OwnerRule = {
  user: 'pgadmin',
  superuser: false,
  migrateRoles: true,
  existing: new Map([
    ['pgadmin', { canSet: true, usage: true }],
    ['app', { canSet: true, usage: true }],
  ]),
};

/** A superuser target's, with the roles given. */
const superuserRule = (...roles: string[]): OwnerRule => ({
  user: 'postgres',
  superuser: true,
  migrateRoles: true,
  existing: new Map(roles.map((r) => [r, { canSet: true, usage: true }])),
});

const CTX: CompareContext = {
  sourceMajor: 15,
  targetMajor: 15,
  owners: MANAGED,
  targetRoles: new Set(['pgadmin', 'app']),
  whileSetAside: false,
  leftOutKeys: new Set(),
};

function column(name: string, props: Record<string, string | boolean | null>): SchemaObject {
  const base = { type: 'integer', collation: null, default: null, generated: null, 'not null': false, identity: null, privileges: null };
  return {
    kind: 'column',
    schema: 'public',
    relation: 'orders',
    name,
    args: null,
    classId: '1259',
    objectId: '1',
    ownerObjectId: '1',
    props: { ...base, ...props },
  };
}

/** The table the columns and indexes here belong to, on both sides. */
const ORDERS: SchemaObject = {
  kind: 'table',
  schema: 'public',
  relation: null,
  name: 'orders',
  args: null,
  classId: '1259',
  objectId: '1',
  ownerObjectId: '1',
  props: {},
};

/** The orders table with only its owner, as the owner's comparison reads it. */
const ordersOwnedBy = (owner: string): SchemaObject => ({ ...ORDERS, props: { owner } });

describe('schema check: comparison (unit)', () => {
  it("compares a column's type and identity, each with its statement", () => {
    const source = [column('id', { type: 'bigint', identity: 'ALWAYS', 'not null': true })];
    const target = [column('id', { type: 'integer', 'not null': true })];
    const { differences } = compareSchemas(source, target, CTX);
    assert.deepEqual(
      differences.map((d) => [d.detail, d.fix]),
      [
        ['type: source bigint, target integer', 'ALTER TABLE "public"."orders" ALTER COLUMN "id" TYPE bigint;'],
        ['identity: source ALWAYS, target none', 'ALTER TABLE "public"."orders" ALTER COLUMN "id" ADD GENERATED ALWAYS AS IDENTITY;'],
      ],
    );
    assert.equal(differences[0]!.table, 'public.orders');
  });

  it("tells a column's default set or dropped (followed by the schema watch) from its other differences", () => {
    const source = [column('a', { default: '0' }), column('b', {}), column('c', { type: 'bigint' })];
    const target = [column('a', {}), column('b', { default: '1' }), column('c', {})];
    const { differences, steps } = compareSchemas(source, target, CTX);
    assert.deepEqual(
      differences.map((d, i) => [d.fix, steps[i]?.when === 'anytime' && steps[i]?.readWhole === true]),
      [
        ['ALTER TABLE "public"."orders" ALTER COLUMN "a" SET DEFAULT 0;', true],
        ['ALTER TABLE "public"."orders" ALTER COLUMN "b" DROP DEFAULT;', true],
        ['ALTER TABLE "public"."orders" ALTER COLUMN "c" TYPE bigint;', false],
      ],
    );
  });

  it('leaves the parts of a table only one side has to the follow of the table itself', () => {
    const table = (name: string): SchemaObject => ({
      kind: 'table',
      schema: 'public',
      relation: null,
      name,
      args: null,
      classId: '1259',
      objectId: name,
      ownerObjectId: name,
      props: {},
    });
    const key = (relation: string): SchemaObject => ({
      kind: 'constraint',
      schema: 'public',
      relation,
      name: 'items_pkey',
      args: null,
      classId: '2606',
      objectId: `${relation}_pkey`,
      ownerObjectId: relation,
      props: { definition: 'PRIMARY KEY (id)', on: 'table', 'foreign key': false },
    });
    // renamed on the source, not yet on the target: neither key is dropped nor made by the schema watch
    const renamed = compareSchemas([table('line_items'), key('line_items')], [table('items'), key('items')], CTX);
    assert.equal(renamed.differences.length, 4);
    assert.deepEqual(renamed.steps, [undefined, undefined, undefined, undefined]);
    // a key of a table both have is followed as before
    const both = compareSchemas([table('items'), key('items')], [table('items')], CTX);
    assert.equal(both.steps[0]?.when, 'applied');
  });

  it('pairs a column only on the source with one alike only on the target as a rename', () => {
    const { differences } = compareSchemas([column('full_name', {})], [column('name', {})], CTX);
    assert.deepEqual(
      differences.map((d) => d.fix),
      ['ALTER TABLE "public"."orders" RENAME COLUMN "name" TO "full_name";'],
    );
  });

  it('lists an owner the target user cannot give, and a foreign key left out at cutover, as deliberate', () => {
    const table = ordersOwnedBy;
    const key: SchemaObject = {
      kind: 'constraint',
      schema: 'public',
      relation: 'orders',
      name: 'orders_customer_fkey',
      args: null,
      classId: '2606',
      objectId: '2',
      ownerObjectId: '1',
      props: { definition: 'FOREIGN KEY (customer_id) REFERENCES public.customers(id)', on: 'table', 'foreign key': true },
    };
    const leftOutKeys = new Set(['public\0orders\0orders_customer_fkey']);
    const result = compareSchemas([table('postgres'), key], [table('pgadmin')], { ...CTX, leftOutKeys });
    assert.deepEqual(result.differences, []);
    assert.equal(result.expected.length, 2);
    // the same key, not reported at cutover, is a difference
    const strict = compareSchemas([table('postgres'), key], [table('pgadmin')], CTX);
    assert.deepEqual(
      strict.differences.map((d) => d.fix),
      ['ALTER TABLE "public"."orders" ADD CONSTRAINT "orders_customer_fkey" FOREIGN KEY (customer_id) REFERENCES public.customers(id);'],
    );
    // while streaming, a key is missing on purpose only where it is set aside to be added at the release
    const streaming = { ...CTX, whileSetAside: true };
    const [onSource, onTarget] = [[table('pgadmin'), key], [table('pgadmin')]];
    assert.equal(compareSchemas(onSource, onTarget, streaming).differences.length, 0, 'all set aside when the caller does not say');
    assert.equal(compareSchemas(onSource, onTarget, { ...streaming, setAsideKeys: leftOutKeys }).differences.length, 0);
    const created = compareSchemas(onSource, onTarget, { ...streaming, setAsideKeys: new Set() });
    assert.equal(created.differences.length, 1, 'one created on the source while streaming is followed');
    assert.equal(created.steps[0]?.when, 'applied');
    // an owner the target user may make is not excused
    const owned = compareSchemas([table('app')], [table('pgadmin')], CTX);
    assert.deepEqual(
      owned.differences.map((d) => d.fix),
      ['ALTER TABLE "public"."orders" OWNER TO "app";'],
    );
  });

  it("expects the owner the restore gives: a role the admin is no member of leaves the object the admin's, never a GRANT of it (issue 64)", () => {
    const table = ordersOwnedBy;
    // auditor is the target's own, the admin no member of it; postgres a superuser there
    const owners: OwnerRule = {
      ...MANAGED,
      existing: new Map([...MANAGED.existing, ['auditor', { canSet: false, usage: false }], ['postgres', { canSet: false, usage: false }]]),
    };
    const ctx = { ...CTX, owners, targetRoles: new Set(['pgadmin', 'app', 'auditor', 'postgres']), whileSetAside: true, known: new Map() };
    for (const role of ['auditor', 'postgres']) {
      const excused = compareSchemas([table(role)], [table('pgadmin')], ctx);
      assert.deepEqual(excused.differences, []);
      assert.match(
        excused.expected[0]?.reason ?? '',
        new RegExp(`^owned by ${role} on the source, a role the target user may not SET ROLE to`),
      );
      // still app's on the target (the follow had not run): given to the admin, as the restore gives it
      const followed = compareSchemas([table(role)], [table('app')], ctx);
      assert.deepEqual(
        followed.differences.map((d) => [d.fix, followed.steps[0]?.statements]),
        [['ALTER TABLE "public"."orders" OWNER TO "pgadmin";', ['ALTER TABLE "public"."orders" OWNER TO "pgadmin";']]],
      );
      assert.doesNotMatch(JSON.stringify(followed.differences), /GRANT/);
    }
    // given on the target to a role whose privileges the admin lacks: a sentence saying who can, nothing followed
    const away = compareSchemas([table('app')], [table('auditor')], ctx);
    assert.deepEqual(
      away.differences.map((d) => d.fix),
      [
        'pgadmin cannot change it: on the target it is owned by auditor, whose privileges pgadmin does not have; auditor or a superuser there can run ALTER TABLE "public"."orders" OWNER TO "app";',
      ],
    );
    assert.deepEqual(away.steps, [undefined]);
    // with migrateRoles false the restore gives every object to the admin, whatever the target's roles
    const noOwners = compareSchemas([table('app')], [table('pgadmin')], { ...ctx, owners: { ...owners, migrateRoles: false } });
    assert.deepEqual(noOwners.differences, []);
  });
});

describe('schema check: the names its reasons print (unit)', () => {
  it('names roles in owner and grant reasons bare when plain, double-quoted otherwise, as every message prints a name', () => {
    // owned on the source by a role the target does not have: the restore gives it to the admin
    const excused = compareSchemas([ordersOwnedBy('Audit Team')], [ordersOwnedBy('pgadmin')], CTX);
    assert.deepEqual(excused.differences, []);
    assert.deepEqual(
      excused.expected.map((e) => e.reason),
      ['owned by "Audit Team" on the source, a role the target does not have: owned by the target user pgadmin, as the restore leaves it'],
    );
    // owned on the target by a role the admin acts as, other than the one the restore gives
    const owners: OwnerRule = { ...MANAGED, existing: new Map([...MANAGED.existing, ['Owner.X', { canSet: true, usage: true }]]) };
    const moved = compareSchemas([ordersOwnedBy('app')], [ordersOwnedBy('Owner.X')], { ...CTX, owners });
    assert.deepEqual(
      moved.differences.map((d) => [d.detail, d.fix]),
      [['owner: source app, target "Owner.X"', 'ALTER TABLE "public"."orders" OWNER TO "app";']],
    );
    // granted on the target alone to a role the source does not have: kept, named as a message names it
    const acl = (extra: string) => ({ ...ORDERS, props: { owner: 'app', privileges: `(owner)=arwdDxt${extra}` } });
    const kept = compareSchemas([acl('')], [acl(' ReportTeam=r reader=r')], { ...CTX, sourceRoles: new Set(['pgadmin', 'app']) });
    assert.deepEqual(kept.differences, []);
    assert.deepEqual(kept.expected.map((e) => e.reason).sort(), [
      'granted on the target to "ReportTeam", a role the source does not have: kept',
      'granted on the target to reader, a role the source does not have: kept',
    ]);
  });
});

describe('schema check: comparison while following (unit)', () => {
  it('drops, when following, only what pgferry restored or the source had: never what was made on the target alone', () => {
    const index = (name: string): SchemaObject => ({
      ...column(name, {}),
      kind: 'index',
      props: { definition: `CREATE INDEX ${name} ON public.orders USING btree (id)` },
    });
    const [restored, mine] = [index('orders_old'), index('orders_mine')];
    const known = new Map([[objectKey(restored), null]]);
    const { differences, steps, kept } = compareSchemas([ORDERS], [ORDERS, restored, mine], { ...CTX, whileSetAside: true, known });
    assert.deepEqual(
      differences.map((d, i) => [d.object, d.detail, steps[i]?.statements ?? null]),
      [['index public.orders_old', 'only on the target', ['DROP INDEX CONCURRENTLY IF EXISTS "public"."orders_old";']]],
    );
    // made on the target alone: no difference, listed as kept
    assert.deepEqual(kept, [
      { object: 'index public.orders_mine', reason: 'made on the target alone: pgferry did not make it and the source never had it' },
    ]);
    // without the record of what pgferry made, nothing tells whose they are: the check stops on both
    assert.equal(compareSchemas([ORDERS], [ORDERS, restored, mine], CTX).differences.length, 2);
  });

  it("lists a DBA's table once, with its parts, and a DBA's column, as kept; stops only on a name the source needs, never offering a drop", () => {
    const known = new Map<string, number | null>([[objectKey(ORDERS), null]]);
    const mine = (kind: string, name: string, relation: string | null): SchemaObject => ({
      ...ORDERS,
      kind,
      name,
      relation,
      props: kind === 'index' ? { definition: `CREATE INDEX ${name} ON public.${relation} USING btree (id)` } : {},
    });
    const dbaTable = mine('table', 'dba_audit', null);
    const target = [
      ORDERS,
      column('dba_note', {}),
      dbaTable,
      mine('column', 'id', 'dba_audit'),
      mine('index', 'dba_audit_id', 'dba_audit'),
    ];
    const { differences, kept } = compareSchemas([ORDERS], target, { ...CTX, whileSetAside: true, known });
    assert.deepEqual(differences, []);
    assert.deepEqual(
      kept.map((k) => k.object),
      ['column public.orders.dba_note', 'table public.dba_audit'],
    );
    // the source makes a view under the DBA's table's name: a conflict, whose fix renames the DBA's table
    const view: SchemaObject = { ...ORDERS, kind: 'view', name: 'dba_audit', props: { definition: 'SELECT 1' } };
    const clash = compareSchemas([ORDERS, view], target, { ...CTX, whileSetAside: true, known });
    const mineDifference = clash.differences.find((d) => d.object === 'table public.dba_audit');
    assert.match(mineDifference?.fix ?? '', /^ALTER TABLE "public"\."dba_audit" RENAME TO "dba_audit_kept";/);
    for (const d of clash.differences) assert.doesNotMatch(d.fix, /^DROP /, `${d.object}: ${d.fix}`);
  });

  it('the public schema a source superuser owns keeps pg_database_owner on a managed target of the same major version: deliberate', () => {
    const publicSchema = (owner: string): SchemaObject => ({
      kind: 'schema',
      schema: 'public',
      relation: null,
      name: 'public',
      args: null,
      classId: '2615',
      objectId: 'public',
      ownerObjectId: 'public',
      props: { owner, privileges: null },
    });
    const managed = compareSchemas([publicSchema('postgres')], [publicSchema('pg_database_owner')], CTX);
    assert.deepEqual(managed.differences, []);
    assert.match(managed.expected[0]?.reason ?? '', /keeps its owner pg_database_owner/);
    // a superuser target makes the source's owner: a difference there
    const superTarget = { ...CTX, owners: superuserRule('postgres'), targetRoles: new Set(['postgres']) };
    assert.equal(compareSchemas([publicSchema('postgres')], [publicSchema('pg_database_owner')], superTarget).differences.length, 1);
  });

  it('while following, tells a rename from a drop and an add by the source attnum the column was known with', () => {
    const at = (o: SchemaObject, attnum: number): SchemaObject => ({ ...o, attnum });
    // pad (attnum 3) renamed to padding; old (attnum 4) dropped and note added (attnum 7), alike
    const source = [ORDERS, at(column('padding', {}), 3), at(column('note', {}), 7)];
    const target = [ORDERS, at(column('pad', {}), 3), at(column('old', {}), 4)];
    const known = new Map<string, number | null>([
      [objectKey(target[1]!), 3],
      [objectKey(target[2]!), 4],
    ]);
    const { differences, steps } = compareSchemas(source, target, { ...CTX, whileSetAside: true, known });
    assert.deepEqual(
      differences.map((d, i) => [d.object, steps[i]?.when, steps[i]?.statements]),
      [
        ['column public.orders.padding', 'drained', ['ALTER TABLE "public"."orders" RENAME COLUMN "pad" TO "padding";']],
        ['column public.orders.note', 'drained', ['ALTER TABLE "public"."orders" ADD COLUMN "note" integer;']],
        ['column public.orders.old', 'drained', ['ALTER TABLE "public"."orders" DROP COLUMN "old";']],
      ],
    );
  });

  it("creates a schema a source superuser owns as the target user's on a managed target, another role's under its owner", () => {
    const schema = (name: string, owner: string): SchemaObject => ({
      kind: 'schema',
      schema: name,
      relation: null,
      name,
      args: null,
      classId: '2615',
      objectId: name,
      ownerObjectId: name,
      props: { owner, privileges: null },
    });
    const source = [schema('reporting', 'postgres'), schema('app_data', 'app')];
    const made = (ctx: CompareContext) => compareSchemas(source, [], { ...ctx, whileSetAside: true, known: new Map() }).steps;
    assert.deepEqual(
      made(CTX).map((s) => s?.statements),
      [['CREATE SCHEMA "reporting" AUTHORIZATION "pgadmin";'], ['CREATE SCHEMA "app_data" AUTHORIZATION "app";']],
    );
    // a superuser target gives it to the source's superuser, as the restore does
    assert.deepEqual(
      made({ ...CTX, owners: superuserRule('postgres', 'app'), targetRoles: new Set(['postgres', 'app']) }).map((s) => s?.statements),
      [['CREATE SCHEMA "reporting" AUTHORIZATION "postgres";'], ['CREATE SCHEMA "app_data" AUTHORIZATION "app";']],
    );
  });
});

/** A view of the schema, its OID the one given, on either side. */
function viewNamed(name: string, objectId: string, definition: string): SchemaObject {
  return { ...ORDERS, kind: 'view', name, objectId, ownerObjectId: objectId, props: { definition } };
}

describe('schema check: a known object told by its identity on the target (unit, issue 62)', () => {
  it("tells the index pgferry made from a DBA's made under its name by its OID on the target: kept, never dropped or altered", () => {
    const index = (objectId: string, columns: string): SchemaObject => ({
      ...column('orders_idx', {}),
      kind: 'index',
      objectId,
      props: { definition: `CREATE INDEX orders_idx ON public.orders USING btree (${columns})` },
    });
    const ours = index('100', 'id');
    const known = new Map<string, number | null>([
      [objectKey(ORDERS), null],
      [objectKey(ours), null],
    ]);
    const ctx = { ...CTX, whileSetAside: true, known, knownIdentities: new Map([[objectKey(ours), targetIdentity(ours)!]]) };
    // the source dropped it: pgferry's (OID 100 on table 1) is dropped, the DBA's (OID 200 on the same table, made after they dropped ours) is kept
    const dropped = compareSchemas([ORDERS], [ORDERS, ours], ctx);
    assert.deepEqual(dropped.steps[0]?.statements, ['DROP INDEX CONCURRENTLY IF EXISTS "public"."orders_idx";']);
    const theirs = compareSchemas([ORDERS], [ORDERS, index('200', 'id, v')], ctx);
    assert.deepEqual(theirs.differences, []);
    assert.match(theirs.kept[0]?.reason ?? '', /by someone else under the name of an object pgferry made there/);
    // the source still has it, unlike the DBA's: one difference whose fix renames theirs aside, no step
    const clash = compareSchemas([ORDERS, ours], [ORDERS, index('200', 'id, v')], ctx);
    assert.deepEqual(
      clash.differences.map((d) => [d.object, d.fix]),
      [
        [
          'index public.orders_idx',
          `ALTER INDEX "public"."orders_idx" RENAME TO "orders_idx_kept"; (keeps it under another name; pgferry then makes the source's)`,
        ],
      ],
    );
    assert.deepEqual(clash.steps, [undefined]);
    // made again alike (an ALTER COLUMN TYPE rebuilds it): the migration's still, dropped when the source drops it
    assert.deepEqual(compareSchemas([ORDERS], [ORDERS, index('150', 'id')], ctx).steps[0]?.statements, [
      'DROP INDEX CONCURRENTLY IF EXISTS "public"."orders_idx";',
    ]);
    // equal to the source's (made again alike, by pgferry's follow or by hand): the source's, identified by its new OID
    const alike = compareSchemas([ORDERS, ours], [ORDERS, index('300', 'id')], ctx);
    assert.deepEqual(alike.differences, []);
    assert.deepEqual([...alike.identified], [[objectKey(ours), targetIdentity(index('300', 'id'))]]);
    // nothing recorded (a catalog from before): by name, as before
    const unrecorded = compareSchemas([ORDERS], [ORDERS, index('200', 'id, v')], { ...ctx, knownIdentities: new Map() });
    assert.deepEqual(unrecorded.steps[0]?.statements, ['DROP INDEX CONCURRENTLY IF EXISTS "public"."orders_idx";']);
    // recorded on another table (the table made again, as pgferry's own resync does): by name too
    const remade = compareSchemas([ORDERS], [ORDERS, index('200', 'id, v')], {
      ...ctx,
      knownIdentities: new Map([[objectKey(ours), `9${targetIdentity(ours)!.slice(1)}`]]),
    });
    assert.deepEqual(remade.steps[0]?.statements, ['DROP INDEX CONCURRENTLY IF EXISTS "public"."orders_idx";']);
  });

  it("tells the view pgferry made from a DBA's made under its name by its OID: kept, never replaced or dropped; a table by name alone", () => {
    const view = (objectId: string, definition: string) => viewNamed('busy', objectId, definition);
    const ours = view('400', ' SELECT orders.id FROM orders;');
    const known = new Map<string, number | null>([
      [objectKey(ORDERS), null],
      [objectKey(ours), null],
    ]);
    const ctx = { ...CTX, whileSetAside: true, known, knownIdentities: new Map([[objectKey(ours), targetIdentity(ours)!]]) };
    const theirs = view('500', ' SELECT 1 AS dba;');
    // the source dropped its view: pgferry's is dropped, the DBA's kept and listed
    assert.deepEqual(
      compareSchemas([ORDERS], [ORDERS, ours], ctx).steps.map((s) => s?.statements),
      [['DROP VIEW "public"."busy";']],
    );
    const dropped = compareSchemas([ORDERS], [ORDERS, theirs], ctx);
    assert.deepEqual([dropped.differences, dropped.kept.map((k) => k.object)], [[], ['view public.busy']]);
    // the source changed its view: pgferry's is replaced, the DBA's is not (a difference whose fix renames theirs aside)
    const changed = view('400', ' SELECT orders.id, 2 AS v FROM orders;');
    assert.equal(compareSchemas([ORDERS, changed], [ORDERS, ours], ctx).steps.filter((s) => s !== undefined).length, 1);
    const clash = compareSchemas([ORDERS, changed], [ORDERS, theirs], ctx);
    assert.deepEqual(clash.steps, [undefined]);
    assert.match(clash.differences[0]?.fix ?? '', /^ALTER VIEW "public"\."busy" RENAME TO "busy_kept";/);
    // a table has no identity: pgferry makes tables again under their names as it goes
    assert.equal(targetIdentity(ORDERS), undefined);
  });

  it("a DBA's view on the target under a name the source then gives its own, unlike it: kept with a rename-aside fix, never replaced", () => {
    const view = (objectId: string, definition: string) => viewNamed('report', objectId, definition);
    const theirs = view('600', ' SELECT 1 AS dba;');
    const sources = view('700', ' SELECT orders.id FROM orders;');
    const ctx = { ...CTX, whileSetAside: true, known: new Map<string, number | null>([[objectKey(ORDERS), null]]) };
    const clash = compareSchemas([ORDERS, sources], [ORDERS, theirs], ctx);
    assert.deepEqual(
      clash.differences.map((d) => [d.detail, d.fix]),
      [
        [
          "made on the target alone (pgferry did not make it) under a name the source now has, unlike the source's: kept",
          'ALTER VIEW "public"."report" RENAME TO "report_kept"; (keeps it under another name; pgferry then makes the source\'s)',
        ],
      ],
    );
    assert.deepEqual(clash.steps, [undefined]);
    // recorded as none of pgferry's there: still theirs once the look knows the source's view
    assert.deepEqual([...clash.identified], [[objectKey(sources), NONE_MADE]]);
    const known = new Map(ctx.known).set(objectKey(sources), null);
    const later = compareSchemas([ORDERS, sources], [ORDERS, theirs], { ...ctx, known, knownIdentities: new Map(clash.identified) });
    assert.deepEqual(later.steps, [undefined]);
    // known with no identity recorded (a catalog from before): the migration's, replaced
    assert.ok(compareSchemas([ORDERS, sources], [ORDERS, theirs], { ...ctx, known }).steps[0]);
    // alike: nothing to do
    assert.deepEqual(compareSchemas([ORDERS, sources], [ORDERS, view('600', sources.props.definition as string)], ctx).differences, []);
  });
  it("fixes a partition's attachment with DETACH and ATTACH PARTITION, never a drop of the partition", () => {
    const partition = (props: Record<string, string | null>): SchemaObject => ({ ...ORDERS, name: 'orders_2026', props });
    const attached = (parent: string, bound: string) => partition({ 'partition of': parent, 'partition bound': bound });
    const detached = partition({ 'partition of': null, 'partition bound': null });
    const y2026 = "FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')";
    const fixes = (source: SchemaObject, target: SchemaObject) =>
      compareSchemas([source], [target], CTX).differences.map((d) => [d.detail.split(':')[0], d.fix]);
    const detach = 'ALTER TABLE public.orders DETACH PARTITION "public"."orders_2026";';
    const attach = `ALTER TABLE public.orders ATTACH PARTITION "public"."orders_2026" ${y2026};`;
    // detached on the source, still attached on the target
    assert.deepEqual(fixes(detached, attached('public.orders', y2026)), [
      ['partition of', detach],
      ['partition bound', detach],
    ]);
    // attached on the source, not on the target
    assert.deepEqual(fixes(attached('public.orders', y2026), detached), [
      ['partition of', attach],
      ['partition bound', attach],
    ]);
    // another bound under the same parent, then another parent
    assert.deepEqual(fixes(attached('public.orders', y2026), attached('public.orders', 'DEFAULT')), [
      ['partition bound', `${detach} ${attach}`],
    ]);
    assert.deepEqual(fixes(attached('public.orders', y2026), attached('public.old_orders', y2026)), [
      ['partition of', `ALTER TABLE public.old_orders DETACH PARTITION "public"."orders_2026"; ${attach}`],
    ]);
    for (const [, fix] of fixes(detached, attached('public.orders', y2026))) assert.doesNotMatch(fix ?? '', /DROP|recreate/i);
  });
});

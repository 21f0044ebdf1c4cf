// Issue 49: how a schema difference found while streaming is made on the target
// (verify/schema/follow.ts): statements that never hold the apply for long, and a step that can
// refuse a row only once the apply passed it.
import assert from 'node:assert/strict';
import type { SchemaObject } from '../../provider/engine/verify/schema/catalog';
import { alterStatement } from '../../provider/engine/verify/schema/fixes';
import { alterStep, createStep, dropStep } from '../../provider/engine/verify/schema/follow';
import { NONE_MADE } from '../../provider/engine/verify/schema/identity';
import { dependentIsOurs, dependentKey } from '../../provider/engine/flow/targetDependents';

function object(kind: string, name: string, props: SchemaObject['props'], relation: string | null = 'orders'): SchemaObject {
  return { kind, schema: 'public', relation, name, args: null, classId: '0', objectId: '0', ownerObjectId: '0', props };
}

describe('schema follow steps (issue 49)', () => {
  it('builds indexes concurrently; a unique one waits for the apply; a constraint brings its own', () => {
    const plain = createStep(
      object('index', 'orders_n', { definition: 'CREATE INDEX orders_n ON public.orders USING btree (n)' }),
      new Set(),
    );
    assert.deepEqual(plain, {
      when: 'anytime',
      statements: ['CREATE INDEX CONCURRENTLY orders_n ON public.orders USING btree (n);'],
      rank: 4,
      // with the event trigger the apply makes it too: the watch waits for the apply to pass it
      inStream: true,
    });
    const unique = createStep(
      object('index', 'orders_u', { definition: 'CREATE UNIQUE INDEX orders_u ON public.orders USING btree (n)' }),
      new Set(),
    );
    assert.equal(unique?.when, 'applied');
    assert.match(unique!.statements[0]!, /^CREATE UNIQUE INDEX CONCURRENTLY orders_u /);
    const ofKey = object('index', 'orders_pkey', { definition: 'CREATE UNIQUE INDEX orders_pkey ON public.orders USING btree (id)' });
    assert.equal(createStep(ofKey, new Set(['public\0orders\0orders_pkey'])), undefined);
    assert.deepEqual(dropStep(object('index', 'old', {})), {
      when: 'anytime',
      statements: ['DROP INDEX CONCURRENTLY IF EXISTS "public"."old";'],
      rank: -1,
      inStream: true,
      // the index the look saw: dropped only if its name still holds that one (catalog.ts stillSeen)
      seen: { classId: '0', objectId: '0', schema: 'public', name: 'old' },
    });
  });

  it('adds a CHECK NOT VALID then validates it, once applied', () => {
    const check = createStep(
      object('constraint', 'n_pos', { definition: 'CHECK ((n >= 0))', on: 'table', 'foreign key': false }),
      new Set(),
    );
    assert.deepEqual(check, {
      when: 'applied',
      statements: [
        'ALTER TABLE "public"."orders" ADD CONSTRAINT "n_pos" CHECK ((n >= 0)) NOT VALID;',
        'ALTER TABLE "public"."orders" VALIDATE CONSTRAINT "n_pos";',
      ],
      rank: 5,
      inStream: true,
    });
    // a VALIDATE that did not run is run at a later look
    const left = object('constraint', 'n_pos', { definition: 'CHECK ((n >= 0))', on: 'table', 'foreign key': false });
    assert.deepEqual(alterStep(left, left, 'definition', 'CHECK ((n >= 0))', 'CHECK ((n >= 0)) NOT VALID', 'app')?.statements, [
      'ALTER TABLE "public"."orders" VALIDATE CONSTRAINT "n_pos";',
    ]);
  });

  it('adds a foreign key NOT VALID then validates it, once applied; set aside where the target has no replica role', () => {
    const fk = object('constraint', 'fk', { definition: 'FOREIGN KEY (c) REFERENCES public.c(id)', on: 'table', 'foreign key': true });
    assert.deepEqual(createStep(fk, new Set()), {
      when: 'applied',
      statements: [
        'ALTER TABLE "public"."orders" ADD CONSTRAINT "fk" FOREIGN KEY (c) REFERENCES public.c(id) NOT VALID;',
        'ALTER TABLE "public"."orders" VALIDATE CONSTRAINT "fk";',
      ],
      rank: 5,
      setAsideKey: { schema: 'public', table: 'orders', name: 'fk' },
    });
    // one the source holds NOT VALID stays so
    const loose = object('constraint', 'fk', {
      definition: 'FOREIGN KEY (c) REFERENCES public.c(id) NOT VALID',
      on: 'table',
      'foreign key': true,
    });
    assert.deepEqual(createStep(loose, new Set())?.statements, [
      'ALTER TABLE "public"."orders" ADD CONSTRAINT "fk" FOREIGN KEY (c) REFERENCES public.c(id) NOT VALID;',
    ]);
    assert.deepEqual(dropStep(fk)?.statements, ['ALTER TABLE "public"."orders" DROP CONSTRAINT "fk";']);
    // a VALIDATE that did not run is run at a later look
    const definition = 'FOREIGN KEY (c) REFERENCES public.c(id)';
    assert.deepEqual(alterStep(fk, fk, 'definition', definition, `${definition} NOT VALID`, 'app')?.statements, [
      'ALTER TABLE "public"."orders" VALIDATE CONSTRAINT "fk";',
    ]);
  });

  it("creates a trigger or rule in the source's state, in one transaction; drops one the source dropped", () => {
    const definition = 'CREATE TRIGGER audit AFTER UPDATE ON public.orders FOR EACH ROW EXECUTE FUNCTION public.audit_fn()';
    const trigger = (enabled: string) => object('trigger', 'audit', { definition, enabled });
    assert.deepEqual(createStep(trigger('O'), new Set()), {
      when: 'anytime',
      statements: [`${definition};`],
      rank: 8,
      firing: { kind: 'trigger', schema: 'public', table: 'orders', name: 'audit' },
    });
    assert.deepEqual(createStep(trigger('D'), new Set())?.statements, [
      `${definition}; ALTER TABLE "public"."orders" DISABLE TRIGGER "audit";`,
    ]);
    const rule = object('rule', 'log', {
      definition: 'CREATE RULE log AS ON INSERT TO public.orders DO ALSO NOTIFY orders;',
      enabled: 'A',
    });
    assert.deepEqual(createStep(rule, new Set())?.statements, [
      'CREATE RULE log AS ON INSERT TO public.orders DO ALSO NOTIFY orders; ALTER TABLE "public"."orders" ENABLE ALWAYS RULE "log";',
    ]);
    assert.deepEqual(dropStep(trigger('O'))?.statements, ['DROP TRIGGER "audit" ON "public"."orders";']);
    assert.deepEqual(dropStep(rule)?.statements, ['DROP RULE "log" ON "public"."orders";']);
  });

  it("adds a domain's CHECK, created with the domain, NOT VALID then validated, once applied", () => {
    // the gauntlet's CREATE DOMAIN percent ... CHECK (...) reached the target without its CHECK
    const check = object(
      'constraint',
      'percent_check',
      { definition: 'CHECK ((VALUE >= (0)::numeric))', on: 'domain', 'foreign key': false },
      'percent',
    );
    assert.deepEqual(createStep(check, new Set()), {
      when: 'applied',
      statements: [
        'ALTER DOMAIN "public"."percent" ADD CONSTRAINT "percent_check" CHECK ((VALUE >= (0)::numeric)) NOT VALID;',
        'ALTER DOMAIN "public"."percent" VALIDATE CONSTRAINT "percent_check";',
      ],
      rank: 5,
    });
    assert.deepEqual(
      alterStep(check, check, 'definition', 'CHECK ((VALUE >= (0)::numeric))', 'CHECK ((VALUE >= (0)::numeric)) NOT VALID', 'app')
        ?.statements,
      ['ALTER DOMAIN "public"."percent" VALIDATE CONSTRAINT "percent_check";'],
    );
  });
});

describe('schema follow steps: enum labels', () => {
  it('adds enum labels in place; makes the type again for a removal or reordering once the apply passed it, never with a label added', () => {
    const type = object('enum type', 'state', {}, null);
    assert.deepEqual(alterStep(type, type, 'labels', "'new', 'shipped', 'paid', 'gone'", "'new', 'paid'", 'app')?.statements, [
      `ALTER TYPE "public"."state" ADD VALUE IF NOT EXISTS 'shipped' AFTER 'new';`,
      `ALTER TYPE "public"."state" ADD VALUE IF NOT EXISTS 'gone' AFTER 'paid';`,
    ]);
    // drizzle-kit's DROP TYPE and CREATE TYPE of the same name: the type made again (flow/enumRemake.ts)
    const removed = alterStep(
      object('enum type', 'state', { labels: "'new'" }, null),
      type,
      'labels',
      "'new'",
      "'new', E'it''s\\\\'",
      'app',
    );
    assert.equal(removed?.when, 'applied');
    assert.deepEqual(removed?.remakeEnum, { schema: 'public', name: 'state', labels: "'new'", removed: ["E'it''s\\\\'"] });
    assert.deepEqual(removed?.statements, [`CREATE TYPE "public"."state" AS ENUM ('new');`]);
    assert.deepEqual(alterStep(type, type, 'labels', "'paid', 'new'", "'new', 'paid'", 'app')?.remakeEnum?.removed, []);
    // a label added beside one removed: a row with it would stop the stream before the apply passed the change
    assert.equal(alterStep(type, type, 'labels', "'new', 'gone'", "'new', 'paid'", 'app'), undefined);
    // the event trigger's apply never adds a label: with it the watch adds one as soon as it sees it,
    // a row that uses the label being maybe stopped on it
    assert.equal(alterStep(type, type, 'labels', "'new', 'paid', 'shipped'", "'new', 'paid'", 'app')?.inStream, undefined);
  });
});

describe('schema follow steps: an enum label renamed', () => {
  it('shows a label renamed as RENAME VALUE, never DROP TYPE, and leaves it to the user while streaming', () => {
    const type = object('enum type', 'state', {}, null);
    assert.equal(
      alterStatement(type, 'labels', "'New', 'paid', E'it''s\\\\x'", "'new', 'paid', 'x'", 'app'),
      `ALTER TYPE "public"."state" RENAME VALUE 'new' TO 'New'; ALTER TYPE "public"."state" RENAME VALUE 'x' TO E'it''s\\\\x';`,
    );
    // rows streamed on both sides of a rename carry both labels: no look can place it between them
    assert.equal(alterStep(type, type, 'labels', "'New', 'paid'", "'new', 'paid'", 'app'), undefined);
    // a label the target has moved in the source's list is a reorder, not a rename; its fix
    // recreates nothing its columns use
    assert.equal(alterStep(type, type, 'labels', "'paid', 'gone'", "'new', 'paid'", 'app')?.remakeEnum, undefined);
    assert.doesNotMatch(alterStatement(type, 'labels', "'paid', 'new'", "'new', 'paid'", 'app'), /DROP TYPE/);
  });
});

describe("schema follow steps: a table's CLUSTER ON mark", () => {
  it('puts the mark on or takes it off while streaming, and makes an index with its mark at once', () => {
    const pkey = (clustered: boolean) =>
      object('index', 'orders_pkey', { definition: 'CREATE UNIQUE INDEX orders_pkey ON public.orders USING btree (id)', clustered });
    const on = alterStep(pkey(true), pkey(false), 'clustered', true, false, 'app');
    assert.equal(on?.when, 'anytime');
    assert.deepEqual(on?.statements, ['ALTER TABLE "public"."orders" CLUSTER ON "orders_pkey";']);
    // named by the index the look saw, as any step on a target object
    assert.deepEqual(on?.seen, { classId: '0', objectId: '0', schema: 'public', name: 'orders_pkey' });
    assert.deepEqual(alterStep(pkey(false), pkey(true), 'clustered', false, true, 'app')?.statements, [
      'ALTER TABLE "public"."orders" SET WITHOUT CLUSTER;',
    ]);
    const made = createStep(
      object('index', 'orders_n', { definition: 'CREATE INDEX orders_n ON public.orders USING btree (n)', clustered: true }),
      new Set(),
    );
    assert.deepEqual(made?.statements, [
      'CREATE INDEX CONCURRENTLY orders_n ON public.orders USING btree (n);',
      'ALTER TABLE "public"."orders" CLUSTER ON "orders_n";',
    ]);
  });
});

describe("schema follow steps: a table's and an index's storage parameters", () => {
  it('sets what the source has, resets what only the target has, toast ones under their prefix; an index is not rebuilt', () => {
    const table = object('table', 'orders', {}, null);
    const step = alterStep(
      table,
      table,
      'storage parameters',
      'fillfactor=70, toast.autovacuum_enabled=false',
      'autovacuum_vacuum_scale_factor=0.01, fillfactor=90',
      'app',
    );
    assert.equal(step?.when, 'anytime');
    assert.deepEqual(step?.statements, [
      'ALTER TABLE "public"."orders" RESET ("autovacuum_vacuum_scale_factor");',
      `ALTER TABLE "public"."orders" SET ("fillfactor" = '70', "toast"."autovacuum_enabled" = 'false');`,
    ]);
    assert.deepEqual(alterStep(table, table, 'storage parameters', '', 'fillfactor=70', 'app')?.statements, [
      'ALTER TABLE "public"."orders" RESET ("fillfactor");',
    ]);
    const index = object('index', 'orders_n', { definition: '' });
    const base = 'CREATE INDEX orders_n ON public.orders USING btree (n)';
    const set = alterStep(
      index,
      index,
      'definition',
      `${base} WITH (fillfactor='60', deduplicate_items=off) WHERE (n > 0)`,
      `${base} WHERE (n > 0)`,
      'app',
    );
    assert.deepEqual(set?.statements, [`ALTER INDEX "public"."orders_n" SET ("fillfactor" = '60', "deduplicate_items" = 'off');`]);
    assert.equal(set?.inStream, undefined);
    assert.deepEqual(alterStep(index, index, 'definition', base, `${base} WITH (fillfactor='60')`, 'app')?.statements, [
      'ALTER INDEX "public"."orders_n" RESET ("fillfactor");',
    ]);
    // another change beside them: built again, with the source's parameters in its definition
    const rebuilt = alterStep(index, index, 'definition', `${base.replace('(n)', '(n, id)')} WITH (fillfactor='60')`, base, 'app');
    assert.match(rebuilt!.statements[0]!, /^DROP INDEX CONCURRENTLY/);
  });
});

describe("schema check: a retyped column's statement", () => {
  const retype = (type: string, from: string) => alterStatement(object('column', 'c', { type }), 'type', type, from, 'app');
  it('casts each value USING the new type where PostgreSQL converts none by itself, through text between two types of its own', () => {
    assert.equal(retype('public.mood', 'text'), 'ALTER TABLE "public"."orders" ALTER COLUMN "c" TYPE public.mood USING "c"::public.mood;');
    assert.equal(retype('integer', 'text'), 'ALTER TABLE "public"."orders" ALTER COLUMN "c" TYPE integer USING "c"::integer;');
    assert.equal(retype('jsonb', 'character varying(20)'), 'ALTER TABLE "public"."orders" ALTER COLUMN "c" TYPE jsonb USING "c"::jsonb;');
    assert.equal(
      retype('"my schema"."Mood"[]', 'public.mood[]'),
      'ALTER TABLE "public"."orders" ALTER COLUMN "c" TYPE "my schema"."Mood"[] USING "c"::text[]::"my schema"."Mood"[];',
    );
    // quoted through the quoting helper
    assert.equal(
      alterStatement(object('column', 'a "b"', { type: 'uuid' }), 'type', 'uuid', 'text', 'app'),
      'ALTER TABLE "public"."orders" ALTER COLUMN "a ""b""" TYPE uuid USING "a ""b"""::uuid;',
    );
  });

  it('gives no USING where PostgreSQL converts by itself: to a string (a value too long errs, never cut), among numbers, a length changed', () => {
    assert.equal(retype('bigint', 'integer'), 'ALTER TABLE "public"."orders" ALTER COLUMN "c" TYPE bigint;');
    assert.equal(retype('numeric(12,4)', 'integer'), 'ALTER TABLE "public"."orders" ALTER COLUMN "c" TYPE numeric(12,4);');
    assert.equal(retype('text', 'public.mood'), 'ALTER TABLE "public"."orders" ALTER COLUMN "c" TYPE text;');
    assert.equal(retype('character varying(5)', 'text'), 'ALTER TABLE "public"."orders" ALTER COLUMN "c" TYPE character varying(5);');
    assert.equal(
      retype('timestamp(3) with time zone', 'timestamp(6) with time zone'),
      'ALTER TABLE "public"."orders" ALTER COLUMN "c" TYPE timestamp(3) with time zone;',
    );
  });
});

describe('schema follow steps: columns (issue 49)', () => {
  it("follows a column's default while streaming, its other changes by the cutover, each table read whole", () => {
    const column = object('column', 'n', { type: 'integer', default: null, identity: null });
    const step = alterStep(column, column, 'default', '0', null, 'app');
    assert.equal(step?.when, 'anytime');
    assert.equal(step?.readWhole, true);
    assert.deepEqual(step?.statements, ['ALTER TABLE "public"."orders" ALTER COLUMN "n" SET DEFAULT 0;']);
    const bigint = object('column', 'n', { type: 'bigint' });
    const drained = (statement: string) => ({ when: 'drained', statements: [statement], rank: 2, readWhole: true });
    assert.deepEqual(
      alterStep(bigint, column, 'type', 'bigint', 'integer', 'app'),
      drained('ALTER TABLE "public"."orders" ALTER COLUMN "n" TYPE bigint;'),
    );
    assert.deepEqual(createStep(column, new Set()), drained('ALTER TABLE "public"."orders" ADD COLUMN "n" integer;'));
    assert.deepEqual(dropStep(column), drained('ALTER TABLE "public"."orders" DROP COLUMN "n";'));
    // the source's existing rows got values the target cannot reproduce: the table copied again at a pin
    const resync = { schema: 'public', table: 'orders', column: 'n' };
    for (const d of ['now()', "nextval('orders_n_seq'::regclass)", 'random()'])
      assert.deepEqual(createStep(object('column', 'n', { type: 'integer', default: d }), new Set())?.resync, resync, d);
    assert.deepEqual(createStep(object('column', 'n', { type: 'integer', identity: 'ALWAYS' }), new Set()), {
      when: 'anytime',
      statements: ['ALTER TABLE "public"."orders" ADD COLUMN "n" integer GENERATED ALWAYS AS IDENTITY;'],
      rank: 2,
      readWhole: true,
      inStream: true,
      resync,
    });
    for (const d of ['0', "'x'::text", "'{}'::jsonb", 'true', "'2020-01-01'::date"])
      assert.equal(createStep(object('column', 'n', { type: 'integer', default: d }), new Set())?.resync, undefined, d);
    for (const d of ['0', "'x'::text", "'{}'::jsonb", 'true', "'2020-01-01'::date"])
      assert.notEqual(createStep(object('column', 'n', { type: 'integer', default: d }), new Set()), undefined, d);
  });
});

describe('schema follow steps: the target object a step acts on (issue 62)', () => {
  it('rebuilds an index under its name only while the name holds the index the look saw', () => {
    const rebuilt = object('index', 'orders_st', { definition: 'CREATE INDEX orders_st ON public.orders USING btree (st, id)' });
    const rebuild = alterStep(
      object('index', 'orders_st', { definition: 'CREATE INDEX orders_st ON public.orders USING btree (st)' }),
      rebuilt,
      'definition',
      'CREATE INDEX orders_st ON public.orders USING btree (st)',
      'CREATE INDEX orders_st ON public.orders USING btree (st, id)',
      'app',
    );
    assert.match(rebuild!.statements[0]!, /^DROP INDEX CONCURRENTLY IF EXISTS "public"\."orders_st"/);
    assert.deepEqual(rebuild!.seen, { classId: '0', objectId: '0', schema: 'public', name: 'orders_st' });
  });
});

describe('the dependents a follow drops and makes again around its object (issue 62)', () => {
  it("takes a view as the migration's only when known and, where recorded, the object recorded under its name", () => {
    const view = (oid: string) =>
      ({ kind: 'view', schema: 'public', relation: null, name: 'priced', args: null, definition: ' SELECT 1;', oid }) as const;
    const key = dependentKey(view('1'));
    const known = new Map([[key, null]]);
    const recorded = new Map([[key, `:500:${'0'.repeat(16)}`]]);
    assert.equal(dependentIsOurs(view('500'), known, recorded), true, 'the one the copy restored');
    assert.equal(dependentIsOurs(view('501'), known, recorded), false, "a DBA's made under its name after dropping it");
    assert.equal(dependentIsOurs(view('501'), known, new Map([[key, NONE_MADE]])), false, "a DBA's under a name the source then used");
    assert.equal(dependentIsOurs(view('501'), known, new Map()), true, 'no identity recorded (a catalog from before): by name');
    assert.equal(dependentIsOurs(view('500'), new Map(), recorded), false, 'not known: never');
    const constraint = { ...view('1'), kind: 'constraint', relation: 'orders', oid: null } as const;
    assert.equal(
      dependentIsOurs(constraint, new Map([[dependentKey(constraint), null]]), new Map()),
      true,
      'a constraint by name and table',
    );
  });

  it("alters a policy's roles and expressions in place, and leaves a change of its command to the fix", () => {
    const policy = (props: SchemaObject['props']) =>
      object('policy', 'docs_read', { command: 'SELECT', permissive: true, roles: 'PUBLIC', using: 'true', 'with check': null, ...props });
    const o = policy({ roles: 'reader', using: '(tenant = CURRENT_USER)' });
    const t = policy({});
    assert.deepEqual(alterStep(o, t, 'using', '(tenant = CURRENT_USER)', 'true', 'admin')?.statements, [
      'ALTER POLICY "docs_read" ON "public"."orders" USING ((tenant = CURRENT_USER));',
    ]);
    assert.deepEqual(alterStep(o, t, 'roles', 'reader', 'PUBLIC', 'admin')?.statements, [
      'ALTER POLICY "docs_read" ON "public"."orders" TO reader;',
    ]);
    assert.equal(alterStep(o, t, 'with check', null, 'true', 'admin'), undefined, 'an expression taken away needs a new policy');
    assert.equal(alterStep(policy({ command: 'ALL' }), t, 'command', 'ALL', 'SELECT', 'admin'), undefined);
  });
});

describe("schema follow steps: a composite type's attributes", () => {
  const type = object('composite type', 'pair', {}, null);
  const have = 'm public.mood, "label, text" numeric(12,4)';
  it('follows attributes added at the end with ADD ATTRIBUTE, a quoted name or a comma in a type kept whole', () => {
    assert.deepEqual(alterStep(type, type, 'attributes', `${have}, "note ""n""" character varying(20), extra integer`, have, 'app'), {
      when: 'anytime',
      statements: [
        'ALTER TYPE "public"."pair" ADD ATTRIBUTE "note ""n""" character varying(20);',
        'ALTER TYPE "public"."pair" ADD ATTRIBUTE extra integer;',
      ],
      rank: 1,
      seen: { classId: '0', objectId: '0', schema: 'public', name: 'pair' },
    });
  });
  it('shows an attribute dropped or retyped as ALTER TYPE, never DROP TYPE, and leaves it to the user while streaming', () => {
    const source = 'm public.mood, "label, text" text';
    assert.equal(alterStep(type, type, 'attributes', source, `${have}, extra integer`, 'app'), undefined);
    assert.equal(
      alterStatement(type, 'attributes', source, `${have}, extra integer`, 'app'),
      'ALTER TYPE "public"."pair" DROP ATTRIBUTE extra; ALTER TYPE "public"."pair" ALTER ATTRIBUTE "label, text" TYPE text;',
    );
    // ALTER TYPE adds only at the end: a reorder is said, nothing its columns use is dropped
    assert.doesNotMatch(alterStatement(type, 'attributes', '"label, text" numeric(12,4), m public.mood', have, 'app'), /DROP TYPE/);
  });
});

describe("schema follow steps: a table's replica identity", () => {
  it("sets the source's replica identity on the target while streaming, after the indexes: FULL, USING INDEX, NOTHING, DEFAULT", () => {
    const table = object('table', 'orders', {}, null);
    const step = alterStep(table, table, 'replica identity', 'FULL', null, 'app');
    assert.equal(step?.when, 'anytime');
    assert.ok(step!.rank > 4, 'after the indexes');
    assert.deepEqual(step?.statements, ['ALTER TABLE "public"."orders" REPLICA IDENTITY FULL;']);
    assert.deepEqual(alterStep(table, table, 'replica identity', 'USING INDEX orders_u', 'FULL', 'app')?.statements, [
      'ALTER TABLE "public"."orders" REPLICA IDENTITY USING INDEX orders_u;',
    ]);
    assert.deepEqual(alterStep(table, table, 'replica identity', 'NOTHING', null, 'app')?.statements, [
      'ALTER TABLE "public"."orders" REPLICA IDENTITY NOTHING;',
    ]);
    assert.deepEqual(alterStep(table, table, 'replica identity', null, 'FULL', 'app')?.statements, [
      'ALTER TABLE "public"."orders" REPLICA IDENTITY DEFAULT;',
    ]);
  });
});

// A name that is a keyword on one major and not on the other (`system_user`, `json_object`,
// `json_arrayagg`: keywords from PostgreSQL 16 on, no keywords of 13's) prints bare on 13 and
// double-quoted on 16, wherever the server prints it: a serial's OWNED BY, an index, a CHECK, a
// generated column, a view, a policy, a trigger's column list, a function's arguments, a comment's
// identity, a type's name, a sequence's regclass in a default. The schema check quotes those words
// alike on both servers (verify/schema/keywords.ts): no difference where the objects are the same,
// and a real difference beside them still one, whose printed fix, run on the target, makes the
// check pass. Texts each major prints its own way (a view's qualifiers, a CHECK with IN, a default
// of now(), an index with INCLUDE, a collation, a list partition's bound) are no difference either,
// but what is quoted in them, a literal's text and a function's body, is compared as printed.
// Real servers: source 13, target 16 (users upgrade while migrating).
import assert from 'node:assert/strict';
import { checkSchema } from '../../provider/engine/verify/schema/checkSchema';
import { pairSpec, startPair, type ServerPair } from '../support';

/** The same schema on both servers, each keyword name quoted (as 16 needs it written). */
const SCHEMA = `
CREATE TABLE public.t ("json_object" serial, "system_user" int, "json_array" int GENERATED ALWAYS AS ("json_object" * 2) STORED,
  CONSTRAINT c1 CHECK ("json_object" > 0), CONSTRAINT u1 UNIQUE ("json_array"));
CREATE INDEX i1 ON public.t ("json_object") INCLUDE ("system_user");
COMMENT ON COLUMN public.t."json_object" IS 'the key';
CREATE FUNCTION public.f("json_object" int) RETURNS int LANGUAGE sql AS $$SELECT 1$$;
CREATE VIEW public.v AS SELECT "json_object", "system_user" FROM public.t;
CREATE SEQUENCE public."system_user";
CREATE TABLE public.u (a bigint DEFAULT nextval('public."system_user"'));
CREATE TYPE public."json_arrayagg" AS (x int);
CREATE TABLE public.w (a public."json_arrayagg");
CREATE TRIGGER tr BEFORE UPDATE OF "json_object" ON public.t FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();
CREATE POLICY p ON public.t USING ("json_object" > 1);`;

/** The differences of the schema check of `db`, each with its fix. */
async function check(pair: ServerPair, db: string): Promise<{ differences: string[]; fixes: string[] }> {
  const c = await checkSchema(pairSpec(pair, 'keywords-across', [db]), db, { whileSetAside: false });
  return { differences: c.differences.map((d) => `${d.object}: ${d.detail}`), fixes: c.differences.map((d) => d.fix) };
}

describe('the schema check between PostgreSQL 13 and 16: names quoted by one keyword list, texts each major prints its way', function () {
  this.timeout(300_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(13, 16);
  });
  after(async () => pair?.stop());

  it('columns, a sequence and a type named system_user, json_object, json_array, json_arrayagg make no difference in any object naming them; a CHECK, a comment and an index changed on the target are three, whose fixes run there make the check pass', async () => {
    const db = 'keywords_across';
    for (const side of [pair.source, pair.target]) {
      await side.query(`CREATE DATABASE ${db}`);
      await side.query(SCHEMA, [], db);
    }
    // the servers do print those names apart: 13 bare, 16 quoted
    const printed = `SELECT pg_catalog.pg_get_constraintdef(oid) AS d FROM pg_catalog.pg_constraint WHERE conname = 'c1'`;
    assert.equal((await pair.source.query<{ d: string }>(printed, [], db))[0]?.d, 'CHECK ((json_object > 0))');
    assert.equal((await pair.target.query<{ d: string }>(printed, [], db))[0]?.d, 'CHECK (("json_object" > 0))');

    assert.deepEqual((await check(pair, db)).differences, [], 'the same objects: no difference');

    await pair.target.query(
      `ALTER TABLE public.t DROP CONSTRAINT c1, ADD CONSTRAINT c1 CHECK ("json_object" > 5);
       COMMENT ON COLUMN public.t."json_object" IS 'changed';
       DROP INDEX public.i1; CREATE INDEX i1 ON public.t ("system_user") INCLUDE ("json_object")`,
      [],
      db,
    );
    const changed = await check(pair, db);
    assert.deepEqual(
      [...changed.differences].sort(),
      [
        'comment on table column public.t."json_object": text: source the key, target changed',
        'constraint c1 on public.t: definition: source CHECK (("json_object" > 0)), target CHECK (("json_object" > 5))',
        'index public.i1: definition: source CREATE INDEX i1 ON public.t USING btree ("json_object") INCLUDE ("system_user"), target CREATE INDEX i1 ON public.t USING btree ("system_user") INCLUDE ("json_object")',
      ],
      changed.differences.join('; '),
    );
    for (const fix of changed.fixes) await pair.target.query(fix, [], db);
    assert.deepEqual((await check(pair, db)).differences, [], 'no difference once the printed fixes ran on the target');
    const read = await pair.target.query<{ c: string; i: string; d: string }>(
      `SELECT pg_catalog.pg_get_constraintdef((SELECT oid FROM pg_catalog.pg_constraint WHERE conname = 'c1')) AS c,
              pg_catalog.pg_get_indexdef('public.i1'::pg_catalog.regclass) AS i,
              pg_catalog.col_description('public.t'::pg_catalog.regclass, 1) AS d`,
      [],
      db,
    );
    assert.deepEqual(read, [
      {
        c: 'CHECK (("json_object" > 0))',
        i: 'CREATE INDEX i1 ON public.t USING btree ("json_object") INCLUDE ("system_user")',
        d: 'the key',
      },
    ]);
  });

  it('a CHECK with IN, a default of now(), an index with INCLUDE and a collation, a view and a list partition alike are no difference; a literal with dots and a function body changed on the target are two', async () => {
    const db = 'deparsed_across';
    const schema = `
      CREATE TABLE public.e (a text CHECK (a IN ('x', 'y')), b timestamptz DEFAULT now(), c text COLLATE "C", d int,
        email text CONSTRAINT mail CHECK (email LIKE '%@mail.example.com'));
      CREATE INDEX ei ON public.e (lower(a)) INCLUDE (b) WHERE d > 0;
      CREATE INDEX ek ON public.e (c COLLATE "POSIX" DESC NULLS LAST);
      CREATE VIEW public.ev AS SELECT a, count(*) FILTER (WHERE d > 1) AS n FROM public.e WHERE a IN ('x', 'y') GROUP BY a;
      CREATE TABLE public.plist (a text) PARTITION BY LIST (a);
      CREATE TABLE public.plist1 PARTITION OF public.plist FOR VALUES IN ('a', 'b');
      CREATE FUNCTION public.calc() RETURNS int LANGUAGE sql AS $$SELECT (1 + 2) * 3 + 0$$;`;
    for (const side of [pair.source, pair.target]) {
      await side.query(`CREATE DATABASE ${db}`);
      await side.query(schema, [], db);
    }
    assert.deepEqual((await check(pair, db)).differences, [], 'the same objects: no difference');

    await pair.target.query(
      `ALTER TABLE public.e DROP CONSTRAINT mail, ADD CONSTRAINT mail CHECK (email LIKE '%@example.com');
       CREATE OR REPLACE FUNCTION public.calc() RETURNS int LANGUAGE sql AS $$SELECT 1 + (2 * 3) + 0$$`,
      [],
      db,
    );
    const changed = await check(pair, db);
    assert.deepEqual(
      changed.differences.map((d) => d.replace(/:.*/, '')).sort(),
      ['constraint mail on public.e', 'function public.calc()'],
      changed.differences.join('; '),
    );
    for (const fix of changed.fixes) await pair.target.query(fix, [], db);
    assert.deepEqual((await check(pair, db)).differences, [], 'no difference once the printed fixes ran on the target');
    const read = await pair.target.query<{ c: string; f: number }>(
      `SELECT pg_catalog.pg_get_constraintdef((SELECT oid FROM pg_catalog.pg_constraint WHERE conname = 'mail')) AS c, public.calc() AS f`,
      [],
      db,
    );
    assert.deepEqual(read, [{ c: "CHECK ((email ~~ '%@mail.example.com'::text))", f: 9 }]);
  });
});

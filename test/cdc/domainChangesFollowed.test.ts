// Domains changed in place on the source while changes stream (ALTER DOMAIN: SET and DROP DEFAULT,
// SET and DROP NOT NULL, ADD CONSTRAINT plain and NOT VALID, VALIDATE, DROP and RENAME CONSTRAINT,
// OWNER TO, RENAME and SET SCHEMA), each with rows around it: a row written just after a NOT NULL
// or a constraint is dropped, which only the new domain allows, and rows using a renamed or moved
// domain. Each change is followed on the target in place (the same domain, its columns kept), the
// rows applied, and the cutover Succeeded. Before, RENAME and SET SCHEMA made a second domain, SET
// and DROP DEFAULT were not followed, and a row a dropped constraint allowed stopped the stream.
// Each step's domains and rows are read back from both servers.
import assert from 'node:assert/strict';
import { requestCutover } from '../../provider/engine';
import { events as catalogEvents } from '../../provider/engine/control/store';
import { isFinalState } from '../../provider/engine/core/model';
import { endIfRunning, startPair, until, waitForStatus, type Cluster, type ServerPair } from '../support';
import { followingMigration, rowsOf } from './harness';
import { eventsTold } from '../support/toldEvents';

const DB = 'domainchange';

const SCHEMA = `
CREATE ROLE domain_owner;
CREATE SCHEMA shop;
CREATE DOMAIN price AS numeric(10,2) CONSTRAINT price_positive CHECK (VALUE > 0);
CREATE DOMAIN code AS text;
CREATE TABLE item (id int PRIMARY KEY, p price, c code);
INSERT INTO item SELECT g, g, 'c' || g FROM generate_series(1, 100) g;`;

/** Each domain of the database as one line: name, base type, default, NOT NULL, owner and constraints (with whether validated). */
async function domains(cluster: Cluster): Promise<string[]> {
  const rows = await cluster.query<{ d: string }>(
    `SELECT pg_catalog.format('%I.%I %s default=%s not_null=%s owner=%s%s', n.nspname, t.typname,
              pg_catalog.format_type(t.typbasetype, t.typtypmod), t.typdefault, t.typnotnull, pg_catalog.pg_get_userbyid(t.typowner),
              (SELECT pg_catalog.string_agg(pg_catalog.format(' %s: %s validated=%s', co.conname, pg_catalog.pg_get_constraintdef(co.oid), co.convalidated), '' ORDER BY co.conname)
                 FROM pg_catalog.pg_constraint co WHERE co.contypid = t.oid AND co.contype = 'c')) AS d
       FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
      WHERE t.typtype = 'd' AND n.nspname IN ('public', 'shop') ORDER BY 1`,
    [],
    DB,
  );
  return rows.map((r) => r.d);
}

/** Each column of item with its type, as the catalog names it. */
async function columns(cluster: Cluster): Promise<string[]> {
  const rows = await cluster.query<{ c: string }>(
    `SELECT attname || ' ' || pg_catalog.format_type(atttypid, atttypmod) AS c FROM pg_catalog.pg_attribute
      WHERE attrelid = 'public.item'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [],
    DB,
  );
  return rows.map((r) => r.c);
}

/** Each change on the source, with the rows written after it in the same session. */
const STEPS: readonly { readonly what: string; readonly sql: string }[] = [
  { what: 'SET DEFAULT', sql: `ALTER DOMAIN price SET DEFAULT 5; INSERT INTO item (id, c) VALUES (101, 'd101');` },
  { what: 'SET NOT NULL', sql: `ALTER DOMAIN code SET NOT NULL; INSERT INTO item VALUES (102, 2, 'd102');` },
  {
    what: 'DROP NOT NULL, then a row with NULL at once',
    sql: `ALTER DOMAIN code DROP NOT NULL; INSERT INTO item VALUES (103, 3, NULL);`,
  },
  {
    what: 'DROP CONSTRAINT, then a row it refused at once',
    sql: `ALTER DOMAIN price DROP CONSTRAINT price_positive; INSERT INTO item VALUES (104, -4, 'd104');`,
  },
  {
    what: 'ADD CONSTRAINT over rows written before it',
    sql: `INSERT INTO item VALUES (105, -5, 'd105'); ALTER DOMAIN price ADD CONSTRAINT price_above CHECK (VALUE > -10);
          INSERT INTO item VALUES (106, -9, 'd106');`,
  },
  {
    what: 'ADD CONSTRAINT NOT VALID, then VALIDATE',
    sql: `ALTER DOMAIN price ADD CONSTRAINT price_small CHECK (VALUE < 1000) NOT VALID; INSERT INTO item VALUES (107, 7, 'd107');`,
  },
  { what: 'VALIDATE CONSTRAINT', sql: `ALTER DOMAIN price VALIDATE CONSTRAINT price_small; INSERT INTO item VALUES (108, 8, 'd108');` },
  {
    what: 'RENAME CONSTRAINT',
    sql: `ALTER DOMAIN price RENAME CONSTRAINT price_small TO price_below_1000; INSERT INTO item VALUES (109, 9, 'd109');`,
  },
  { what: 'DROP DEFAULT', sql: `ALTER DOMAIN price DROP DEFAULT; INSERT INTO item (id, c) VALUES (110, 'd110');` },
  { what: 'OWNER TO', sql: `ALTER DOMAIN price OWNER TO domain_owner; INSERT INTO item VALUES (111, 11, 'd111');` },
  {
    what: 'RENAME, then rows using it at once',
    sql: `ALTER DOMAIN code RENAME TO sku; INSERT INTO item VALUES (112, 12, 'd112'); UPDATE item SET c = 'u' || id WHERE id <= 10;`,
  },
  {
    what: 'SET SCHEMA, then rows using it at once',
    sql: `ALTER DOMAIN sku SET SCHEMA shop; INSERT INTO item VALUES (113, 13, 'd113'); UPDATE item SET c = 'v' || id WHERE id <= 5;`,
  },
];

describe('domains changed in place on the source while streaming', function () {
  this.timeout(300_000);
  let pair: ServerPair | undefined;
  afterEach(async () => {
    await pair?.stop();
    pair = undefined;
  });

  it('follows each change on the same domain with the rows around it: domains, columns and rows equal on both, cutover Succeeded', async () => {
    pair = await startPair(15, 15);
    const source = pair.source;
    await pair.target.query('CREATE ROLE domain_owner');
    const name = 'domain-change';
    const { spec, store, running } = await followingMigration(pair, name, DB, SCHEMA);
    try {
      for (const step of STEPS) {
        await source.query(step.sql, [], DB);
        const want = JSON.stringify([await domains(source), await columns(source), await rowsOf(source, DB, 'item')]);
        await until(
          `${step.what}: the domains, the columns and the rows alike on the target`,
          async () => {
            const have = JSON.stringify([await domains(pair!.target), await columns(pair!.target), await rowsOf(pair!.target, DB, 'item')]);
            return have === want ? true : undefined;
          },
          60_000,
          500,
        ).catch(async (error: Error) => {
          const told = await eventsTold(store, name, 12);
          throw new Error(
            `${error.message}\n  source: ${(await domains(source)).join(' | ')}\n  target: ${(await domains(pair!.target)).join(' | ')}\n  ${told}`,
          );
        });
      }
      // the rows a dropped NOT NULL or constraint allowed waited for the drop, the stream never stopped
      const told = (await catalogEvents(store, name, 500)).map((e) => `${e.level}: ${e.message}`);
      assert.deepEqual(
        told.filter((m) => /streaming stopped/.test(m)),
        [],
      );
      await requestCutover(spec.target, name);
      const done = await Promise.race([
        running,
        waitForStatus(store, name, (s) => /cutover stopped/.test(s.message ?? '') || isFinalState(s.state)),
      ]);
      assert.equal(done.state, 'Succeeded', `${done.message} ${done.verification?.firstMismatch ?? ''}`);
      assert.deepEqual(await domains(pair.target), await domains(source));
      assert.deepEqual(await columns(pair.target), ['id integer', 'p price', 'c shop.sku']);
      assert.deepEqual(await rowsOf(pair.target, DB, 'item'), await rowsOf(source, DB, 'item'));
    } finally {
      await endIfRunning(spec, running);
      await store.close();
    }
  });
});

// A schema follow's drop runs a moment after the look that planned it, and its statement names the
// object: between the two, someone may drop the object and make their own under its name (a DBA's
// index made again). The drop runs only if the name still holds the object the look saw
// (verify/schema/catalog.ts stillSeen), a schema's too (whose address is its bare name). And a
// look that reads while a table is dropped sees it whole or not at all, never its parts without
// their definitions, which the follow once acted on.
// Read back from real catalogs, on 15 and on 13, which fails to describe a dropped object instead
// of answering nothing.
import assert from 'node:assert/strict';
import type pg from 'pg';
import { serverMajor } from '../../provider/engine/connect/session';
import { startCluster, type Cluster } from '../../provider/localpg/cluster';
import { readSchemaObjects, seenObject, stillSeen, type SchemaObject } from '../../provider/engine/verify/schema/catalog';

const SCHEMA = `
  CREATE TABLE orders (id int PRIMARY KEY, n int, st text);
  CREATE INDEX orders_st ON orders (st);
  ALTER TABLE orders ADD CONSTRAINT n_pos CHECK (n > 0);
  CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
  CREATE TRIGGER orders_touch BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION touch();
  CREATE POLICY mine ON orders USING (n > 0);
  CREATE VIEW busy AS SELECT id FROM orders WHERE n > 5;
  CREATE TYPE state AS ENUM ('new', 'paid');
  CREATE SCHEMA reports;`;

/** The objects a look sees, by kind and name. */
async function look(client: pg.Client): Promise<Map<string, SchemaObject>> {
  const objects = await readSchemaObjects(client, await serverMajor(client), 'pgferry');
  return new Map(objects.map((o) => [`${o.kind} ${o.name}`, o]));
}

for (const major of [15, 13] as const) {
  describe(`a follow's drop acts on the object its look saw (issue 62, PostgreSQL ${major})`, function () {
    this.timeout(120_000);
    let server: Cluster;
    before(async () => {
      server = await startCluster({ major, label: `seen${major}` });
    });
    after(async () => server?.stop());

    it('still seen: each kind unchanged; not seen: dropped and made again, renamed, or dropped', async () => {
      await server.query('CREATE DATABASE seen');
      const client = await server.connect('seen');
      try {
        await client.query(SCHEMA);
        const seen = await look(client);
        const kinds = [
          'index orders_st',
          'constraint n_pos',
          'trigger orders_touch',
          'policy mine',
          'view busy',
          'function touch',
          'enum type state',
          'schema reports',
        ];
        for (const k of kinds) assert.equal(await stillSeen(client, seenObject(seen.get(k)!)), true, `${k} unchanged is the one seen`);

        // a DBA makes their own index under the name; renames the constraint and makes another; drops the view
        await client.query(`DROP INDEX orders_st; CREATE INDEX orders_st ON orders (st, id)`);
        await client.query(
          `ALTER TABLE orders RENAME CONSTRAINT n_pos TO n_pos_old; ALTER TABLE orders ADD CONSTRAINT n_pos CHECK (n > 1)`,
        );
        await client.query(`DROP TRIGGER orders_touch ON orders`);
        await client.query(`DROP VIEW busy`);
        await client.query(`ALTER SCHEMA reports RENAME TO reports_old; CREATE SCHEMA reports`);
        for (const k of ['index orders_st', 'constraint n_pos', 'trigger orders_touch', 'view busy', 'schema reports'])
          assert.equal(await stillSeen(client, seenObject(seen.get(k)!)), false, `${k}: the name no longer holds the one seen`);
        for (const k of ['policy mine', 'function touch', 'enum type state'])
          assert.equal(await stillSeen(client, seenObject(seen.get(k)!)), true, `${k} untouched is still the one seen`);
        // and the DBA's objects are there as they made them
        const now = await look(client);
        assert.match(String(now.get('index orders_st')!.props.definition), /\(st, id\)/);
        assert.ok(now.has('constraint n_pos_old'));
      } finally {
        await client.end();
      }
    });

    it('a table dropped while a look reads: the look shows neither it nor its parts, and no part without its definition', async () => {
      await server.query('CREATE DATABASE raced');
      await server.query('CREATE TABLE keep (id int PRIMARY KEY)', [], 'raced');
      // the drop commits after the look's snapshot was taken (its first statement), before it reads
      // the columns (described then: "cache lookup failed") or the indexes (no definition then); a
      // view would hold it back, reading its definition locks it until the look ends
      for (const dropBefore of [3, 5]) {
        await server.query(
          `CREATE TABLE old_log (id int PRIMARY KEY, n int CHECK (n > 0));
           CREATE INDEX old_log_n ON old_log (n);
           CREATE FUNCTION old_touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
           CREATE TRIGGER old_log_touch BEFORE UPDATE ON old_log FOR EACH ROW EXECUTE FUNCTION old_touch();`,
          [],
          'raced',
        );
        const client = await server.connect('raced');
        try {
          const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
          let sent = 0;
          (client as unknown as { query: typeof query }).query = async (...args: unknown[]) => {
            if (++sent === dropBefore) await server.query('DROP TABLE old_log; DROP FUNCTION old_touch()', [], 'raced');
            return query(...args);
          };
          const objects = await readSchemaObjects(client, major, 'pgferry');
          const names = objects.map((o) => `${o.kind} ${o.relation ?? ''}.${o.name}`);
          assert.deepEqual(
            names.filter((n) => /old_/.test(n)),
            [],
            `dropped before statement ${dropBefore}`,
          );
          assert.ok(names.includes('index keep.keep_pkey'), names.join(', '));
        } finally {
          await client.end();
        }
      }
    });
  });
}

// A source database holding what a non-superuser target user cannot create (an event trigger, an
// untrusted language with a function and a trigger written in it, a C function outside any
// extension and a view calling it, with grants and comments), beside ordinary tables, views and
// a plpgsql trigger that must migrate as usual.
import { ident } from '../../provider/engine/connect/quote';
import type { Cluster } from '../../provider/localpg/cluster';

const UNSUPPORTED_SCHEMA_SQL = `
CREATE EXTENSION plperlu;
CREATE SCHEMA shop;
CREATE TABLE shop.items (id int PRIMARY KEY, name text NOT NULL, price numeric(10, 2));
CREATE TABLE shop.audit (id bigserial PRIMARY KEY, item int NOT NULL, at timestamptz NOT NULL DEFAULT now());

-- an ordinary trigger and view: they migrate
CREATE FUNCTION shop.audit_item() RETURNS trigger LANGUAGE plpgsql
  AS $$ BEGIN INSERT INTO shop.audit (item) VALUES (NEW.id); RETURN NEW; END $$;
CREATE TRIGGER items_audit AFTER INSERT ON shop.items FOR EACH ROW EXECUTE FUNCTION shop.audit_item();
CREATE VIEW shop.cheap AS SELECT id, name FROM shop.items WHERE price < 10;

-- plperlu: a function, a trigger calling another one, a comment and a grant
CREATE FUNCTION shop.perl_check() RETURNS trigger LANGUAGE plperlu AS $$ return; $$;
CREATE TRIGGER items_perl BEFORE INSERT OR UPDATE ON shop.items FOR EACH ROW EXECUTE FUNCTION shop.perl_check();
CREATE FUNCTION shop.shout(text) RETURNS text LANGUAGE plperlu AS $$ return uc($_[0]); $$;
COMMENT ON FUNCTION shop.shout(text) IS 'upper case, in Perl';
GRANT EXECUTE ON FUNCTION shop.shout(text) TO shop_reader;

-- a C function no extension provides (a symbol of a library shipped with PostgreSQL), a view calling it
CREATE FUNCTION shop.c_levenshtein(text, text) RETURNS int
  AS '$libdir/fuzzystrmatch', 'levenshtein' LANGUAGE c IMMUTABLE STRICT;
CREATE VIEW shop.near_names AS SELECT id, shop.c_levenshtein(name, 'item 1') AS distance FROM shop.items;
GRANT SELECT ON shop.near_names TO shop_reader;

INSERT INTO shop.items SELECT g, 'item ' || g, g * 0.25 FROM generate_series(1, 2000) g;

-- an event trigger, last so it does not see the statements above
CREATE FUNCTION shop.note_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'ddl'; END $$;
CREATE EVENT TRIGGER shop_ddl ON ddl_command_end WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION shop.note_ddl();
COMMENT ON EVENT TRIGGER shop_ddl IS 'notes new tables';
`;

/** Creates `database` on `cluster` with UNSUPPORTED_SCHEMA_SQL (the role shop_reader once per cluster). */
export async function loadUnsupportedObjects(cluster: Cluster, database: string): Promise<void> {
  if ((await cluster.query(`SELECT 1 FROM pg_roles WHERE rolname = 'shop_reader'`)).length === 0) {
    await cluster.query('CREATE ROLE shop_reader NOLOGIN');
  }
  await cluster.query(`CREATE DATABASE ${ident(database)}`);
  await cluster.query(UNSUPPORTED_SCHEMA_SQL, [], database);
}

// The fidelity fixture: the rich database plus every catalog property pg_dump | pg_restore carries
// that a migration can lose (replica identity by index, CLUSTER ON, statistics targets, options,
// NOT VALID and deferrable constraints, trigger and rule states, comments on every kind of
// object, roles and the database, default privileges, column grants, role settings...).
// PostgreSQL 13 must accept all of it (the 13 → 16 run). No security label provider is installed
// on test clusters (sepgsql needs SELinux, dummy_seclabel is not packaged), so it has no labels.
import { ident } from '../../provider/engine/connect/quote';
import type { Cluster } from '../../provider/localpg/cluster';
import { RICH_DATA_SQL, RICH_ROLES_SQL, RICH_SCHEMA_SQL, richDatabaseSettingsSql } from './richSchema';

/** Roles and role properties on top of RICH_ROLES_SQL (cluster-wide; run once per cluster). */
const FIDELITY_ROLES_SQL = `
CREATE ROLE app_writer LOGIN CREATEDB CONNECTION LIMIT 5 VALID UNTIL '2099-01-01 00:00:00+00' PASSWORD 'writer-pw';
GRANT app_reader TO app_writer WITH ADMIN OPTION;
COMMENT ON ROLE app_owner IS 'owns the application schema';
COMMENT ON ROLE "Odd ""Role""" IS 'a role with a hostile name';
COMMENT ON ROLE ops_admin IS 'operators';
ALTER ROLE app_reader SET statement_timeout = '30s';
ALTER ROLE app_writer SET search_path = app, "$user", public;
GRANT pg_read_all_stats TO app_reader;
DO $$
BEGIN
  IF current_setting('server_version_num')::int >= 150000 THEN
    EXECUTE 'GRANT SET ON PARAMETER log_statement TO app_writer';
  END IF;
END $$;
`;

const FIDELITY_SCHEMA_SQL = `
CREATE EXTENSION pg_trgm VERSION '1.4';
COMMENT ON EXTENSION pg_trgm IS 'trigram matching, an older version than the default';
COMMENT ON SCHEMA app IS 'the application';
GRANT USAGE ON SCHEMA app TO app_writer;
CREATE COLLATION app.c_copy FROM "C";
COMMENT ON COLLATION app.c_copy IS 'a copy of C';
CREATE TEXT SEARCH CONFIGURATION app.plain (COPY = simple);
COMMENT ON TEXT SEARCH CONFIGURATION app.plain IS 'simple, copied';
COMMENT ON TYPE app.mood IS 'how a customer feels';
COMMENT ON TYPE app.pair IS 'a composite';
COMMENT ON TYPE app.floatrange IS 'a range';
COMMENT ON DOMAIN app.positive IS 'strictly positive';
ALTER DOMAIN app.positive ADD CONSTRAINT positive_small CHECK (VALUE < 1000000) NOT VALID;
COMMENT ON CONSTRAINT positive_small ON DOMAIN app.positive IS 'not validated';

-- replica identity by a plain unique index and by a primary key; FULL and NOTHING
CREATE UNIQUE INDEX orders_identity_idx ON app.orders (order_id, customer_id) WITH (fillfactor = 70);
ALTER TABLE app.orders REPLICA IDENTITY USING INDEX orders_identity_idx;
ALTER TABLE app.vehicles REPLICA IDENTITY USING INDEX vehicles_pkey;
ALTER TABLE app.audit_log REPLICA IDENTITY FULL;
ALTER TABLE app.cache REPLICA IDENTITY NOTHING;
-- clustered marks on a plain index and on a constraint's index
ALTER TABLE app.orders CLUSTER ON orders_customer_idx;
ALTER TABLE app.cars CLUSTER ON cars_pkey;
-- statistics targets and options of table and index columns, storage, relation options
ALTER TABLE app.orders ALTER COLUMN note SET STATISTICS 1000;
ALTER TABLE app.orders ALTER COLUMN customer_id SET (n_distinct = 2000);
ALTER INDEX app.orders_note_trgm ALTER COLUMN 1 SET STATISTICS 500;
ALTER TABLE app.documents ALTER COLUMN body SET STORAGE EXTERNAL;
ALTER TABLE app.orders SET (fillfactor = 80, autovacuum_vacuum_scale_factor = 0.05);
ALTER TABLE app.documents SET (toast.autovacuum_enabled = false);
ALTER TABLE app.documents FORCE ROW LEVEL SECURITY;

-- constraints: NOT VALID, deferrable, an exclusion constraint
ALTER TABLE app.orders ADD CONSTRAINT orders_total_cap CHECK (total < 1000000000) NOT VALID;
ALTER TABLE app.orders ADD CONSTRAINT orders_pair_key UNIQUE (order_id, total) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE app.cars ADD CONSTRAINT cars_vehicle_fk FOREIGN KEY (id) REFERENCES app.vehicles (id) DEFERRABLE NOT VALID;
CREATE TABLE app.bookings (id int PRIMARY KEY, during tsrange, EXCLUDE USING gist (during WITH &&));
INSERT INTO app.bookings SELECT g, tsrange(timestamp '2024-01-01' + g * interval '1 day', timestamp '2024-01-02' + g * interval '1 day') FROM generate_series(1, 20) g;
COMMENT ON CONSTRAINT orders_total_cap ON app.orders IS 'a cap';
COMMENT ON INDEX app.orders_customer_idx IS 'clustered';

-- columns: identity with options, collations, a column owned sequence, column grants and comments
CREATE TABLE app.labels (
  id    int GENERATED ALWAYS AS IDENTITY (START WITH 100 INCREMENT BY 5) PRIMARY KEY,
  label text COLLATE "C" NOT NULL DEFAULT 'none',
  code  text COLLATE app.c_copy,
  rev   int
);
INSERT INTO app.labels (label, code, rev) SELECT 'l' || g, 'c' || g, g FROM generate_series(1, 30) g;
CREATE SEQUENCE app.labels_rev_seq AS int MINVALUE -10 MAXVALUE 10000 START 3 INCREMENT 2 CACHE 4 CYCLE OWNED BY app.labels.rev;
SELECT setval('app.labels_rev_seq', 41, false);
COMMENT ON COLUMN app.labels.code IS 'in the copied collation';
COMMENT ON SEQUENCE app.labels_rev_seq IS 'owned by labels.rev';
GRANT SELECT (id, email), UPDATE (name) ON app.customers TO "Odd ""Role""";
GRANT INSERT (label) ON app.labels TO app_writer;

-- partitions: list, hash and a sub-partitioned one
CREATE TABLE app.regions (code text NOT NULL, n int) PARTITION BY LIST (code);
CREATE TABLE app.regions_eu PARTITION OF app.regions FOR VALUES IN ('eu', 'uk');
CREATE TABLE app.regions_rest PARTITION OF app.regions FOR VALUES IN ('us', 'apac') PARTITION BY HASH (n);
CREATE TABLE app.regions_rest_0 PARTITION OF app.regions_rest FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE app.regions_rest_1 PARTITION OF app.regions_rest FOR VALUES WITH (MODULUS 2, REMAINDER 1);
INSERT INTO app.regions SELECT (ARRAY['eu', 'uk', 'us', 'apac'])[1 + g % 4], g FROM generate_series(1, 200) g;
COMMENT ON TABLE app.regions_rest IS 'sub-partitioned by hash';

-- triggers in every enabled state, rules (one disabled), policies
CREATE FUNCTION app.noop() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN RETURN NEW; END $f$;
CREATE TRIGGER labels_disabled BEFORE UPDATE ON app.labels FOR EACH ROW EXECUTE FUNCTION app.noop();
CREATE TRIGGER labels_replica BEFORE UPDATE ON app.labels FOR EACH ROW EXECUTE FUNCTION app.noop();
CREATE TRIGGER labels_always BEFORE UPDATE ON app.labels FOR EACH ROW EXECUTE FUNCTION app.noop();
CREATE TRIGGER labels_statement AFTER TRUNCATE ON app.labels FOR EACH STATEMENT EXECUTE FUNCTION app.noop();
ALTER TABLE app.labels DISABLE TRIGGER labels_disabled;
ALTER TABLE app.labels ENABLE REPLICA TRIGGER labels_replica;
ALTER TABLE app.labels ENABLE ALWAYS TRIGGER labels_always;
COMMENT ON TRIGGER labels_always ON app.labels IS 'fires always';
CREATE RULE cache_keep AS ON DELETE TO app.cache WHERE old.k = 'keep' DO INSTEAD NOTHING;
CREATE RULE labels_log AS ON UPDATE TO app.labels DO ALSO INSERT INTO app.audit_log (line) VALUES ('label ' || new.id);
ALTER TABLE app.labels DISABLE RULE labels_log;
COMMENT ON RULE cache_keep ON app.cache IS 'a rule';
CREATE POLICY documents_writer ON app.documents AS RESTRICTIVE FOR UPDATE TO app_writer, "Odd ""Role""" USING (id > 0) WITH CHECK (title <> '');
COMMENT ON POLICY documents_reader ON app.documents IS 'readers see titled documents';

-- views and materialized views with options, an unpopulated one
CREATE VIEW app.big_orders WITH (security_barrier) AS SELECT * FROM app.orders WHERE total > 100 WITH CASCADED CHECK OPTION;
CREATE MATERIALIZED VIEW app.empty_stats AS SELECT 1 AS x WITH NO DATA;
COMMENT ON VIEW app.big_orders IS 'a barrier view';
COMMENT ON MATERIALIZED VIEW app.order_stats IS 'per customer';
COMMENT ON COLUMN app.customer_totals.total IS 'sum of orders';

-- functions, a procedure, an aggregate, an operator, extended statistics
CREATE FUNCTION app.tax(amount numeric) RETURNS numeric LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE COST 5 AS 'SELECT amount * 0.2';
CREATE FUNCTION app.whoami() RETURNS text LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS 'SELECT current_user::text';
CREATE PROCEDURE app.bump(n int) LANGUAGE plpgsql AS $p$ BEGIN PERFORM n + 1; END $p$;
CREATE AGGREGATE app.total_tax(numeric) (SFUNC = numeric_add, STYPE = numeric, INITCOND = '0', FINALFUNC = app.tax);
CREATE FUNCTION app.pair_eq(app.pair, app.pair) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT $1.a = $2.a';
CREATE OPERATOR app.=== (LEFTARG = app.pair, RIGHTARG = app.pair, FUNCTION = app.pair_eq, COMMUTATOR = OPERATOR(app.===));
CREATE STATISTICS app.orders_dep (dependencies, ndistinct) ON customer_id, total FROM app.orders;
ALTER STATISTICS app.orders_dep SET STATISTICS 500;
COMMENT ON FUNCTION app.tax(numeric) IS 'a fifth';
COMMENT ON PROCEDURE app.bump(int) IS 'a procedure';
COMMENT ON AGGREGATE app.total_tax(numeric) IS 'an aggregate';
COMMENT ON OPERATOR app.=== (app.pair, app.pair) IS 'same a';
COMMENT ON STATISTICS app.orders_dep IS 'dependencies';
COMMENT ON FUNCTION app.touch() IS 'audit trigger';
REVOKE EXECUTE ON FUNCTION app.whoami() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.whoami() TO app_reader;
ALTER FUNCTION app.tax(numeric) OWNER TO app_owner;

-- default privileges, ownership, a large object with owner, grant and comment
ALTER DEFAULT PRIVILEGES FOR ROLE app_owner IN SCHEMA app GRANT SELECT ON TABLES TO app_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE app_owner REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
ALTER DEFAULT PRIVILEGES FOR ROLE app_writer GRANT USAGE ON SEQUENCES TO app_reader;
ALTER TABLE app.labels OWNER TO app_writer;
ALTER SEQUENCE app.invoice_seq OWNER TO app_owner;
DO $$
DECLARE
  lo oid := (SELECT min(doc_oid) FROM app.documents);
BEGIN
  EXECUTE format('ALTER LARGE OBJECT %s OWNER TO app_owner', lo);
  EXECUTE format('GRANT SELECT ON LARGE OBJECT %s TO app_reader', lo);
  EXECUTE format('COMMENT ON LARGE OBJECT %s IS %L', lo, 'the first document');
END $$;

-- a publication and a subscription: pgferry leaves them alone (a deliberate difference)
CREATE PUBLICATION fidelity_pub FOR TABLE app.labels;
CREATE SUBSCRIPTION fidelity_sub CONNECTION 'host=127.0.0.1 port=9 dbname=nowhere' PUBLICATION fidelity_pub
  WITH (connect = false, enabled = false, create_slot = false, slot_name = NONE);
`;

/**
 * Owners and privileges a managed target's admin restores only with help (schema/ownership.ts):
 * objects of every kind it can create, owned by roles without CREATE on their schema (as when a
 * superuser moved them there), a schema of an ordinary role, objects of a former superuser
 * (ops_admin), default privileges of the bootstrap superuser and of ops_admin, and grants made by
 * a grantee holding the grant option rather than by the owner.
 */
const FIDELITY_OWNERS_SQL = `
CREATE TABLE app.writer_table (a int, b int);
CREATE SEQUENCE app.writer_seq;
CREATE VIEW app.writer_view AS SELECT 1 AS x;
CREATE MATERIALIZED VIEW app.writer_mv AS SELECT 1 AS x;
CREATE TYPE app.writer_mood AS ENUM ('calm', 'busy');
CREATE TYPE app.writer_pair AS (x int, y int);
CREATE DOMAIN app.writer_positive AS int CHECK (VALUE > 0);
CREATE TYPE app.writer_range AS RANGE (subtype = int8);
CREATE FUNCTION app.writer_fn() RETURNS int LANGUAGE sql AS 'SELECT 1';
CREATE PROCEDURE app.writer_proc() LANGUAGE sql AS 'SELECT 1';
CREATE AGGREGATE app.writer_sum(int) (SFUNC = int4pl, STYPE = int);
CREATE OPERATOR app.<~> (LEFTARG = int, RIGHTARG = int, FUNCTION = int4pl);
CREATE COLLATION app.writer_coll FROM "C";
CREATE TEXT SEARCH CONFIGURATION app.writer_ts (COPY = simple);
CREATE TEXT SEARCH DICTIONARY app.writer_dict (TEMPLATE = simple);
CREATE CONVERSION app.writer_conv FOR 'LATIN1' TO 'UTF8' FROM iso8859_1_to_utf8;
CREATE STATISTICS app.writer_stats ON a, b FROM app.writer_table;
CREATE TABLE public.writer_public (a int);
CREATE TABLE app.ops_table (a int);
CREATE FUNCTION app.ops_fn() RETURNS int LANGUAGE sql AS 'SELECT 2';
CREATE SCHEMA writer_space AUTHORIZATION app_writer;
CREATE TABLE writer_space.owner_table (a int);
ALTER TABLE app.writer_table OWNER TO app_writer;
ALTER SEQUENCE app.writer_seq OWNER TO app_writer;
ALTER VIEW app.writer_view OWNER TO app_writer;
ALTER MATERIALIZED VIEW app.writer_mv OWNER TO app_writer;
ALTER TYPE app.writer_mood OWNER TO app_writer;
ALTER TYPE app.writer_pair OWNER TO app_writer;
ALTER DOMAIN app.writer_positive OWNER TO app_writer;
ALTER TYPE app.writer_range OWNER TO app_writer;
ALTER FUNCTION app.writer_fn() OWNER TO app_writer;
ALTER PROCEDURE app.writer_proc() OWNER TO app_writer;
ALTER AGGREGATE app.writer_sum(int) OWNER TO app_writer;
ALTER OPERATOR app.<~> (int, int) OWNER TO app_writer;
ALTER COLLATION app.writer_coll OWNER TO app_writer;
ALTER TEXT SEARCH CONFIGURATION app.writer_ts OWNER TO app_writer;
ALTER TEXT SEARCH DICTIONARY app.writer_dict OWNER TO app_writer;
ALTER CONVERSION app.writer_conv OWNER TO app_writer;
ALTER STATISTICS app.writer_stats OWNER TO app_writer;
ALTER TABLE public.writer_public OWNER TO app_writer;
ALTER TABLE app.ops_table OWNER TO ops_admin;
ALTER FUNCTION app.ops_fn() OWNER TO ops_admin;
ALTER TABLE writer_space.owner_table OWNER TO app_owner;
GRANT SELECT ON app.writer_table, app.writer_view, app.writer_mv, app.ops_table TO app_reader;
GRANT USAGE ON SEQUENCE app.writer_seq TO app_reader;
GRANT USAGE ON TYPE app.writer_mood TO app_reader;
REVOKE EXECUTE ON FUNCTION app.writer_fn() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.writer_fn(), app.ops_fn() TO app_reader;
GRANT USAGE ON SCHEMA writer_space TO app_reader;
-- grants by a grantee holding the grant option: recorded with that grantor, not the owner
GRANT SELECT, UPDATE (b) ON app.writer_table TO app_reader WITH GRANT OPTION;
SET ROLE app_reader;
GRANT SELECT, UPDATE (b) ON app.writer_table TO "Odd ""Role""";
RESET ROLE;
-- default privileges of the bootstrap superuser and of a role that is a superuser only on the source
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA app GRANT SELECT ON TABLES TO app_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres GRANT USAGE ON TYPES TO app_writer;
ALTER DEFAULT PRIVILEGES FOR ROLE ops_admin IN SCHEMA app GRANT SELECT ON SEQUENCES TO app_reader;
`;

/** Database-level properties on top of richDatabaseSettingsSql. */
const fidelityDatabaseSql = (database: string): string => `
ALTER DATABASE ${ident(database)} CONNECTION LIMIT 50;
ALTER ROLE app_owner IN DATABASE ${ident(database)} SET lock_timeout = '5s';
GRANT TEMPORARY ON DATABASE ${ident(database)} TO app_writer;
`;

/**
 * Creates `database` with the rich fixture plus the fidelity additions; the database settings
 * come last (one of them makes new sessions read-only).
 */
export async function loadFidelityDatabase(cluster: Cluster, database: string): Promise<void> {
  await cluster.query(RICH_ROLES_SQL);
  await cluster.query(FIDELITY_ROLES_SQL);
  await cluster.query(`CREATE DATABASE ${ident(database)}`);
  const client = await cluster.connect(database);
  try {
    await client.query(RICH_SCHEMA_SQL);
    await client.query(RICH_DATA_SQL);
    await client.query(FIDELITY_SCHEMA_SQL);
    await client.query(FIDELITY_OWNERS_SQL);
  } finally {
    await client.end();
  }
  await cluster.query(richDatabaseSettingsSql(database));
  await cluster.query(fidelityDatabaseSql(database));
}

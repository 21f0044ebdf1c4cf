// A varied schema for online runs end to end: extension types in key-less and REPLICA IDENTITY
// FULL tables, rules (DO ALSO and DO INSTEAD), ordinary and ENABLE REPLICA triggers, row-level
// security, a partitioned table and large objects, owned by an ordinary role; and the writer that
// stands for its application while it streams. PostGIS only where the target user may create it.
import type pg from 'pg';
import type { Cluster } from '../../provider/localpg/cluster';
import { writerPause } from './pace';

/** Extensions every target kind gets (trusted on PostgreSQL 13+, so a managed admin may create them). */
export const VARIED_EXTENSIONS = ['hstore', 'citext', 'ltree', 'cube', 'isn', 'pg_trgm'] as const;

const roleSql = `
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'varied_owner') THEN CREATE ROLE varied_owner NOLOGIN; END IF;
END $$;`;

const schemaSql = (postgis: boolean): string => `
${VARIED_EXTENSIONS.map((e) => `CREATE EXTENSION IF NOT EXISTS ${e};`).join('\n')}
${postgis ? 'CREATE EXTENSION IF NOT EXISTS postgis;' : ''}
CREATE SCHEMA shop AUTHORIZATION varied_owner;
SET ROLE varied_owner;

-- key-less, extension types: pgferry sets REPLICA IDENTITY FULL (allowReplicaIdentityFull)
CREATE TABLE shop.tags (attrs hstore, label citext, path ltree, box cube, code ean13, note text);
-- FULL chosen by the user, with a primary key kept beside it
CREATE TABLE shop.items (id int PRIMARY KEY, label citext, attrs hstore, path ltree);
ALTER TABLE shop.items REPLICA IDENTITY FULL;
CREATE INDEX items_label_trgm ON shop.items USING gin ((label::text) gin_trgm_ops);

-- rules: every UPDATE also logs (the log's key refuses a second row for one version), a DELETE of a
-- request becomes its cancellation
CREATE TABLE shop.accounts (id int PRIMARY KEY, version int NOT NULL, balance numeric NOT NULL);
CREATE TABLE shop.account_log (account_id int, version int, balance numeric, PRIMARY KEY (account_id, version));
CREATE RULE accounts_log AS ON UPDATE TO shop.accounts DO ALSO
  INSERT INTO shop.account_log VALUES (NEW.id, NEW.version, NEW.balance);
CREATE TABLE shop.requests (id int PRIMARY KEY, what text, cancelled boolean NOT NULL DEFAULT false);
CREATE RULE requests_cancel AS ON DELETE TO shop.requests DO INSTEAD
  UPDATE shop.requests SET cancelled = true WHERE id = OLD.id;

-- triggers: an ordinary audit trigger (fires once, on the source) and an ENABLE REPLICA one (fires
-- where changes are applied, so on the target while streaming)
CREATE TABLE shop.orders (id int PRIMARY KEY, account_id int REFERENCES shop.accounts, total numeric);
CREATE TABLE shop.audit (id bigserial PRIMARY KEY, line text NOT NULL);
CREATE TABLE shop.applied (order_id int PRIMARY KEY);
CREATE FUNCTION shop.audit_order() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO shop.audit (line) VALUES (TG_OP || ' ' || NEW.id); RETURN NEW; END $$;
CREATE FUNCTION shop.mark_applied() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO shop.applied VALUES (NEW.id); RETURN NEW; END $$;
CREATE TRIGGER orders_audit AFTER INSERT OR UPDATE ON shop.orders FOR EACH ROW EXECUTE FUNCTION shop.audit_order();
CREATE TRIGGER orders_applied AFTER INSERT ON shop.orders FOR EACH ROW EXECUTE FUNCTION shop.mark_applied();
ALTER TABLE shop.orders ENABLE REPLICA TRIGGER orders_applied;

-- row-level security
CREATE TABLE shop.documents (id int PRIMARY KEY, owner_name text, body text);
ALTER TABLE shop.documents ENABLE ROW LEVEL SECURITY;
CREATE POLICY documents_own ON shop.documents USING (owner_name = current_user);

-- partitions
CREATE TABLE shop.readings (id int, at date NOT NULL, value float8, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE shop.readings_2025 PARTITION OF shop.readings FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE shop.readings_2026 PARTITION OF shop.readings FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');

-- large objects, referenced by a table
CREATE TABLE shop.attachments (id int PRIMARY KEY, blob oid);
RESET ROLE;
${postgis ? 'CREATE TABLE shop.capitals (name text, geom geometry(Point, 4326)); ALTER TABLE shop.capitals OWNER TO varied_owner;' : ''}
`;

const dataSql = (postgis: boolean): string => `
INSERT INTO shop.tags SELECT ('k=>' || g)::hstore, CASE WHEN g % 2 = 0 THEN 'Label' ELSE 'label' END || (g % 5), ('top.n' || g)::ltree,
  cube(g, g + 1), '978-0-306-40615-7'::ean13, 'n' || g FROM generate_series(1, 200) g;
INSERT INTO shop.tags SELECT 'k=>dup', 'Dup', 'top.dup', cube(1), '978-0-306-40615-7'::ean13, 'twin' FROM generate_series(1, 2);
INSERT INTO shop.items SELECT g, 'Item ' || g, ('a=>' || g)::hstore, ('items.i' || g)::ltree FROM generate_series(1, 300) g;
INSERT INTO shop.accounts SELECT g, 1, 100 FROM generate_series(1, 50) g;
INSERT INTO shop.requests SELECT g, 'request ' || g FROM generate_series(1, 400) g;
INSERT INTO shop.orders SELECT g, 1 + g % 50, g * 2.5 FROM generate_series(1, 300) g;
INSERT INTO shop.documents SELECT g, 'varied_owner', 'doc ' || g FROM generate_series(1, 100) g;
INSERT INTO shop.readings SELECT g, date '2025-06-01' + (g % 400), g / 3.0 FROM generate_series(1, 500) g;
INSERT INTO shop.attachments SELECT g, lo_from_bytea(0, convert_to(repeat('attachment ' || g, 200), 'UTF8')) FROM generate_series(1, 5) g;
${postgis ? `INSERT INTO shop.capitals SELECT 'city ' || g, ST_SetSRID(ST_MakePoint(g, g / 2.0), 4326) FROM generate_series(1, 60) g;` : ''}
`;

/** Creates `database` on the source with the varied schema and its rows. */
export async function loadVariedDatabase(source: Cluster, database: string, options: { postgis: boolean }): Promise<void> {
  await source.query(roleSql);
  await source.query(`CREATE DATABASE ${database}`);
  await source.query(schemaSql(options.postgis), [], database);
  await source.query(dataSql(options.postgis), [], database);
}

/** One transaction of the application, touching every kind of table; `i` makes each one different. */
function transaction(i: number, postgis: boolean): string {
  const id = 1000 + i;
  return `BEGIN;
INSERT INTO shop.tags VALUES ('k=>w${i}', 'Written ${i % 7}', 'top.w${i}', cube(${i}), '978-0-306-40615-7'::ean13, 'w${i}');
UPDATE shop.tags SET attrs = attrs || 'u=>${i}'::hstore, path = path || 'u' WHERE note = 'n${1 + (i % 200)}';
DELETE FROM shop.tags WHERE note = 'w${i - 5}';
UPDATE shop.items SET label = label || '!', attrs = attrs || 'v=>${i}'::hstore WHERE id = ${1 + (i % 300)};
UPDATE shop.accounts SET version = version + 1, balance = balance + 1 WHERE id = ${1 + (i % 50)};
DELETE FROM shop.requests WHERE id = ${1 + (i % 400)};
INSERT INTO shop.orders VALUES (${id}, ${1 + (i % 50)}, ${i});
UPDATE shop.orders SET total = total + 1 WHERE id = ${1 + (i % 300)};
INSERT INTO shop.documents VALUES (${id}, 'varied_owner', 'written ${i}');
INSERT INTO shop.readings VALUES (${id}, date '2026-01-01' + ${i % 300}, ${i});
UPDATE shop.readings SET value = value + 1 WHERE id = ${1 + (i % 500)};
${postgis ? `UPDATE shop.capitals SET geom = ST_Translate(geom, 0.5, 0) WHERE name = 'city ${1 + (i % 60)}';` : ''}
COMMIT;`;
}

/** The application: paced transactions on the source until stopped; counts what committed. */
export class VariedWriter {
  committed = 0;
  private stopped = false;
  private readonly done: Promise<void>;

  constructor(
    private readonly client: pg.Client,
    postgis: boolean,
  ) {
    this.done = (async () => {
      for (let i = 1; !this.stopped; i++) {
        await this.client.query(transaction(i, postgis));
        this.committed = i;
        await writerPause();
      }
    })();
  }

  /** Stops after the transaction in flight; throws what the application saw fail. */
  async stop(): Promise<number> {
    this.stopped = true;
    await this.done;
    await this.client.end();
    return this.committed;
  }
}

// Issue 18: replica identity judged as PostgreSQL judges it. Each case is a table on a scratch
// database put in a publication; the server's own answer to an UPDATE and a DELETE (accepted, or
// refused with SQLSTATE 55000) must match the classifier's verdict, on every server major the
// tests can start. A DEFERRABLE primary key used to count as a key: the application's UPDATEs
// then failed on the source during the migration.
import assert from 'node:assert/strict';
import type pg from 'pg';
import { judgeIdentity, readSourceRelations, type KeyFacts } from '../../provider/engine/catalog/identityVerdict';
import { ident } from '../../provider/engine/connect/quote';
import { startCluster, type Cluster, type PgMajor } from '../support';

interface Case {
  readonly name: string;
  /** Creates table `t` (and what it needs); `t` is published (a partitioned `t` via its root where possible). */
  readonly ddl: string;
  /** The table whose row is updated: `t`, or a partition of it. */
  readonly leaf?: string;
  /** What the classifier should say; the server decides whether it is right. */
  readonly usable: boolean;
  /** Runs after the table is published (as the application would, mid-migration). */
  readonly after?: string;
}

const CASES: readonly Case[] = [
  { name: 'primary key', ddl: 'CREATE TABLE t (id int PRIMARY KEY, v int)', usable: true },
  { name: 'deferrable primary key', ddl: 'CREATE TABLE t (id int PRIMARY KEY DEFERRABLE, v int)', usable: false },
  { name: 'deferred primary key', ddl: 'CREATE TABLE t (id int PRIMARY KEY DEFERRABLE INITIALLY DEFERRED, v int)', usable: false },
  { name: 'no key', ddl: 'CREATE TABLE t (id int, v int)', usable: false },
  { name: 'unique constraint only', ddl: 'CREATE TABLE t (id int NOT NULL UNIQUE, v int)', usable: false },
  {
    name: 'replica identity using index',
    ddl: 'CREATE TABLE t (id int NOT NULL, v int); CREATE UNIQUE INDEX t_id ON t (id); ALTER TABLE t REPLICA IDENTITY USING INDEX t_id',
    usable: true,
  },
  {
    name: 'using index with a nullable INCLUDE column',
    ddl: 'CREATE TABLE t (id int NOT NULL, v int); CREATE UNIQUE INDEX t_id ON t (id) INCLUDE (v); ALTER TABLE t REPLICA IDENTITY USING INDEX t_id',
    usable: true,
  },
  {
    name: 'using index, index dropped',
    ddl: 'CREATE TABLE t (id int NOT NULL, v int); CREATE UNIQUE INDEX t_id ON t (id); ALTER TABLE t REPLICA IDENTITY USING INDEX t_id; DROP INDEX t_id',
    usable: false,
  },
  {
    name: 'using index beside a deferrable primary key',
    ddl: 'CREATE TABLE t (id int PRIMARY KEY DEFERRABLE, v int NOT NULL); CREATE UNIQUE INDEX t_v ON t (v); ALTER TABLE t REPLICA IDENTITY USING INDEX t_v',
    usable: true,
  },
  {
    name: 'primary key, identity NOTHING',
    ddl: 'CREATE TABLE t (id int PRIMARY KEY, v int); ALTER TABLE t REPLICA IDENTITY NOTHING',
    usable: false,
  },
  { name: 'no key, identity FULL', ddl: 'CREATE TABLE t (id int, v int); ALTER TABLE t REPLICA IDENTITY FULL', usable: true },
  {
    name: 'deferrable primary key, identity FULL',
    ddl: 'CREATE TABLE t (id int PRIMARY KEY DEFERRABLE, v int); ALTER TABLE t REPLICA IDENTITY FULL',
    usable: true,
  },
  {
    name: 'using index, index made invalid',
    ddl: 'CREATE TABLE t (id int NOT NULL, v int); CREATE UNIQUE INDEX t_id ON t (id); ALTER TABLE t REPLICA IDENTITY USING INDEX t_id',
    // what a failed REINDEX CONCURRENTLY leaves behind, forced here through the catalog
    after: `UPDATE pg_index SET indisvalid = false WHERE indexrelid = 't_id'::regclass`,
    usable: false,
  },
  {
    name: 'primary key dropped after publishing',
    ddl: 'CREATE TABLE t (id int PRIMARY KEY, v int)',
    after: 'ALTER TABLE t DROP CONSTRAINT t_pkey',
    usable: false,
  },
  {
    name: 'partitioned, primary key',
    ddl: 'CREATE TABLE t (id int PRIMARY KEY, v int) PARTITION BY RANGE (id); CREATE TABLE t_1 PARTITION OF t FOR VALUES FROM (0) TO (100)',
    leaf: 't_1',
    usable: true,
  },
  {
    name: 'partitioned, deferrable primary key',
    ddl: 'CREATE TABLE t (id int PRIMARY KEY DEFERRABLE, v int) PARTITION BY RANGE (id); CREATE TABLE t_1 PARTITION OF t FOR VALUES FROM (0) TO (100)',
    leaf: 't_1',
    usable: false,
  },
  {
    name: 'partitioned, partition with identity NOTHING',
    ddl: `CREATE TABLE t (id int PRIMARY KEY, v int) PARTITION BY RANGE (id); CREATE TABLE t_1 PARTITION OF t FOR VALUES FROM (0) TO (100);
          ALTER TABLE t_1 REPLICA IDENTITY NOTHING`,
    leaf: 't_1',
    usable: false,
  },
  {
    name: 'partitioned, partition created after publishing',
    ddl: 'CREATE TABLE t (id int PRIMARY KEY, v int) PARTITION BY RANGE (id)',
    after: 'CREATE TABLE t_1 PARTITION OF t FOR VALUES FROM (0) TO (100)',
    leaf: 't_1',
    usable: true,
  },
  {
    name: 'partitioned without key, identity FULL on the root only, partition created after publishing',
    ddl: 'CREATE TABLE t (id int, v int) PARTITION BY RANGE (id); ALTER TABLE t REPLICA IDENTITY FULL',
    after: 'CREATE TABLE t_1 PARTITION OF t FOR VALUES FROM (0) TO (100)',
    leaf: 't_1',
    usable: false,
  },
];

/** The server's answer: null when an UPDATE and a DELETE of the published table are accepted, else the SQLSTATE. */
async function serverRefuses(client: pg.Client, leaf: string): Promise<string | null> {
  await client.query('BEGIN');
  try {
    await client.query('INSERT INTO t (id, v) VALUES (1, 1)');
    await client.query(`UPDATE ${ident(leaf)} SET v = 2 WHERE id = 1`);
    await client.query(`DELETE FROM ${ident(leaf)} WHERE id = 1`);
    return null;
  } catch (error) {
    return (error as { code?: string }).code ?? 'unknown';
  } finally {
    await client.query('ROLLBACK');
  }
}

/** One case in its own schema of the cluster's `ri` database. */
async function judgeCase(cluster: Cluster, major: PgMajor, c: Case, index: number): Promise<string | undefined> {
  const schema = `c${index}`;
  const inSchema = (sql: string) => `SET search_path = ${schema}; ${sql}`;
  await cluster.query(`CREATE SCHEMA ${schema}`, [], 'ri');
  await cluster.query(inSchema(c.ddl), [], 'ri');
  const viaRoot = major >= 13 ? ' WITH (publish_via_partition_root = true)' : '';
  await cluster.query(`CREATE PUBLICATION p${index} FOR TABLE ${schema}.t${viaRoot}`, [], 'ri');
  if (c.after) await cluster.query(inSchema(c.after), [], 'ri');
  // a fresh session: no relation cache from before the catalog changed
  const client = await cluster.connect('ri');
  try {
    const leaf = c.leaf ?? 't';
    const relation = (await readSourceRelations(client)).find((r) => r.schema === schema && r.name === leaf);
    assert.ok(relation, `${c.name}: ${leaf} not read`);
    const classifierUsable = relation.identity.kind !== 'none';
    await client.query(`SET search_path = ${schema}`);
    const refused = await serverRefuses(client, leaf);
    if (refused !== null && refused !== '55000') return `${c.name}: unexpected SQLSTATE ${refused}`;
    const serverUsable = refused === null;
    if (classifierUsable !== serverUsable) {
      return `${c.name}: classifier says ${relation.identity.kind} (${relation.identity.flaw ?? 'usable'}), PostgreSQL ${major} ${serverUsable ? 'accepts' : 'refuses'} the UPDATE`;
    }
    if (classifierUsable !== c.usable)
      return `${c.name}: PostgreSQL ${major} and the classifier agree on ${relation.identity.kind}, not the expected verdict`;
    return undefined;
  } finally {
    await client.end();
  }
}

describe('safety: replica identity judged as PostgreSQL judges it', function () {
  this.timeout(300_000);

  for (const major of [13, 15, 16] as const) {
    it(`every case's verdict matches PostgreSQL ${major}'s answer to an UPDATE under a publication`, async () => {
      const cluster = await startCluster({ major, label: `ri${major}` });
      try {
        await cluster.query('CREATE DATABASE ri');
        const disagreements: string[] = [];
        for (const [i, c] of CASES.entries()) {
          const problem = await judgeCase(cluster, major, c, i);
          if (problem) disagreements.push(problem);
        }
        assert.deepEqual(disagreements, []);
      } finally {
        await cluster.stop();
      }
    });
  }

  it('names what makes a key unusable, including what ALTER TABLE ... REPLICA IDENTITY refuses', () => {
    const key = (extra: Partial<KeyFacts>): KeyFacts => ({
      name: 'k',
      primary: false,
      replident: true,
      unique: true,
      partial: false,
      immediate: true,
      valid: true,
      expressions: false,
      nullable: [],
      ...extra,
    });
    const flaw = (extra: Partial<KeyFacts>) => judgeIdentity('i', [key(extra)]).flaw;
    assert.equal(judgeIdentity('i', [key({})]).kind, 'index');
    assert.match(flaw({ partial: true })!, /partial/);
    assert.match(flaw({ expressions: true })!, /expression/);
    assert.match(flaw({ nullable: ['a'] })!, /nullable column\(s\) a/);
    assert.match(flaw({ unique: false })!, /not unique/);
    assert.match(flaw({ immediate: false })!, /DEFERRABLE/);
    assert.match(flaw({ valid: false })!, /not valid/);
    // DEFAULT uses only the primary key, never another unique index
    assert.equal(judgeIdentity('d', [key({ replident: false })]).kind, 'none');
    assert.equal(judgeIdentity('d', [key({ primary: true, replident: false })]).kind, 'primary-key');
    assert.equal(judgeIdentity('f', []).kind, 'full');
    assert.equal(judgeIdentity('n', [key({ primary: true })]).kind, 'none');
  });
});

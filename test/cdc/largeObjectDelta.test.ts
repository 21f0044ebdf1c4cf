// Issue 49: large objects created, written, truncated and unlinked on the source while changes
// stream, their owners, grants and comments changed, reach the target at the cutover as a delta
// inside the writer fence, on a superuser and on a managed target; the target is read back object
// by object (content hash and metadata) and the delta's cost is the cutover's 'large objects' step.
// A large object a DBA made on the target alone while it streamed (issue 62) is kept through the
// cutover, read back by lo_get, and named in the cutover's events; one the source unlinked after the
// copy is still unlinked on the target.
import assert from 'node:assert/strict';
import { runMigration, type MigrationSpec } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { events as catalogEvents } from '../../provider/engine/control/store';
import { planLargeObjects, type LargeObjectFacts } from '../../provider/engine/switchover/largeObjectDelta';
import {
  cutoverEnd,
  endIfRunning,
  makeManagedTarget,
  pairSpec,
  serverSpec,
  startPair,
  startSourceWriter,
  until,
  type Cluster,
  type ServerPair,
  waitingForCutover,
} from '../support';
import { parseMigrationSpec } from '../../provider/engine';

const INITIAL = 20;
/** A large object a DBA makes on the target alone while changes stream: not pgferry's. */
const DBA_OID = 9_000_001;
const DBA_NOTE = "a DBA's note, made on the target alone";

/** Every large object as an independent reader sees it: owner, ACL, comment, size and content hash. */
async function objects(cluster: Cluster, db: string): Promise<string[]> {
  const rows = await cluster.query<{ r: string }>(
    `SELECT m.oid::int8 || ' ' || pg_get_userbyid(m.lomowner) || ' ' || coalesce(m.lomacl::text, '-') || ' ' ||
            coalesce(obj_description(m.oid, 'pg_largeobject'), '-') || ' ' || length(lo_get(m.oid)) || ' ' || md5(lo_get(m.oid)) AS r
       FROM pg_largeobject_metadata m ORDER BY m.oid`,
    [],
    db,
  );
  return rows.map((r) => r.r);
}

async function setUp(source: Cluster, db: string): Promise<void> {
  await source.query(`DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'lo_app') THEN CREATE ROLE lo_app; END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'lo_reader') THEN CREATE ROLE lo_reader; END IF;
  END $$`);
  await source.query(`CREATE DATABASE ${db}`);
  await source.query(
    `CREATE TABLE docs (id int PRIMARY KEY, body oid NOT NULL);
     GRANT ALL ON docs TO lo_app;
     SET ROLE lo_app;
     INSERT INTO docs SELECT g, lo_from_bytea(0, convert_to(repeat('initial ' || g, 50 * g), 'UTF8')) FROM generate_series(1, ${INITIAL}) g;
     RESET ROLE;`,
    [],
    db,
  );
  const [first] = await source.query<{ o: string }>(`SELECT body::int8::text AS o FROM docs WHERE id = 1`, [], db);
  await source.query(`GRANT SELECT ON LARGE OBJECT ${first!.o} TO lo_reader; COMMENT ON LARGE OBJECT ${first!.o} IS 'the first'`, [], db);
}

async function migrateWithLargeObjectWrites(pair: ServerPair, spec: MigrationSpec, db: string): Promise<void> {
  const started = Date.now();
  const store = new CatalogConnection(spec.target);
  const running = runMigration(spec);
  // the application, as lo_app: a new object per transaction, an initial one overwritten every
  // third, one of its own unlinked every fifth
  const writer = startSourceWriter(pair.source, db, async (c, n) => {
    await c.query('SET LOCAL ROLE lo_app');
    await c.query(`INSERT INTO docs VALUES ($1, lo_from_bytea(0, convert_to(repeat($2, 10 + $1 % 300), 'UTF8')))`, [1000 + n, `w${n}`]);
    if (n % 3 === 0)
      await c.query(`SELECT lo_put(body, 3, convert_to('overwritten ' || $2::text, 'UTF8')) FROM docs WHERE id = $1`, [
        (n % INITIAL) + 1,
        n,
      ]);
    if (n % 5 === 0 && n > 3) {
      await c.query(`SELECT lo_unlink(body) FROM docs WHERE id = $1`, [1000 + n - 3]);
      await c.query(`DELETE FROM docs WHERE id = $1`, [1000 + n - 3]);
    }
  });
  try {
    await writer.connected;
    await waitingForCutover(store, spec.migrationName);
    // one-off changes: metadata, a shrunk object, one over the 16 MiB chunk, one unlinked from the copy
    const q = (sql: string) => pair.source.query(sql, [], db);
    const oid = async (id: number) =>
      (await pair.source.query<{ o: string }>(`SELECT body::int8::text AS o FROM docs WHERE id = ${id}`, [], db))[0]!.o;
    await q(`GRANT SELECT, UPDATE ON LARGE OBJECT ${await oid(2)} TO lo_reader WITH GRANT OPTION`);
    await q(`REVOKE SELECT ON LARGE OBJECT ${await oid(1)} FROM lo_reader`);
    await q(`COMMENT ON LARGE OBJECT ${await oid(1)} IS NULL`);
    await q(`COMMENT ON LARGE OBJECT ${await oid(3)} IS 'changed while streaming'`);
    await q(`ALTER LARGE OBJECT ${await oid(4)} OWNER TO lo_reader`);
    await q(`BEGIN; SELECT lo_truncate(lo_open(${await oid(5)}, 131072), 7); COMMIT`);
    await q(
      `SET ROLE lo_app; INSERT INTO docs VALUES (999, lo_from_bytea(0, decode(repeat('00ff', 10 * 1024 * 1024), 'hex'))); RESET ROLE`,
    );
    await q(`SELECT lo_unlink(body) FROM docs WHERE id = 6; DELETE FROM docs WHERE id = 6`);
    await q(`SELECT lo_create(424242); ALTER LARGE OBJECT 424242 OWNER TO lo_app`);
    // a DBA's object on the target, owned by a superuser there (a managed target's admin cannot read it)
    await pair.target.query(`SELECT lo_from_bytea(${DBA_OID}, convert_to($1::text, 'UTF8'))`, [DBA_NOTE], db);
    await until('the writer has written a while', async () => (writer.committed() >= 30 ? true : undefined));

    const done = await cutoverEnd(store, spec, running);
    const committed = writer.committed();
    assert.equal(done.state, 'Succeeded', done.message);
    assert.equal(done.verification?.ok, true, done.verification?.firstMismatch);
    const events = (await catalogEvents(store, spec.migrationName, 200)).map((e) => e.message);
    const delta = events.find((m) => m.startsWith(`cutover: large objects of ${db}`));
    assert.ok(delta, events.join('\n'));
    const [, compared, created, rewritten, unlinked, metadata] = delta
      .match(/(\d+) compared, (\d+) created, (\d+) rewritten, (\d+) unlinked, (\d+) given their owner/)!
      .map(Number);
    assert.ok(created! >= 30, delta);
    assert.ok(rewritten! >= 2, delta); // the shrunk one, the overwritten ones
    assert.ok(unlinked! >= 1, delta); // one of the copy's (the writer unlinks only its own, never on the target)
    assert.ok(metadata! >= 4, delta);
    const completed = events.find((m) => /^cutover completed in/.test(m))!;
    const step = Number(/large objects (\d+\.\d+) s/.exec(completed)?.[1]);
    assert.ok(step >= 0, completed);

    // the DBA's object is kept, its content as made, and named; every other object is the source's
    const [dba] = await pair.target.query<{ note: string }>(`SELECT convert_from(lo_get(${DBA_OID}), 'UTF8') AS note`, [], db);
    assert.equal(dba?.note, DBA_NOTE, "the DBA's large object is kept on the target");
    assert.ok(
      events.some((m) => m === `cutover: 1 large object(s) of ${db} kept on the target, made there alone and not pgferry's: ${DBA_OID}`),
      events.join('\n'),
    );
    const [a, all] = await Promise.all([objects(pair.source, db), objects(pair.target, db)]);
    const b = all.filter((o) => !o.startsWith(`${DBA_OID} `));
    assert.equal(b.length, all.length - 1);
    assert.equal(b.length, a.length);
    assert.deepEqual(b, a);
    const docs = `SELECT id, body::int8 AS body FROM docs ORDER BY id`;
    assert.deepEqual(await pair.target.query(docs, [], db), await pair.source.query(docs, [], db));
    console.log(
      `      ${committed} writer transactions; ${delta.replace(/^cutover: /, '')}; downtime ${done.downtimeSeconds?.toFixed(2)} s (${completed.replace(/^cutover completed in [\d.]+ s /, '')}); ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    assert.ok(compared! === a.length, delta);
  } finally {
    await writer.stop().catch(() => undefined);
    await endIfRunning(spec, running);
    await store.close();
  }
}

describe('online: large objects changed while streaming reach the target at cutover (issue 49)', function () {
  this.timeout(600_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
  });
  after(async () => pair?.stop());

  it('plans only what differs: created, rewritten, unlinked if pgferry moved it else kept, a record neither server has forgotten, and metadata by the owner the target gives (pure)', () => {
    const o = (oid: string, owner: string, hash: string, acl: string[] = [], comment: string | null = null): LargeObjectFacts => ({
      oid,
      owner,
      acl,
      comment,
      hash,
    });
    const roles = {
      roles: new Map([
        ['app', false],
        ['postgres', true],
        ['admin', false],
        ['reader', false],
      ]),
      me: 'admin',
      superuser: false,
    };
    const plan = planLargeObjects(
      [o('1', 'app', 'h1'), o('2', 'app', 'h2new', ['reader:SELECT:false']), o('3', 'postgres', 'h3'), o('5', 'app', 'h5', [], 'c')],
      [o('1', 'app', 'h1'), o('2', 'app', 'h2'), o('3', 'admin', 'h3'), o('4', 'app', 'h4'), o('6', 'admin', 'h6')],
      roles,
      new Set(['1', '2', '3', '4', '9']),
    );
    assert.deepEqual([plan.created, plan.rewritten, plan.unlinked, plan.kept, plan.forgotten], [['5'], ['2'], ['4'], ['6'], ['9']]);
    assert.deepEqual(
      plan.metadata.map((m) => m.statement),
      ['GRANT SELECT ON LARGE OBJECT 2 TO "reader"', 'ALTER LARGE OBJECT 5 OWNER TO "app"', "COMMENT ON LARGE OBJECT 5 IS 'c'"],
    );
    assert.equal(plan.deliberate, 1, 'a source superuser stays the admin on a managed target');
  });

  it('superuser target, fenced cutover: created, overwritten, truncated, unlinked and re-owned objects equal on the target', async () => {
    await setUp(pair.source, 'blobs');
    const spec = pairSpec(pair, 'lo-delta', ['blobs'], {
      mode: 'Online',
      option: 'Migrate',
      overwriteDbsInTarget: true,
      fenceWriters: true,
    });
    await migrateWithLargeObjectWrites(pair, spec, 'blobs');
  });

  it('managed target (no superuser): the same, written by the admin as a member of the owners', async () => {
    const managed = await startPair(15, 15);
    try {
      await setUp(managed.source, 'blobs_managed');
      const target = await makeManagedTarget(managed.target);
      const spec = parseMigrationSpec({
        migrationName: 'lo-delta-managed',
        source: serverSpec(managed.source),
        target,
        databases: ['blobs_managed'],
        mode: 'Online',
        option: 'Migrate',
        overwriteDbsInTarget: true,
        fenceWriters: true,
      });
      await migrateWithLargeObjectWrites(managed, spec, 'blobs_managed');
    } finally {
      await managed.stop();
    }
  });

  it('managed target, large objects of a role the target user may not become: one warning line for them all, their data intact', async () => {
    const managed = await startPair(15, 15);
    const db = 'blobs_kept';
    try {
      await managed.source.query('CREATE ROLE lo_keeper');
      // on the target the role exists already, made by its superuser: the admin is no member of it
      await managed.target.query('CREATE ROLE lo_keeper');
      await managed.source.query(`CREATE DATABASE ${db}`);
      await managed.source.query(
        `CREATE TABLE docs (id int PRIMARY KEY, body oid NOT NULL);
         INSERT INTO docs SELECT g, lo_from_bytea(0, convert_to(repeat('kept ' || g, 40 * g), 'UTF8')) FROM generate_series(1, ${INITIAL}) g;
         DO $$ DECLARE o oid; BEGIN
           FOR o IN SELECT body FROM docs LOOP EXECUTE format('ALTER LARGE OBJECT %s OWNER TO lo_keeper', o); END LOOP;
         END $$;`,
        [],
        db,
      );
      const target = await makeManagedTarget(managed.target);
      const spec = parseMigrationSpec({
        migrationName: 'lo-kept-managed',
        source: serverSpec(managed.source),
        target,
        databases: [db],
        mode: 'Offline',
        overwriteDbsInTarget: true,
      });
      const done = await runMigration(spec);
      const store = new CatalogConnection(spec.target);
      const events = await catalogEvents(store, spec.migrationName, 500).finally(() => store.close());
      const messages = events.map((e) => e.message);
      const refusals = messages.filter((m) => /ALTER LARGE OBJECT \d+ OWNER/.test(m));
      assert.deepEqual(refusals, [], 'no line per large object');
      const kept = messages.filter((m) => m.includes('large object(s) keep the owner'));
      assert.equal(kept.length, 1, messages.join('\n'));
      assert.match(
        kept[0]!,
        new RegExp(`${INITIAL} large object\\(s\\) keep the owner "pgadmin" the restore gave them, ${INITIAL} instead of "lo_keeper"`),
      );
      assert.match(kept[0]!, /fix: GRANT "?lo_keeper"? TO "?pgadmin"?, then run again/);
      const read = `SELECT m.oid::int8 AS oid, md5(lo_get(m.oid)) AS hash, length(lo_get(m.oid)) AS size FROM pg_largeobject_metadata m ORDER BY m.oid`;
      const [source, onTarget] = await Promise.all([managed.source.query(read, [], db), managed.target.query(read, [], db)]);
      assert.equal(onTarget.length, INITIAL);
      assert.deepEqual(onTarget, source, "every large object's content read back on the target as on the source");
      const owners = await managed.target.query<{ owner: string }>(
        'SELECT DISTINCT pg_get_userbyid(lomowner) AS owner FROM pg_largeobject_metadata',
        [],
        db,
      );
      assert.deepEqual(owners, [{ owner: 'pgadmin' }], 'the owner the line names');
      console.log(`      ${done.state}: ${kept[0]}`);
    } finally {
      await managed.stop();
    }
  });
});

// Issue 49: foreign keys, triggers and rules an application release creates or drops on the source
// while changes stream are followed on the target (flow/schemaFollow.ts). On a superuser target a
// foreign key is added NOT VALID then validated once the apply passed it, and a trigger or rule is
// created in the source's state (the apply's replica role keeps it silent). On a managed-like
// target (no replica role) the key is recorded in the footprint ledger beside the copied ones and
// added by the release, a trigger or rule is created switched as the copied ones are (an ordinary
// one disabled, so it never fires on a streamed row), and the release sets it to the source's
// state; a copied key the source dropped is not added back. A writer runs throughout; after the
// cutover (Succeeded: its own schema check passed) the target's keys, triggers and rules are read
// back and compared with the source's, and the rows too (an audit trigger that fired on the target
// as well would add rows the source does not have).
import assert from 'node:assert/strict';
import type pg from 'pg';
import type { MigrationSpec } from '../../provider/engine';
import { changesOf } from '../../provider/engine/footprint/ledger';
import { events as catalogEvents } from '../../provider/engine/control/store';
import { cutoverEnd, onBothTargets, pairSpec, streamedRun, until, type Cluster, type ServerPair } from '../support';

const DB = 'shop';
const ORDERS = 3_000;
const LINES = 3_000;

async function loadSource(pair: ServerPair): Promise<void> {
  await pair.source.query(`CREATE DATABASE ${DB}`);
  await pair.source.query(
    `CREATE TABLE orders (id int PRIMARY KEY, n int NOT NULL, note text);
     CREATE TABLE line (id int PRIMARY KEY, order_id int NOT NULL, qty int);
     CREATE TABLE audit (id bigserial PRIMARY KEY, order_id int, what text);
     CREATE FUNCTION audit_fn() RETURNS trigger LANGUAGE plpgsql AS
       $$ BEGIN INSERT INTO public.audit (order_id, what) VALUES (NEW.id, TG_NAME); RETURN NEW; END $$;
     INSERT INTO orders SELECT g, g % 97, 'order ' || g FROM generate_series(1, ${ORDERS}) g;
     INSERT INTO line SELECT g, 1 + g % ${ORDERS}, g % 7 FROM generate_series(1, ${LINES}) g;
     -- what the release drops
     ALTER TABLE line ADD CONSTRAINT line_old_fk FOREIGN KEY (order_id) REFERENCES orders (id);
     CREATE TRIGGER orders_old AFTER INSERT ON orders FOR EACH ROW EXECUTE FUNCTION audit_fn();
     CREATE RULE line_old AS ON DELETE TO line DO ALSO INSERT INTO public.audit (order_id, what) VALUES (OLD.order_id, 'deleted');`,
    [],
    DB,
  );
}

function writeOne(): (c: pg.Client, n: number) => Promise<unknown> {
  return async (c, n) => {
    await c.query(`UPDATE orders SET n = n + 1, note = 'w' || $1 WHERE id = $2`, [n, 1 + ((n * 7919) % ORDERS)]);
    if (n % 3 === 0) await c.query(`INSERT INTO line (id, order_id, qty) VALUES ($1, $2, $3)`, [LINES + n, 1 + ((n * 31) % ORDERS), n % 9]);
    if (n % 5 === 0) await c.query(`INSERT INTO orders (id, n, note) VALUES ($1, $2, 'new')`, [ORDERS + n, n % 97]);
  };
}

/** The user's foreign keys, triggers and rules of the database, one line each, with their state. */
async function firingsAndKeys(cluster: Cluster): Promise<string[]> {
  const rows = await cluster.query<{ line: string }>(
    `SELECT 'key ' || conname || ': ' || pg_get_constraintdef(oid) || ' validated ' || convalidated AS line
       FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace
     UNION ALL
     SELECT 'trigger ' || tgname || ' ' || tgenabled::text || ': ' || pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal
     UNION ALL
     SELECT 'rule ' || rulename || ' ' || ev_enabled::text || ': ' || pg_get_ruledef(oid) FROM pg_rewrite
      WHERE rulename <> '_RETURN' AND ev_class IN (SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace)
     ORDER BY 1`,
    [],
    DB,
  );
  return rows.map((r) => r.line);
}

/** The state (pg_trigger.tgenabled, pg_rewrite.ev_enabled) of each object of the release on the target, null where it is missing. */
async function states(cluster: Cluster): Promise<Record<string, string | null>> {
  const [row] = await cluster.query<Record<string, string | null>>(
    `SELECT (SELECT tgenabled::text FROM pg_trigger WHERE tgname = 'orders_audit') AS orders_audit,
            (SELECT tgenabled::text FROM pg_trigger WHERE tgname = 'orders_quiet') AS orders_quiet,
            (SELECT tgenabled::text FROM pg_trigger WHERE tgname = 'orders_old') AS orders_old,
            (SELECT ev_enabled::text FROM pg_rewrite WHERE rulename = 'line_log') AS line_log,
            (SELECT ev_enabled::text FROM pg_rewrite WHERE rulename = 'line_old') AS line_old,
            (SELECT convalidated::text FROM pg_constraint WHERE conname = 'line_order_fk') AS line_order_fk,
            (SELECT convalidated::text FROM pg_constraint WHERE conname = 'line_old_fk') AS line_old_fk`,
    [],
    DB,
  );
  return row!;
}

async function contents(cluster: Cluster, table: string): Promise<string> {
  const [row] = await cluster.query<{ n: string; h: string }>(
    `SELECT count(*)::text AS n, md5(string_agg(t::text, E'\\n' ORDER BY t.id)) AS h FROM ${table} t`,
    [],
    DB,
  );
  return `${row!.n} rows, ${row!.h}`;
}

async function scenario(pair: ServerPair, name: string, target: MigrationSpec['target'], managed: boolean): Promise<void> {
  const spec = pairSpec(pair, name, [DB], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true });
  await streamedRun({ ...spec, target }, { source: pair.source, db: DB, write: writeOne() }, async ({ store, running, writer, ready }) => {
    const s = (sql: string) => pair.source.query(sql, [], DB);
    /** The foreign keys in the footprint ledger: pending (to be added at the release) or how they were dealt with. */
    const ledger = async (): Promise<Record<string, string>> =>
      Object.fromEntries(
        (await changesOf<{ name: string }>(store, name, 'targetForeignKeys')).map((e) => [
          e.undo.name,
          e.undone ? String((e.detail as { outcome?: string }).outcome) : 'pending',
        ]),
      );
    assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
    // an application release, while the writer runs (its locks taken in the writer's order: no deadlock)
    await s(`LOCK TABLE orders, line IN ACCESS EXCLUSIVE MODE;
             ALTER TABLE line ADD CONSTRAINT line_order_fk FOREIGN KEY (order_id) REFERENCES orders (id) ON DELETE CASCADE;
             CREATE TRIGGER orders_audit AFTER UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION audit_fn();
             CREATE TRIGGER orders_quiet BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION audit_fn();
             ALTER TABLE orders DISABLE TRIGGER orders_quiet;
             CREATE RULE line_log AS ON INSERT TO line DO ALSO INSERT INTO public.audit (order_id, what) VALUES (NEW.order_id, 'line');
             ALTER TABLE line DROP CONSTRAINT line_old_fk;
             DROP TRIGGER orders_old ON orders;
             DROP RULE line_old ON line;`);
    // while streaming: an ordinary trigger or rule is silent on the target (disabled where there is no replica role)
    const silent = managed ? 'D' : 'O';
    await until(
      'the release followed on the target',
      async () => {
        const st = await states(pair.target);
        const keys = await ledger();
        const keyFollowed = managed
          ? st.line_order_fk === null && keys.line_order_fk === 'pending' && keys.line_old_fk === 'dropped on the source'
          : st.line_order_fk === 'true';
        const all =
          keyFollowed &&
          st.line_old_fk === null &&
          st.orders_audit === silent &&
          st.orders_quiet === 'D' &&
          st.line_log === silent &&
          st.orders_old === null &&
          st.line_old === null;
        return all || undefined;
      },
      120_000,
      500,
    ).catch(async (error: Error) => {
      const events = (await catalogEvents(store, name, 20)).map((e) => `${e.level}: ${e.message.slice(0, 300)}`).join('\n  ');
      const seen = JSON.stringify({ ...(await states(pair.target)), ledger: await ledger() });
      throw new Error(`${error.message}\ntarget: ${seen}\nevents:\n  ${events}`);
    });
    const transactions = await writer.stop();
    const end = await cutoverEnd(store, { target, migrationName: name }, running);
    assert.equal(end.state, 'Succeeded', `${end.message} ${end.verification?.firstMismatch ?? ''}`);
    // given back: each key, trigger and rule as the source has it, in the source's state
    const onSource = await firingsAndKeys(pair.source);
    assert.deepEqual(await firingsAndKeys(pair.target), onSource);
    assert.ok(
      onSource.some((l) =>
        /^key line_order_fk: FOREIGN KEY \(order_id\) REFERENCES (public\.)?orders\(id\) ON DELETE CASCADE validated true$/.test(l),
      ),
    );
    assert.ok(
      onSource.includes(
        'trigger orders_quiet D: CREATE TRIGGER orders_quiet BEFORE UPDATE ON public.orders FOR EACH ROW EXECUTE FUNCTION audit_fn()',
      ),
    );
    for (const table of ['orders', 'line', 'audit'])
      assert.equal(await contents(pair.target, table), await contents(pair.source, table), table);
    console.log(`      ${name}: ${transactions} writer transactions, ${await contents(pair.target, 'audit')} of audit`);
  });
}

describe('foreign keys, triggers and rules created or dropped while streaming are followed (issue 49)', function () {
  this.timeout(600_000);
  onBothTargets(
    {
      superuser: 'superuser target: key added NOT VALID then validated, triggers and rules in the source state; drops followed',
      managed: 'managed-like target: key recorded for the release, triggers and rules disabled until it; drops followed',
    },
    async ({ pair, target, kind, managed }) => {
      await loadSource(pair);
      await scenario(pair, `firings-${kind}`, target, managed);
    },
  );
});

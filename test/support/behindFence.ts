// A write behind a writer fence, as an administrator can make one: the fence's trigger lets no
// session but pgferry's appliers through (footprint/fenceTriggers.ts), so a superuser turns the
// fence's triggers off in the database for one transaction, writes, and turns them back on as they
// were. Other sessions never see a table unfenced: ALTER TABLE holds each table until the commit.
import type { Cluster } from '../../provider/localpg/cluster';

/** The fence's triggers in the database: those calling a function of the control schema that refuses as the fence does. */
const FENCE_TRIGGERS_SQL = `
SELECT format('%I.%I', n.nspname, c.relname) AS tbl, format('%I', tg.tgname) AS trigger, tg.tgenabled::text AS enabled
  FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_proc p ON p.oid = tg.tgfoid JOIN pg_namespace pn ON pn.oid = p.pronamespace
 WHERE pn.nspname = 'pgferry' AND p.prosrc LIKE '%is fenced by pgferry%'
 ORDER BY 1`;

const ENABLE: Readonly<Record<string, string>> = { A: 'ENABLE ALWAYS', R: 'ENABLE REPLICA', O: 'ENABLE', D: 'DISABLE' };

/** Runs `sql` (no transaction control of its own) on `db` of `cluster` past the fence, as a superuser, in one transaction. */
export async function writeBehindFence(cluster: Cluster, db: string, sql: string): Promise<void> {
  const client = await cluster.connect(db);
  try {
    await client.query('BEGIN READ WRITE');
    const { rows } = await client.query<{ tbl: string; trigger: string; enabled: string }>(FENCE_TRIGGERS_SQL);
    for (const t of rows) await client.query(`ALTER TABLE ${t.tbl} DISABLE TRIGGER ${t.trigger}`);
    await client.query(sql);
    for (const t of rows) await client.query(`ALTER TABLE ${t.tbl} ${ENABLE[t.enabled] ?? 'ENABLE'} TRIGGER ${t.trigger}`);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    await client.end();
  }
}

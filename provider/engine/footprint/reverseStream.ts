// The reverse stream's slot and publication on the target (docs/fallback.md): made at a cutover
// with a fallback window (cdc/prepare/reverseStream.ts), recorded first in
// pgferry.fallback_window, named from the migration's instance. A cutover's release keeps them
// (the window is open); closing the window, and any release after it, drops them, so the
// target's WAL is held no longer than the window.
import { ident } from '../connect/quote';
import { CONTROL_SCHEMA, reverseStreamNamesOf } from '../core/names';
import { openReverseStream } from '../cdc/prepare/reverseStream';
import { dropSlotAndPublication } from '../cdc/prepare/slot';
import { pendingSlotAndPublication } from './slotAndPublication';
import { recordFallbackWindow } from '../control/fallbackWindows';
import type { ReversibleChange, RightsRefusal, RightsSessions, StreamContext } from './change';
import { unlessDatabaseGone } from './change';

async function pending(ctx: StreamContext, database: string): Promise<string[]> {
  const n = reverseStreamNamesOf(ctx.spec.migrationName, database, ctx.instance);
  return pendingSlotAndPublication(ctx.spec.target, database, n.slot, n.publication);
}

/** What creating the reverse slot and publication asks of the target user, read on the target's maintenance database. */
const RIGHTS_SQL = `
SELECT r.rolsuper OR r.rolreplication
         OR EXISTS (SELECT 1 FROM pg_roles g WHERE g.rolname IN ('rds_replication', 'rds_superuser', 'azure_pg_admin')
                       AND pg_has_role(current_user, g.oid, 'MEMBER')) AS replicates,
       NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)
         OR has_database_privilege(current_user, $1, 'CREATE') AS creates
  FROM pg_roles r WHERE r.rolname = current_user`;

/**
 * The target user must replicate and create a publication in the target database (which it
 * creates itself when it does not exist yet, and so may create in).
 */
async function refusal(s: RightsSessions): Promise<RightsRefusal | undefined> {
  const { rows } = await s.target.query<{ replicates: boolean; creates: boolean }>(RIGHTS_SQL, [s.database]);
  const user = ident(s.spec.target.user);
  const lacks: string[] = [];
  const grants: string[] = [];
  if (!rows[0]?.replicates) {
    lacks.push('may not create the reverse replication slot (no REPLICATION)');
    grants.push(`ALTER ROLE ${user} WITH REPLICATION (Azure: the server admin has it)`);
  }
  if (!rows[0]?.creates) {
    lacks.push(`may not create the reverse publication (no CREATE on ${ident(s.database)})`);
    grants.push(`GRANT CREATE ON DATABASE ${ident(s.database)} TO ${user}`);
  }
  if (lacks.length === 0) return undefined;
  return { message: `target user ${user} ${lacks.join(' and ')} (fallbackWindow)`, fix: `on the target: ${grants.join('; ')}` };
}

export const reverseStream = {
  name: 'reverseStream',
  server: 'target',
  describe: 'reverse replication slot and publication on the target database (fallback window), dropped when the window closes',
  ledger: `${CONTROL_SCHEMA}.fallback_window; their names derive from migration.instance`,
  rights: {
    server: 'target',
    needs: 'REPLICATION (or superuser; on Azure the server admin), and CREATE on the database for the publication',
    refusal,
  },
  // a window asked only with the cutover request is checked when the cutover opens it
  madeFor: (spec) => spec.mode === 'Online' && spec.fallbackWindow !== undefined,
  staysAfterCutover: true,
  record: recordFallbackWindow,
  apply: openReverseStream,
  pending,
  undo: async (ctx: StreamContext, database: string) => {
    const n = reverseStreamNamesOf(ctx.spec.migrationName, database, ctx.instance);
    await unlessDatabaseGone(() => dropSlotAndPublication(ctx.spec.target, database, n.slot, n.publication));
  },
  failure: (ctx, database) => {
    const n = reverseStreamNamesOf(ctx.spec.migrationName, database, ctx.instance);
    return { what: `could not drop reverse slot ${n.slot} / publication ${n.publication} (target)`, left: 'drop them by hand' };
  },
} satisfies ReversibleChange;

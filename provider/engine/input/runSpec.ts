// The spec an agent runs a migration of runtime agents from. The caller stores it without
// passwords (control catalog column migration.run_spec); an agent adds the credentials from its
// own environment: its source user and password for the source, its own target connection.
import type { MigrationSpec, ServerSpec } from './migrationSpec';

/** The parsed spec without the passwords of either server (nor the pooler's): safe to keep in the control catalog. */
export function runSpecOf(spec: MigrationSpec): Record<string, unknown> {
  const { password: _source, ...source } = spec.source;
  const { password: _target, ...target } = spec.target;
  const pooler = spec.pooler && (({ password: _pooler, ...rest }) => rest)(spec.pooler);
  return { ...spec, source, target, databases: [...spec.databases], ...(pooler ? { pooler } : {}) };
}

/** The credentials of one source database an agent holds (from PGFERRY_SOURCE_URLS), or of a pooler's admin console (PGFERRY_POOLER_ADMIN_URL). */
export interface SourceCredential {
  readonly user: string;
  /** Absent: PGPASSWORD or ~/.pgpass, as for any libpq client. */
  readonly password?: string;
}

/**
 * The spec a runner started by an agent takes: the stored run spec with the agent's source
 * credentials and the agent's own target connection (host, port, user, password, TLS). The
 * target's maintenance database is the stored one: the control catalog the migration lives in.
 * A migration through a pooler takes the agent's admin credentials of it (PGFERRY_POOLER_ADMIN_URL)
 * in place of the user stored, as the source does.
 */
export function agentSpec(
  stored: Record<string, unknown>,
  source: SourceCredential,
  target: ServerSpec,
  pooler?: SourceCredential,
): MigrationSpec {
  const storedSource = stored.source as ServerSpec;
  const storedTarget = stored.target as ServerSpec;
  const storedPooler = stored.pooler as MigrationSpec['pooler'];
  return {
    ...(stored as unknown as MigrationSpec),
    source: { ...storedSource, ...withCredential(source) },
    target: { ...target, maintenanceDatabase: storedTarget.maintenanceDatabase },
    ...(storedPooler && pooler ? { pooler: { ...storedPooler, ...withCredential(pooler) } } : {}),
  };
}

function withCredential(credential: SourceCredential): { user: string; password?: string } {
  return { user: credential.user, ...(credential.password !== undefined ? { password: credential.password } : {}) };
}

// Premigration validation: every check against both servers, read-only, as Azure-style results.
// A server that cannot be reached skips the checks that need it instead of failing them.
import type pg from 'pg';
import { readUnsupportedObjects, type UnsupportedObject } from '../catalog/unsupported';
import { displayIdent } from '../connect/quote';
import { canceledError, errorMessage, isPgferryError } from '../core/errors';
import type { ValidationResult } from '../core/model';
import type { MigrationSpec } from '../input/migrationSpec';
import { checkCdcTables } from './cdcCheck';
import { cdcTableReport } from './cdcReport';
import { CODES } from './codes';
import { checkCollations, readTargetCollations } from './collations';
import { checkCompression, readTargetCompressions } from './compression';
import { checkTablespaces } from './tablespaces';
import { checkConnectivity, uncheckedTlsWarning } from './connectivity';
import { checkSourceDatabases, checkTargetDatabases } from './databases';
import { checkExtensions, readSourceExtensions, readTargetExtensions, type SourceExtension } from './extensions';
import { checkExtensionConfigTables } from './extensionConfig';
import { checkManagedBlockers, TARGET_SUPERUSER_ROLES_SQL } from './managed';
import { checkFallbackTarget, checkOnlineSource } from './replicationSettings';
import { checkApplyWithoutReplicaRole } from './replicaRole';
import { replicaRolePermitted } from '../footprint/targetFiring';
import { CHECK_TYPES, failed, succeeded, warning, type CheckType } from './result';
import type { ReversibleChange, RightsRefusal } from '../footprint/change';
import { FOOTPRINT } from '../footprint/release';
import { writerFence } from '../footprint/writerFence';
import { checkSourceRowSecurity } from './rowSecuritySource';
import { checkTargetRowSecurity } from './rowSecurityTarget';
import { compareServers, sameServerResult } from './sameServer';
import { checkSchema } from './schemaCheck';
import { closeAll, openReadOnly, type ServerSession } from './readOnlySessions';
import { checkSourceTablePrivileges } from './sourcePrivileges';
import { checkTargetPrivileges } from './targetRoles';
import { checkPgTools } from './pgToolsCheck';
import { checkVersions } from './versions';
import { checkFilters } from './filterCheck';
import { checkServerParameters } from './serverParameters';
import { checkPooler } from './pooler';
import { sideBySide } from '../util/sideBySide';

export { validationFailed } from './result';
export { cdcTableReport } from './cdcReport';

export interface ValidationOptions {
  readonly signal?: AbortSignal;
  /** The registered migration's instance: its own slots (a validation after a partial run) are not counted as in use. */
  readonly instance?: string;
}

/** Runs a check; an unexpected error becomes one Failed result instead of ending the run. */
async function guarded(
  results: ValidationResult[],
  type: CheckType,
  what: string,
  database: string | undefined,
  fn: () => Promise<ValidationResult[]>,
): Promise<void> {
  try {
    results.push(...(await fn()));
  } catch (error) {
    if (isPgferryError(error) && error.category === 'canceled') throw error;
    results.push(
      failed(
        CODES.CHECK_ERROR,
        type,
        `could not check ${what}: ${errorMessage(error)}`,
        'fix the error above (often a permission on a catalog view), then validate again',
        database === undefined ? {} : { database },
      ),
    );
  }
}

function skipped(role: 'source' | 'target', what: string): ValidationResult {
  return warning(
    CODES.CHECKS_SKIPPED,
    CHECK_TYPES.connectivity,
    `the ${role} could not be reached: ${what} not checked`,
    `fix the ${role} connection above, then validate again`,
    { server: role },
  );
}

/** Both servers at once: one server or two, versions. */
async function serverPairChecks(
  results: ValidationResult[],
  spec: MigrationSpec,
  source: ServerSession,
  target: ServerSession,
): Promise<void> {
  await guarded(results, CHECK_TYPES.connectivity, 'whether source and target are one server', undefined, async () => [
    sameServerResult(spec, await compareServers(source.client, target.client)),
  ]);
  results.push(...checkVersions(source.info, target.info));
}

/** Opens a read-only session per source database that exists; one it cannot open is a failed check. */
async function openSourceDatabases(
  results: ValidationResult[],
  source: ServerSession,
  spec: MigrationSpec,
  into: Map<string, pg.Client>,
): Promise<void> {
  const found = await checkSourceDatabases(source, spec.databases);
  results.push(...found.results);
  for (const name of found.present) {
    try {
      into.set(name, await openReadOnly(source.spec, name));
    } catch (error) {
      results.push(
        failed(
          CODES.SOURCE_DATABASE_NOT_CONNECTABLE,
          CHECK_TYPES.databases,
          `cannot connect to database ${displayIdent(name)} on the source: ${errorMessage(error)}`,
          `on the source: GRANT CONNECT ON DATABASE ${displayIdent(name)} TO ${displayIdent(source.info.user)}, and allow it in pg_hba.conf`,
          { database: name, server: 'source' },
        ),
      );
    }
  }
}

/** Per source database: the user reads every table, and every row (row-level security). */
async function sourceReadChecks(
  results: ValidationResult[],
  source: ServerSession,
  dbClients: ReadonlyMap<string, pg.Client>,
  spec: MigrationSpec,
  check: () => void,
): Promise<void> {
  for (const [database, client] of dbClients) {
    check();
    await guarded(results, CHECK_TYPES.privileges, `table privileges in ${displayIdent(database)}`, database, () =>
      checkSourceTablePrivileges(client, database, source.info.user, spec.mode === 'Online'),
    );
    await guarded(results, CHECK_TYPES.privileges, `row-level security in ${displayIdent(database)}`, database, () =>
      checkSourceRowSecurity(client, database, source.info.major),
    );
    await guarded(results, CHECK_TYPES.extensions, `the extensions' configuration tables in ${displayIdent(database)}`, database, () =>
      checkExtensionConfigTables(client, database, spec.mode === 'Online'),
    );
  }
}

/**
 * Online: every change of the footprint this migration will make is asked for the rights it needs
 * (footprint/change.ts `rights.refusal`), per database, before anything is changed. The writer
 * fence keeps its own codes; the others report under FOOTPRINT_RIGHTS.
 */
async function footprintRightsChecks(
  results: ValidationResult[],
  target: ServerSession,
  dbClients: ReadonlyMap<string, pg.Client>,
  spec: MigrationSpec,
  check: () => void,
): Promise<void> {
  for (const [database, source] of dbClients) {
    // the pooler's rights are the pooler's checks (checkPooler), once for all its databases
    for (const change of FOOTPRINT.filter((c) => c.madeFor(spec) && c.rights.server !== 'pooler')) {
      check();
      await guarded(results, CHECK_TYPES.privileges, `the rights of ${change.name} in ${displayIdent(database)}`, database, async () => [
        rightsResult(change, database, await change.rights.refusal({ spec, database, source, target: target.client })),
      ]);
    }
  }
}

function rightsResult(change: ReversibleChange, database: string, refusal: RightsRefusal | undefined): ValidationResult {
  const scope = { database, server: change.rights.server };
  const fence = change === writerFence;
  if (refusal)
    return failed(
      fence ? CODES.WRITER_FENCE_PRIVILEGES : CODES.FOOTPRINT_PRIVILEGES,
      CHECK_TYPES.privileges,
      refusal.message,
      refusal.fix,
      scope,
    );
  const message = fence
    ? `the source user can fence the writers of ${displayIdent(database)} at cutover (ALTER DATABASE, end its sessions)`
    : `${change.name}: the ${change.rights.server} user has the rights it needs in ${displayIdent(database)}: ${change.rights.needs}`;
  return succeeded(fence ? CODES.WRITER_FENCE : CODES.FOOTPRINT_RIGHTS, CHECK_TYPES.privileges, message, scope);
}

/** Online only: the source's replication settings, and each database's tables for CDC. */
async function onlineChecks(
  results: ValidationResult[],
  source: ServerSession,
  dbClients: ReadonlyMap<string, pg.Client>,
  spec: MigrationSpec,
  options: ValidationOptions,
  check: () => void,
): Promise<void> {
  check();
  await guarded(results, CHECK_TYPES.serverParameters, 'the online prerequisites', undefined, () =>
    checkOnlineSource(source, spec, [...dbClients.keys()], options.instance),
  );
  for (const [database, client] of dbClients) {
    check();
    await guarded(results, CHECK_TYPES.cdcTable, `tables of ${displayIdent(database)} for CDC`, database, async () =>
      checkCdcTables(await cdcTableReport(client, spec), database, spec),
    );
  }
}

/** Validates a migration without changing either server. Results are in a stable order. */
export async function runValidation(spec: MigrationSpec, options: ValidationOptions = {}): Promise<ValidationResult[]> {
  const results: ValidationResult[] = [];
  const check = (): void => {
    if (options.signal?.aborted) throw canceledError();
  };
  check();
  const [src, dst] = await Promise.all([checkConnectivity('source', spec.source), checkConnectivity('target', spec.target)]);
  results.push(src.result, dst.result);
  for (const role of ['source', 'target'] as const) {
    const unchecked = uncheckedTlsWarning(role, spec[role]);
    if (unchecked) results.push(unchecked);
  }
  const source = src.session;
  const target = dst.session;
  const dbClients = new Map<string, pg.Client>();
  try {
    if (!source) results.push(skipped('source', 'versions, databases, client tools, extensions, schema and online prerequisites'));
    if (!target) results.push(skipped('target', 'versions, target databases, extensions, collations and managed-target restrictions'));
    // Lanes side by side (each one's reads wait on the others' round trips otherwise), their
    // results kept in this order: the pair, the client tools, the source's databases, the target's.
    const lanes: ValidationResult[][] = [[], [], [], []];
    await sideBySide([
      (async () => {
        if (!source || !target) return;
        await serverPairChecks(lanes[0]!, spec, source, target);
        await guarded(lanes[0]!, CHECK_TYPES.serverParameters, 'the server parameters', undefined, () =>
          checkServerParameters(source.client, target.client),
        );
      })(),
      (async () => {
        if (source) lanes[1]!.push(await checkPgTools(spec, source.info.major));
      })(),
      (async () => {
        if (source) await openSourceDatabases(lanes[2]!, source, spec, dbClients);
      })(),
      (async () => {
        if (!target) return;
        await guarded(lanes[3]!, CHECK_TYPES.databases, 'the target databases', undefined, () => checkTargetDatabases(target, spec));
        await guarded(lanes[3]!, CHECK_TYPES.privileges, 'the target user', undefined, () =>
          checkTargetPrivileges(target.client, target.info, spec),
        );
      })(),
    ]);
    results.push(...lanes.flat());
    check();
    if (source && target) {
      await guarded(results, CHECK_TYPES.extensions, 'extensions, schema and collations against the target', undefined, async () => {
        await checkAgainstTarget(results, source, target, dbClients, spec, options.signal);
        return [];
      });
    }
    if (source) {
      await guarded(results, CHECK_TYPES.filters, 'the filters', undefined, () => checkFilters(dbClients, spec));
      await sourceReadChecks(results, source, dbClients, spec, check);
    }
    if (source && spec.mode === 'Online') await onlineChecks(results, source, dbClients, spec, options, check);
    if (source && target && spec.mode === 'Online') await footprintRightsChecks(results, target, dbClients, spec, check);
    if (source && spec.pooler !== undefined) {
      check();
      await guarded(results, CHECK_TYPES.pooler, 'the pooler', undefined, () => checkPooler(spec, [...dbClients.keys()]));
    }
    if (target && spec.mode === 'Online' && spec.fallbackWindow !== undefined) {
      check();
      await guarded(results, CHECK_TYPES.serverParameters, 'the target for the fallback window', undefined, () =>
        checkFallbackTarget(target, spec, options.instance),
      );
    }
  } finally {
    await closeAll([source?.client, target?.client, ...dbClients.values()]);
  }
  return results;
}

/** Per-database checks that compare the source with the target. */
async function checkAgainstTarget(
  results: ValidationResult[],
  source: ServerSession,
  target: ServerSession,
  dbClients: ReadonlyMap<string, pg.Client>,
  spec: MigrationSpec,
  signal: AbortSignal | undefined,
): Promise<void> {
  const targetExtensions = await readTargetExtensions(target.client, target.info.major);
  const targetCollations = await readTargetCollations(target.client);
  const targetCompressions = await readTargetCompressions(target.client, target.info.major);
  const superusers = await target.client.query<{ name: string }>(TARGET_SUPERUSER_ROLES_SQL);
  const unsupported = new Map<string, readonly UnsupportedObject[]>();
  const perDatabase = new Map<string, readonly SourceExtension[]>();
  for (const [database, client] of dbClients) {
    const extensions = await readSourceExtensions(client);
    if (target.info.superuser) {
      perDatabase.set(database, extensions);
      continue;
    }
    // An extension that creates an untrusted language is judged with the managed-target checks
    // (a blocker, or left behind with skipUnsupportedObjects), not as an extension to install.
    const found = await readUnsupportedObjects(client);
    unsupported.set(database, found);
    const languages = new Set(found.map((o) => o.extension).filter((name) => name !== undefined));
    perDatabase.set(
      database,
      extensions.filter((e) => !languages.has(e.name)),
    );
  }
  results.push(...checkExtensions(perDatabase, targetExtensions, target.info.superuser));
  const managed = {
    targetIsSuperuser: target.info.superuser,
    targetUser: target.info.user,
    targetSuperusers: new Set(superusers.rows.map((r) => r.name)),
    skipUnsupported: spec.skipUnsupportedObjects,
  };
  if (spec.mode === 'Online') {
    await guarded(results, CHECK_TYPES.replication, 'how the target applies changes', undefined, async () =>
      checkApplyWithoutReplicaRole(dbClients, target.info.user, await replicaRolePermitted(target.client)),
    );
  }
  for (const [database, client] of dbClients) {
    if (signal?.aborted) throw canceledError();
    await guarded(results, CHECK_TYPES.schema, `the schema of ${displayIdent(database)}`, database, () =>
      checkSchema(client, database, source.info.major, { user: target.info.user, superuser: target.info.superuser }),
    );
    await guarded(results, CHECK_TYPES.collations, `the collations of ${displayIdent(database)}`, database, () =>
      checkCollations(client, database, targetCollations),
    );
    await guarded(results, CHECK_TYPES.schema, `the column compression of ${displayIdent(database)}`, database, () =>
      checkCompression(client, database, source.info.major, targetCompressions),
    );
    await guarded(results, CHECK_TYPES.schema, `the tablespaces of ${displayIdent(database)}`, database, () =>
      checkTablespaces(client, database),
    );
    await guarded(results, CHECK_TYPES.schema, `managed-target restrictions in ${displayIdent(database)}`, database, () =>
      checkManagedBlockers(client, database, managed, unsupported.get(database)),
    );
    await guarded(results, CHECK_TYPES.privileges, `row-level security of ${displayIdent(database)} on the target`, database, () =>
      checkTargetRowSecurity(client, target.client, target.info, spec, database),
    );
  }
}

// The Azure resource shape of a migration's status (what `show -o json` prints): states as Azure
// names them, pgferry-only states kept where an Azure name would mislead a script, the ARM-like id,
// validation grouped as Azure groups it, and pgferry's own status whole under properties.pgferry.
import assert from 'node:assert/strict';
import {
  azureDatabaseState,
  azureDbDetails,
  azureSubState,
  migrationOperation,
  nameAvailability,
  toAzureResource,
  UNKNOWN_RESOURCE_GROUP,
  UNKNOWN_SUBSCRIPTION,
} from '../../provider/azure/shape';
import type { DatabaseDetails, MigrationStatus } from '../../provider/engine';

function db(over: Partial<DatabaseDetails> = {}): DatabaseDetails {
  return {
    database: 'adventureworks',
    state: 'InProgress',
    tables: { total: 68, queued: 10, loading: 4, completed: 52, errored: 2 },
    rowsCopied: 1000,
    bytesCopied: 4096,
    inserts: 0,
    updates: 0,
    deletes: 0,
    ...over,
  };
}

function status(over: Partial<MigrationStatus> = {}): MigrationStatus {
  return {
    name: 'onlinemigration',
    instance: 'a1b2c3',
    state: 'InProgress',
    subState: 'MigratingData',
    mode: 'Online',
    option: 'ValidateAndMigrate',
    createdAt: '2024-01-01T00:00:00.000Z',
    startedAt: '2024-01-01T00:00:01.000Z',
    validation: [],
    databases: [db()],
    spec: {
      source: { host: '10.0.0.4', port: 5432, user: 'postgres', sslMode: 'prefer' },
      target: { host: 'azuredb1.postgres.database.azure.com', port: 5432, user: 'pgadmin', sslMode: 'require' },
      databases: ['adventureworks'],
      overwriteDbsInTarget: true,
    },
    ...over,
  };
}

const details = (r: Record<string, any>) => r.properties.currentStatus.currentSubStateDetails;

describe('the Azure shape of a migration status', () => {
  describe('state mapping', stateMappingTests);

  describe('per-database details', databaseDetailsTests);

  describe('the resource', resourceTests);

  it('answers a name check as Azure does: available, taken, or invalid', () => {
    assert.deepEqual(nameAvailability('m1', false), {
      name: 'm1',
      type: 'Microsoft.DBforPostgreSQL/flexibleServers/migrations',
      nameAvailable: true,
      reason: null,
      message: null,
    });
    const taken = nameAvailability('m1', true);
    assert.equal(taken.nameAvailable, false);
    assert.equal(taken.reason, 'AlreadyExists');
    const invalid = nameAvailability('-bad', false, 'must not start with a hyphen');
    assert.equal(invalid.reason, 'Invalid');
    assert.match(String(invalid.message), /-bad/);
  });
});

function stateMappingTests(): void {
  it('keeps the Azure state and substate names pgferry shares with Azure', () => {
    for (const sub of ['PerformingPreRequisiteSteps', 'ValidationInProgress', 'MigratingData', 'WaitingForCutoverTrigger'] as const) {
      assert.equal(azureSubState(sub), sub);
    }
    assert.equal(azureSubState('CompletingMigration'), 'CompletingMigration');
    assert.equal(azureSubState('Completed'), 'Completed');
  });

  it('keeps WaitingForApplyFix: no Azure substate means it, and WaitingForCutoverTrigger would invite a cutover', () => {
    assert.equal(azureSubState('WaitingForApplyFix'), 'WaitingForApplyFix');
  });

  it('shows a queued database InProgress and keeps ApplyStopped, which Azure would call neither', () => {
    assert.equal(azureDatabaseState('Queued'), 'InProgress');
    assert.equal(azureDatabaseState('ApplyStopped'), 'ApplyStopped');
    for (const s of ['InProgress', 'WaitingForCutoverTrigger', 'Succeeded', 'Failed', 'Canceled'] as const) {
      assert.equal(azureDatabaseState(s), s);
    }
  });

  it('names what a database does now: queued, full load, CDC, cutover, a stopped apply', () => {
    assert.equal(migrationOperation(db({ state: 'Queued' }), 'Online'), 'Queued');
    assert.equal(migrationOperation(db(), 'Online'), 'FullLoad');
    const copied = { total: 2, queued: 0, loading: 0, completed: 2, errored: 0 };
    assert.equal(migrationOperation(db({ tables: copied }), 'Online'), 'CDC');
    assert.equal(migrationOperation(db({ state: 'WaitingForCutoverTrigger' }), 'Online'), 'CDC');
    assert.equal(migrationOperation(db({ cutoverStep: 'drained' }), 'Online'), 'Cutover');
    assert.equal(migrationOperation(db({ state: 'ApplyStopped' }), 'Online'), 'ApplyStopped');
    assert.equal(migrationOperation(db({ state: 'Succeeded' }), 'Offline'), 'Succeeded');
  });
}

function databaseDetailsTests(): void {
  it('carries the table counters, CDC counters and latency under Azure names', () => {
    const d = azureDbDetails(db({ inserts: 5, updates: 2, deletes: 1, latencySeconds: 0.5, startedAt: '2024-01-01T00:00:02Z' }), 'Online');
    assert.deepEqual(d, {
      databaseName: 'adventureworks',
      migrationState: 'InProgress',
      migrationOperation: 'FullLoad',
      startedOn: '2024-01-01T00:00:02Z',
      endedOn: null,
      fullLoadQueuedTables: 10,
      fullLoadErroredTables: 2,
      fullLoadLoadingTables: 4,
      fullLoadCompletedTables: 52,
      cdcUpdateCounter: 2,
      cdcDeleteCounter: 1,
      cdcInsertCounter: 5,
      appliedChanges: 8,
      incomingChanges: null,
      latency: 0.5,
      message: null,
    });
  });

  it('leaves the CDC figures null for an offline migration', () => {
    const d = azureDbDetails(db(), 'Offline');
    assert.equal(d.cdcInsertCounter, null);
    assert.equal(d.latency, null);
  });

  it('says why a stopped stream stopped, and its fix, in message', () => {
    const applyStop = {
      since: 't',
      lastAttemptAt: 't',
      attempts: 3,
      retryRequestsSeen: 0,
      code: 'CDC_APPLY',
      error: 'permission denied for table t',
      fix: 'GRANT INSERT ON t TO pgadmin',
      appliedLsn: '0/1',
    };
    const d = azureDbDetails(db({ state: 'ApplyStopped', applyStop }), 'Online');
    assert.equal(d.migrationState, 'ApplyStopped');
    assert.equal(d.message, 'permission denied for table t (fix: GRANT INSERT ON t TO pgadmin)');
  });
}

function resourceTests(): void {
  it('builds the ARM-like id from the subscription, resource group and server given', () => {
    const r = toAzureResource(status(), {
      subscription: '11111111-1111-1111-1111-111111111111',
      resourceGroup: 'rg',
      server: 'azuredb1',
    });
    assert.equal(
      r.id,
      '/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/azuredb1/migrations/onlinemigration',
    );
    assert.equal(r.name, 'onlinemigration');
    assert.equal(r.type, 'Microsoft.DBforPostgreSQL/flexibleServers/migrations');
  });

  it('falls back to what create recorded, then to placeholders', () => {
    const recorded = status({
      azureContext: { subscription: 'sub-1', resourceGroup: 'rg-1', server: 'srv-1', sourceType: 'OnPremises' },
    });
    assert.match(String(toAzureResource(recorded).id), /^\/subscriptions\/sub-1\/resourceGroups\/rg-1\/.*\/flexibleServers\/srv-1\//);
    assert.match(String(toAzureResource(recorded, { resourceGroup: 'other' }).id), /resourceGroups\/other\//);
    const bare = String(toAzureResource(status(), {}, 'azuredb1').id);
    assert.ok(bare.startsWith(`/subscriptions/${UNKNOWN_SUBSCRIPTION}/resourceGroups/${UNKNOWN_RESOURCE_GROUP}/`), bare);
    assert.match(bare, /flexibleServers\/azuredb1\/migrations\/onlinemigration$/);
    assert.equal((toAzureResource(recorded).properties as Record<string, unknown>).sourceType, 'OnPremises');
  });

  it('names the databases, flags and servers as Azure names them', () => {
    const p = toAzureResource(status({ cutoverRequested: true, azureContext: { migrateRoles: true } })).properties as Record<
      string,
      unknown
    >;
    assert.deepEqual(p.dbsToMigrate, ['adventureworks']);
    assert.equal(p.overwriteDbsInTarget, 'True');
    assert.equal(p.migrateRoles, 'True');
    assert.equal(p.migrationMode, 'Online');
    assert.equal(p.migrationOption, 'ValidateAndMigrate');
    assert.equal(p.sslMode, 'Prefer');
    assert.equal(p.sourceDbServerResourceId, '10.0.0.4:5432@postgres');
    assert.equal(p.targetDbServerFullyQualifiedDomainName, 'azuredb1.postgres.database.azure.com');
    assert.equal(p.triggerCutover, 'True');
    assert.deepEqual(p.dbsToTriggerCutoverOn, ['adventureworks']);
    assert.equal(p.cancel, 'False');
    assert.equal(p.startedOn, '2024-01-01T00:00:01.000Z');
    assert.equal(p.endedOn, null);
    assert.equal(p.migrationId, 'a1b2c3');
  });

  it("keeps pgferry's own status whole under properties.pgferry", () => {
    const s = status({ runner: { host: 'w', pid: 1, heartbeatAt: 't', alive: true } });
    const mine = (toAzureResource(s).properties as Record<string, any>).pgferry;
    assert.equal(mine.name, 'onlinemigration');
    assert.equal(mine.subState, 'MigratingData');
    assert.equal(mine.databases[0].bytesCopied, 4096);
    assert.equal(mine.runner.pid, 1);
  });

  it('puts the message of a stopped or failed migration in currentStatus.error', () => {
    const stopped = status({ state: 'WaitingForUserAction', subState: 'WaitingForApplyFix', message: 'a stream stopped' });
    const r = toAzureResource(stopped);
    assert.equal((r.properties as Record<string, any>).currentStatus.error, 'a stream stopped');
    assert.equal(details(r).currentSubState, 'WaitingForApplyFix');
    assert.equal((toAzureResource(status()).properties as Record<string, any>).currentStatus.error, '');
  });

  it('groups validation results by check type, server level and per database, each with its worst state', () => {
    const validation = [
      { code: 'A', type: 'AuthenticationAndConnectivityValidation', status: 'Succeeded' as const, message: 'source reachable' },
      { code: 'B', type: 'AuthenticationAndConnectivityValidation', status: 'Warning' as const, message: 'slow' },
      {
        code: 'C',
        type: 'ExtensionsValidation',
        status: 'Failed' as const,
        database: 'adventureworks',
        message: 'hstore',
        fix: 'allow it',
      },
    ];
    const v = details(toAzureResource(status({ validation }))).validationDetails;
    assert.equal(v.status, 'Failed');
    assert.deepEqual(v.serverLevelValidationDetails, [
      {
        type: 'AuthenticationAndConnectivityValidation',
        state: 'Warning',
        messages: [
          { state: 'Succeeded', message: 'source reachable' },
          { state: 'Warning', message: 'slow' },
        ],
      },
    ]);
    assert.equal(v.dbLevelValidationDetails[0].databaseName, 'adventureworks');
    assert.deepEqual(v.dbLevelValidationDetails[0].summary, [
      { type: 'ExtensionsValidation', state: 'Failed', messages: [{ state: 'Failed', message: 'hstore' }] },
    ]);
    assert.equal(details(toAzureResource(status())).validationDetails, null);
  });
}

describe("pgferry's extra properties", () => {
  it('carry recommendedServerParameters from the validation results, in the lab server.parameters shape', () => {
    const parameter = (name: string, sourceValue: string, azureAllows: boolean) => ({
      code: 'SERVER_PARAMETER_DIFFERS',
      type: 'ServerParametersValidation',
      status: 'Warning' as const,
      message: name,
      parameter: { name, sourceValue, targetValue: '0', differs: true, azureAllows, needsRestart: false },
    });
    const shaped = toAzureResource(
      status({ validation: [parameter('work_mem', '12288', true), parameter('commit_delay', '10', false)] }),
      {},
    );
    const properties = shaped.properties;
    assert.deepEqual(properties.pgferry.recommendedServerParameters, { work_mem: '12288' });
  });
});

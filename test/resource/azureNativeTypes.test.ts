// The compiler's view of the move from azure-native: azure-native's documented TypeScript example
// of dbforpostgresql.Migration (Azure's "Create a migration with other source type for validating
// and migrating", as azure-native's API docs render it), with only the import and the class
// changed, type-checks against the public API, reading every output azure-native 3.x declares the
// way a program reads them; PgMigration.get takes resource options as every Pulumi resource's
// static get does, and getMigration takes azure-native's arguments. The type-level part holds too:
// every output name of azure-native's Migration class is one of PgMigration's, and each type is
// azure-native's but for the ones docs/pulumi.md names.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot, typeCheckPrograms } from './support/programs';

/** azure-native's example as its docs write it; `NEW` replaces `new azure_native.dbforpostgresql.Migration`. */
const EXAMPLE = `
const migration = NEW("migration", {
    dbsToMigrate: [
        "exampledatabase1",
        "exampledatabase2",
        "exampledatabase3",
        "exampledatabase4",
    ],
    location: "eastus",
    migrationMode: azure_native.dbforpostgresql.MigrationMode.Offline,
    migrationName: "examplemigration",
    migrationOption: azure_native.dbforpostgresql.MigrationOption.ValidateAndMigrate,
    overwriteDbsInTarget: azure_native.dbforpostgresql.OverwriteDatabasesOnTargetServer.True,
    resourceGroupName: "exampleresourcegroup",
    secretParameters: {
        adminCredentials: {
            sourceServerPassword: "examplesourcepassword",
            targetServerPassword: "exampletargetpassword",
        },
    },
    serverName: "exampleserver",
    sourceDbServerResourceId: "examplesource:5432@exampleuser",
    sourceType: azure_native.dbforpostgresql.SourceType.OnPremises,
    sslMode: azure_native.dbforpostgresql.SslMode.Prefer,
});
`;

/** Output reads as programs write them: every output azure-native's Migration declares. */
const READS = `
export const id = migration.id;
export const apiVersion = migration.azureApiVersion;
export const state = migration.currentStatus.apply((s) => s.state);
export const subState = migration.currentStatus.apply((s) => s.currentSubStateDetails?.currentSubState);
export const cancelAsked = migration.cancel.apply((c) => c === "True");
export const cutoverAsked = migration.triggerCutover.apply((c) => c === "True");
export const overwrite = migration.overwriteDbsInTarget.apply((o) => o === "True");
export const roles = migration.migrateRoles;
export const setup = migration.setupLogicalReplicationOnSourceDbIfNeeded;
export const start = migration.startDataMigration;
export const dbs = migration.dbsToMigrate.apply((d) => (d ?? []).join(","));
export const cutoverDbs = migration.dbsToTriggerCutoverOn;
export const cancelDbs = migration.dbsToCancelMigrationOn;
export const location = migration.location;
export const migrationId = migration.migrationId;
export const runtime = migration.migrationInstanceResourceId;
export const mode = migration.migrationMode.apply((m) => m === "Online");
export const option = migration.migrationOption;
export const windowEnd = migration.migrationWindowEndTimeInUtc;
export const windowStart = migration.migrationWindowStartTimeInUtc;
export const name = migration.name;
export const sourceFqdn = migration.sourceDbServerFullyQualifiedDomainName;
export const sourceSku = migration.sourceDbServerMetadata.apply((m) => m.sku?.name ?? m.sku?.tier);
export const sourceVersion = migration.sourceDbServerMetadata.apply((m) => m.version);
export const sourceId = migration.sourceDbServerResourceId;
export const sourceType = migration.sourceType;
export const sslMode = migration.sslMode;
export const createdAt = migration.systemData.apply((d) => d.createdAt ?? d.createdBy ?? d.lastModifiedAt);
export const tags = migration.tags;
export const targetFqdn = migration.targetDbServerFullyQualifiedDomainName;
export const targetStorage = migration.targetDbServerMetadata.apply((m) => (m.storageMb ?? 0) + 1);
export const targetLocation = migration.targetDbServerMetadata.apply((m) => m.location);
export const targetId = migration.targetDbServerResourceId;
export const type = migration.type;
`;

/** Read by id and by azure-native's invoke, as programs write them. */
const LOOKUPS = `
export const again = GET("again", migration.id, { dependsOn: [migration] }).currentStatus;
export const looked = GETMIGRATION({
    migrationName: "examplemigration",
    resourceGroupName: "exampleresourcegroup",
    serverName: "exampleserver",
}).then((m) => [m.currentStatus.state, m.migrationMode, m.id, m.sourceDbServerMetadata.sku?.name, m.systemData.createdAt]);
export const lookedOutput = GETMIGRATIONOUTPUT({
    migrationName: "examplemigration",
    resourceGroupName: "exampleresourcegroup",
    serverName: migration.name,
}).apply((m) => m.triggerCutover === "True");
`;

const AZURE_NATIVE = [
  'import * as azure_native from "@pulumi/azure-native";',
  EXAMPLE.replace('NEW(', 'new azure_native.dbforpostgresql.Migration('),
  READS,
  LOOKUPS.replace('GET(', 'azure_native.dbforpostgresql.Migration.get(')
    .replace('GETMIGRATION(', 'azure_native.dbforpostgresql.getMigration(')
    .replace('GETMIGRATIONOUTPUT(', 'azure_native.dbforpostgresql.getMigrationOutput('),
].join('\n');

const PGFERRY = [
  'import * as azure_native from "@pulumi/azure-native";',
  'import { PgMigration, getMigration, getMigrationOutput } from "pgferry";',
  EXAMPLE.replace('NEW(', 'new PgMigration('),
  READS,
  LOOKUPS.replace('GET(', 'PgMigration.get(')
    .replace('GETMIGRATION(', 'getMigration(')
    .replace('GETMIGRATIONOUTPUT(', 'getMigrationOutput('),
].join('\n');

/**
 * Type-level: every output name of azure-native's Migration is PgMigration's, and PgMigration's
 * output type is assignable to azure-native's but for the names listed (docs/pulumi.md says why).
 */
const TYPES = `
import type { Migration } from "@pulumi/azure-native/dbforpostgresql/migration";
import type { GetMigrationArgs, GetMigrationResult } from "@pulumi/azure-native/dbforpostgresql/getMigration";
import type { CustomResourceOptions } from "@pulumi/pulumi";
import { PgMigration, getMigration, type PgMigrationGetResult } from "pgferry";

type Outputs<T> = { [K in keyof T as T[K] extends (...args: never[]) => unknown ? never : K]: T[K] };
type Missing = Exclude<keyof Outputs<Migration>, keyof PgMigration>;
export const noneMissing: [Missing] extends [never] ? true : Missing = true;

/**
 * Azure's records pgferry does not have (optional where azure-native's type says always there), and
 * currentStatus's empty fields, null as ARM's JSON and \`pgferry show -o json\` print them, and
 * migrationId, which a migration registered before pgferry drew them has not.
 */
type Differs = "location" | "sourceDbServerMetadata" | "targetDbServerMetadata" | "currentStatus" | "migrationId";
type NotAssignable = { [K in Exclude<keyof Outputs<Migration>, Differs>]: PgMigration[K] extends Migration[K] ? never : K }[Exclude<keyof Outputs<Migration>, Differs>];
export const allAssignable: [NotAssignable] extends [never] ? true : NotAssignable = true;

type ResultMissing = Exclude<keyof GetMigrationResult, keyof PgMigrationGetResult>;
export const resultComplete: [ResultMissing] extends [never] ? true : ResultMissing = true;
type ResultNotAssignable = { [K in Exclude<keyof GetMigrationResult, Differs>]: PgMigrationGetResult[K] extends GetMigrationResult[K] ? never : K }[Exclude<keyof GetMigrationResult, Differs>];
export const resultAssignable: [ResultNotAssignable] extends [never] ? true : ResultNotAssignable = true;
export const sameArgs: (args: GetMigrationArgs) => Promise<PgMigrationGetResult> = getMigration;
export const getWithOptions: (name: string, id: string, opts?: CustomResourceOptions) => PgMigration = PgMigration.get;
`;

describe("azure-native's Migration program with only the class changed: the compiler's view", function () {
  this.timeout(300_000);
  let dir: string;
  const errors = new Map<string, string[]>();
  const PROGRAMS = {
    azureNative: AZURE_NATIVE,
    pgferry: PGFERRY,
    types: TYPES,
    negative: `${PGFERRY}\nexport const nothing = migration.noSuchOutput;\n`,
  };
  // one compiler run for all: azure-native's declarations are large
  before(() => {
    dir = mkdtempSync(path.join(repoRoot(), 'dist', 'typecheck-'));
    const files = Object.entries(PROGRAMS).map(([name, text]) => {
      const file = path.join(dir, `${name}.ts`);
      writeFileSync(file, text);
      errors.set(name, []);
      return file;
    });
    for (const error of typeCheckPrograms(files)) errors.get(path.basename(error.split(':')[0]!, '.ts'))!.push(error);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('the program as azure-native writes it type-checks (the control: these reads are azure-native API)', () => {
    assert.deepEqual(errors.get('azureNative'), []);
  });

  it('the same program with PgMigration, getMigration and getMigrationOutput type-checks', () => {
    assert.deepEqual(errors.get('pgferry'), []);
  });

  it("every azure-native output and getMigration result is PgMigration's, each assignable to azure-native's but those docs/pulumi.md names; get takes resource options", () => {
    assert.deepEqual(errors.get('types'), []);
  });

  it('a read of an output PgMigration does not have fails to compile (the check can fail)', () => {
    const found = errors.get('negative')!;
    assert.equal(found.length, 1, found.join('\n'));
    assert.match(found[0]!, /noSuchOutput/);
  });
});

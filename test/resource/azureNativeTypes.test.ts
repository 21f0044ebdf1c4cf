// The compiler's view of the move from azure-native: azure-native's documented TypeScript example
// of dbforpostgresql.Migration (Azure's "Create a migration with other source type for validating
// and migrating", as azure-native's API docs render it), with only the import and the class
// changed, type-checks against the public API, reading every output azure-native 3.x declares the
// way a program reads them; PgMigration.get takes resource options as every Pulumi resource's
// static get does, and getMigration takes azure-native's arguments. The type-level part holds too:
// every output name of azure-native's Migration class is one of PgMigration's, and each type is
// azure-native's but for the ones docs/pulumi.md names. The same for azure-native 2.x: a 2.x program
// (targetDbServerName, subscriptionId) reading each of 2.92.3's 24 outputs, typed as 2.x types them,
// compiles with PgMigration, checked against 2.92.3's published declarations, and so does 2.x's
// getMigration ({ targetDbServerName, subscriptionId }, which 3.x also took before API 2025-08-01)
// beside 3.x's ({ serverName }).
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
 * azure-native 2.92.3's Migration (API 2023-03-01-preview), its inputs and its 24 outputs with their
 * types, and its getMigration and getMigrationOutput, as the package's published declarations write
 * them (dbforpostgresql/migration.d.ts, dbforpostgresql/getMigration.d.ts and the dbforpostgresql
 * namespaces of types/output.d.ts and types/input.d.ts), comments left out. 3.x's getMigration.d.ts
 * took the same arguments up to API 2024-08-01 (3.12.0's, as unpkg serves it). Written
 * here rather than installed: the 2.x package is a large download for one class, and the project
 * depends on 3.x.
 */
/**
 * 2.x's optional inputs of type string (some `string | enums.X`, whose values are strings: the same
 * type), listed once rather than each written out.
 */
const OPTIONAL_TEXT_INPUTS_2 = (
  'cancel location migrationMode migrationName migrationWindowEndTimeInUtc migrationWindowStartTimeInUtc ' +
  'overwriteDbsInTarget setupLogicalReplicationOnSourceDbIfNeeded sourceDbServerFullyQualifiedDomainName ' +
  'sourceDbServerResourceId startDataMigration subscriptionId targetDbServerFullyQualifiedDomainName triggerCutover'
).split(' ');

const AZURE_NATIVE_2 = `
import * as pulumi from "@pulumi/pulumi";
export interface MigrationSubStateDetailsResponse { currentSubState: string; }
export interface MigrationStatusResponse { currentSubStateDetails: MigrationSubStateDetailsResponse; error: string; state: string; }
export interface ServerSkuResponse { name: string; tier: string; }
export interface DbServerMetadataResponse { location: string; sku?: ServerSkuResponse; storageMb?: number; version?: string; }
export interface SystemDataResponse {
    createdAt?: string; createdBy?: string; createdByType?: string;
    lastModifiedAt?: string; lastModifiedBy?: string; lastModifiedByType?: string;
}
export interface AdminCredentialsArgs { sourceServerPassword: pulumi.Input<string>; targetServerPassword: pulumi.Input<string>; }
export interface MigrationSecretParametersArgs {
    adminCredentials: pulumi.Input<AdminCredentialsArgs>;
    sourceServerUsername?: pulumi.Input<string>;
    targetServerUsername?: pulumi.Input<string>;
}
export declare class Migration extends pulumi.CustomResource {
    static get(name: string, id: pulumi.Input<pulumi.ID>, opts?: pulumi.CustomResourceOptions): Migration;
    readonly cancel: pulumi.Output<string | undefined>;
    readonly currentStatus: pulumi.Output<MigrationStatusResponse>;
    readonly dbsToCancelMigrationOn: pulumi.Output<string[] | undefined>;
    readonly dbsToMigrate: pulumi.Output<string[] | undefined>;
    readonly dbsToTriggerCutoverOn: pulumi.Output<string[] | undefined>;
    readonly location: pulumi.Output<string>;
    readonly migrationId: pulumi.Output<string>;
    readonly migrationMode: pulumi.Output<string | undefined>;
    readonly migrationWindowEndTimeInUtc: pulumi.Output<string | undefined>;
    readonly migrationWindowStartTimeInUtc: pulumi.Output<string | undefined>;
    readonly name: pulumi.Output<string>;
    readonly overwriteDbsInTarget: pulumi.Output<string | undefined>;
    readonly setupLogicalReplicationOnSourceDbIfNeeded: pulumi.Output<string | undefined>;
    readonly sourceDbServerFullyQualifiedDomainName: pulumi.Output<string | undefined>;
    readonly sourceDbServerMetadata: pulumi.Output<DbServerMetadataResponse>;
    readonly sourceDbServerResourceId: pulumi.Output<string | undefined>;
    readonly startDataMigration: pulumi.Output<string | undefined>;
    readonly systemData: pulumi.Output<SystemDataResponse>;
    readonly tags: pulumi.Output<{ [key: string]: string; } | undefined>;
    readonly targetDbServerFullyQualifiedDomainName: pulumi.Output<string | undefined>;
    readonly targetDbServerMetadata: pulumi.Output<DbServerMetadataResponse>;
    readonly targetDbServerResourceId: pulumi.Output<string>;
    readonly triggerCutover: pulumi.Output<string | undefined>;
    readonly type: pulumi.Output<string>;
    constructor(name: string, args: MigrationArgs, opts?: pulumi.CustomResourceOptions);
}
export interface MigrationArgs {
    dbsToCancelMigrationOn?: pulumi.Input<pulumi.Input<string>[]>;
    dbsToMigrate?: pulumi.Input<pulumi.Input<string>[]>;
    dbsToTriggerCutoverOn?: pulumi.Input<pulumi.Input<string>[]>;
    resourceGroupName: pulumi.Input<string>;
    secretParameters?: pulumi.Input<MigrationSecretParametersArgs>;
    tags?: pulumi.Input<{ [key: string]: pulumi.Input<string>; }>;
    targetDbServerName: pulumi.Input<string>;
${OPTIONAL_TEXT_INPUTS_2.map((name) => `    ${name}?: pulumi.Input<string>;`).join('\n')}
}
export declare function getMigration(args: GetMigrationArgs, opts?: pulumi.InvokeOptions): Promise<GetMigrationResult>;
export interface GetMigrationArgs { migrationName: string; resourceGroupName: string; subscriptionId?: string; targetDbServerName: string; }
export interface GetMigrationResult {
    readonly cancel?: string;
    readonly currentStatus: MigrationStatusResponse;
    readonly dbsToCancelMigrationOn?: string[];
    readonly dbsToMigrate?: string[];
    readonly dbsToTriggerCutoverOn?: string[];
    readonly id: string;
    readonly location: string;
    readonly migrationId: string;
    readonly migrationMode?: string;
    readonly migrationWindowEndTimeInUtc?: string;
    readonly migrationWindowStartTimeInUtc?: string;
    readonly name: string;
    readonly overwriteDbsInTarget?: string;
    readonly setupLogicalReplicationOnSourceDbIfNeeded?: string;
    readonly sourceDbServerFullyQualifiedDomainName?: string;
    readonly sourceDbServerMetadata: DbServerMetadataResponse;
    readonly sourceDbServerResourceId?: string;
    readonly startDataMigration?: string;
    readonly systemData: SystemDataResponse;
    readonly tags?: { [key: string]: string; };
    readonly targetDbServerFullyQualifiedDomainName?: string;
    readonly targetDbServerMetadata: DbServerMetadataResponse;
    readonly targetDbServerResourceId: string;
    readonly triggerCutover?: string;
    readonly type: string;
}
export declare function getMigrationOutput(args: GetMigrationOutputArgs, opts?: pulumi.InvokeOutputOptions): pulumi.Output<GetMigrationResult>;
export interface GetMigrationOutputArgs {
    migrationName: pulumi.Input<string>;
    resourceGroupName: pulumi.Input<string>;
    subscriptionId?: pulumi.Input<string>;
    targetDbServerName: pulumi.Input<string>;
}
`;

/** A 2.x program: its inputs (targetDbServerName, subscriptionId) and a read of each of the 24 outputs as 2.x types them. */
const EXAMPLE_2 = `
const migration = NEW("migration", {
    dbsToMigrate: ["exampledatabase1", "exampledatabase2"],
    location: "westus",
    migrationMode: "Offline",
    migrationName: "examplemigration",
    overwriteDbsInTarget: "True",
    resourceGroupName: "exampleresourcegroup",
    secretParameters: {
        adminCredentials: { sourceServerPassword: "examplesourcepassword", targetServerPassword: "exampletargetpassword" },
    },
    sourceDbServerResourceId: "examplesource:5432@exampleuser",
    subscriptionId: "ffffffff-ffff-ffff-ffff-ffffffffffff",
    targetDbServerName: "exampletarget",
});
export const cancel: pulumi.Output<string | undefined> = migration.cancel;
export const state: pulumi.Output<string> = migration.currentStatus.apply((s) => s.state + s.error);
export const subState: pulumi.Output<string> = migration.currentStatus.apply((s) => s.currentSubStateDetails.currentSubState);
export const cancelDbs: pulumi.Output<string[] | undefined> = migration.dbsToCancelMigrationOn;
export const dbs: pulumi.Output<string[] | undefined> = migration.dbsToMigrate;
export const cutoverDbs: pulumi.Output<string[] | undefined> = migration.dbsToTriggerCutoverOn;
export const location = migration.location;
export const migrationId = migration.migrationId;
export const mode: pulumi.Output<string | undefined> = migration.migrationMode;
export const windowEnd: pulumi.Output<string | undefined> = migration.migrationWindowEndTimeInUtc;
export const windowStart: pulumi.Output<string | undefined> = migration.migrationWindowStartTimeInUtc;
export const name: pulumi.Output<string> = migration.name;
export const overwrite: pulumi.Output<string | undefined> = migration.overwriteDbsInTarget;
export const setup: pulumi.Output<string | undefined> = migration.setupLogicalReplicationOnSourceDbIfNeeded;
export const sourceFqdn: pulumi.Output<string | undefined> = migration.sourceDbServerFullyQualifiedDomainName;
export const sourceSku = migration.sourceDbServerMetadata.apply((m) => m.sku?.name ?? m.sku?.tier ?? m.version);
export const sourceId: pulumi.Output<string | undefined> = migration.sourceDbServerResourceId;
export const start: pulumi.Output<string | undefined> = migration.startDataMigration;
export const createdAt = migration.systemData.apply((d) => d.createdAt ?? d.createdBy ?? d.lastModifiedByType);
export const tags: pulumi.Output<{ [key: string]: string } | undefined> = migration.tags;
export const targetFqdn: pulumi.Output<string | undefined> = migration.targetDbServerFullyQualifiedDomainName;
export const targetStorage = migration.targetDbServerMetadata.apply((m) => (m.storageMb ?? 0) + 1);
export const targetId: pulumi.Output<string> = migration.targetDbServerResourceId;
export const cutoverAsked: pulumi.Output<boolean> = migration.triggerCutover.apply((c) => c === "True");
export const type: pulumi.Output<string> = migration.type;
export const again = GET("again", migration.id, { dependsOn: [migration] }).currentStatus;
export const looked = GETMIGRATION({
    migrationName: "examplemigration",
    resourceGroupName: "exampleresourcegroup",
    subscriptionId: "ffffffff-ffff-ffff-ffff-ffffffffffff",
    targetDbServerName: "exampletarget",
}).then((m) => [m.currentStatus.state, m.currentStatus.currentSubStateDetails.currentSubState, m.migrationMode, m.id, m.targetDbServerResourceId]);
export const lookedMetadata = GETMIGRATION({
    migrationName: "examplemigration",
    resourceGroupName: "exampleresourcegroup",
    targetDbServerName: "exampletarget",
}).then((m) => [m.sourceDbServerMetadata.sku?.name, m.targetDbServerMetadata.storageMb, m.systemData.createdAt, m.tags?.env]);
export const lookedOutput: pulumi.Output<boolean> = GETMIGRATIONOUTPUT({
    migrationName: "examplemigration",
    resourceGroupName: "exampleresourcegroup",
    subscriptionId: pulumi.output("ffffffff-ffff-ffff-ffff-ffffffffffff"),
    targetDbServerName: migration.name,
}).apply((m) => m.triggerCutover === "True");
`;

/** EXAMPLE_2 with its class, get and invokes spelled by `prefix` (`v2.` or none). */
const example2 = (resource: string, prefix: string) =>
  EXAMPLE_2.replace('NEW(', `new ${resource}(`)
    .replace('GET(', `${resource}.get(`)
    .replaceAll('GETMIGRATION(', `${prefix}getMigration(`)
    .replace('GETMIGRATIONOUTPUT(', `${prefix}getMigrationOutput(`);

const AZURE_NATIVE_2_PROGRAM = [
  'import * as pulumi from "@pulumi/pulumi";',
  'import * as v2 from "./azureNative2";',
  example2('v2.Migration', 'v2.'),
].join('\n');

const PGFERRY_2 = [
  'import * as pulumi from "@pulumi/pulumi";',
  'import { PgMigration, getMigration, getMigrationOutput } from "pgferry";',
  example2('PgMigration', ''),
].join('\n');

/**
 * Type-level, against 2.x: its 24 output names are PgMigration's, and each of PgMigration's types is
 * assignable to 2.x's but for Azure's records pgferry does not have (optional where 2.x says always
 * there: location, both servers' metadata, migrationId).
 */
const TYPES_2 = `
import type { CustomResource, Output } from "@pulumi/pulumi";
import type { GetMigrationArgs, GetMigrationOutputArgs, GetMigrationResult, Migration } from "./azureNative2";
import { PgMigration, getMigration, getMigrationOutput, type PgMigrationGetResult } from "pgferry";

type Outputs<T> = { [K in keyof T as T[K] extends (...args: never[]) => unknown ? never : K]: T[K] };
type Names = Exclude<keyof Outputs<Migration>, keyof CustomResource>;
export const twentyFour: [Names] extends [never] ? never : { [K in Names]: true } = {
    cancel: true, currentStatus: true, dbsToCancelMigrationOn: true, dbsToMigrate: true, dbsToTriggerCutoverOn: true,
    location: true, migrationId: true, migrationMode: true, migrationWindowEndTimeInUtc: true,
    migrationWindowStartTimeInUtc: true, name: true, overwriteDbsInTarget: true,
    setupLogicalReplicationOnSourceDbIfNeeded: true, sourceDbServerFullyQualifiedDomainName: true,
    sourceDbServerMetadata: true, sourceDbServerResourceId: true, startDataMigration: true, systemData: true,
    tags: true, targetDbServerFullyQualifiedDomainName: true, targetDbServerMetadata: true,
    targetDbServerResourceId: true, triggerCutover: true, type: true,
};
type Missing = Exclude<keyof Outputs<Migration>, keyof PgMigration>;
export const noneMissing: [Missing] extends [never] ? true : Missing = true;
type Differs = "location" | "sourceDbServerMetadata" | "targetDbServerMetadata" | "migrationId";
type Compared = Exclude<keyof Outputs<Migration>, Differs>;
type NotAssignable = { [K in Compared]: PgMigration[K] extends Migration[K] ? never : K }[Compared];
export const allAssignable: [NotAssignable] extends [never] ? true : NotAssignable = true;

type ResultMissing = Exclude<keyof GetMigrationResult, keyof PgMigrationGetResult>;
export const resultComplete: [ResultMissing] extends [never] ? true : ResultMissing = true;
type ResultCompared = Exclude<keyof GetMigrationResult, Differs>;
type ResultNotAssignable = { [K in ResultCompared]: PgMigrationGetResult[K] extends GetMigrationResult[K] ? never : K }[ResultCompared];
export const resultAssignable: [ResultNotAssignable] extends [never] ? true : ResultNotAssignable = true;
export const sameArgs: (args: GetMigrationArgs) => Promise<PgMigrationGetResult> = getMigration;
export const sameOutputArgs: (args: GetMigrationOutputArgs) => Output<PgMigrationGetResult> = getMigrationOutput;
`;

/**
 * Type-level: every output name of azure-native's Migration is PgMigration's, and PgMigration's
 * output type is assignable to azure-native's but for the names listed (docs/pulumi.md says why).
 */
const TYPES = `
import type { Migration } from "@pulumi/azure-native/dbforpostgresql/migration";
import type { GetMigrationArgs, GetMigrationOutputArgs, GetMigrationResult } from "@pulumi/azure-native/dbforpostgresql/getMigration";
import type { CustomResourceOptions, Output } from "@pulumi/pulumi";
import { PgMigration, getMigration, getMigrationOutput, type PgMigrationGetResult } from "pgferry";

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
export const sameOutputArgs: (args: GetMigrationOutputArgs) => Output<PgMigrationGetResult> = getMigrationOutput;
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
    azureNative2: AZURE_NATIVE_2,
    azureNative2Program: AZURE_NATIVE_2_PROGRAM,
    pgferry2: PGFERRY_2,
    types2: TYPES_2,
    negative: `${PGFERRY}\nexport const nothing = migration.noSuchOutput;\n`,
    negativeArgs: `import { getMigration } from "pgferry";\nexport const unnamed = getMigration({ migrationName: "m", resourceGroupName: "g" });\n`,
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

  it('the 2.x program type-checks against the declarations of azure-native 2.92.3 (the control: its reads are 2.x API)', () => {
    assert.deepEqual([...errors.get('azureNative2')!, ...errors.get('azureNative2Program')!], []);
  });

  it("the same 2.x program with PgMigration type-checks: targetDbServerName, subscriptionId, every one of 2.x's 24 output reads, typed as 2.x types them, and 2.x's getMigration and getMigrationOutput", () => {
    assert.deepEqual(errors.get('pgferry2'), []);
  });

  it("azure-native 2.x's 24 outputs and getMigration's result are PgMigration's, each assignable to 2.x's type but Azure's records docs/pulumi.md names; getMigration takes 2.x's arguments", () => {
    assert.deepEqual(errors.get('types2'), []);
  });

  it('a read of an output PgMigration does not have fails to compile (the check can fail)', () => {
    const found = errors.get('negative')!;
    assert.equal(found.length, 1, found.join('\n'));
    assert.match(found[0]!, /noSuchOutput/);
  });

  it('getMigration without serverName or targetDbServerName fails to compile', () => {
    const found = errors.get('negativeArgs')!;
    assert.equal(found.length, 1, found.join('\n'));
    assert.match(found[0]!, /serverName|targetDbServerName/);
  });
});

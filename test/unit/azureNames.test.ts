// Azure's names, spellings and operations (provider/azure/names.ts) run through every reader: each
// alias of the name map and each spelling of its values, once as the CLI reads an Azure body (the
// ARM key, in any case) and once as PgMigration's check reads azure-native's input, both reaching
// the same pgferry value (and the mode and option as az's flags); every azure-native name printed
// by the ARM shape; every operation key read as the same operation by both. Pure: no server.
import assert from 'node:assert/strict';
import {
  AZURE_NAMES,
  AZURE_OPERATION_KEYS,
  azureChoices,
  azureSpelling,
  fromAzureBoolean,
  fromAzureSpelling,
  operationOf,
  type AzureName,
} from '../../provider/azure/names';
import { toAzureResource } from '../../provider/azure/shape';
import { parseCli } from '../../provider/cli/input/parse';
import { specFromProperties, updateOperationOf } from '../../provider/cli/input/body';
import { PgferryError, type MigrationStatus } from '../../provider/engine';
import { check } from '../../provider/resource/operations';
import { toMigrationSpec } from '../../provider/resource/inputSchema';

/** Each enum value's spellings: Azure's own, az's lower case, capitals, libpq's with a dash. */
const SPELLINGS = {
  sslMode: {
    disable: ['Disable', 'disable', 'DISABLE'],
    prefer: ['Prefer', 'prefer', 'PREFER'],
    require: ['Require', 'require', 'REQUIRE'],
    'verify-ca': ['VerifyCA', 'verifyca', 'verify-ca', 'Verify_CA', 'VERIFY-CA'],
    'verify-full': ['VerifyFull', 'verifyfull', 'verify-full', 'verify_full', 'VERIFY-FULL'],
  },
  migrationMode: { Offline: ['Offline', 'offline', 'OFFLINE'], Online: ['Online', 'online', 'ONLINE'] },
  migrationOption: {
    Validate: ['Validate', 'validate'],
    Migrate: ['Migrate', 'migrate'],
    ValidateAndMigrate: ['ValidateAndMigrate', 'validateandmigrate', 'validate-and-migrate', 'Validate_And_Migrate'],
  },
} as const;

const BOOLEANS: readonly [unknown, boolean][] = [
  [true, true],
  [false, false],
  ['True', true],
  ['False', false],
  ['true', true],
  ['FALSE', false],
];

const LATER = new Date(Date.now() + 30 * 86_400_000);
LATER.setUTCMilliseconds(0);

/** Values of each name as Azure may write them, with the pgferry value each must become. */
function samples(name: AzureName): readonly [unknown, unknown][] {
  if (name.spelling === 'boolean') return BOOLEANS;
  if (name.spelling !== undefined) {
    const values: Record<string, readonly string[]> = SPELLINGS[name.spelling];
    return Object.entries(values).flatMap(([value, spelled]) => spelled.map((s): [unknown, unknown] => [s, value]));
  }
  if (name.pgferry === 'databases')
    return [
      [
        ['sales', 'hr'],
        ['sales', 'hr'],
      ],
    ];
  return [[LATER.toISOString(), LATER.toISOString()]];
}

/** The value at a dotted path of the spec. */
function at(spec: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((v, key) => (v as Record<string, unknown>)[key], spec);
}

/** The key in a case the documentation never writes: ARM matches keys without case. */
function oddCase(key: string): string {
  return [...key].map((c, i) => (i % 2 ? c.toLowerCase() : c.toUpperCase())).join('');
}

const BODY = {
  SourceDBServerResourceId: '10.0.0.4:5432@postgres',
  targetDbServerFullyQualifiedDomainName: 'dst.postgres.database.azure.com',
  targetServerUserName: 'pgadmin',
  DBsToMigrate: ['sales'],
  MigrationMode: 'Online',
};

const INPUTS = {
  migrationName: 'm1',
  source: { host: '10.0.0.4', port: 5432, user: 'postgres' },
  target: { host: 'dst.postgres.database.azure.com', user: 'pgadmin' },
  databases: ['sales'],
  mode: 'Online',
};

/** What the CLI makes of an Azure body with `arm` set to `value`: the spec's value of `pgferry`. */
function viaCli(name: AzureName, value: unknown): unknown {
  const rest = Object.fromEntries(Object.entries(BODY).filter(([key]) => key.toLowerCase() !== name.arm.toLowerCase()));
  const spec = specFromProperties({ properties: { ...rest, [oddCase(name.arm)]: value } }, { name: 'm1' });
  return at(spec, name.pgferry);
}

/** PgMigration's inputs with azure-native's input `native` set to `value`, and not pgferry's name. */
function resourceInputs(name: AzureName, value: unknown): Record<string, unknown> {
  const inputs: Record<string, unknown> = { ...INPUTS, [name.native]: value };
  if (name.native !== name.pgferry && !name.pgferry.includes('.')) delete inputs[name.pgferry];
  return inputs;
}

/** What PgMigration's check makes of azure-native's input `native` set to `value`. */
async function viaResource(name: AzureName, value: unknown): Promise<unknown> {
  const checked = await check({}, resourceInputs(name, value));
  assert.deepEqual(checked.failures, [], `${name.native}: ${JSON.stringify(value)}`);
  if (name.pgferry === 'cutover') return checked.inputs.cutover;
  return at(toMigrationSpec(checked.inputs), name.pgferry);
}

function status(): MigrationStatus {
  return {
    name: 'm1',
    state: 'InProgress',
    subState: 'MigratingData',
    mode: 'Online',
    option: 'ValidateAndMigrate',
    createdAt: '2024-01-01T00:00:00.000Z',
    validation: [],
    databases: [],
    spec: { source: { host: '10.0.0.4', port: 5432, user: 'postgres', sslMode: 'verify-ca' }, databases: ['sales'] },
  };
}

describe("Azure's names and spellings, through every reader", () => {
  it('reads every spelling of every enum value, and writes each back as Azure spells it', () => {
    for (const [kind, values] of Object.entries(SPELLINGS) as [keyof typeof SPELLINGS, Record<string, readonly string[]>][]) {
      for (const [value, spelled] of Object.entries(values)) {
        for (const s of spelled) assert.equal(fromAzureSpelling(kind, s), value, `${kind} ${s}`);
        assert.equal(azureSpelling(kind, value), spelled[0]);
      }
      assert.equal(fromAzureSpelling(kind, 'Sideways'), undefined);
    }
    assert.equal(azureChoices('migrationMode'), 'Offline or Online');
    assert.equal(fromAzureBoolean('yes'), 'yes');
  });

  it('gives each name, in every spelling of its value, one pgferry value through the CLI and the resource', async () => {
    for (const name of AZURE_NAMES) {
      for (const [value, expected] of samples(name)) {
        const fromResource = await viaResource(name, value);
        assert.deepEqual(fromResource, expected, `resource ${name.native}: ${JSON.stringify(value)}`);
        // a whole cutover in a body is Azure's update operation, read below; elsewhere it is the spec's value
        if (name.pgferry === 'cutover') continue;
        assert.deepEqual(viaCli(name, value), expected, `CLI ${name.arm}: ${JSON.stringify(value)}`);
      }
    }
  });

  it("reads every spelling of a mode and an option in az's flags too", () => {
    const base = ['create', '--migration-name', 'm1', '--properties', 'b.json'];
    for (const [flag, kind, key] of [
      ['--migration-mode', 'migrationMode', 'mode'],
      ['--migration-option', 'migrationOption', 'option'],
    ] as const) {
      for (const [value, spelled] of Object.entries(SPELLINGS[kind])) {
        for (const s of spelled) assert.equal(parseCli([...base, flag, s], {}).spec[key], value, `${flag} ${s}`);
      }
      assert.throws(() => parseCli([...base, flag, 'Sideways'], {}), PgferryError);
    }
  });

  it('refuses, in both readers, a value no spelling names', async () => {
    const names: readonly AzureName[] = AZURE_NAMES;
    for (const name of names.filter((n) => n.spelling !== undefined && n.spelling !== 'boolean')) {
      assert.throws(() => viaCli(name, 'Sideways'), PgferryError, name.arm);
      const checked = await check({}, resourceInputs(name, 'Sideways'));
      assert.ok(checked.failures.length > 0, name.native);
    }
  });

  it("prints every azure-native name in the ARM resource, with Azure's spelling of the value", () => {
    const properties = toAzureResource(status()).properties as Record<string, unknown>;
    for (const name of AZURE_NAMES) assert.ok(name.native in properties, name.native);
    assert.equal(properties.sslMode, 'VerifyCA');
  });

  it('reads every operation key as the same operation in an update body and in the resource', async () => {
    for (const key of AZURE_OPERATION_KEYS) {
      const value = key.startsWith('dbsTo') ? ['sales'] : 'True';
      assert.equal(updateOperationOf({ properties: { [oddCase(key)]: value } })?.kind, operationOf(key), key);
      const checked = await check({}, { ...INPUTS, [key]: value });
      assert.deepEqual(checked.failures, [], key);
      const read = key === 'triggerCutover' ? checked.inputs.cutover : checked.inputs[key];
      assert.deepEqual(read, key.startsWith('dbsTo') ? ['sales'] : true, key);
    }
  });
});

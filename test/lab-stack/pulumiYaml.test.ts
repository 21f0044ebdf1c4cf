// The project files (Pulumi.yaml) load as Pulumi loads them: each passes Pulumi's project schema and
// Project.Validate as pulumiProject.ts restates them from Pulumi's code (no Pulumi CLI runs here), and
// the root program and lab-stack/ declare the same keys, each one the lab reads, with the lab's
// defaults. The region, azure-native:location, is another namespace's key: Pulumi refuses a type or
// a default for it in a project file, so it is stack config only.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { load } from 'js-yaml';
import { LAB_CONFIG_KEYS, parseLabConfig } from '../../lab-stack/config';
import { pulumiProjectProblems } from './pulumiProject';

interface Declared {
  readonly type: string;
  readonly description?: string;
  readonly default?: unknown;
  readonly secret?: boolean;
}

const root = path.resolve(__dirname, '../../..');

async function project(file: string): Promise<unknown> {
  return load(await fs.readFile(path.join(root, file), 'utf8'));
}

async function declaredConfig(file: string): Promise<Record<string, Declared>> {
  return ((await project(file)) as { config?: Record<string, Declared> }).config ?? {};
}

/** Every project file of the repository: the root program, the lab, each example. */
async function projectFiles(): Promise<string[]> {
  const examples = await fs.readdir(path.join(root, 'examples'), { withFileTypes: true });
  const inExamples = examples.filter((e) => e.isDirectory()).map((e) => `examples/${e.name}/Pulumi.yaml`);
  const files = ['Pulumi.yaml', 'lab-stack/Pulumi.yaml', ...inExamples];
  for (const file of files) await fs.access(path.join(root, file));
  return files;
}

/** A project of Pulumi's own tests (project_test.go), as YAML. */
const pulumiTestProject = (config: string) => load(`name: test\nruntime: dotnet\nconfig:\n${config}`);

describe("Pulumi's rules for the project files", () => {
  it('refuses what Pulumi refuses, with its message (the cases of project_test.go, and the old region declaration)', () => {
    const cases: [string, string][] = [
      [
        '  aws:region:\n    type: string\n    value:\n      region: us-west-1',
        "Configuration key 'aws:region' is not namespaced by the project and should not define a type",
      ],
      [
        '  instanceSize:\n    type: string\n    default: t3.micro\n    value: t4.large',
        "project config 'instanceSize' cannot have both a 'default' and 'value' attribute",
      ],
      [
        '  instanceSize:\n    type: array\n    default: [t3.micro, t4.large]',
        "The configuration key 'instanceSize' declares an array but does not specify the underlying type via the 'items' attribute",
      ],
      [
        '  aws:region:\n    default: us-west-1',
        "Configuration key 'aws:region' is not namespaced by the project and should not define a default value. Did you mean to use the 'value' attribute instead of 'default'?",
      ],
      [
        '  instanceSize:\n    type: integer\n    default: hello',
        "The default value specified for configuration key 'instanceSize' is not of the expected type 'integer'",
      ],
      [
        '  azure-native:location:\n    type: string\n    description: Azure region of every lab resource.',
        "Configuration key 'azure-native:location' is not namespaced by the project and should not define a type",
      ],
      [
        '  azure-native:location:\n    description: Azure region.',
        "Configuration key 'azure-native:location' is namespaced and must provide an attribute 'value'",
      ],
    ];
    for (const [config, message] of cases) assert.deepEqual(pulumiProjectProblems(pulumiTestProject(config)), [message], config);
    // and loads what Pulumi loads: a value for another namespace, shorthand values, typed defaults
    const fine =
      '  aws:region: us-west-2\n  instanceSize: t3.micro\n  count:\n    type: integer\n    default: 1\n  test:flag:\n    type: boolean\n    default: false';
    assert.deepEqual(pulumiProjectProblems(pulumiTestProject(fine)), []);
    assert.deepEqual(pulumiProjectProblems(load('name: test')), ['#/runtime: must be a non-empty name or {name, options}']);
  });

  it('loads every project file of the repository', async () => {
    for (const file of await projectFiles()) assert.deepEqual(pulumiProjectProblems(await project(file)), [], file);
  });
});

describe('lab-stack Pulumi.yaml config declarations', () => {
  it('the root program and lab-stack/ declare the same keys', async () => {
    assert.deepEqual(await declaredConfig('Pulumi.yaml'), await declaredConfig('lab-stack/Pulumi.yaml'));
  });

  it('declares each key in its own namespace with a type and a description; each is one the lab reads', async () => {
    const declared = await declaredConfig('lab-stack/Pulumi.yaml');
    assert.ok(Object.keys(declared).length >= 8);
    for (const [key, decl] of Object.entries(declared)) {
      assert.ok(['string', 'integer', 'boolean'].includes(decl.type), `${key}: type ${decl.type}`);
      assert.ok((decl.description ?? '').length > 20, `${key} has a description`);
      assert.ok(key === 'adminPassword' || LAB_CONFIG_KEYS.includes(key), `${key} is read by the lab`);
    }
    assert.equal(declared.adminPassword?.secret, true);
    // the region is set once, by the user, in stack config: a project value would pin every stack's
    assert.ok(!('azure-native:location' in declared) && !('location' in declared), 'the region is not declared');
  });

  it('declares the defaults the lab applies when a key is unset', async () => {
    const declared = await declaredConfig('lab-stack/Pulumi.yaml');
    const parsed = parseLabConfig({ location: 'westeurope', vpn: { enabled: false } }) as unknown as Record<string, unknown>;
    for (const [key, decl] of Object.entries(declared)) {
      if (decl.default === undefined) continue;
      assert.deepEqual(parsed[key], decl.default, key);
    }
    for (const key of ['migrationCreateTimeout', 'allowReplicaIdentityFull', 'tableJobs']) assert.ok(key in declared, key);
  });
});

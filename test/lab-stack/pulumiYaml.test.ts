// Pulumi.yaml declares the lab's config keys with types and descriptions: the root
// program and lab-stack/ declare the same keys, each one the lab reads, with the lab's defaults.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { load } from 'js-yaml';
import { LAB_CONFIG_KEYS, parseLabConfig } from '../../lab-stack/config';

interface Declared {
  readonly type: string;
  readonly description?: string;
  readonly default?: unknown;
  readonly secret?: boolean;
}

const root = path.resolve(__dirname, '../../..');

async function declaredConfig(file: string): Promise<Record<string, Declared>> {
  const project = load(await fs.readFile(path.join(root, file), 'utf8')) as { config?: Record<string, Declared> };
  return project.config ?? {};
}

describe('lab-stack Pulumi.yaml config declarations', () => {
  it('the root program and lab-stack/ declare the same keys', async () => {
    assert.deepEqual(await declaredConfig('Pulumi.yaml'), await declaredConfig('lab-stack/Pulumi.yaml'));
  });

  it('declares each key with a type and a description; each is one the lab reads', async () => {
    const declared = await declaredConfig('lab-stack/Pulumi.yaml');
    assert.ok(Object.keys(declared).length >= 9);
    for (const [key, decl] of Object.entries(declared)) {
      assert.ok(['string', 'integer', 'boolean'].includes(decl.type), `${key}: type ${decl.type}`);
      assert.ok((decl.description ?? '').length > 20, `${key} has a description`);
      const known = key === 'azure-native:location' || key === 'adminPassword' || LAB_CONFIG_KEYS.includes(key);
      assert.ok(known, `${key} is read by the lab`);
    }
    assert.equal(declared.adminPassword?.secret, true);
    assert.equal(declared['azure-native:location']?.default, undefined, 'the region has no default: it is set once, by the user');
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

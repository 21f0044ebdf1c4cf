// The example stacks point at the lab the stack creates: they read the server and the source from
// the lab stack's outputs instead of naming a host the lab does not create.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { load } from 'js-yaml';
import type { LabOutputs } from '../../lab-stack/lab';

const root = path.resolve(__dirname, '../../..');

describe('lab-stack examples', () => {
  for (const mode of ['offline', 'online']) {
    it(`examples/${mode} reads the target and source from the lab stack's outputs, naming no host`, async () => {
      const project = `pgferry-${mode}-example`;
      const yaml = load(await fs.readFile(path.join(root, 'examples', mode, 'Pulumi.dev.yaml'), 'utf8')) as {
        config: Record<string, string>;
      };
      assert.equal(yaml.config[`${project}:labStack`], 'organization/pgferry-lab/lab');
      for (const key of ['sourceHost', 'targetHost', 'targetUser']) assert.equal(yaml.config[`${project}:${key}`], undefined, key);
      const program = await fs.readFile(path.join(root, 'examples', mode, 'index.ts'), 'utf8');
      // The outputs the example reads are outputs the lab exports.
      for (const output of [...program.matchAll(/fromLab\('\w+', '(\w+)'\)/g)].map((m) => m[1]!)) {
        assert.ok(LAB_OUTPUTS.includes(output), `${output} is a lab stack output`);
      }
      assert.match(program, /fromLab\('targetHost', 'serverFqdn'\)/);
    });
  }
});

/** The lab's stack output names: every LabOutputs key but the bare password (the compiler keeps this list whole). */
const OUTPUT_KEYS: Record<Exclude<keyof LabOutputs, 'adminPassword'>, true> = {
  resourceGroupName: true,
  vnetId: true,
  serverName: true,
  serverFqdn: true,
  serverPrivateIp: true,
  adminLogin: true,
  serverConnectionString: true,
  parametersPendingRestart: true,
  dnsZoneName: true,
  vpnDnsServer: true,
  vpnGatewayId: true,
  vpnClientAddressPool: true,
  sourceVmPrivateIp: true,
  poolerAddress: true,
  runtimeAgents: true,
  migrationStates: true,
};
const LAB_OUTPUTS = Object.keys(OUTPUT_KEYS);

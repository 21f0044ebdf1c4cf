// The source VM's readiness extension runs again at the next `up` when its last run failed, under
// Pulumi mocks whose getVirtualMachineExtension answers as Azure would after an earlier `up`. Why a
// changed forceUpdateTag, and only that, makes Azure run it again: lab-stack/extensionRerun.ts.
import assert from 'node:assert/strict';
import * as pulumi from '@pulumi/pulumi';
import { installMocks, mockResolveCname, settle, type MockLab } from './mocks';
import { fullConfig } from './fixtures';
import { parseLabConfig } from '../../lab-stack/config';
import { createLab } from '../../lab-stack/lab';
import { nextRunTag } from '../../lab-stack/extensionRerun';

/** The lab with its source VM and no migrations; `existing` is what Azure has from an earlier `up`. */
async function readyExtension(existing?: { provisioningState: string; forceUpdateTag?: string }): Promise<MockLab> {
  const mocks = await installMocks();
  if (existing) mocks.existingExtensions.set('wait-for-cloud-init', existing);
  const config = { ...fullConfig(), migrations: [] };
  const lab = createLab(
    {
      config: parseLabConfig(config),
      secrets: { adminPassword: pulumi.secret('Adm1n-secret-pw'), passwords: { sourcePassword: pulumi.secret('src-pw') } },
    },
    { resolveCname: mockResolveCname },
  );
  await settle([lab.component, lab.sourceVm!.vm, lab.sourceVm!.ready]);
  return mocks;
}

describe('lab-stack under Pulumi mocks: the source VM readiness extension after a failed run', function () {
  this.timeout(60_000);

  it('sends no tag on the first up, when Azure has no extension yet', async () => {
    const mocks = await readyExtension();
    const ready = mocks.byName('source-ready');
    assert.equal(ready.inputs.forceUpdateTag, undefined);
    const lookups = mocks.invokes.filter((i) => i.token === 'azure-native:compute:getVirtualMachineExtension');
    assert.deepEqual(
      lookups.map((l) => [l.inputs.vmName, l.inputs.vmExtensionName]),
      [['source-vm-az', 'wait-for-cloud-init']],
      'reads the extension of the source VM',
    );
  });

  it('keeps the tag Azure has when the last run succeeded: nothing runs again', async () => {
    assert.equal((await readyExtension({ provisioningState: 'Succeeded' })).byName('source-ready').inputs.forceUpdateTag, undefined);
    assert.equal(
      (await readyExtension({ provisioningState: 'Succeeded', forceUpdateTag: '2' })).byName('source-ready').inputs.forceUpdateTag,
      '2',
    );
  });

  it('hands a failed run a tag it has not had, so Azure runs it again', async () => {
    assert.equal((await readyExtension({ provisioningState: 'Failed' })).byName('source-ready').inputs.forceUpdateTag, '1');
    assert.equal(
      (await readyExtension({ provisioningState: 'Failed', forceUpdateTag: '1' })).byName('source-ready').inputs.forceUpdateTag,
      '2',
    );
  });

  it('counts the tags: the next after the current one, 1 after anything else', () => {
    assert.equal(nextRunTag('Succeeded', undefined), undefined);
    assert.equal(nextRunTag('Updating', '4'), '4');
    assert.equal(nextRunTag('Failed', undefined), '1');
    assert.equal(nextRunTag('Failed', '4'), '5');
    assert.equal(nextRunTag('Failed', 'RerunExtension'), '1');
  });
});

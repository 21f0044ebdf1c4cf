// A VM extension whose last run failed is run again by the next `pulumi up`. azure-native keeps a
// create that ended in a failed provisioning state in the stack (as a partial result with its id,
// pulumi/pulumi-azure-native#3219), so the next `up` sees the same inputs, finds no difference and
// leaves the failed run alone; and Azure itself does not run an extension again for a PUT with
// unchanged settings (Azure/azure-cli#6930). What makes it run again is `forceUpdateTag`, "how
// the extension handler should be forced to update even if the extension configuration has not
// changed" (Compute API, VirtualMachineExtension), set to a value it has not had before
// (MicrosoftDocs/azure-docs#51831: the tag must differ on every retry). So the program reads the
// extension's state from Azure and, when it is Failed, hands it the next tag.
import * as pulumi from '@pulumi/pulumi';
import * as compute from '@pulumi/azure-native/compute';
import type { LabScope } from './options';

/**
 * The tag for the next run: the one Azure has when the last run did not fail (no change, nothing
 * runs), the next number when it failed (a change, so the extension runs again).
 */
export function nextRunTag(provisioningState: string | undefined, currentTag: string | undefined): string | undefined {
  if (provisioningState !== 'Failed') return currentTag;
  const previous = Number(currentTag ?? '0');
  return String(Number.isSafeInteger(previous) && previous >= 0 ? previous + 1 : 1);
}

/** Where the extension is. */
export interface ExtensionPlace {
  readonly resourceGroupName: pulumi.Input<string>;
  readonly vmName: pulumi.Input<string>;
  readonly vmExtensionName: string;
}

/**
 * The extension's forceUpdateTag: read from Azure when the extension exists, undefined when it does
 * not yet (the first `up`, where Azure answers NotFound) or cannot be read, so a lookup that fails
 * never stops `up` and never re-runs a good extension.
 */
export function rerunTagAfterFailure(place: ExtensionPlace, scope: LabScope): pulumi.Output<string | undefined> {
  return pulumi.all([place.resourceGroupName, place.vmName]).apply(async ([resourceGroupName, vmName]) => {
    try {
      const current = await compute.getVirtualMachineExtension(
        { resourceGroupName, vmName, vmExtensionName: place.vmExtensionName },
        { parent: scope.component, provider: scope.provider },
      );
      return nextRunTag(current.provisioningState, current.forceUpdateTag);
    } catch {
      return undefined;
    }
  });
}

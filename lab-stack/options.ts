// Resource options shared by every lab module: where the lab's resources hang in the tree.
import type * as pulumi from '@pulumi/pulumi';

export interface LabResourceOptions {
  /** Parent for every lab resource (e.g. a component in a larger program). */
  readonly parent?: pulumi.Resource;
  /** An explicit azure-native provider (another subscription or credentials). */
  readonly provider?: pulumi.ProviderResource;
}

/** Child options: the lab's parent/provider plus this resource's own dependencies. */
export function childOptions(lab: LabResourceOptions, dependsOn: pulumi.Resource[] = []): pulumi.CustomResourceOptions {
  return {
    ...(lab.parent ? { parent: lab.parent } : {}),
    ...(lab.provider ? { provider: lab.provider } : {}),
    ...(dependsOn.length ? { dependsOn } : {}),
  };
}

// Where the lab's resources hang in the tree: one ComponentResource per part of the lab (network,
// DNS, server, VPN, source VM, runtime) under one Lab component. Children have names that do not
// carry namePrefix, so renaming the lab renames components only and replaces nothing; each child
// keeps an alias to the name and place it had when the lab's resources sat at the stack root.
import * as pulumi from '@pulumi/pulumi';

export interface LabResourceOptions {
  /** Parent for the lab (e.g. a component in a larger program). */
  readonly parent?: pulumi.Resource;
  /** An explicit azure-native provider (another subscription or credentials). */
  readonly provider?: pulumi.ProviderResource;
}

/** The component types, one per part of the lab (`pgferry:lab:<Part>`). */
export type LabPart = 'Lab' | 'Network' | 'Dns' | 'Server' | 'Vpn' | 'SourceVm' | 'Runtime' | 'MigrationRuntime';

/** One part of the lab: its component, and where the lab's resources were before components. */
export interface LabScope {
  readonly component: pulumi.ComponentResource;
  readonly namePrefix: string;
  readonly provider?: pulumi.ProviderResource;
  /** The parent every lab resource had before the components (the caller's, or the stack). */
  readonly legacyParent: pulumi.Resource | undefined;
}

/** A part of the lab as a component; the Lab component is named after namePrefix, the parts `<prefix>-<part>`. */
class LabComponent extends pulumi.ComponentResource {
  constructor(part: LabPart, name: string, opts: pulumi.ComponentResourceOptions = {}) {
    super(`pgferry:lab:${part}`, name, {}, opts);
    // Its children are created by the lab's modules right after; the component itself has no outputs.
    this.registerOutputs({});
  }
}

/** The scope of the whole lab (the Lab component under the caller's parent). */
export function labScope(namePrefix: string, opts: LabResourceOptions): LabScope {
  const component = new LabComponent('Lab', namePrefix, opts.parent ? { parent: opts.parent } : {});
  return { component, namePrefix, provider: opts.provider, legacyParent: opts.parent };
}

const PART_NAMES: Record<Exclude<LabPart, 'Lab'>, string> = {
  Network: 'network',
  Dns: 'dns',
  Server: 'server',
  Vpn: 'vpn',
  SourceVm: 'source-vm',
  Runtime: 'runtime',
  MigrationRuntime: 'migration-runtime',
};

/** A part's scope: its component (`<prefix>-<part>`) under the Lab component. */
export function partScope(lab: LabScope, part: Exclude<LabPart, 'Lab'>): LabScope {
  const component = new LabComponent(part, `${lab.namePrefix}-${PART_NAMES[part]}`, { parent: lab.component });
  return { ...lab, component };
}

/**
 * Options for a child of a part: its component as parent, the lab's provider, its dependencies,
 * and an alias to `<namePrefix>-<legacyName>` where the resource was before the components, so a
 * stack created then keeps its resources (the VPN gateway takes 30–45 minutes to replace).
 */
export function childOptions(
  scope: LabScope,
  legacyName: string,
  dependsOn: pulumi.Input<pulumi.Resource>[] = [],
  kind: 'azure' | 'other' = 'azure',
): pulumi.CustomResourceOptions {
  return {
    parent: scope.component,
    // The lab's provider is an azure-native one: only azure-native resources take it.
    ...(scope.provider && kind === 'azure' ? { provider: scope.provider } : {}),
    ...(dependsOn.length ? { dependsOn } : {}),
    // `parent` present even when undefined: the alias then names a resource with no parent.
    aliases: [{ name: `${scope.namePrefix}-${legacyName}`, parent: scope.legacyParent }],
  };
}

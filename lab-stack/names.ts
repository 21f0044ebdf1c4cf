// The lab's Azure names that must be unique or never move: the server's is a global DNS label,
// so its default carries a random suffix drawn once (a second user's lab does not collide), and
// the resource group's carries the same suffix. Both are read once, when the lab is created:
// ignoreChanges keeps them afterwards, so a later namePrefix change renames nothing in Azure (and
// stacks created before the suffix keep the names they have).
import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';
import type { LabConfig } from './config';
import type { LabScope } from './options';

export interface LabNames {
  /** Eight lowercase letters and digits, stable for the life of the stack. */
  readonly suffix: pulumi.Output<string>;
  /** server.name when configured, else `<namePrefix>-<suffix>`. */
  readonly serverName: pulumi.Output<string>;
  /** server.name is configured: a change of it is honoured (and replaces the server, as Azure requires). */
  readonly serverNameFixed: boolean;
  readonly resourceGroupName: pulumi.Output<string>;
}

export function createLabNames(config: LabConfig, scope: LabScope): LabNames {
  const suffix = new random.RandomString(
    'name-suffix',
    { length: 8, special: false, upper: false, numeric: true, lower: true },
    // The random provider, not the lab's azure-native one.
    { parent: scope.component },
  ).result;
  const configured = config.server.name;
  return {
    suffix,
    serverName: configured === undefined ? pulumi.interpolate`${config.namePrefix}-${suffix}` : pulumi.output(configured),
    serverNameFixed: configured !== undefined,
    resourceGroupName: pulumi.interpolate`${config.namePrefix}-rg-${suffix}`,
  };
}

// The Azure migration body of `pgferry create/update --properties`, with the command line's flags
// over it. What the body says is read by provider/azure/body.ts (the same reading PgMigration's
// check gives azure-native's inputs); this file adds the flags (--name, --mode, --target-*...) and
// the field names errors are reported under.
import { azureBodyProperties, azureServers, azureSpecFields } from '../azure/body';
import { applyTargetFlags, flagFieldNames, type MappedProperties, type PropertyFlags } from './propertyFlags';
import { applySpecFlags } from './specFlags';

export { azureUpdateOperation, parseSourceResourceId, type UpdateOperation } from '../azure/body';

/**
 * `target`: only the target server is wanted (show, list, update): an update body (Azure's PATCH)
 * names no source and no databases.
 */
export function mapAzure(body: Record<string, unknown>, flags: PropertyFlags, purpose: 'create' | 'target' = 'create'): MappedProperties {
  const { p, at } = azureBodyProperties(body, purpose);
  const servers = azureServers(p, at, purpose);
  const fields = azureSpecFields(p, at);
  const input: Record<string, unknown> = {
    migrationName: flags.name,
    source: servers.source,
    target: applyTargetFlags(servers.target, flags.target ?? {}),
    ...fields.input,
  };
  applySpecFlags(input, flags);

  const fieldNames: Record<string, string> = {
    migrationName: flags.nameFlag ?? '--name',
    ...fields.fieldNames,
    ...servers.fieldNames,
    'target.host':
      servers.fieldNames['target.host'] && !flags.target?.host && !flags.target?.url ? servers.fieldNames['target.host'] : 'target.host',
    ...flagFieldNames(flags),
  };
  return { form: 'azure', input, fieldNames };
}

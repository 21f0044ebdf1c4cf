// pgferry's plain properties form: the migration spec itself, with `source`/`target` as
// connection objects or postgres:// URLs.
import { inputError, migrationSpecSchema } from '../engine';
import { applyTargetFlags, flagFieldNames, isObject, type MappedProperties, type PropertyFlags } from './propertyFlags';
import { applySpecFlags } from './specFlags';
import { parseConnectionUrl } from './url';

const PLAIN_KEYS = Object.keys(migrationSpecSchema.shape);

export function mapPlain(body: Record<string, unknown>, flags: PropertyFlags): MappedProperties {
  for (const key of Object.keys(body)) {
    if (!PLAIN_KEYS.includes(key)) {
      throw inputError(
        'UNKNOWN_FIELD',
        key,
        `${key}: unknown field; allowed: ${PLAIN_KEYS.join(', ')} (or the Azure body {"properties": {...}})`,
      );
    }
  }
  const input: Record<string, unknown> = { ...body };
  if (typeof body.source === 'string') input.source = parseConnectionUrl(body.source, 'source');
  let fileTarget: Record<string, unknown> = {};
  if (typeof body.target === 'string') fileTarget = parseConnectionUrl(body.target, 'target');
  else if (isObject(body.target)) fileTarget = body.target;
  else if (body.target !== undefined)
    throw inputError('INVALID_INPUT', 'target', 'target: must be a connection object or a postgres:// URL');
  input.target = applyTargetFlags(fileTarget, flags.target ?? {});
  if (flags.name !== undefined) input.migrationName = flags.name;
  applySpecFlags(input, flags);
  const fieldNames: Record<string, string> = {
    ...(flags.name !== undefined ? { migrationName: flags.nameFlag ?? '--name' } : {}),
    ...flagFieldNames(flags),
  };
  return { form: 'plain', input, fieldNames };
}

// The --properties file (the Azure migration body, or pgferry's plain form) plus command-line
// flags, validated into a MigrationSpec or a target ServerSpec. Pure: no IO, no connections.
import {
  inputError,
  parseMigrationSpec,
  PgferryError,
  serverSpecSchema,
  zodToInputError,
  type MigrationSpec,
  type ServerSpec,
} from '../engine';
import { azureUpdateOperation, mapAzure, type UpdateOperation } from './azureBody';
import { mapPlain } from './plainBody';
import { applyTargetFlags, isObject, type MappedProperties, type PropertyFlags, type TargetFlags } from './propertyFlags';

export { parseSourceResourceId, type UpdateOperation } from './azureBody';
export { type MappedProperties, type PropertyFlags, type TargetFlags } from './propertyFlags';

/** Maps a parsed properties file and the flags to the input of parseMigrationSpec. */
export function mapProperties(body: unknown, flags: PropertyFlags = {}, purpose: 'create' | 'target' = 'create'): MappedProperties {
  if (!isObject(body)) throw inputError('INVALID_INPUT', '(file)', '(file): must be a JSON object');
  return isAzureBody(body) ? mapAzure(body, flags, purpose) : mapPlain(body, flags);
}

function isAzureBody(body: Record<string, unknown>): boolean {
  return Object.keys(body).some((k) => k.toLowerCase() === 'properties');
}

/** The cutover or cancel an update's Azure body (Azure's PATCH) asks for; none for the plain form. */
export function updateOperationOf(body: unknown): UpdateOperation | undefined {
  if (!isObject(body)) throw inputError('INVALID_INPUT', '(file)', '(file): must be a JSON object');
  return isAzureBody(body) ? azureUpdateOperation(body) : undefined;
}

/** Renames a spec error's field to the one the user wrote (longest matching prefix). */
function renameField(error: PgferryError, fieldNames: Readonly<Record<string, string>>): PgferryError {
  const field = error.field;
  if (!field) return error;
  const parts = field.split('.');
  for (let n = parts.length; n > 0; n--) {
    const mapped = fieldNames[parts.slice(0, n).join('.')];
    if (mapped === undefined || mapped === field) continue;
    const rest = error.message.startsWith(`${field}: `) ? error.message.slice(field.length + 2) : error.message;
    // Say which spec field a composite key (SourceDBServerResourceId → source.port) failed on.
    const same = mapped.split('.').pop()!.replace(/^--/, '').toLowerCase() === field.split('.').pop()!.toLowerCase();
    const message = same ? `${mapped}: ${rest}` : `${mapped} (${field}): ${rest}`;
    return new PgferryError(error.code, message, { category: error.category, field: mapped, fix: error.fix, cause: error });
  }
  return error;
}

/** The properties file and flags, validated into a frozen MigrationSpec; errors name the user's field. */
export function specFromProperties(body: unknown, flags: PropertyFlags = {}): MigrationSpec {
  const mapped = mapProperties(body, flags);
  if (mapped.input.migrationName === undefined) {
    throw inputError('NAME_REQUIRED', '--name', '--name: required (letters, digits and hyphens, not starting with a hyphen)');
  }
  try {
    return parseMigrationSpec(mapped.input);
  } catch (error) {
    if (error instanceof PgferryError) throw renameField(error, mapped.fieldNames);
    throw error;
  }
}

/** The target server alone: from the properties file (if any) and the flags. */
export function targetFromInputs(body: unknown, flags: TargetFlags): ServerSpec {
  let raw: Record<string, unknown>;
  let fieldNames: Readonly<Record<string, string>> = {};
  if (body === undefined) {
    raw = applyTargetFlags({}, flags);
  } else {
    const mapped = mapProperties(body, { target: flags }, 'target');
    raw = mapped.input.target as Record<string, unknown>;
    fieldNames = mapped.fieldNames;
  }
  const parsed = serverSpecSchema.safeParse(raw);
  if (!parsed.success) throw renameField(zodToInputError(parsed.error, 'target'), fieldNames);
  return Object.freeze({ ...parsed.data });
}

/** Parses the file's text; a syntax error names the line and column, never the content (it may hold passwords). */
export function parsePropertiesText(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const position = /position (\d+)/.exec(String((error as Error).message));
    let where = '';
    if (position) {
      const before = text.slice(0, Number(position[1]));
      const line = before.split('\n').length;
      const column = before.length - before.lastIndexOf('\n');
      where = ` at line ${line}, column ${column}`;
    } else if (/end of JSON input/i.test(String((error as Error).message))) {
      where = ' (it ends early)';
    }
    throw inputError('INVALID_JSON', '--properties', `--properties: ${file} is not valid JSON${where}`);
  }
}

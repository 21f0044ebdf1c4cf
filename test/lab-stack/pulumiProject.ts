// Pulumi's rules for a project file (Pulumi.yaml), restated from Pulumi's own code because no Pulumi
// CLI runs here. `pulumi` loads a project with LoadProjectBytes (sdk/go/common/workspace/loaders.go):
// the JSON schema (project.json, through ValidateProject), then the shorthand rewrite of config
// values (RewriteShorthandConfigValues), then Project.Validate (project.go). Read at pulumi/pulumi
// commit 1b5949891b3cefcb9974752b24a5ecef0acc86c8, where project.go and project.json last changed
// in 280839534c902ee76b7ad4b65fe2b37e291ede89. Messages are Pulumi's, word for word, so a failure
// here reads as `pulumi preview` would print it.

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStringOrNull = (v: unknown): boolean => v === undefined || v === null || typeof v === 'string';

/** project.json $defs.simpleConfigType. */
const SIMPLE_CONFIG_TYPES = ['string', 'integer', 'boolean', 'array'];
/** project.json $defs.configTypeDeclaration.properties (additionalProperties: false). */
const DECLARATION_KEYS = ['type', 'items', 'description', 'secret', 'default', 'value'];

/** project.json: what the schema refuses (the parts a project of ours can break). */
function schemaProblems(project: Json): string[] {
  const problems: string[] = [];
  // ValidateProject checks the name before the schema
  if (typeof project.name !== 'string' || project.name === '') return ["project is missing a non-empty string 'name' attribute"];
  const runtime = project.runtime;
  const runtimeOk =
    (typeof runtime === 'string' && runtime !== '') ||
    (isObject(runtime) &&
      Object.keys(runtime).every((k) => k === 'name' || k === 'options') &&
      (runtime.name === undefined || (typeof runtime.name === 'string' && runtime.name !== '')) &&
      (runtime.options === undefined || isObject(runtime.options)));
  if (!runtimeOk) problems.push('#/runtime: must be a non-empty name or {name, options}');
  for (const key of ['description', 'author', 'website', 'license', 'main', 'stackConfigDir']) {
    if (!isStringOrNull(project[key])) problems.push(`#/${key}: must be a string or null`);
  }
  const config = project.config;
  if (config === undefined || config === null || typeof config === 'string') return problems;
  if (!isObject(config)) return [...problems, '#/config: must be an object'];
  for (const [key, entry] of Object.entries(config)) {
    // oneOf: string, integer, boolean, array, or a configTypeDeclaration
    if (typeof entry === 'string' || typeof entry === 'boolean' || Number.isInteger(entry) || Array.isArray(entry)) continue;
    if (!isObject(entry)) {
      problems.push(`#/config/${key}: must be a string, integer, boolean, array or config type declaration`);
      continue;
    }
    const extra = Object.keys(entry).filter((k) => !DECLARATION_KEYS.includes(k));
    if (extra.length > 0) problems.push(`#/config/${key}: additionalProperties ${extra.map((k) => `'${k}'`).join(', ')} not allowed`);
    if (entry.type !== undefined && !SIMPLE_CONFIG_TYPES.includes(entry.type as string)) {
      problems.push(`#/config/${key}/type: must be one of ${SIMPLE_CONFIG_TYPES.join(', ')}`);
    }
    if (entry.description !== undefined && typeof entry.description !== 'string')
      problems.push(`#/config/${key}/description: must be a string`);
    if (entry.secret !== undefined && typeof entry.secret !== 'boolean') problems.push(`#/config/${key}/secret: must be a boolean`);
  }
  return problems;
}

/** configKeyIsNamespacedByProject: no namespace at all, or the project's own. */
function namespacedByProject(projectName: string, key: string): boolean {
  return !key.includes(':') || key.startsWith(`${projectName}:`);
}

/** RewriteShorthandConfigValues: `key: v` is a default in the project's namespace, a value in another. */
function rewriteShorthand(projectName: string, key: string, entry: unknown): Json {
  const primitive = typeof entry === 'string' || typeof entry === 'boolean' || Number.isInteger(entry);
  if (!primitive && !Array.isArray(entry)) return entry as Json;
  return namespacedByProject(projectName, key) ? { default: entry } : { value: entry };
}

interface ItemsType {
  readonly type: string;
  readonly items?: ItemsType;
}

/** ValidateConfigValue: whether a default fits its declared type. */
function fitsType(type: string, items: ItemsType | undefined, value: unknown): boolean {
  if (type === 'string') return typeof value === 'string';
  // YAML numbers, whole ones, or text that strconv.Atoi reads
  if (type === 'integer') return Number.isInteger(value) || (typeof value === 'string' && /^[+-]?\d+$/.test(value));
  if (type === 'boolean') return typeof value === 'boolean' || value === 'true' || value === 'false';
  if (type === 'object') return isObject(value);
  if (!Array.isArray(value) || items === undefined) return false;
  return value.every((item) => fitsType(items.type, items.items, item));
}

/** InferFullTypeName: array<array<string>> for nested items. */
function fullTypeName(type: string, items: ItemsType | undefined): string {
  return items === undefined ? type : `array<${fullTypeName(items.type, items.items)}>`;
}

/** Project.Validate: the first problem Pulumi reports, or undefined. */
function validateProblem(projectName: string, config: Json): string | undefined {
  for (const [key, raw] of Object.entries(config)) {
    const entry = rewriteShorthand(projectName, key, raw);
    const type = entry.type as string | undefined;
    const items = entry.items as ItemsType | undefined;
    const hasDefault = entry.default !== undefined && entry.default !== null;
    const hasValue = entry.value !== undefined && entry.value !== null;
    if (hasDefault && hasValue) return `project config '${key}' cannot have both a 'default' and 'value' attribute`;
    if (namespacedByProject(projectName, key)) {
      if (type === 'array' && items === undefined) {
        return `The configuration key '${key}' declares an array but does not specify the underlying type via the 'items' attribute`;
      }
      if (type !== undefined && hasDefault && !fitsType(type, items, entry.default)) {
        return `The default value specified for configuration key '${key}' is not of the expected type '${fullTypeName(type, items)}'`;
      }
      continue;
    }
    if (type !== undefined) return `Configuration key '${key}' is not namespaced by the project and should not define a type`;
    if (hasDefault) {
      return `Configuration key '${key}' is not namespaced by the project and should not define a default value. Did you mean to use the 'value' attribute instead of 'default'?`;
    }
    if (!hasValue) return `Configuration key '${key}' is namespaced and must provide an attribute 'value'`;
  }
  return undefined;
}

/** Every reason `pulumi` would refuse to load this project (its parsed YAML); empty when it loads. */
export function pulumiProjectProblems(raw: unknown): string[] {
  if (!isObject(raw)) return ['expected project to be an object'];
  const problems = schemaProblems(raw);
  if (problems.length > 0) return problems;
  const config = isObject(raw.config) ? raw.config : {};
  const problem = validateProblem(raw.name as string, config);
  return problem === undefined ? [] : [problem];
}

// Reading the lab's config from a Pulumi stack: the keys as stack config holds them (structured
// values as JSON text), the region set once, and the secrets as secret Outputs with the exact
// `pulumi config set` to run when one is missing.
import * as pulumi from '@pulumi/pulumi';
import { POOLER_ADMIN_SECRET, POOLER_APP_SECRET } from './poolerConfig';
import { LAB_CONFIG_KEYS, LAB_NAMESPACE, LabConfigError, parseLabConfig, type LabConfig } from './config';

/** Secret config keys the lab reads; their values only ever travel as secret Outputs. */
export interface LabSecrets {
  readonly adminPassword: pulumi.Input<string>;
  /** By config key name: `sourcePassword`, each migration's `source.passwordSecret`, the pooler's two. */
  readonly passwords: Readonly<Record<string, pulumi.Input<string>>>;
}

/** The secret config keys a config needs, each with the reason (used in the error line). */
function requiredSecretKeys(config: LabConfig): Map<string, string> {
  const keys = new Map<string, string>([['adminPassword', 'the Flexible Server administrator password']]);
  if (config.sourceVm.enabled) keys.set('sourcePassword', 'sourceVm.enabled is true: the source postgres password');
  config.migrations.forEach((migration, index) => {
    const key = migration.source?.passwordSecret ?? 'sourcePassword';
    if (!keys.has(key)) keys.set(key, `migrations[${index}] reads its source password from it`);
  });
  if (config.pooler.enabled) {
    keys.set(
      POOLER_ADMIN_SECRET,
      `pooler.enabled is true: the password of ${config.pooler.adminUser}, the PgBouncer admin pgferry pauses it with`,
    );
    keys.set(
      POOLER_APP_SECRET,
      `pooler.enabled is true: the password of ${config.pooler.appUser}, the applications' login through PgBouncer`,
    );
  }
  return keys;
}

/**
 * Reads the lab's keys from stack config (structured values as objects) and its secrets as
 * secret Outputs. Missing secrets fail here, with the key and the `pulumi config set` to run.
 */
export function readLabConfig(cfg: pulumi.Config = new pulumi.Config(LAB_NAMESPACE)): { config: LabConfig; secrets: LabSecrets } {
  const raw: Record<string, unknown> = {};
  for (const key of LAB_CONFIG_KEYS) {
    const text = cfg.get(key);
    if (text === undefined) continue;
    raw[key] = parseMaybeJson(text);
  }
  raw.location = regionOnce(cfg, raw.location);
  const config = parseLabConfig(raw, cfg.name);
  const values = new Map<string, pulumi.Output<string>>();
  for (const [key, reason] of requiredSecretKeys(config)) {
    const value = cfg.getSecret(key);
    if (value === undefined) {
      throw new LabConfigError(`${cfg.name}:${key}`, `is required (${reason}); set it with: pulumi config set --secret ${key} <value>`);
    }
    values.set(key, value);
  }
  // The password's value is known at preview: check it there, not 10 minutes into `up`.
  const problem = adminPasswordProblem(pulumi.runtime.getConfig(`${cfg.name}:adminPassword`) ?? '');
  if (problem) throw new LabConfigError(`${cfg.name}:adminPassword`, problem);
  const { adminPassword, ...passwords } = Object.fromEntries(values);
  return { config, secrets: { adminPassword: adminPassword!, passwords } };
}

/**
 * Azure's rule for the Flexible Server administrator password (the portal's and `az postgres
 * flexible-server create --admin-password`'s): 8 to 128 characters from at least three of
 * uppercase letters, lowercase letters, digits and non-alphanumeric characters. Undefined when it
 * passes; never echoes the password.
 */
function adminPasswordProblem(password: string): string | undefined {
  const classes = [/[A-Z]/, /[a-z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((re) => re.test(password)).length;
  if (password.length < 8 || password.length > 128 || classes < 3) {
    return `must be 8-128 characters from at least three of: uppercase letters, lowercase letters, digits, symbols (Azure's rule for the administrator password; it has ${password.length} characters from ${classes}); set it with: pulumi config set --secret adminPassword <value>`;
  }
  return undefined;
}

/**
 * The region is set once: azure-native:location (which the azure-native provider reads too), or
 * the lab's own location key from before; both set to different regions is refused.
 */
function regionOnce(cfg: pulumi.Config, own: unknown): unknown {
  const provider = new pulumi.Config('azure-native').get('location');
  if (own !== undefined && provider !== undefined && own !== provider) {
    throw new LabConfigError(
      `${cfg.name}:location`,
      `is ${JSON.stringify(own)} but azure-native:location is ${JSON.stringify(provider)}: set the region once, in azure-native:location (pulumi config rm location)`,
    );
  }
  return own ?? provider;
}

/** Structured config arrives as JSON text, numbers and booleans as their text; names stay strings. */
function parseMaybeJson(text: string): unknown {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  if (!trimmed.startsWith('{') && !trimmed.startsWith('[') && trimmed !== 'true' && trimmed !== 'false') return text;
  try {
    return JSON.parse(trimmed);
  } catch {
    return text;
  }
}

// Pieces shared by the lab's config schemas (config.ts, migrationConfig.ts, runtimeConfig.ts).
import { z } from 'zod';

/** A string drawn from `values`, with the list in the error. */
export const oneOf = <T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `must be one of ${values.join(', ')}` });

/** A PostgreSQL name (database, role). */
export const identifierSchema = z
  .string({ error: 'must be a PostgreSQL name' })
  .min(1, 'must not be empty')
  .max(63, 'must be at most 63 characters (PostgreSQL truncates longer names)');

/**
 * The names Azure refuses as a VM's administrator, Linux or Windows: the "Disallowed values" of
 * `osProfile.adminUsername` in the Compute API (Azure/azure-rest-api-specs, Microsoft.Compute
 * VirtualMachine OSProfile; the same list in azure-native's VirtualMachine docs). Azure rejects the
 * VM at creation; the lab refuses the name at preview instead.
 */
const RESERVED_VM_ADMIN_NAMES = [
  'administrator',
  'admin',
  'user',
  'user1',
  'test',
  'user2',
  'test1',
  'user3',
  'admin1',
  '1',
  '123',
  'a',
  'actuser',
  'adm',
  'admin2',
  'aspnet',
  'backup',
  'console',
  'david',
  'guest',
  'john',
  'owner',
  'root',
  'server',
  'sql',
  'support',
  'support_388945a0',
  'sys',
  'test2',
  'test3',
  'user4',
  'user5',
] as const;

/**
 * A VM's admin user: a Linux user name that Azure does not reserve and that the lab's own accounts
 * (`alsoRefused`, with why) do not use.
 */
export function vmAdminUsernameSchema(alsoRefused: readonly string[], why: string) {
  return z
    .string({ error: 'must be a Linux user name' })
    .regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'must be a Linux user name (lowercase letters, digits, _ or -)')
    .refine(
      (v) => !(RESERVED_VM_ADMIN_NAMES as readonly string[]).includes(v),
      `must not be a name Azure reserves for a VM's administrator (${RESERVED_VM_ADMIN_NAMES.join(', ')}): use another Linux user name such as azureuser`,
    )
    .refine((v) => !alsoRefused.includes(v), `must not be ${alsoRefused.join(', ')}: ${why}`)
    .default('azureuser');
}

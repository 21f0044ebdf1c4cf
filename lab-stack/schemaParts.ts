// Pieces shared by the lab's config schemas (config.ts, migrationConfig.ts).
import { z } from 'zod';

/** A string drawn from `values`, with the list in the error. */
export const oneOf = <T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `must be one of ${values.join(', ')}` });

/** A PostgreSQL name (database, role). */
export const identifierSchema = z
  .string({ error: 'must be a PostgreSQL name' })
  .min(1, 'must not be empty')
  .max(63, 'must be at most 63 characters (PostgreSQL truncates longer names)');

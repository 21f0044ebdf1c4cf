// Parsing user input into a MigrationSpec: one line naming the field and what is allowed.
import type { z } from 'zod';
import { inputError, PgferryError } from '../core/errors';
import { freezeSpec } from './freezeSpec';
import { migrationSpecSchema, type MigrationSpec } from './migrationSpec';

/** Formats the first zod issue as `field: problem`. */
export function describeIssue(issue: z.core.$ZodIssue, prefix = ''): { field: string; message: string } {
  const field = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    message = `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  }
  return { field: field || '(root)', message };
}

export function zodToInputError(error: z.ZodError, prefix = ''): PgferryError {
  const first = error.issues[0];
  if (!first) return inputError('INVALID_INPUT', prefix || '(root)', 'invalid input');
  const { field, message } = describeIssue(first, prefix);
  return inputError('INVALID_INPUT', field, `${field}: ${message}`);
}

/** Parses and freezes a migration spec; throws a PgferryError (category input) on bad input. */
export function parseMigrationSpec(input: unknown): MigrationSpec {
  const parsed = migrationSpecSchema.safeParse(input);
  if (!parsed.success) throw zodToInputError(parsed.error);
  return freezeSpec(parsed.data);
}

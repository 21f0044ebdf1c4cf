// Parsing user input into a MigrationSpec: one line naming the field and what is allowed.
import { z } from 'zod';
import { inputError, PgferryError } from '../core/errors';
import { freezeSpec } from './freezeSpec';
import { migrationSpecSchema, type MigrationSpec } from './migrationSpec';

/** `unknown field "x"`, the words every unknown key starts with. */
function unknownFields(keys: readonly string[]): string {
  return `unknown field${keys.length > 1 ? 's' : ''} ${keys.map((k) => JSON.stringify(k)).join(', ')}`;
}

/** The one wording of unknown keys, wherever input is read: `unknown field "x"; allowed: a, b, c`. */
function unknownFieldWords(keys: readonly string[], allowed: readonly string[]): string {
  return allowed.length > 0 ? `${unknownFields(keys)}; allowed: ${allowed.join(', ')}` : unknownFields(keys);
}

/**
 * The input error of unknown keys in the object at `path` (empty: the top level, shown as `(root)`,
 * as a spec's error shows it): `<path>: unknown field "x"; allowed: a, b, c`. The CLI's body and
 * Azure's body refuse their keys with it, so every form of input says it in the same words.
 */
export function unknownFieldError(path: string, keys: readonly string[], allowed: readonly string[], fix?: string): PgferryError {
  const field = path ? `${path}.${keys[0]}` : (keys[0] ?? '(root)');
  return inputError('UNKNOWN_FIELD', field, `${path || '(root)'}: ${unknownFieldWords(keys, allowed)}`, fix);
}

// An unknown key's message names the fields its object allows (a user who wrote `database` where
// `maintenanceDatabase` is meant sees the right word). Only the issue as it is raised carries the
// object's schema, so this is zod's error map for the process: every input schema is parsed after
// this module is loaded, because each place that parses input reads its errors through it.
z.config({
  customError: (issue) => {
    if (issue.code !== 'unrecognized_keys') return undefined;
    const shape = (issue.inst as { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined)?._zod?.def?.shape;
    return unknownFieldWords(issue.keys, shape ? Object.keys(shape) : []);
  },
});

/** Formats the first zod issue as `field: problem`. */
export function describeIssue(issue: z.core.$ZodIssue, prefix = ''): { field: string; message: string } {
  const field = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
  let message = issue.message;
  // a schema's own message for unknown keys gives way to pgferry's words
  if (issue.code === 'unrecognized_keys' && !message.startsWith('unknown field')) message = unknownFields(issue.keys);
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

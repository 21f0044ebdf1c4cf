// Reading --properties (a file, @file, or inline JSON): a missing file or bad JSON is an input error
// naming the flag, and every password in it is registered for masking before anything can print it.
import { readFile } from 'node:fs/promises';
import { inputError } from '../../engine';
import { registerSecret } from '../secrets';

/** Registers password values and URL passwords anywhere in a parsed file. */
function registerFileSecrets(value: unknown, key = ''): void {
  if (typeof value === 'string') {
    if (/password/i.test(key)) registerSecret(value);
    if (/^postgres(ql)?:\/\//i.test(value)) registerUrlSecret(value);
  } else if (Array.isArray(value)) {
    value.forEach((v) => registerFileSecrets(v));
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) registerFileSecrets(v, k);
  }
}

export function registerUrlSecret(text: string): void {
  try {
    const url = new URL(text);
    if (url.password) registerSecret(decodeURIComponent(url.password));
  } catch {
    // not a URL: the parser reports it
  }
}

/** Does a parsed body carry a password anywhere (a key naming one, or a URL with one)? */
function hasPassword(value: unknown, key = ''): boolean {
  if (typeof value === 'string') {
    if (/password/i.test(key) && value !== '') return true;
    try {
      return /^postgres(ql)?:\/\//i.test(value) && new URL(value).password !== '';
    } catch {
      return false;
    }
  }
  if (Array.isArray(value)) return value.some((v) => hasPassword(v));
  if (typeof value === 'object' && value !== null) return Object.entries(value).some(([k, v]) => hasPassword(v, k));
  return false;
}

/**
 * The --properties value as az takes it: a file path, `@path`, or the JSON itself. Inline JSON sits
 * in the process list where every user of the machine can read it, so it may carry no password.
 */
export async function loadProperties(value: string): Promise<unknown> {
  if (value.trimStart().startsWith('{')) {
    const body = parsePropertiesText(value, '(inline JSON)');
    registerFileSecrets(body);
    if (hasPassword(body)) {
      throw inputError(
        'PASSWORD_ON_COMMAND_LINE',
        '--properties',
        '--properties: inline JSON carries a password, which every user of the machine can read on the command line',
        'put the body in a file (--properties @body.json), or take passwords from PGPASSWORD or ~/.pgpass',
      );
    }
    return body;
  }
  const file = value.startsWith('@') ? value.slice(1) : value;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as { code?: string }).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'is a directory'
            : 'cannot be read';
    throw inputError('PROPERTIES_FILE', '--properties', `--properties: ${file}: ${why}`);
  }
  // Editors on Windows save JSON with a byte-order mark, which JSON.parse refuses.
  const body = parsePropertiesText(text.replace(/^\uFEFF/, ''), file);
  registerFileSecrets(body);
  return body;
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

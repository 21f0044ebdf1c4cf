// Reading the --properties file: a missing file or bad JSON is an input error naming the flag,
// and every password in it is registered for masking before anything else can print it.
import { readFile } from 'node:fs/promises';
import { inputError } from '../engine';
import { parsePropertiesText } from './properties';
import { registerSecret } from './secrets';

/** Registers password values and URL passwords anywhere in a parsed file. */
export function registerFileSecrets(value: unknown, key = ''): void {
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

export async function loadProperties(file: string): Promise<unknown> {
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

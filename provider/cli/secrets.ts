// Known secrets (passwords from the file, URLs, PGPASSWORD) are masked in everything the CLI
// prints: output is built without them, this is the second line of defence (the engine's one mask).
import { maskSecrets } from '../engine';

const secrets = new Set<string>();

/** Remembers a secret; very short strings are skipped so masking cannot mangle ordinary text. */
export function registerSecret(value: unknown): void {
  if (typeof value === 'string' && value.length >= 4) secrets.add(value);
}

/** Registers the passwords of server objects (source/target of a spec input, its pooler). */
export function registerServerSecrets(...servers: unknown[]): void {
  for (const server of servers) {
    if (typeof server === 'object' && server !== null) registerSecret((server as { password?: unknown }).password);
  }
}

export function redact(text: string): string {
  return maskSecrets(text, secrets);
}

// The last guard on secrets: any password of the spec found in a message or progress line is
// replaced before it leaves the provider (engine messages should never hold one; this makes sure).
import { maskSecrets, type MigrationSpec } from '../engine';
import type { LineWriter } from './progress';

/** Replaces any password of the spec found in text: no secret reaches a message or a log line. */
export function redact(text: string, spec: Pick<MigrationSpec, 'source' | 'target' | 'pooler'> | undefined): string {
  if (!spec) return text;
  return maskSecrets(text, [spec.source.password, spec.target.password, spec.pooler?.password]);
}

export function redactingWriter(spec: MigrationSpec, write: LineWriter): LineWriter {
  return (line) => write(redact(line, spec));
}

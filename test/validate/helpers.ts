// Small helpers for the validation suites: a parsed spec for a pair, and result lookups by code.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ValidationResult } from '../../provider/engine/core/model';
import { parseMigrationSpec } from '../../provider/engine/input/parse';
import type { MigrationSpec, MigrationSpecInput, ServerSpec } from '../../provider/engine/input/migrationSpec';
import { uniqueName } from '../support';

export function specFor(
  source: ServerSpec,
  target: ServerSpec,
  databases: string[],
  overrides: Partial<MigrationSpecInput> = {},
): MigrationSpec {
  return parseMigrationSpec({ migrationName: uniqueName('val'), source, target, databases, ...overrides });
}

export function withCode(results: readonly ValidationResult[], code: string): ValidationResult[] {
  return results.filter((r) => r.code === code);
}

/** Exactly the results with `code`, asserting there is at least one and all have `status`. */
export function expectCode(results: readonly ValidationResult[], code: string, status: ValidationResult['status']): ValidationResult[] {
  const found = withCode(results, code);
  assert.ok(found.length > 0, `expected a ${code} result, got: ${summary(results)}`);
  for (const r of found) assert.equal(r.status, status, `${code}: ${r.message}`);
  return found;
}

function failures(results: readonly ValidationResult[]): ValidationResult[] {
  return results.filter((r) => r.status === 'Failed');
}

/** One line per result for assertion messages. */
export function summary(results: readonly ValidationResult[]): string {
  return results.map((r) => `\n  ${r.status} ${r.code}${r.database ? ` [${r.database}]` : ''}: ${r.message}`).join('');
}

export function assertNoFailures(results: readonly ValidationResult[]): void {
  assert.deepEqual(
    failures(results).map((r) => r.code),
    [],
    summary(failures(results)),
  );
}

/** A directory of stub tools printing `<tool> (PostgreSQL) <version>`. */
export async function stubToolsDir(version: string, tools = ['pg_dump', 'pg_restore', 'pg_dumpall']): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pgferry-stub-tools-'));
  for (const tool of tools) {
    await fs.writeFile(path.join(dir, tool), `#!/bin/sh\necho "${tool} (PostgreSQL) ${version}"\n`, { mode: 0o755 });
  }
  return dir;
}

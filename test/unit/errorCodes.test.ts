// The error-code registry: defaults flow into errors, and the CLI guide (docs/cli.md) lists every
// code as it is.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES, PgferryError, type ErrorCode } from '../../provider/engine';
import { describeFailure } from '../../provider/cli/main';

const CLI_GUIDE = join(__dirname, '..', '..', '..', 'docs', 'cli.md');

describe('error codes', () => {
  it("fills a PgferryError's category and fix from the registry unless the call site says otherwise", () => {
    const plain = new PgferryError('MIGRATION_NOT_FOUND', 'migration "m" not found on the target');
    assert.equal(plain.category, 'input');
    assert.equal(plain.fix, ERROR_CODES.MIGRATION_NOT_FOUND.fix);
    const specific = new PgferryError('MIGRATION_NOT_FOUND', 'x', { category: 'internal', fix: 'look elsewhere' });
    assert.equal(specific.category, 'internal');
    assert.equal(specific.fix, 'look elsewhere');
  });

  it('ends the CLI line with the code and maps input errors to exit 2', () => {
    const failure = describeFailure(new PgferryError('USAGE', '--colour: unknown flag'));
    assert.equal(failure.code, 2);
    assert.match(failure.line, /\[USAGE\]$/);
    assert.equal(describeFailure(new PgferryError('SCHEMA_RESTORE', 'pg_restore failed')).code, 1);
  });

  it("lists every code with its category in the CLI guide's table, and nothing else", () => {
    const text = readFileSync(CLI_GUIDE, 'utf8');
    const section = /<!-- error-codes:start -->([\s\S]*)<!-- error-codes:end -->/.exec(text)?.[1];
    assert.ok(section, 'docs/cli.md has no error-codes section');
    const listed = new Map([...section.matchAll(/^\| `([A-Z_]+)` \| (\w+) \|/gm)].map((m) => [m[1]!, m[2]!]));
    const registered = Object.entries(ERROR_CODES).map(([code, info]) => [code as ErrorCode, info.category] as const);
    assert.deepEqual([...listed.entries()].sort(), [...registered].sort());
  });
});

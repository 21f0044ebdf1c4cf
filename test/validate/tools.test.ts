import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parseToolVersion, resolvePgTools } from '../../provider/engine/schema/pgTools';
import type { MigrationSpec } from '../../provider/engine/input/migrationSpec';
import { stubToolsDir } from './helpers';

const spec = (pgBinDir?: string) => ({ pgBinDir }) as unknown as MigrationSpec;

describe('pg tools', () => {
  describe('parseToolVersion', () => {
    const cases: [string, number, string][] = [
      ['pg_dump (PostgreSQL) 15.4 (Debian 15.4-1.pgdg120+1)', 15, '15.4'],
      ['pg_dump (PostgreSQL) 12.0', 12, '12.0'],
      ['pg_restore (PostgreSQL) 9.6.24', 9, '9.6.24'],
      ['pg_dump (PostgreSQL) 17devel', 17, '17devel'],
      ['pg_dumpall (PostgreSQL) 16beta1\n', 16, '16beta1'],
      ['pg_dump (PostgreSQL) 16.2 (Ubuntu 16.2-1.pgdg22.04+1)', 16, '16.2'],
    ];
    for (const [text, major, version] of cases) {
      it(`reads ${JSON.stringify(text.trim())}`, () => {
        assert.deepEqual(parseToolVersion(text), { major, version });
      });
    }
    it('returns undefined for other output', () => {
      assert.equal(parseToolVersion('bash: pg_dump: command not found'), undefined);
      assert.equal(parseToolVersion(''), undefined);
    });
  });

  describe('resolvePgTools', () => {
    const dirs: string[] = [];
    after(async () => Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true }))));

    it('finds the machine tools (≥ 15) without pgBinDir', async () => {
      const tools = await resolvePgTools(spec(), 15);
      assert.ok(tools.major >= 15);
      for (const file of [tools.pgDump, tools.pgRestore, tools.pgDumpall]) await fs.access(file);
    });

    it('uses only pgBinDir when given', async () => {
      const dir = await stubToolsDir('16.1');
      dirs.push(dir);
      const tools = await resolvePgTools(spec(dir), 15);
      assert.equal(tools.binDir, dir);
      assert.equal(tools.major, 16);
      assert.equal(tools.pgDump, path.join(dir, 'pg_dump'));
    });

    it('refuses tools older than the source (PG_TOOLS_TOO_OLD)', async () => {
      const dir = await stubToolsDir('12.0');
      dirs.push(dir);
      await assert.rejects(resolvePgTools(spec(dir), 15), (e: { code?: string }) => e.code === 'PG_TOOLS_TOO_OLD');
      // the same tools are fine for an older source
      assert.equal((await resolvePgTools(spec(dir), 12)).major, 12);
    });

    it('reports missing tools (PG_TOOLS_MISSING)', async () => {
      const dir = await stubToolsDir('15.4', ['pg_dump']);
      dirs.push(dir);
      await assert.rejects(resolvePgTools(spec(dir), 15), (e: { code?: string }) => e.code === 'PG_TOOLS_MISSING');
      await assert.rejects(resolvePgTools(spec(path.join(dir, 'nope')), 15), (e: { code?: string }) => e.code === 'PG_TOOLS_MISSING');
    });
  });
});

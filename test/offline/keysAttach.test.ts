// A primary key and a unique constraint are built as their indexes, then attached to them once the
// table's last index is built (copy/indexes.ts). A runner killed between the two (failpoint
// keys-attach, a SIGKILL) leaves the indexes built and the keys not yet made; the resumed run
// attaches them without building the indexes or copying the rows again, and ends Succeeded with
// the keys as the source has them.
import assert from 'node:assert/strict';
import { startPair, until, type ServerPair } from '../support';
import { propertiesFile, runCli, PGFERRY_JSON } from '../cli/helpers';

interface KeyRow {
  name: string;
  kind: string;
  deferrable: boolean;
  deferred: boolean;
  def: string;
}

const KEYS_SQL = `SELECT c.conname AS name, c.contype::text AS kind, c.condeferrable AS deferrable, c.condeferred AS deferred,
                         pg_get_constraintdef(c.oid) AS def
                    FROM pg_constraint c WHERE c.conrelid = 'public.t'::regclass AND c.contype IN ('p', 'u') ORDER BY c.conname`;

/** The table's and its indexes' files: a new one means the table was copied again or the index built again. */
const FILES_SQL = `SELECT relname AS name, relfilenode::text AS file FROM pg_class
                    WHERE relname IN ('t', 't_pkey', 't_code_key', 't_note_idx') ORDER BY relname`;

describe('keys attached to their indexes after a killed runner', function () {
  this.timeout(300_000);
  let pair: ServerPair;

  before(async () => {
    pair = await startPair();
    await pair.source.query('CREATE DATABASE keyed');
    await pair.source.query(
      `CREATE TABLE public.t (id int PRIMARY KEY, code text NOT NULL, note text);
       ALTER TABLE public.t ADD CONSTRAINT t_code_key UNIQUE (code) DEFERRABLE INITIALLY DEFERRED;
       CREATE INDEX t_note_idx ON public.t (note);
       INSERT INTO public.t SELECT g, 'c' || g, md5(g::text) FROM generate_series(1, 5000) g;`,
      [],
      'keyed',
    );
  });
  after(async () => {
    await pair?.stop();
  });

  it('the resumed run attaches the keys to the indexes built before the kill, building and copying nothing again', async () => {
    const file = propertiesFile({
      source: { host: pair.source.host, port: pair.source.port, user: 'postgres', password: pair.source.password },
      target: { host: pair.target.host, port: pair.target.port, user: 'postgres', password: pair.target.password },
      databases: ['keyed'],
    });
    const flags = ['--target-host', pair.target.host, '--target-port', String(pair.target.port), '--target-user', pair.target.user];
    const created = await runCli(['create', '--name', 'keyed-1', '--properties', file, ...PGFERRY_JSON], {
      PGFERRY_FAILPOINTS: 'keys-attach:public.t',
    });
    assert.equal(created.code, 0, created.stderr);
    await until('the runner to be killed before the keys are attached', async () => {
      const result = await runCli(['show', '--name', 'keyed-1', '--output', 'json', ...flags], { PGPASSWORD: pair.target.password });
      assert.equal(result.code, 0, result.stderr);
      const shown = JSON.parse(result.stdout) as { properties: { pgferry: { runner?: { alive: boolean } } } };
      return shown.properties.pgferry.runner?.alive === false ? true : undefined;
    });
    // killed there: the rows and the three indexes are in, and neither key is made yet
    const unique = await pair.target.query<{ name: string; unique: boolean }>(
      `SELECT c.relname AS name, i.indisunique AS unique FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid = 'public.t'::regclass ORDER BY c.relname`,
      [],
      'keyed',
    );
    assert.deepEqual(unique, [
      { name: 't_code_key', unique: true },
      { name: 't_note_idx', unique: false },
      { name: 't_pkey', unique: true },
    ]);
    assert.deepEqual(await pair.target.query(KEYS_SQL, [], 'keyed'), []);
    assert.deepEqual(await pair.target.query('SELECT count(*)::int AS n FROM public.t', [], 'keyed'), [{ n: 5000 }]);
    const filesBefore = await pair.target.query(FILES_SQL, [], 'keyed');

    const resumed = await runCli(['resume', '--name', 'keyed-1', '--properties', file, '--wait', ...PGFERRY_JSON], {}, 120_000);
    assert.equal(resumed.code, 0, `stderr: ${resumed.stderr}\nstdout: ${resumed.stdout}`);
    const status = JSON.parse(resumed.stdout) as { state: string; subState: string };
    assert.deepEqual([status.state, status.subState], ['Succeeded', 'Completed']);

    assert.deepEqual(await pair.target.query<KeyRow>(KEYS_SQL, [], 'keyed'), await pair.source.query<KeyRow>(KEYS_SQL, [], 'keyed'));
    assert.deepEqual(await pair.target.query<KeyRow>(KEYS_SQL, [], 'keyed'), [
      { name: 't_code_key', kind: 'u', deferrable: true, deferred: true, def: 'UNIQUE (code) DEFERRABLE INITIALLY DEFERRED' },
      { name: 't_pkey', kind: 'p', deferrable: false, deferred: false, def: 'PRIMARY KEY (id)' },
    ]);
    assert.deepEqual(await pair.target.query(FILES_SQL, [], 'keyed'), filesBefore);
    assert.deepEqual(await pair.target.query('SELECT count(*)::int AS n FROM public.t', [], 'keyed'), [{ n: 5000 }]);
  });
});

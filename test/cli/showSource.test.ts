// `pgferry show` of a streaming migration reads its slots on the source. Without --properties the
// stored spec has no password, and PGPASSWORD is the target's: show must not send it to the source
// (whose login here has a password of its own), but read the source with the source's own
// ~/.pgpass entry, or say in one line that it needs one. The slot it shows is the one read back from
// the source's pg_replication_slots.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPair, type ServerPair } from '../support';
import { OWN_SOURCE, ownSourcePasswordLab, runCli, PGFERRY_JSON } from './helpers';

describe('pgferry show: the source read with its own credentials', function () {
  this.timeout(300_000);
  let pair: ServerPair;
  let flags: string[];
  let env: Record<string, string>;
  let home: string;
  let pgpassLine: string;

  before(async () => {
    pair = await startPair();
    assert.notEqual(OWN_SOURCE.password, pair.target.password);
    const lab = await ownSourcePasswordLab(pair);
    ({ flags, env, pgpassLine } = lab);
    home = mkdtempSync(path.join(os.tmpdir(), 'pgferry-show-source-'));
    const created = await runCli(
      ['create', '--name', 'shelf-online', '--properties', lab.file, '--mode', 'online', '--wait', ...PGFERRY_JSON],
      {},
      240_000,
    );
    assert.equal(created.code, 0, `stderr: ${created.stderr}\nstdout: ${created.stdout}`);
  });
  after(async () => {
    rmSync(home, { recursive: true, force: true });
    await pair?.stop();
  });

  it('without a ~/.pgpass entry for the source, show says in one line that it needs one, and sends no password there', async () => {
    const show = await runCli(['show', '--name', 'shelf-online', ...PGFERRY_JSON, ...flags], env);
    assert.equal(show.code, 0, show.stderr);
    const where = `${pair.source.host}:${pair.source.port}`;
    assert.deepEqual(show.errLines, [
      `WARNING: the source's slots were not read: the source ${where} asks for a password: PGPASSWORD is the target's, and ~/.pgpass has no entry for the source; add one, or give the migration body with --properties`,
    ]);
    const status = JSON.parse(show.stdout);
    assert.equal(status.databases[0].sourceSlot, undefined, JSON.stringify(status.databases[0]));
    assert.doesNotMatch(show.stdout + show.stderr, /authentication failed/);
  });

  it("with the source's ~/.pgpass entry, show gives the slot as the source's pg_replication_slots has it", async () => {
    const pgpass = path.join(home, '.pgpass');
    writeFileSync(pgpass, pgpassLine, { mode: 0o600 });
    const show = await runCli(['show', '--name', 'shelf-online', ...PGFERRY_JSON, ...flags], { ...env, PGPASSFILE: pgpass });
    assert.equal(show.code, 0, show.stderr);
    assert.deepEqual(show.errLines, []);
    const database = JSON.parse(show.stdout).databases[0];
    const slots = await pair.source.query<{ slot_name: string; active: boolean }>(
      `SELECT slot_name, active FROM pg_replication_slots WHERE slot_name = $1`,
      [database.names.slot],
    );
    assert.deepEqual(slots, [{ slot_name: database.names.slot, active: true }]);
    assert.equal(database.sourceSlot.exists, true, JSON.stringify(database.sourceSlot));
    assert.equal(database.sourceSlot.active, true, JSON.stringify(database.sourceSlot));
    assert.equal(database.sourceSlot.error, undefined);
  });
});

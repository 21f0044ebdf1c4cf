// `pgferry verify` and a cancel whose runner has stopped reach the source with the migration's
// stored spec when no --properties is given, and that spec has no password. PGPASSWORD is then the
// target's, and node-postgres used to send it to the source too. Here each server has a password
// of its own, and each server's log (log_connections) says which users it accepted and which
// passwords it refused; the runner is stopped first, so that only the commands connect. Without a
// ~/.pgpass entry for the source, the command stops in one line and the source receives nothing;
// with one, the source accepts its own login and the command does its work, read back from the
// servers (the row counts, the slot gone, the state Canceled). A source that asks for no password
// (trust in its pg_hba.conf) is reached with none, PGPASSWORD set and no entry, and asked for none.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Cluster } from '../../provider/localpg/cluster';
import { startPair, until, type ServerPair } from '../support';
import { OWN_SOURCE, ownSourcePasswordLab, runCli, PGFERRY_JSON } from './helpers';

const NAME = 'shelf-stored';

/** What a server's log says of the connections made while `run` ran: the users it accepted, the ones it refused. */
async function connectionsDuring<T>(server: Cluster, run: () => Promise<T>): Promise<{ result: T; accepted: string[]; refused: string[] }> {
  const from = statSync(server.logFile).size;
  const result = await run();
  const log = readFileSync(server.logFile).subarray(from).toString('utf8');
  const accepted = [...log.matchAll(/connection authorized: user=(\S+)/g)].map((m) => m[1]!);
  const refused = [...log.matchAll(/password authentication failed for user "([^"]+)"/g)].map((m) => m[1]!);
  return { result, accepted, refused };
}

/** Whether the server lets OWN_SOURCE in without asking for a password (a password callback that fails when asked). */
async function acceptsWithoutPassword(server: Cluster): Promise<true | undefined> {
  const client = new pg.Client({
    host: server.host,
    port: server.port,
    user: OWN_SOURCE.user,
    database: 'shelf',
    password: () => Promise.reject(new Error('asked')),
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return true;
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => undefined);
  }
}

describe('pgferry verify and a stopped runner’s cancel: the source only with its own password', function () {
  this.timeout(300_000);
  let pair: ServerPair;
  let flags: string[];
  let env: Record<string, string>;
  let home: string;
  let pgpass: string;
  let slot: string;
  let where: string;

  /** The source's and the target's logs while `pgferry args` runs with `extra` in its environment. */
  const cli = async (args: readonly string[], extra: Record<string, string> = {}) => {
    let onTarget: string[] = [];
    let refusedOnTarget: string[] = [];
    const onSource = await connectionsDuring(pair.source, async () => {
      const seen = await connectionsDuring(pair.target, () => runCli([...args, ...flags], { ...env, ...extra }, 120_000));
      onTarget = seen.accepted;
      refusedOnTarget = seen.refused;
      return seen.result;
    });
    return {
      ...onSource.result,
      source: { accepted: onSource.accepted, refused: onSource.refused },
      target: { accepted: onTarget, refused: refusedOnTarget },
    };
  };

  const show = async () => {
    const result = await runCli(['show', '--name', NAME, ...PGFERRY_JSON, ...flags], { ...env, PGPASSFILE: pgpass });
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout) as { state: string; runner?: { pid: number; alive?: boolean } };
  };

  before(async () => {
    pair = await startPair();
    assert.notEqual(OWN_SOURCE.password, pair.target.password);
    for (const server of [pair.source, pair.target]) {
      await server.query(`ALTER SYSTEM SET log_connections = on`);
      await server.query(`SELECT pg_reload_conf()`);
    }
    const lab = await ownSourcePasswordLab(pair);
    ({ flags, env } = lab);
    where = `${pair.source.host}:${pair.source.port}`;
    home = mkdtempSync(path.join(os.tmpdir(), 'pgferry-source-password-'));
    pgpass = path.join(home, '.pgpass');
    writeFileSync(pgpass, lab.pgpassLine, { mode: 0o600 });
    const created = await runCli(
      ['create', '--name', NAME, '--properties', lab.file, '--mode', 'online', '--wait', ...PGFERRY_JSON],
      {},
      240_000,
    );
    assert.equal(created.code, 0, `stderr: ${created.stderr}\nstdout: ${created.stdout}`);
    slot = JSON.parse(created.stdout).databases[0].names.slot;
    // the runner stopped first, so that no session of its own reaches the source beside the commands
    process.kill((await show()).runner!.pid, 'SIGKILL');
    await until('the runner seen stopped', async () => ((await show()).runner?.alive === false ? true : undefined));
  });
  after(async () => {
    rmSync(home, { recursive: true, force: true });
    await pair?.stop();
  });

  const refusal = (command: string) =>
    `pgferry ${command}: migration "${NAME}": the source ${where} asks for a password: PGPASSWORD is the target's, and ~/.pgpass has no entry for the source (fix: add a ~/.pgpass entry for the source, or give the migration body with --properties) [SOURCE_PASSWORD_REQUIRED]`;

  it('verify without a ~/.pgpass entry for the source: one line naming both ways, and the source receives nothing', async () => {
    const run = await cli(['verify', '--name', NAME, '--output', 'json']);
    assert.equal(run.code, 2, run.stderr);
    assert.deepEqual(run.errLines, [refusal('verify')]);
    assert.deepEqual(run.source, { accepted: [], refused: [] });
    assert.deepEqual(run.target.refused, []);
    assert.ok(run.target.accepted.length > 0 && run.target.accepted.every((u) => u === pair.target.user), run.target.accepted.join());
  });

  it("verify with the source's ~/.pgpass entry: the source accepts its own login, and the counts are the source's", async () => {
    const run = await cli(['verify', '--name', NAME, '--output', 'json'], { PGPASSFILE: pgpass });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(run.source.refused, []);
    assert.ok(run.source.accepted.length > 0 && run.source.accepted.every((u) => u === OWN_SOURCE.user), run.source.accepted.join());
    assert.deepEqual(run.target.refused, []);
    const report = JSON.parse(run.stdout) as { ok: boolean; tables: { table: string; sourceRows: number; targetRows: number }[] };
    const [{ n }] = (await pair.source.query<{ n: number }>('SELECT count(*)::int AS n FROM public.books', [], 'shelf')) as [{ n: number }];
    const books = report.tables.find((t) => t.table.includes('books'));
    assert.deepEqual([books?.sourceRows, books?.targetRows], [n, n], JSON.stringify(report.tables));
    assert.equal(report.ok, true);
  });

  it("verify of a source that asks for no password (trust in its pg_hba.conf), PGPASSWORD set and no entry: reached with none, the counts the source's", async () => {
    const hba = path.join(pair.source.dataDir, 'pg_hba.conf');
    const rules = readFileSync(hba, 'utf8');
    writeFileSync(hba, `host all ${OWN_SOURCE.user} 127.0.0.1/32 trust\n${rules}`);
    await pair.source.query('SELECT pg_reload_conf()');
    try {
      await until('the source letting its user in with no password', () => acceptsWithoutPassword(pair.source));
      const run = await cli(['verify', '--name', NAME, '--output', 'json']);
      assert.equal(run.code, 0, run.stderr);
      // no password reached the source: none was asked for, and none refused
      assert.deepEqual(run.source.refused, []);
      assert.ok(run.source.accepted.length > 0 && run.source.accepted.every((u) => u === OWN_SOURCE.user), run.source.accepted.join());
      const report = JSON.parse(run.stdout) as { ok: boolean; tables: { table: string; sourceRows: number; targetRows: number }[] };
      const [{ n }] = (await pair.source.query<{ n: number }>('SELECT count(*)::int AS n FROM public.books', [], 'shelf')) as [
        { n: number },
      ];
      const books = report.tables.find((t) => t.table.includes('books'));
      assert.deepEqual([books?.sourceRows, books?.targetRows], [n, n], JSON.stringify(report.tables));
      assert.equal(report.ok, true);
    } finally {
      writeFileSync(hba, rules);
      await pair.source.query('SELECT pg_reload_conf()');
      await until('the source asking its user for a password again', async () =>
        (await acceptsWithoutPassword(pair.source)) ? undefined : true,
      );
    }
  });

  it("a stopped runner's cancel without the entry stops in one line, changing nothing; with it, the source's slot is dropped", async () => {
    const slots = () => pair.source.query<{ slot_name: string }>('SELECT slot_name FROM pg_replication_slots WHERE slot_name = $1', [slot]);

    const refused = await cli(['update', '--name', NAME, '--cancel', ...PGFERRY_JSON]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.deepEqual(refused.errLines, [refusal('update')]);
    assert.deepEqual(refused.source, { accepted: [], refused: [] });
    assert.deepEqual(await slots(), [{ slot_name: slot }]);
    assert.notEqual((await show()).state, 'Canceled');

    const canceled = await cli(['update', '--name', NAME, '--cancel', ...PGFERRY_JSON], { PGPASSFILE: pgpass });
    assert.equal(canceled.code, 0, canceled.stderr);
    assert.equal(JSON.parse(canceled.stdout).state, 'Canceled');
    assert.deepEqual(canceled.source.refused, []);
    assert.ok(
      canceled.source.accepted.length > 0 && canceled.source.accepted.every((u) => u === OWN_SOURCE.user),
      canceled.source.accepted.join(),
    );
    assert.deepEqual(canceled.target.refused, []);
    assert.deepEqual(await slots(), []);
  });
});

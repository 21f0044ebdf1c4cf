// A database whose name holds a space and both quotes, end to end through the CLI: the offline
// migration copies it, `show` prints it quoted on one line of its table and of its messages,
// `verify` names it quoted in the line of a table that differs, and the progress rows the control
// catalog keeps for it are keyed by the table's schema and name.
import assert from 'node:assert/strict';
import { displayIdent, ident } from '../../provider/engine/connect/quote';
import { startPair, type ServerPair } from '../support';
import { propertiesFile, runCli, PGFERRY_JSON } from './helpers';

const DB = `shop's "main" db`;
const PRINTED = `"shop's ""main"" db"`;

describe('a database named with a space and quotes, through the CLI', function () {
  this.timeout(300_000);
  let pair: ServerPair;
  let file: string;

  before(async () => {
    pair = await startPair();
    await pair.source.query(`CREATE DATABASE ${ident(DB)}`);
    await pair.source.query(
      `CREATE TABLE "Orders" (id int PRIMARY KEY, item text NOT NULL);
       INSERT INTO "Orders" SELECT g, 'item ' || g FROM generate_series(1, 500) g;
       CREATE TABLE notes (k int PRIMARY KEY, body text);
       INSERT INTO notes SELECT g, md5(g::text) FROM generate_series(1, 30) g;`,
      [],
      DB,
    );
    file = propertiesFile({
      source: { host: pair.source.host, port: pair.source.port, user: 'postgres', password: pair.source.password },
      target: { host: pair.target.host, port: pair.target.port, user: 'postgres', password: pair.target.password },
      databases: [DB],
    });
  });
  after(async () => pair?.stop());

  it('migrates it offline; show prints it quoted on one line; verify names it quoted; its progress rows read back by schema and name', async () => {
    assert.equal(displayIdent(DB), PRINTED);
    const created = await runCli(['create', '--name', 'odd-db', '--properties', file, '--wait', ...PGFERRY_JSON], {}, 240_000);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(JSON.parse(created.stdout).state, 'Succeeded', created.stdout);
    const [copied] = await pair.target.query<{ n: number }>(`SELECT count(*)::int AS n FROM "Orders"`, [], DB);
    assert.equal(copied?.n, 500);

    const progress = await pair.target.query<{ schema_name: string; table_name: string; state: string; rows: number }>(
      `SELECT schema_name, table_name, state, rows::int FROM pgferry.migration_table WHERE migration = 'odd-db' ORDER BY table_name`,
    );
    assert.deepEqual(progress, [
      { schema_name: 'public', table_name: 'Orders', state: 'Completed', rows: 500 },
      { schema_name: 'public', table_name: 'notes', state: 'Completed', rows: 30 },
    ]);

    const flags = ['--target-host', pair.target.host, '--target-port', String(pair.target.port), '--target-user', pair.target.user];
    const env = { PGPASSWORD: pair.target.password };
    const shown = await runCli(['show', '--name', 'odd-db', ...flags], env);
    assert.equal(shown.code, 0, shown.stderr);
    const row = shown.stdout.split('\n').find((l) => l.trimStart().startsWith(PRINTED));
    assert.ok(row, `show prints the database quoted at the start of its row:\n${shown.stdout}`);
    assert.match(row, /Succeeded\s+2\/2\s+530\b/);
    assert.ok(!shown.stdout.split('\n').some((l) => l.includes(DB)), `show never prints the name raw:\n${shown.stdout}`);

    const listed = await runCli(['list', '--filter', 'all', ...flags], env);
    assert.equal(listed.code, 0, listed.stderr);
    assert.ok(
      listed.stdout.split('\n').some((l) => l.includes('odd-db') && l.includes(PRINTED)),
      listed.stdout,
    );

    const same = await runCli(['verify', '--name', 'odd-db', '--properties', file]);
    assert.equal(same.code, 0, `${same.stdout}\n${same.stderr}`);
    assert.ok(same.stdout.includes(`  schema of ${PRINTED}: `), same.stdout);

    await pair.target.query(`DELETE FROM "Orders" WHERE id = 7`, [], DB);
    const differsText = await runCli(['verify', '--name', 'odd-db', '--properties', file]);
    assert.equal(differsText.code, 1, differsText.stdout);
    assert.ok(
      differsText.stdout
        .split('\n')
        .includes(`  ${PRINTED}.public."Orders": source 500 rows, target 499 (row count differs: source 500, target 499)`),
      differsText.stdout,
    );
    const differs = await runCli(['verify', '--name', 'odd-db', '--properties', file, '--output', 'json']);
    assert.equal(differs.code, 1, differs.stdout);
    const report = JSON.parse(differs.stdout) as { firstMismatch?: string };
    assert.equal(report.firstMismatch, `database ${PRINTED} table public."Orders": row count differs: source 500, target 499`);
  });
});

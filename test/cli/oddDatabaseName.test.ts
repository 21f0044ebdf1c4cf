// A database whose name holds a space and both quotes, end to end through the CLI: the offline
// migration copies it, `show` prints it quoted on one line of its table and of its messages,
// `verify` names it quoted in the line of a table that differs, and the progress rows the control
// catalog keeps for it are keyed by the table's schema and name. A name holding a newline and a
// quote is named by validation's message and fix on one line, in PostgreSQL's Unicode escape form.
import assert from 'node:assert/strict';
import { displayIdent, ident } from '../../provider/engine/connect/quote';
import { startPair, type ServerPair } from '../support';
import { propertiesFile, runCli, PGFERRY_JSON } from './helpers';

const DB = `shop's "main" db`;
const PRINTED = `"shop's ""main"" db"`;
/** A database name with a newline and a quote, and how every message prints it: on one line, still SQL. */
const NEWLINE_DB = 'new\nline "db"';
const NEWLINE_PRINTED = 'U&"new\\000Aline ""db"""';

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

  it('names a database with a newline and a quote that the source lacks on one line, in the message and the fix of its validation', async () => {
    assert.equal(displayIdent(NEWLINE_DB), NEWLINE_PRINTED);
    const missing = propertiesFile({
      source: { host: pair.source.host, port: pair.source.port, user: 'postgres', password: pair.source.password },
      target: { host: pair.target.host, port: pair.target.port, user: 'postgres', password: pair.target.password },
      databases: [NEWLINE_DB],
    });
    const created = await runCli(['create', '--name', 'odd-newline', '--properties', missing, '--wait', ...PGFERRY_JSON], {}, 120_000);
    const status = JSON.parse(created.stdout) as { state: string; validation: { code: string; message: string; fix?: string }[] };
    assert.equal(status.state, 'ValidationFailed', created.stdout);
    const refused = status.validation.filter((v) => v.code === 'SOURCE_DATABASE_MISSING');
    assert.deepEqual(
      refused.map((v) => [v.message, v.fix]),
      [
        [
          `database ${NEWLINE_PRINTED} does not exist on the source`,
          `remove ${NEWLINE_PRINTED} from databases, or correct its name (names are case-sensitive)`,
        ],
      ],
    );
    const [target] = await pair.target.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_database WHERE datname = $1`, [NEWLINE_DB]);
    assert.equal(target?.n, 0, 'nothing was made on the target');
  });
});

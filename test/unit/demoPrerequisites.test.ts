// What `pgferry demo` says when the machine cannot run its own servers, for machines this one is
// not: the facts are given to the pure judgement (and to runDemo) instead of inspected.
import assert from 'node:assert/strict';
import { runDemo } from '../../provider/demo/runDemo';
import {
  existingServersHint,
  ownServersNotes,
  ownServersProblems,
  poolerMissing,
  type DemoMachine,
} from '../../provider/demo/prerequisites';

/** A Debian machine with everything the demo needs, run by an ordinary user. */
const READY: DemoMachine = {
  platform: 'linux',
  arch: 'x64',
  isRoot: false,
  postgresUser: true,
  server15: true,
  client15: true,
  apt: true,
  embedded16: true,
  pgbouncer: true,
};

describe('pgferry demo: what it says when it cannot run its own servers', () => {
  it('has nothing to refuse on Linux with PostgreSQL 15, as an ordinary user or as root with a postgres user', () => {
    assert.deepEqual(ownServersProblems(READY), []);
    assert.deepEqual(ownServersProblems({ ...READY, isRoot: true }), []);
    assert.deepEqual(ownServersNotes(READY), []);
  });

  it('off Linux, refuses its own servers naming the platform', () => {
    const problems = ownServersProblems({ ...READY, platform: 'darwin', arch: 'arm64' });
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /Linux only/);
    assert.match(problems[0]!, /darwin arm64/);
  });

  it('names the missing PostgreSQL 15 packages and the apt-get command to install them', () => {
    const [problem, ...rest] = ownServersProblems({ ...READY, server15: false, client15: false });
    assert.deepEqual(rest, []);
    assert.match(problem!, /sudo apt-get install -y postgresql-15 postgresql-client-15/);
    const [clientOnly] = ownServersProblems({ ...READY, client15: false, isRoot: true });
    assert.match(clientOnly!, /apt-get install -y postgresql-client-15\b/);
    assert.doesNotMatch(clientOnly!, /sudo|postgresql-15 /);
  });

  it('without apt-get, says to install the PostgreSQL 15 server and client where the demo looks for them', () => {
    const [problem] = ownServersProblems({ ...READY, server15: false, apt: false });
    assert.match(problem!, /no apt-get/);
    assert.match(problem!, /\/usr\/lib\/postgresql\/15\/bin/);
    assert.doesNotMatch(problem!, /apt-get install/);
  });

  it('as root without a postgres OS user, gives the command that creates it', () => {
    const problems = ownServersProblems({ ...READY, isRoot: true, postgresUser: false });
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /useradd --system .* postgres/);
  });

  it('without PgBouncer, says in one line what to install and that the online part fences the writers instead', () => {
    assert.equal(poolerMissing(READY), undefined);
    assert.equal(
      poolerMissing({ ...READY, pgbouncer: false }),
      'note: no PgBouncer at /usr/sbin/pgbouncer (sudo apt-get install -y pgbouncer (npm run demo installs it itself as root)): the online part cuts over with the writer fence instead of through a pooler',
    );
    assert.match(poolerMissing({ ...READY, pgbouncer: false, isRoot: true })!, /\(apt-get install -y pgbouncer\)/);
    assert.match(poolerMissing({ ...READY, pgbouncer: false, apt: false })!, /install PgBouncer so that it is at \/usr\/sbin\/pgbouncer/);
  });

  it('says so when the target will be a second PostgreSQL 15 for want of the embedded 16', () => {
    assert.match(ownServersNotes({ ...READY, embedded16: false }).join('\n'), /target is a second PostgreSQL 15/);
  });

  it('shows how to point it at existing servers, with the command it was started by and no password in the URLs', () => {
    const hint = existingServersHint('npm run demo --', 'adventureworks').join('\n');
    assert.match(
      hint,
      /npm run demo -- --source-url postgres:\/\/USER@SOURCE-HOST:5432\/postgres --target-url postgres:\/\/USER@TARGET-HOST/,
    );
    assert.match(hint, /PGPASSWORD or ~\/\.pgpass/);
    assert.match(hint, /"adventureworks"/);
  });

  it('runDemo prints the refusal and the hint on its error stream, starts nothing and returns 1', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runDemo((line) => out.push(line), {
      machine: { ...READY, platform: 'win32' },
      printError: (line) => err.push(line),
      command: 'pgferry demo',
    });
    assert.equal(code, 1);
    assert.deepEqual(out, []);
    assert.match(err[0]!, /cannot start its own PostgreSQL servers/);
    assert.ok(err.some((line) => line.includes('pgferry demo --source-url')));
  });
});

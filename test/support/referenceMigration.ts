// The reference a migration is judged against: what a DBA gets with the PostgreSQL tools alone,
// `pg_dumpall --roles-only | psql` for roles and `pg_dump -Fd | pg_restore --create` for the
// database (its comment, ACL and settings come with --create), run with the same client tools
// pgferry would use, into a cluster of its own so roles do not mix.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Cluster } from '../../provider/localpg/cluster';
import type { PgTools } from '../../provider/engine/schema/pgTools';

const execFileAsync = promisify(execFile);

function envFor(cluster: Cluster): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PGHOST: cluster.host,
    PGPORT: String(cluster.port),
    PGUSER: cluster.user,
    PGPASSWORD: cluster.password,
    PGSSLMODE: 'disable',
  };
}

async function run(file: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<string> {
  try {
    const { stderr } = await execFileAsync(file, args, { env, maxBuffer: 64 * 1024 * 1024 });
    return stderr;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`${path.basename(file)} ${args.join(' ')} failed: ${e.stderr || e.message}`, { cause: error });
  }
}

/**
 * Copies `database` and the roles of `source` into `target` with the PostgreSQL tools. Returns
 * psql's complaints about roles that already exist (the bootstrap superuser), for the record.
 */
export async function dumpRestoreReference(args: { tools: PgTools; source: Cluster; target: Cluster; database: string }): Promise<string> {
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'pgferry-reference-'));
  try {
    const roles = path.join(work, 'roles.sql');
    await run(args.tools.pgDumpall, ['--roles-only', `--file=${roles}`, '--database=postgres'], envFor(args.source));
    // psql goes on past "role postgres already exists", as it does for a DBA.
    const psql = path.join(args.tools.binDir, 'psql');
    const roleNotes = await run(psql, ['-X', '-q', '--dbname=postgres', `--file=${roles}`], envFor(args.target));

    const dump = path.join(work, 'dump');
    await run(args.tools.pgDump, ['--format=directory', '--jobs=2', `--file=${dump}`, `--dbname=${args.database}`], envFor(args.source));
    // --create restores ALTER DATABASE ... SET before the objects and reconnects, so a setting
    // such as default_transaction_read_only = on would stop the restore: the DBA's workaround
    // overrides it per session (pgferry applies database settings last for the same reason).
    // One job: with --jobs, two index entries of one table, each ending in ALTER TABLE ...
    // REPLICA IDENTITY or CLUSTER ON inside its transaction, can deadlock each other.
    const restoreEnv = { ...envFor(args.target), PGOPTIONS: '-c default_transaction_read_only=off' };
    await run(args.tools.pgRestore, ['--create', '--exit-on-error', '--dbname=postgres', dump], restoreEnv);
    return roleNotes;
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

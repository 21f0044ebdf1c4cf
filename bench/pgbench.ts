// pgbench runs on the source: the TPC-B-like default script, whose transactions each change four
// rows (three UPDATEs and one INSERT), so replicated rows = 4 × transactions.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Cluster } from '../provider/localpg/cluster';
import { PG_BIN, pgEnv } from './dataset';

const execFileAsync = promisify(execFile);

export const ROWS_PER_TRANSACTION = 4;

export interface PgbenchResult {
  readonly transactions: number;
  readonly tps: number;
  readonly seconds: number;
}

export async function runPgbench(
  source: Cluster,
  database: string,
  options: { clients: number; seconds?: number; transactionsPerClient?: number; rate?: number },
): Promise<PgbenchResult> {
  const started = Date.now();
  const args = ['-n', '-c', String(options.clients), '-j', String(Math.min(options.clients, 2))];
  // Either a duration or a fixed number of transactions per client (an exactly repeatable backlog).
  if (options.transactionsPerClient !== undefined) args.push('-t', String(options.transactionsPerClient));
  else args.push('-T', String(options.seconds ?? 10));
  if (options.rate !== undefined) args.push('--rate', String(Math.max(1, Math.round(options.rate))));
  const { stdout } = await execFileAsync(`${PG_BIN}/pgbench`, [...args, database], { env: pgEnv(source), maxBuffer: 16 * 1024 * 1024 });
  const transactions = Number(/number of transactions actually processed:\s*(\d+)/.exec(stdout)?.[1] ?? NaN);
  const tps = Number(/tps = ([\d.]+)/.exec(stdout)?.[1] ?? NaN);
  if (!Number.isFinite(transactions) || !Number.isFinite(tps)) throw new Error(`unexpected pgbench output: ${stdout.slice(-300)}`);
  return { transactions, tps, seconds: (Date.now() - started) / 1000 };
}

// What sysbench's retried conflicts were, read from the servers' own logs (issue 64): sysbench
// counts a deadlock (40P01) and a duplicate key (23505) alike and retries both, and its report does
// not say which, nor who the other party was. PostgreSQL logs each at the default settings: a
// deadlock with the statement of every session in its cycle, a duplicate key with its constraint.
// So a run reads the logs from where they stood when sysbench started, and says how many of each
// it found, and how many deadlocks had a session in the cycle whose statement is not sysbench's
// (pgferry's, or anyone else's): the conflicts pgferry could have caused.
import { promises as fs } from 'node:fs';

/** A server log and where a run started reading it. */
interface LogMark {
  readonly file: string;
  readonly offset: number;
}

export interface ServerConflicts {
  readonly deadlocks: number;
  /** Deadlocks with a session whose statement does not name sysbench's table. */
  readonly deadlocksWithOthers: number;
  /** Duplicate keys of sysbench's table (its delete and insert of one id, met by the other thread). */
  readonly duplicateKeys: number;
  /** The statements of the deadlocks with others, for the report (a few). */
  readonly others: readonly string[];
}

/** sysbench's table: its statements name it, and its primary key's constraint too. */
const SYSBENCH_TABLE = 'sbtest1';

/** Where each log stands now: what a run reads is what follows. */
export async function markLogs(files: readonly string[]): Promise<LogMark[]> {
  return Promise.all(files.map(async (file) => ({ file, offset: (await fs.stat(file)).size })));
}

async function readFrom(mark: LogMark): Promise<string> {
  const handle = await fs.open(mark.file, 'r');
  try {
    const { size } = await handle.stat();
    const buffer = Buffer.alloc(Math.max(0, size - mark.offset));
    await handle.read(buffer, 0, buffer.length, mark.offset);
    return buffer.toString('utf8');
  } finally {
    await handle.close();
  }
}

/** The statements of the sessions in one logged deadlock: its DETAIL's `Process N: ...` lines. */
function deadlockStatements(lines: readonly string[], at: number): string[] {
  const statements: string[] = [];
  for (let i = at + 1; i < lines.length; i++) {
    const line = lines[i]!;
    // a new log line starts with its timestamp; the DETAIL's own lines start with a tab
    if (!/^\s/.test(line) && !/DETAIL:/.test(line)) break;
    const m = /Process \d+: (.*)$/.exec(line);
    if (m) statements.push(m[1]!);
  }
  return statements;
}

/** The conflicts the logs recorded since `marks`. */
export async function conflictsSince(marks: readonly LogMark[]): Promise<ServerConflicts> {
  let [deadlocks, deadlocksWithOthers, duplicateKeys] = [0, 0, 0];
  const others: string[] = [];
  for (const mark of marks) {
    const lines = (await readFrom(mark)).split('\n');
    for (const [i, line] of lines.entries()) {
      if (line.includes(`duplicate key value violates unique constraint "${SYSBENCH_TABLE}_pkey"`)) duplicateKeys++;
      if (!line.includes('ERROR:  deadlock detected')) continue;
      deadlocks++;
      const foreign = deadlockStatements(lines, i).filter((s) => !s.includes(SYSBENCH_TABLE));
      if (foreign.length === 0) continue;
      deadlocksWithOthers++;
      others.push(...foreign.slice(0, 2).map((s) => s.slice(0, 160)));
    }
  }
  return { deadlocks, deadlocksWithOthers, duplicateKeys, others: others.slice(0, 4) };
}

/** The conflicts in words, for a report's line. */
export function conflictWords(c: ServerConflicts): string {
  const withOthers = c.deadlocksWithOthers > 0 ? `, ${c.deadlocksWithOthers} with a session not sysbench's (${c.others.join(' | ')})` : '';
  return `the servers' logs: ${c.deadlocks} deadlock(s)${withOthers}, ${c.duplicateKeys} duplicate key(s) of ${SYSBENCH_TABLE}`;
}

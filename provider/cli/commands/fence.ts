// `pgferry fence lift`: the writer fence a migration keeps on a server after it ended (the old
// source's after a cutover, the new server's after a fall-back), lifted by the statements `show`
// gives, run in one transaction per database. The command reaches the fenced server itself: the
// spec comes from --properties, or from the stored spec with the source's own ~/.pgpass entry, as
// verify's does (migrationSpecOf): the source's is needed only to lift the source's fence.
import { displayIdent, liftKeptFences, type FenceLiftReport } from '../../engine';
import type { CliArgs } from '../input/parse';
import { migrationSpecOf } from '../migrationSpecOf';
import { printResult } from '../result';

/** One line per database lifted, or one saying there was nothing to lift. */
function renderLift(report: FenceLiftReport): string {
  if (report.lifted.length === 0) {
    return `migration "${report.migration}" keeps no writer fence on the ${report.server}: nothing to lift`;
  }
  return report.lifted
    .map((l) => `${displayIdent(l.database)}: writer fence on the ${report.server} lifted, in one transaction: ${l.statements.join('; ')}`)
    .join('\n');
}

export async function fenceLiftCommand(args: CliArgs): Promise<number> {
  const spec = await migrationSpecOf(args, undefined, args.fencedServer === 'source');
  const report = await liftKeptFences(spec, args.fencedServer!);
  printResult(args, { value: report, table: () => renderLift(report) });
  return 0;
}

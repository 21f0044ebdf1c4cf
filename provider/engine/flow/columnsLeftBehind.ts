// A column made on the new server alone (an application's or a DBA's, while streaming or in the
// fallback window) is the new server's own: the reverse stream leaves it out of the rows it writes
// and never makes it on the old source (docs/fallback.md). Once the applications write values in it,
// a fall-back that passed its point of no return would leave those values behind on a server no
// application uses any more: lost without a word. So the fall-back stops before it, naming the column
// and the statement that makes it on the old source; an empty column (every value null) loses
// nothing and is kept on the new server, as before.
import type { KeptColumn, KeptObject } from '../core/model';
import { withSession } from '../connect/session';
import { displayIdent, displayName, ident, qualified } from '../connect/quote';
import type { ServerSpec } from '../input/migrationSpec';

/** Of the columns the schema check kept on the new server, those holding a value in some row there. */
async function filledColumns(target: ServerSpec, database: string, kept: readonly KeptColumn[]): Promise<KeptColumn[]> {
  if (kept.length === 0) return [];
  return withSession(target, { database, purpose: 'fall-back columns', readOnly: true }, async (client) => {
    const filled: KeptColumn[] = [];
    for (const c of kept) {
      const { rows } = await client.query<{ filled: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM ${qualified(c.schema, c.table)} WHERE ${ident(c.name)} IS NOT NULL) AS filled`,
      );
      if (rows[0]?.filled) filled.push(c);
    }
    return filled;
  });
}

/**
 * Why a fall-back must stop before its point of no return: the first column of the new server the
 * old source has no column for that holds values there, with the statements that bring them back;
 * undefined when none does. Read on the new server inside the hold, so no value is written after.
 */
export async function columnsLeftBehind(target: ServerSpec, database: string, kept: readonly KeptObject[]): Promise<string | undefined> {
  const columns = kept.flatMap((k) => (k.column ? [k.column] : []));
  const filled = await filledColumns(target, database, columns);
  if (filled.length === 0) return undefined;
  const names = filled.map((c) => `${displayName(c.schema, c.table)}.${displayIdent(c.name)}`).join(', ');
  const adds = filled.map((c) => c.add).join('; ');
  const rewrites = filled
    .map((c) => `UPDATE ${qualified(c.schema, c.table)} SET ${ident(c.name)} = ${ident(c.name)} WHERE ${ident(c.name)} IS NOT NULL`)
    .join('; ');
  return (
    `column ${names} of the new server holds values the old source has no column for (made on the new server alone, the reverse stream leaves it out): ` +
    `a fall-back would leave them behind; fix on the old source: ${adds}; then on the new server: ${rewrites}, so the reverse stream carries its values`
  );
}

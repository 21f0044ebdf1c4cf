// Generated columns (GENERATED ALWAYS AS (expr) STORED) changed on the source while streaming,
// followed on the target (issue 49). pgoutput does not send them (before PostgreSQL 18, and there
// only when asked), so a relation message does not show them: they are compared with the source's
// catalog at the table's relation messages. Their values are never streamed nor written by the
// apply: each server computes them from the row, by the same immutable expression, so the target's
// values are the source's whatever the moment the column is added. Pure: decided from the source's
// catalog (pg_attribute and the expression as pg_get_expr prints it) and the target's columns.
import { displayIdent, ident, qualified } from '../../connect/quote';
import { FORWARD_STREAM_WORDS, type StreamWords } from '../../core/streamWords';
import type { SourceAttribute } from './shapeFollow';

/** What to run on the target, in order, what was followed, for the event, and the target's generated columns after, sorted. */
export interface GeneratedPlan {
  readonly statements: readonly string[];
  readonly followed: readonly string[];
  readonly generated: readonly string[];
}

// a column as the prose of a follow prints it (bare where plain), never as SQL
const q = displayIdent;

/**
 * Pure: the statements that give the target table `table` the source's generated columns by name:
 * one only the source has is added with the source's type and expression (the target computes
 * its existing rows' values, as the source did); one the source no longer has (dropped, or
 * renamed: then added under its new name, the same values computed again) is dropped. One the
 * target has as generated and the relation message streams (`streamed`) is a plain column on the
 * source from this message on (ALTER COLUMN ... DROP EXPRESSION, the stored values kept): it loses
 * its expression here, and only here. The source's catalog is read when the apply reaches the
 * message and may be past it: a column it shows plain, but the message does not stream yet, was
 * still generated for the rows before the message that carries it, which the target must compute
 * (or keep) as the source did. `targetColumns`: every target column's name; `targetGenerated`:
 * the generated ones. A name the target holds as a plain column while the source's is generated is
 * left alone: a column dropped and added again, which the streamed columns' follow (shapeFollow.ts)
 * decides first, and otherwise the cutover's schema check names it. An expression changed in place
 * (PostgreSQL 17's SET EXPRESSION) is left to that check too: the text pg_get_expr prints may differ
 * between major versions for the same expression, and dropping and adding the column on every such
 * difference would rewrite the table at each session's first relation message. `targetOnly`: the
 * target's generated columns pgferry did not make and the source never had (a DBA's, told by the
 * migration's known objects): kept as they are, never dropped.
 */
export function planGeneratedFollow(
  schema: string,
  table: string,
  source: readonly SourceAttribute[],
  streamed: ReadonlySet<string>,
  targetColumns: readonly string[],
  targetGenerated: readonly string[],
  targetOnly: ReadonlySet<string> = new Set(),
  words: StreamWords = FORWARD_STREAM_WORDS,
): GeneratedPlan {
  const alter = `ALTER TABLE ${qualified(schema, table)}`;
  const live = [...source].filter((a) => !a.dropped).sort((x, y) => x.attnum - y.attnum);
  const byName = new Map(live.map((a) => [a.name, a]));
  const onTarget = new Set(targetColumns);
  const generated = new Set(targetGenerated);
  const statements: string[] = [];
  const followed: string[] = [];
  const after = new Set(targetGenerated);
  for (const name of targetGenerated) {
    if (streamed.has(name)) {
      statements.push(`${alter} ALTER COLUMN ${ident(name)} DROP EXPRESSION IF EXISTS`);
      followed.push(`generated column ${q(name)} made a plain column (DROP EXPRESSION), its values kept`);
      after.delete(name);
    } else if (!byName.has(name) && !targetOnly.has(name)) {
      statements.push(`${alter} DROP COLUMN IF EXISTS ${ident(name)}`);
      followed.push(`generated column ${q(name)} dropped`);
      after.delete(name);
    }
  }
  for (const a of live) {
    if (!a.generated || onTarget.has(a.name) || generated.has(a.name) || streamed.has(a.name) || !a.expression) continue;
    statements.push(`${alter} ADD COLUMN IF NOT EXISTS ${ident(a.name)} ${a.type} GENERATED ALWAYS AS (${a.expression}) STORED`);
    followed.push(`generated column ${q(a.name)} added, its values computed on ${words.target} by ${words.source}'s expression`);
    after.add(a.name);
  }
  return { statements, followed, generated: [...after].sort() };
}

/** Pure: the names of the source's live generated columns, sorted (compared with what the target was given last). */
export function generatedNames(source: readonly SourceAttribute[]): string[] {
  return source
    .filter((a) => !a.dropped && a.generated)
    .map((a) => a.name)
    .sort();
}

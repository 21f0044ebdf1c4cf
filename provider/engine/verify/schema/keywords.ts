// The words two servers quote differently. Every name a server prints (pg_get_expr, pg_get_*def,
// format_type, format('%I'), quote_ident, a regclass's text) is quoted by that server's own keyword
// list: a word that is a keyword on one major and not on the other (`system_user` and `json_object`
// from 16 on) prints bare on the older and double-quoted on the newer, for one and the same name. A
// column so named would read as a difference in every text that names it (its index, its CHECK, its
// serial's OWNED BY, a function's arguments, a comment's identity).
//
// Here, the one place such names are made alike: each of those words, where a server printed it bare
// as a name, is quoted as the other server quotes it, in every text the servers print. Only those
// words: a bare word the older server prints is a name there (it is no keyword of its), and the newer
// prints the word as a keyword in capitals (SYSTEM_USER), never bare; a word both servers quote is
// left as each printed it, so `current_user` the function and `"current_user"` a column still differ.
// String literals, quoted names and dollar-quoted bodies are copied as they are, but for a literal
// cast to a reg* type, whose text is a name the server quoted.
import type pg from 'pg';
import type { PropertyValue, SchemaObject } from './catalog';

/** The words a server quotes where they name something: its keywords that are not unreserved. */
export async function readQuotedWords(client: pg.Client): Promise<Set<string>> {
  const { rows } = await client.query<{ word: string }>(`SELECT word FROM pg_catalog.pg_get_keywords() WHERE catcode <> 'U'`);
  return new Set(rows.map((r) => r.word));
}

/** The words one server quotes and the other does not: none between two servers of one major. */
export function wordsQuotedByOne(a: ReadonlySet<string>, b: ReadonlySet<string>): Set<string> {
  return new Set([...[...a].filter((w) => !b.has(w)), ...[...b].filter((w) => !a.has(w))]);
}

/** Properties whose text a server prints with the names in it quoted by its keywords; a comment's text, an owner, grants are not. */
const PRINTED = new Set([
  'type',
  'collation',
  'default',
  'generated',
  'definition',
  'partition key',
  'partition of',
  'partition bound',
  'inherits',
  'replica identity',
  'owned by',
  'using',
  'with check',
  'roles',
  'aggregate',
  'attributes',
  'base type',
  'subtype',
  'function',
  'identity',
]);

/** Casts whose literal is a name the server printed (a regclass constant in a default). */
const NAME_CAST = /^::reg[a-z]+/;
const WORD_START = /[A-Za-z_\u0080-\uffff]/;
const WORD_CHAR = /[A-Za-z0-9_$\u0080-\uffff]/;
const DOLLAR_TAG = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/;

/** Where the literal, quoted name or dollar-quoted body at `i` ends (the index after it). */
function quotedEnd(text: string, i: number, escapes: boolean): number {
  const c = text[i]!;
  if (c === '$') {
    const tag = DOLLAR_TAG.exec(text.slice(i))![0];
    const close = text.indexOf(tag, i + tag.length);
    return close < 0 ? text.length : close + tag.length;
  }
  let j = i + 1;
  while (j < text.length) {
    if (escapes && text[j] === '\\') j += 2;
    else if (text[j] === c && text[j + 1] === c) j += 2;
    else if (text[j] === c) return j + 1;
    else j++;
  }
  return text.length;
}

/** Whether the literal at `i` is an escape string constant (E'...'), where a backslash escapes a quote. */
function escapeString(text: string, i: number): boolean {
  return i > 0 && (text[i - 1] === 'E' || text[i - 1] === 'e') && (i === 1 || !WORD_CHAR.test(text[i - 2]!));
}

/** `text` with each of `words` the server printed bare as a name double-quoted. */
function quotedAlike(text: string, words: ReadonlySet<string>): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (WORD_START.test(c) && (i === 0 || !WORD_CHAR.test(text[i - 1]!))) {
      let j = i + 1;
      while (j < text.length && WORD_CHAR.test(text[j]!)) j++;
      const word = text.slice(i, j);
      out += words.has(word) ? `"${word}"` : word;
      i = j;
      continue;
    }
    const dollar = c === '$' && (i === 0 || !WORD_CHAR.test(text[i - 1]!)) && DOLLAR_TAG.test(text.slice(i));
    if (c !== "'" && c !== '"' && !dollar) {
      out += c;
      i++;
      continue;
    }
    const end = quotedEnd(text, i, c === "'" && escapeString(text, i));
    const quoted = text.slice(i, end);
    out += c === "'" && NAME_CAST.test(text.slice(end)) ? `'${quotedAlike(quoted.slice(1, -1), words)}'` : quoted;
    i = end;
  }
  return out;
}

/** A property's value with the words quoted alike, where the server printed it. */
const alike = (property: string, v: PropertyValue, words: ReadonlySet<string>): PropertyValue =>
  PRINTED.has(property) && typeof v === 'string' ? quotedAlike(v, words) : v;

/**
 * The objects with each of `words` quoted alike wherever their server printed it as a name: in the
 * printed properties, a function's arguments, a comment's name (its object's identity), and a
 * sequence's reference in a default and the references a default draws from (ownedSequences.ts
 * finds those in the default's text). The same objects when no word differs.
 */
export function namesQuotedAlike(objects: readonly SchemaObject[], words: ReadonlySet<string>): SchemaObject[] {
  if (words.size === 0) return [...objects];
  const q = (text: string) => quotedAlike(text, words);
  return objects.map((o) => ({
    ...o,
    ...(o.kind === 'comment' ? { name: q(o.name) } : {}),
    ...(o.args !== null ? { args: q(o.args) } : {}),
    props: Object.fromEntries(Object.entries(o.props).map(([k, v]) => [k, alike(k, v, words)])),
    ...(o.reference !== undefined ? { reference: q(o.reference) } : {}),
    ...(o.drawsFrom ? { drawsFrom: o.drawsFrom.map((d) => ({ ...d, reference: q(d.reference) })) } : {}),
  }));
}

// A composite value written on the source before `ALTER TYPE ... ADD ATTRIBUTE` is decoded with the
// attributes it had (pgoutput prints it with the catalog of its own position), and the apply may
// reach it only after the schema watch added the attribute on the target: the target's input
// function then refuses it ("Too few columns"). PostgreSQL itself reads such an old row with the
// missing trailing attributes NULL, so the apply writes it the same way: its text is given the
// missing trailing fields, empty (NULL in a record's text), before it is planned. A composite
// nested in another, in an array or under a domain is padded the same way. Pure: text in, text out.
import { type Tuple, type TupleValue, tupleOf, UNCHANGED } from '../decode/tuple';
import type { TypeFacts } from './equality';

/** How a column's text nests composites: a record's attributes (each its own shape, or none), or an array's elements. */
export type TextShape = { readonly record: readonly (TextShape | undefined)[] } | { readonly array: TextShape };

/** Deeper than this, a type is not followed (a composite cannot hold itself; this only bounds the walk). */
const MAX_DEPTH = 32;

/** The shape of a type's text, from the target's facts; undefined when it reaches no composite. */
export function textShapeOf(type: number, facts: ReadonlyMap<number, TypeFacts>, depth = 0): TextShape | undefined {
  const f = facts.get(type);
  if (!f || depth > MAX_DEPTH) return undefined;
  if (f.kind === 'd') return textShapeOf(f.base, facts, depth + 1);
  if (f.element !== 0) {
    const element = textShapeOf(f.element, facts, depth + 1);
    return element ? { array: element } : undefined;
  }
  if (f.kind === 'c') return { record: f.fields.map((t) => textShapeOf(t, facts, depth + 1)) };
  return undefined;
}

/** A record's fields as their raw text (quotes and escapes kept), undefined when the text is not a record's. */
function recordFields(text: string): string[] | undefined {
  if (!text.startsWith('(') || !text.endsWith(')')) return undefined;
  const fields: string[] = [];
  let i = 1;
  const end = text.length - 1;
  if (end === 1) return [''];
  for (;;) {
    const start = i;
    let quoted = false;
    while (i < end) {
      const c = text[i]!;
      if (c === '\\') i += 2;
      else if (c === '"') {
        // inside quotes a doubled quote is one quote
        if (quoted && text[i + 1] === '"') i += 2;
        else {
          quoted = !quoted;
          i++;
        }
      } else if (c === ',' && !quoted) break;
      else i++;
    }
    fields.push(text.slice(start, Math.min(i, end)));
    if (i >= end) return fields;
    i++; // the comma
  }
}

/** A record field's value from its raw text: quotes taken off, escapes read. Empty raw text is NULL. */
function recordFieldValue(raw: string): string | null {
  if (raw === '') return null;
  let out = '';
  let quoted = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '\\') out += raw[++i] ?? '';
    else if (c === '"') {
      if (quoted && raw[i + 1] === '"') out += raw[++i];
      else quoted = !quoted;
    } else out += c;
  }
  return out;
}

const quoteField = (value: string): string => `"${value.replace(/["\\]/g, (c) => c + c)}"`;
const quoteElement = (value: string): string => `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;

/** A record's text with every field it lacks added at the end, empty (NULL), and its nested composites padded. */
function padRecord(text: string, fields: readonly (TextShape | undefined)[]): string {
  const raw = recordFields(text);
  if (!raw) return text;
  let changed = false;
  const out = raw.map((r, i) => {
    const shape = fields[i];
    const value = shape ? recordFieldValue(r) : null;
    if (!shape || value === null) return r;
    const padded = padText(value, shape);
    if (padded === value) return r;
    changed = true;
    return quoteField(padded);
  });
  while (out.length < fields.length) {
    out.push('');
    changed = true;
  }
  return changed ? `(${out.join(',')})` : text;
}

/** An array's text with each element padded; dimensions decoration and nesting kept. */
function padArray(text: string, element: TextShape): string {
  let i = 0;
  let out = '';
  let changed = false;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      let value = '';
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\') i++;
        value += text[i] ?? '';
        i++;
      }
      i++; // the closing quote
      const padded = padText(value, element);
      if (padded !== value) changed = true;
      out += quoteElement(padded);
    } else if (c === '(') {
      // an unquoted element (array_out quotes a record's text, but array_in reads it either way)
      let j = i;
      while (j < text.length && text[j] !== ',' && text[j] !== '}') j++;
      const value = text.slice(i, j);
      const padded = padText(value, element);
      if (padded !== value) changed = true;
      out += padded === value ? value : quoteElement(padded);
      i = j;
    } else {
      out += c;
      i++;
    }
  }
  return changed ? out : text;
}

/** A value's text as the target's type reads it: the composites it holds given the trailing attributes they lack. */
export function padText(text: string, shape: TextShape): string {
  return 'record' in shape ? padRecord(text, shape.record) : padArray(text, shape.array);
}

/** A tuple with its composite columns' texts padded (`shapes` by column); the same tuple when none changed. */
export function padTuple(tuple: Tuple, shapes: readonly (TextShape | undefined)[]): Tuple {
  let values: TupleValue[] | undefined;
  for (let i = 0; i < tuple.length; i++) {
    const shape = shapes[i];
    if (!shape) continue;
    const value = tuple.value(i);
    if (value === null || value === UNCHANGED) continue;
    const padded = padText(value, shape);
    if (padded === value) continue;
    values ??= tuple.values();
    values[i] = padded;
  }
  return values ? tupleOf(values) : tuple;
}

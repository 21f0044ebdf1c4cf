// The output formats of `--output` as az prints them (json, jsonc, yaml, yamlc, tsv, table, none)
// and `--query` (JMESPath, by @jmespath-community/jmespath). JSON and YAML keys are sorted, as az
// sorts them; colours only on a terminal. Pure: the caller writes the text.
import { compile, TreeInterpreter } from '@jmespath-community/jmespath';
import yaml from 'js-yaml';
import stringWidth from 'string-width';
import { inputError } from '../engine';

export const OUTPUT_FORMATS = ['json', 'jsonc', 'table', 'tsv', 'yaml', 'yamlc', 'none'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export type CompiledQuery = ReturnType<typeof compile>;

/** Compiles a JMESPath expression once, before any server is touched; a bad one is a usage error. */
export function compileQuery(text: string): CompiledQuery {
  try {
    return compile(text);
  } catch (error) {
    const why = String((error as Error).message ?? error).split('\n')[0];
    throw inputError('USAGE', '--query', `--query: not a JMESPath expression: ${why}`, 'see https://jmespath.org');
  }
}

/** The value a query selects from `value` (plain JSON: what the JSON output would hold). */
function applyQuery(value: unknown, query: CompiledQuery | undefined): unknown {
  if (!query) return value;
  const json = JSON.parse(JSON.stringify(value ?? null)) as Parameters<typeof TreeInterpreter.search>[1];
  return TreeInterpreter.search(query, json);
}

/** Objects with their keys sorted, recursively (az prints JSON and YAML with sort_keys). */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

function formatJson(value: unknown): string {
  return `${JSON.stringify(sortKeys(value) ?? null, null, 2)}\n`;
}

const COLORS = { key: '\x1b[94m', string: '\x1b[32m', number: '\x1b[36m', literal: '\x1b[35m', reset: '\x1b[39m' };

/** JSON with keys, strings, numbers and literals coloured (what az's jsonc does with pygments). */
function colorJson(text: string): string {
  return text.replace(
    /("(?:\\.|[^"\\])*")(\s*:)?|\b(true|false|null)\b|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g,
    (match, str: string | undefined, colon: string | undefined, literal: string | undefined, num: string | undefined) => {
      if (str !== undefined) return `${colon ? COLORS.key : COLORS.string}${str}${COLORS.reset}${colon ?? ''}`;
      if (literal !== undefined) return `${COLORS.literal}${literal}${COLORS.reset}`;
      if (num !== undefined) return `${COLORS.number}${num}${COLORS.reset}`;
      return match;
    },
  );
}

function formatYaml(value: unknown): string {
  return yaml.dump(value ?? null, { sortKeys: true, lineWidth: -1, noRefs: true });
}

function colorYaml(text: string): string {
  return text.replace(/^(\s*(?:- )?)([^\s:#-][^:\n]*)(:)(?=\s|$)/gm, `$1${COLORS.key}$2${COLORS.reset}$3`);
}

/** A TSV cell as knack writes it: a nested list is its length, a nested object empty, null "None". */
function tsvCell(value: unknown): string {
  if (Array.isArray(value)) return String(value.length);
  if (value !== null && typeof value === 'object') return '';
  if (value === null || value === undefined) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  return String(value as string | number | bigint); // objects and lists are handled above
}

/** az's tsv: one line per item (a non-list is one item); an object's values in key order. */
export function formatTsv(value: unknown): string {
  const items: unknown[] = Array.isArray(value) ? value : [value];
  return items
    .map((item) => {
      if (Array.isArray(item)) return item.map(tsvCell).join('\t');
      if (item !== null && typeof item === 'object') {
        return Object.keys(item)
          .sort()
          .map((k) => tsvCell((item as Record<string, unknown>)[k]))
          .join('\t');
      }
      if (typeof item === 'boolean') return String(item);
      return tsvCell(item);
    })
    .map((line) => `${line}\n`)
    .join('');
}

const TABLE_SKIP_KEYS = new Set(['id', 'type', 'etag']);

/** One row of az's automatic table: scalar fields (id, type, etag and nulls left out), keys capitalised. */
function autoTableRow(item: unknown, sortRowKeys: boolean): Map<string, unknown> {
  const row = new Map<string, unknown>();
  if (Array.isArray(item)) {
    item.forEach((v, i) => row.set(`Column${i + 1}`, v));
  } else if (item !== null && typeof item === 'object') {
    const keys = Object.keys(item);
    for (const k of sortRowKeys ? keys.sort() : keys) {
      const v = (item as Record<string, unknown>)[k];
      if (TABLE_SKIP_KEYS.has(k) || v === null || v === undefined || typeof v === 'object') continue;
      row.set(k ? k[0]!.toUpperCase() + k.slice(1) : k, v);
    }
  } else {
    row.set('Result', item);
  }
  return row;
}

const padEnd = (s: string, width: number) => s + ' '.repeat(Math.max(0, width - stringWidth(s)));
const padStart = (s: string, width: number) => ' '.repeat(Math.max(0, width - stringWidth(s))) + s;

/** az's table when no command-specific table applies (tabulate's "simple" layout). */
function formatAutoTable(value: unknown, sortRowKeys: boolean): string {
  if (value === null || value === undefined) return '';
  const rows = (Array.isArray(value) ? value : [value]).map((item) => autoTableRow(item, sortRowKeys));
  const headers: string[] = [];
  for (const row of rows) for (const k of row.keys()) if (!headers.includes(k)) headers.push(k);
  if (headers.length === 0) return '';
  // a cell holds what autoTableRow kept: a scalar, or a nested list printed joined, as az prints it
  // eslint-disable-next-line @typescript-eslint/no-base-to-string
  const cell = (v: unknown) => (v === undefined ? '' : typeof v === 'boolean' ? (v ? 'True' : 'False') : String(v));
  const numeric = headers.map((h) => rows.every((r) => r.get(h) === undefined || typeof r.get(h) === 'number'));
  const widths = headers.map((h, i) => Math.max(stringWidth(h), ...rows.map((r) => stringWidth(cell(r.get(headers[i]!))))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (numeric[i] ? padStart(c, widths[i]!) : padEnd(c, widths[i]!)))
      .join('  ')
      .trimEnd();
  return [
    line(headers.map((h, i) => (numeric[i] ? padStart(h, widths[i]!) : h))),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.map((r) => line(headers.map((h) => cell(r.get(h))))),
  ]
    .map((l) => `${l}\n`)
    .join('');
}

export interface Printable {
  /** The JSON value: what json, yaml, tsv and --query see. */
  readonly value: unknown;
  /** pgferry's own table for `--output table` without `--query`; absent: az's automatic table. */
  readonly table?: () => string;
}

/** The text a command prints for its result. */
export function formatResult(result: Printable, options: { output: OutputFormat; query?: CompiledQuery; color?: boolean }): string {
  const { output, query, color = false } = options;
  if (output === 'none') return '';
  if (output === 'table' && !query && result.table) {
    const text = result.table();
    return text.endsWith('\n') ? text : `${text}\n`;
  }
  const value = applyQuery(result.value, query);
  switch (output) {
    case 'json':
      return formatJson(value);
    case 'jsonc':
      return color ? colorJson(formatJson(value)) : formatJson(value);
    case 'yaml':
      return formatYaml(value);
    case 'yamlc':
      return color ? colorYaml(formatYaml(value)) : formatYaml(value);
    case 'tsv':
      return value === null || value === undefined ? '' : formatTsv(value);
    case 'table':
      return formatAutoTable(value, !query);
  }
}

// Turning catalog settings ("name=value" from pg_db_role_setting) back into ALTER ... SET
// statements, quoting the way pg_dumpall does: list-valued settings are split into elements.
import { ident, literal } from '../connect/quote';

/** Settings whose value is a list: each element must be its own literal. */
const LIST_SETTINGS = new Set([
  'search_path',
  'temp_tablespaces',
  'session_preload_libraries',
  'shared_preload_libraries',
  'local_preload_libraries',
  'unix_socket_directories',
]);

/** Splits a GUC list ('"$user", public, "My Schema"') into elements, de-quoting them (pure). */
function splitGucList(value: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < value.length) {
    while (value[i] === ' ' || value[i] === '\t') i++;
    if (i >= value.length) break;
    let element = '';
    if (value[i] === '"') {
      i++;
      while (i < value.length) {
        if (value[i] === '"') {
          if (value[i + 1] === '"') {
            element += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        element += value[i++];
      }
    } else {
      while (i < value.length && value[i] !== ',') element += value[i++];
      element = element.trim();
    }
    out.push(element);
    while (i < value.length && value[i] !== ',') i++;
    i++; // the comma
  }
  return out;
}

/** `<prefix> SET name TO value` for one "name=value" entry, e.g. prefix `ALTER DATABASE "db"`. */
export function settingStatement(prefix: string, entry: string): string {
  const eq = entry.indexOf('=');
  const name = eq < 0 ? entry : entry.slice(0, eq);
  const value = eq < 0 ? '' : entry.slice(eq + 1);
  const quotedName = name.split('.').map(ident).join('.');
  const values = LIST_SETTINGS.has(name.toLowerCase()) ? splitGucList(value) : [value];
  const rendered = values.length === 0 ? "''" : values.map(literal).join(', ');
  return `${prefix} SET ${quotedName} TO ${rendered}`;
}

// The USING clause of an ALTER COLUMN ... TYPE that a fix prints for the user to run: the schema
// check's fix of a column whose type differs (verify/schema/fixes.ts) and the stream's stop on a
// retype the target cannot derive (cdc/apply/shapeFollow.ts) print the same one, so a fix that
// works in one works in the other. Built from the two types as format_type prints them with an
// empty search_path (a type of the database's own schema-qualified), the column through `ident`.
import { ident } from './quote';

/**
 * Types every value converts to by assignment (through its text), where a value too long for the
 * length errs: an explicit cast (USING) would cut it instead, so none is given.
 */
const STRING_TYPE = /^(text|character varying|character|"char"|name|bit|bit varying)(\(\d+\))?(\[\])*$/;

/** Numbers, which PostgreSQL converts among by itself (implicit or assignment casts): no USING needed. */
const NUMBER_TYPE = /^(smallint|integer|bigint|real|double precision|numeric|money)(\(\d+(,\d+)?\))?(\[\])*$/;

/** A type of the database's own (an enum, a domain, a composite), as format_type prints it with an empty search_path: qualified. */
const OWN_TYPE = /^("(?:[^"]|"")+"|[^".(]+)\./;

/**
 * Pure: the USING clause (with its leading space) that makes `column`'s values of type `from` the
 * type `to`'s: none where PostgreSQL converts the values by itself (to a string type, among
 * numbers, a length or precision changed), else each value cast to the new type (text to an enum
 * or an integer), which PostgreSQL otherwise refuses ("column cannot be cast automatically").
 * From a type of the database's own (one enum to another, a domain to an enum, an enum to integer)
 * no cast exists but through its text: the value goes through it, as drizzle-kit's and Sequelize's
 * migrations convert it.
 * `from` empty (unknown): none.
 */
export function retypeUsing(column: string, from: string, to: string): string {
  const base = (t: string) => t.replace(/\(.*?\)/, '');
  if (from === '' || base(from) === base(to) || STRING_TYPE.test(to) || (NUMBER_TYPE.test(from) && NUMBER_TYPE.test(to))) return '';
  const through = OWN_TYPE.test(from) ? `::text${to.endsWith('[]') ? '[]' : ''}` : '';
  return ` USING ${ident(column)}${through}::${to}`;
}

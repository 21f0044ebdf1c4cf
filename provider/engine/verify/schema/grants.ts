// The privileges on an object, the `privileges` property of the schema check (catalog.ts): each
// grantee with its privileges, read by PostgreSQL itself (aclexplode, the grantee's name from its
// OID) and printed here as one text the comparison tests for equality and shows. A role's name may
// hold anything (a space, `=`, a quote, a newline): it is printed as messages print names
// (displayIdent, bare when a plain word, else quoted), so the text is read back entry by entry
// without guessing where a name ends, and two distinct grants never print alike. Pure.
import { displayIdent } from '../../connect/quote';

/** Who a grant is to: the object's owner (whoever that is on each server), PUBLIC, or a role by name. */
export type Grantee = { readonly kind: 'owner' } | { readonly kind: 'public' } | { readonly kind: 'role'; readonly name: string };

export interface Grant {
  readonly grantee: Grantee;
  /** `SELECT,UPDATE*`: privilege types in order, `*` after a grantable one. */
  readonly privileges: string;
}

/** A grant as the catalog query returns it: [owner | public | role, the role's name, privileges]. */
export type GrantRow = readonly [string, string | null, string];

/** The owner and PUBLIC, written as no role's printed name can be (a role named so prints quoted). */
const OWNER = '(owner)';
const PUBLIC = 'PUBLIC';

/** A grantee as the property's text prints it; distinct grantees print distinctly, so it is a key too. */
export function granteeText(g: Grantee): string {
  return g.kind === 'owner' ? OWNER : g.kind === 'public' ? PUBLIC : displayIdent(g.name);
}

/** Grants as the property's text: `grantee=PRIV,PRIV*` entries, one space apart, sorted by code unit (no server's collation). */
export function printGrants(grants: readonly Grant[]): string {
  return grants
    .map((g) => `${granteeText(g.grantee)}=${g.privileges}`)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .join(' ');
}

/** The catalog query's rows (catalog.ts `privileges`) as the property's text. */
export function grantsFromRows(rows: readonly GrantRow[]): string {
  return printGrants(
    rows.map(([kind, name, privileges]) => ({
      grantee: kind === 'owner' ? { kind: 'owner' } : kind === 'public' ? { kind: 'public' } : { kind: 'role', name: name ?? '' },
      privileges,
    })),
  );
}

/**
 * The property's text read back into its grants: the inverse of printGrants. A name is a quoted
 * identifier (`"a ""b"""`, or `U&"a\000Ab"` with escapes), or a bare word up to the `=` (a plain
 * name, `(owner)`, `PUBLIC`); privileges never hold a space or a `=`.
 */
export function parseGrants(acl: string): Grant[] {
  const grants: Grant[] = [];
  let at = 0;
  while (at < acl.length) {
    if (acl[at] === ' ') {
      at++;
      continue;
    }
    const { grantee, end } = granteeAt(acl, at);
    if (acl[end] !== '=') throw new Error(`privileges text not as printed: ${JSON.stringify(acl)}`);
    const space = acl.indexOf(' ', end + 1);
    const stop = space < 0 ? acl.length : space;
    grants.push({ grantee, privileges: acl.slice(end + 1, stop) });
    at = stop;
  }
  return grants;
}

function granteeAt(acl: string, at: number): { grantee: Grantee; end: number } {
  const escaped = acl.startsWith('U&"', at);
  if (escaped || acl[at] === '"') {
    const { name, end } = quotedAt(acl, at + (escaped ? 3 : 1), escaped);
    return { grantee: { kind: 'role', name }, end };
  }
  const end = acl.indexOf('=', at);
  const word = acl.slice(at, end < 0 ? acl.length : end);
  const grantee: Grantee = word === OWNER ? { kind: 'owner' } : word === PUBLIC ? { kind: 'public' } : { kind: 'role', name: word };
  return { grantee, end: end < 0 ? acl.length : end };
}

/** A quoted name's text from `at` (after its opening quote) to its closing quote; `escaped`: U&"..." with `\XXXX` and `\\`. */
function quotedAt(acl: string, at: number, escaped: boolean): { name: string; end: number } {
  let name = '';
  let i = at;
  while (i < acl.length) {
    const c = acl[i]!;
    if (c === '"') {
      if (acl[i + 1] !== '"') return { name, end: i + 1 };
      name += '"';
      i += 2;
    } else if (escaped && c === '\\') {
      if (acl[i + 1] === '\\') {
        name += '\\';
        i += 2;
      } else {
        name += String.fromCodePoint(parseInt(acl.slice(i + 1, i + 5), 16));
        i += 5;
      }
    } else {
      name += c;
      i++;
    }
  }
  throw new Error(`privileges text not as printed: ${JSON.stringify(acl)}`);
}

// The deliberate differences between pgferry's target and a pg_dump | pg_restore target: the one
// place they are listed (docs/limits.md's table says the same). Any other difference fails the
// fidelity test. The reference is always restored by a superuser; a managed target's admin
// (pgadmin in azure_pg_admin) cannot do everything a superuser does, hence the managed entries.
import { parseAclItem } from '../../provider/engine/schema/database';
import type { CatalogDifference, CatalogSnapshot } from './catalogSnapshot';

export interface DifferenceContext {
  readonly reference: CatalogSnapshot;
  readonly actual: CatalogSnapshot;
  /** The managed target's admin user (the migration's target user); undefined on a superuser target. */
  readonly admin?: string;
  /**
   * Source roles that are superusers on the managed target (the test clusters' bootstrap
   * superuser is postgres on both sides): the admin stands in for them.
   */
  readonly standsInFor?: readonly string[];
}

interface DeliberateDifference {
  /** What differs, as docs/limits.md names it. */
  readonly what: string;
  /** Only on a managed target (a non-superuser admin), or on every target. */
  readonly on: 'managed' | 'every';
  readonly why: string;
  readonly matches: (d: CatalogDifference, context: DifferenceContext) => boolean;
}

/** quote_ident's spelling of a role name in snapshot keys (keywords aside). */
function keyName(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

const json = (value: unknown): string => JSON.stringify(value);

/** The owner of an object, or of the relation a column belongs to. */
function ownerOf(snapshot: CatalogSnapshot, key: string): unknown {
  const props = snapshot.get(key);
  const relation = props?.relation;
  return typeof relation === 'string' ? snapshot.get(relation)?.owner : props?.owner;
}

/** A role name as aclitem text spells it (acl.c putid): quoted unless letters, digits and _ only. */
const aclName = (name: string): string => (/^[A-Za-z0-9_]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`);

/** aclitem text with role `from` renamed `to`, as grantee and as grantor. */
function renameInAcl(text: string, from: string, to: string): string {
  const item = parseAclItem(text);
  if (!item) return text;
  const rename = (name: string): string => aclName(name === from ? to : name);
  return `${item.grantee === '' ? '' : rename(item.grantee)}=${item.privileges}/${rename(item.grantor)}`;
}

/** A JSON acl array with `from` renamed `to` everywhere, sorted as the snapshot sorts it. */
function renamedAcl(acl: string | undefined, from: string, to: string): string {
  const items = JSON.parse(acl ?? 'null') as string[] | null;
  return json(items?.map((i) => renameInAcl(i, from, to)).sort() ?? null);
}

/** The role a default-privileges key is for ("default acl for role postgres in schema app on tables"). */
const DEFAULT_ACL = /^default acl for role ("(?:[^"]|"")*"|[^ ]+)( .*)$/;

/**
 * The admin stands in for `role` (a superuser on the target): what it owns in the reference the
 * admin owns, with the same grants, and its default privileges are the admin's.
 */
function adminStandsIn(d: CatalogDifference, context: DifferenceContext, role: string): boolean {
  const { admin, reference, actual } = context;
  if (admin === undefined) return false;
  const defaults = DEFAULT_ACL.exec(d.key);
  if (defaults && d.field === 'exists') {
    // present on one side only, under the other role's name on the other side, same grants
    const [from, to] = d.actual === undefined ? [role, admin] : [admin, role];
    if (defaults[1] !== keyName(from)) return false;
    const other = `default acl for role ${keyName(to)}${defaults[2]}`;
    const [refKey, actKey] = d.actual === undefined ? [d.key, other] : [other, d.key];
    if (!reference.has(refKey) || !actual.has(actKey) || actual.has(refKey) || reference.has(actKey)) return false;
    return renamedAcl(json(reference.get(refKey)!.acl), role, admin) === json(actual.get(actKey)!.acl);
  }
  if (ownerOf(reference, d.key) !== role) return false;
  if (d.field === 'owner') return d.reference === json(role) && d.actual === json(admin);
  return d.field === 'acl' && renamedAcl(d.reference, role, admin) === d.actual;
}

const DELIBERATE_DIFFERENCES: readonly DeliberateDifference[] = [
  {
    what: 'publications and subscriptions are not copied',
    on: 'every',
    why:
      'they describe the replication of the source server: a publication on the target serves nobody until the ' +
      'subscribers are re-pointed, a copied subscription would pull from the same publisher a second time; pgferry creates ' +
      'and drops its own publication on the source (pg_dump --no-publications --no-subscriptions, as the Azure service)',
    matches: (d) => /^(publication|subscription) /.test(d.key) && d.field === 'exists' && d.actual === undefined,
  },
  {
    what: 'SUPERUSER, REPLICATION and BYPASSRLS are not given; a former superuser gets CREATEROLE and CREATEDB',
    on: 'managed',
    why: 'only a superuser may give these attributes; CREATEROLE and CREATEDB are the closest the admin can give (reported as warnings)',
    matches: (d, { reference }) =>
      d.key.startsWith('role ') &&
      ((['superuser', 'replication', 'bypassRls'].includes(d.field) && d.reference === 'true' && d.actual === 'false') ||
        (['createRole', 'createDb'].includes(d.field) && d.actual === 'true' && reference.get(d.key)?.superuser === true)),
  },
  {
    what: "the managed server's own roles (the admin, azure_pg_admin)",
    on: 'managed',
    why: 'they belong to the server, not to the migration',
    matches: (d, { admin }) =>
      admin !== undefined &&
      d.field === 'exists' &&
      d.reference === undefined &&
      [`role ${keyName(admin)}`, 'role azure_pg_admin', `membership of ${keyName(admin)} in azure_pg_admin`].includes(d.key),
  },
  {
    what: 'the admin is a member of every migrated role',
    on: 'managed',
    why: 'the admin must be a member of a role to give it objects (ALTER ... OWNER TO), as on the source; reported',
    matches: (d, { admin }) =>
      admin !== undefined && d.field === 'exists' && d.reference === undefined && d.key.startsWith(`membership of ${keyName(admin)} in `),
  },
  {
    what: 'privileges on parameters (GRANT SET ON PARAMETER) are not granted',
    on: 'managed',
    why: 'only a superuser may grant them (PostgreSQL 15 and later); each refused grant is reported',
    matches: (d) => d.key.startsWith('parameter ') && d.field === 'exists' && d.actual === undefined,
  },
  {
    what: 'memberships are granted by the admin',
    on: 'managed',
    why: 'the grantor of a membership is whoever runs GRANT; pg_dumpall would name the source grantor, which the admin cannot be',
    matches: (d, { admin }) => d.key.startsWith('membership of ') && d.field === 'grantor' && d.actual === json(admin),
  },
  {
    what: "objects of a role that is a superuser on the target stay the admin's, as do that role's default privileges",
    on: 'managed',
    why:
      'only a superuser may give an object to a superuser (ALTER ... OWNER TO needs membership in the new owner), ' +
      "such as the source's postgres on a server whose own superuser bears that name; the admin stands in for it, " +
      'with the same grants (granted by the admin) and its default privileges, so that what the admin creates gets the grants the ' +
      'source gave; each refused statement is reported',
    matches: (d, context) => (context.standsInFor ?? []).some((role) => adminStandsIn(d, context, role)),
  },
];

/** Differences no deliberate one explains (pure). */
export function unexplained(differences: readonly CatalogDifference[], context: DifferenceContext): CatalogDifference[] {
  const applicable = DELIBERATE_DIFFERENCES.filter((d) => d.on === 'every' || context.admin !== undefined);
  return differences.filter((d) => !applicable.some((a) => a.matches(d, context)));
}

// The deliberate differences between pgferry's target and a pg_dump | pg_restore target: the one
// place they are listed (the README's table says the same). Any other difference fails the
// fidelity test. The reference is always restored by a superuser; a managed target's admin
// (pgadmin in azure_pg_admin) cannot do everything a superuser does, hence the managed entries.
import type { CatalogDifference, CatalogSnapshot } from './catalogSnapshot';

export interface DifferenceContext {
  readonly reference: CatalogSnapshot;
  readonly actual: CatalogSnapshot;
  /** The managed target's admin user (the migration's target user); undefined on a superuser target. */
  readonly admin?: string;
}

export interface DeliberateDifference {
  /** What differs, as the README names it. */
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

/** The admin owns on the target what another role owns in the reference. */
function adminKeptOwnership(key: string, context: DifferenceContext): boolean {
  const owner = ownerOf(context.reference, key);
  return context.admin !== undefined && ownerOf(context.actual, key) === context.admin && owner !== context.admin;
}

/** An ACL's grants without grantors and without the owners' own entries (what ownership explains). */
function grantsToOthers(acl: string | undefined, owners: readonly unknown[]): string[] {
  const items = (JSON.parse(acl ?? 'null') as string[] | null) ?? [];
  const ownerNames = owners.filter((o): o is string => typeof o === 'string').map(keyName);
  return items.map((item) => item.replace(/\/.*$/, '')).filter((item) => !ownerNames.some((o) => item.startsWith(`${o}=`)));
}

export const DELIBERATE_DIFFERENCES: readonly DeliberateDifference[] = [
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
    what: "objects whose owner the admin cannot set stay the admin's, their grants granted by it",
    on: 'managed',
    why:
      'ALTER ... OWNER TO needs membership in the new owner (not possible for a role that is a superuser on the target, ' +
      "such as the source's postgres) and the new owner's CREATE on the schema; each refused statement is reported as a warning",
    matches: (d, context) => {
      if (!adminKeptOwnership(d.key, context)) return false;
      if (d.field === 'owner') return true;
      if (d.field !== 'acl') return false;
      // the grants themselves must have come along: only grantors and the owners' own entries differ
      const owners = [ownerOf(context.reference, d.key), context.admin];
      return json(grantsToOthers(d.reference, owners).sort()) === json(grantsToOthers(d.actual, owners).sort());
    },
  },
];

/** Differences no deliberate one explains (pure). */
export function unexplained(differences: readonly CatalogDifference[], context: DifferenceContext): CatalogDifference[] {
  const applicable = DELIBERATE_DIFFERENCES.filter((d) => d.on === 'every' || context.admin !== undefined);
  return differences.filter((d) => !applicable.some((a) => a.matches(d, context)));
}

// Two catalogs (verify/schema/catalog.ts) compared object by object (pure). What differs on
// purpose (the deliberate differences the README lists) is reported as expected, with its reason;
// anything else is a difference, with the statement that makes the target match.
import { judgeOnTarget, NONE_MADE, partsOf, targetIdentity } from './identity';
import { displayIdent, displayName, ident, qualified } from '../../connect/quote';
import type { ExpectedDifference, KeptColumn, KeptObject, SchemaDifference } from '../../core/model';
import type { QualifiedName } from '../../core/names';
import { objectKey, type PropertyValue, type SchemaObject } from './catalog';
import { granteeText, parseGrants, printGrants, type Grant } from './grants';
import { restoredOwner, type OwnerRule } from '../../schema/ownerAccess';
import {
  alterStatement,
  createStatement,
  describeObject,
  dropStatement,
  moveStatement,
  ownerOutOfReach,
  renameAsideStatement,
  renameStatement,
} from './fixes';
import { alterStep, createStep, dropStep, moveObjectStep, renameObjectStep, renameStep, type FollowStep } from './follow';

/** What the comparison knows of both servers to tell a deliberate difference from another. */
export interface CompareContext {
  readonly sourceMajor: number;
  readonly targetMajor: number;
  /**
   * Who may own what on the target: the role the migration connects to the target as (`user`),
   * whether it is a superuser, and what it may do as each role the target has. An object's owner
   * there is the one the restore and the follow give it (schema/ownerAccess.ts `restoredOwner`).
   */
  readonly owners: OwnerRule;
  readonly targetRoles: ReadonlySet<string>;
  /**
   * The source's roles. A grant on the target to a role the source does not have is the target's
   * own (a DBA's reporting role): neither pgferry's nor the source's, it is kept and not compared.
   * Undefined: every grant is compared.
   */
  readonly sourceRoles?: ReadonlySet<string>;
  /**
   * Online, before the cutover gives the target back: while streaming the target's foreign keys
   * are dropped, its triggers and rules fire as a replica's and row-level security may wait for
   * the cutover. Those are compared once given back, not here.
   */
  readonly whileSetAside: boolean;
  /**
   * While set aside, the foreign keys recorded to be added back at the release (`schema\0table\0name`):
   * only those are missing on purpose, any other is a difference the watch follows. Undefined: every
   * foreign key is taken as set aside.
   */
  readonly setAsideKeys?: ReadonlySet<string>;
  /** Foreign keys the cutover could not add back (rows violate them, NOT VALID refused), reported then: `schema\0table\0name`. */
  readonly leftOutKeys: ReadonlySet<string>;
  /**
   * While streaming: the objects the copy restored on the target or the source was seen to have
   * (control/knownObjects.ts), with a column's source attnum. An object only on the target is
   * dropped by the follow only when known; one made on the target alone is reported and kept; a
   * column is renamed only when its known attnum is the source column's. Undefined: no follow asked.
   */
  readonly known?: ReadonlyMap<string, number | null>;
  /**
   * While streaming: the identity on the target (targetIdentity) of each known object that has one
   * recorded. An object of that name with another is someone else's (identityOnTarget).
   */
  readonly knownIdentities?: ReadonlyMap<string, string>;
}

/**
 * Whether the target's object under a known name is the one recorded there, or another one unlike
 * it (a DBA dropped the migration's view, function or index and made their own): someone else's,
 * never the migration's. Made again alike (an ALTER COLUMN TYPE rebuilds a table's indexes, with new
 * OIDs) it is the migration's still. A part on another relation (the table itself made again, by
 * pgferry's own resync) tells nothing of whose it is: judged by name, as one recorded by none.
 */
function identityOnTarget(ctx: CompareContext, t: SchemaObject): 'recorded' | 'other' | 'unrecorded' {
  return judgeOnTarget(ctx.knownIdentities?.get(keyOf(t)), partsOf(targetIdentity(t)));
}

export interface SchemaComparison {
  readonly differences: readonly SchemaDifference[];
  /** For each difference, in the same order, how the schema watch can make it on the target while streaming (verify/schema/follow.ts). */
  readonly steps: readonly (FollowStep | undefined)[];
  readonly expected: readonly ExpectedDifference[];
  /** Objects the target alone has, which pgferry neither made nor saw on the source: kept, no difference. */
  readonly kept: readonly KeptObject[];
  /** Objects compared (source side). */
  readonly objects: number;
  /**
   * Known objects (ctx.known) the target holds equal to the source's, by key, with their identity
   * on the target where it is not the one recorded, and NONE_MADE for an object the source has that
   * pgferry did not know, whose name the target gives to someone else's: the caller records them
   * (control/knownObjects.ts), after recording the source's objects as known.
   */
  readonly identified: ReadonlyMap<string, string>;
}

/** The table an object is or belongs to, as the verification names it; undefined for others. */
function tableOf(o: SchemaObject): { table?: string; relation?: QualifiedName } {
  if (o.kind === 'table') return { table: displayName(o.schema, o.name), relation: { schema: o.schema, name: o.name } };
  if (o.relation !== null && o.kind !== 'comment' && o.props.on !== 'domain')
    return { table: displayName(o.schema, o.relation), relation: { schema: o.schema, name: o.relation } };
  return {};
}

const keyOf = objectKey;

/**
 * Properties that name an object rather than describe it (a comment's object type and identity are
 * in its key), or that only select a rule below; every other property is compared, a column's
 * `type` and `identity` included.
 */
function compared(o: SchemaObject, property: string): boolean {
  if (o.kind === 'comment') return property === 'text';
  if (o.kind === 'constraint') return property !== 'foreign key' && property !== 'on';
  return true;
}

function shown(v: PropertyValue | undefined): string {
  if (v === null || v === undefined || v === '') return 'none';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  return v.length > 120 ? `${v.slice(0, 117).replace(/\s+/g, ' ')}...` : v.replace(/\s+/g, ' ');
}

/** Deparsed SQL: each server prints it its own way (PostgreSQL 16 drops the table before a view's column). */
const DEPARSED = new Set(['definition', 'default', 'generated', 'using', 'with check', 'partition key', 'partition bound']);

/**
 * A quoted name (with the dot after it when it qualifies another), a string literal (quotes doubled
 * inside, as the deparsers print it, backslashes too), or a dollar-quoted body (a function's).
 */
const QUOTED = /("(?:[^"]|"")+")(\.)?|'(?:[^']|'')*'|(?<![A-Za-z0-9_$])\$([A-Za-z_][A-Za-z0-9_]*)?\$[\s\S]*?\$\3\$/g;

/** SQL outside quotes without its qualifiers, parentheses and whitespace. */
const plainCode = (sql: string) =>
  sql
    .replace(/[A-Za-z_][A-Za-z0-9_$]*\./g, '')
    .replace(/([(,]\s*)IN\s+/g, '$1')
    .replace(/[()\s;]+/g, ' ');

/**
 * Deparsed SQL without its qualifiers, parentheses and whitespace, but for what is quoted: a
 * literal's text, a quoted name and a function's body are kept as printed, so `'%@mail.example.com'`
 * never reads as `'%@example.com'`, nor a body's `(1 + 2) * 3` as `1 + (2 * 3)`.
 */
function plain(sql: string): string {
  let out = '';
  let last = 0;
  for (const m of sql.matchAll(QUOTED)) {
    out += plainCode(sql.slice(last, m.index)) + (m[1] === undefined ? m[0] : m[2] === undefined ? m[1] : '');
    last = m.index + m[0].length;
  }
  return (out + plainCode(sql.slice(last))).trim();
}

/**
 * Across major versions, deparsed SQL is compared without its qualifiers, parentheses and
 * whitespace: the same view reads `orders.customer_id` on 13 and `customer_id` on 16.
 */
function sameAcrossVersions(property: string, s: PropertyValue, d: PropertyValue): boolean {
  if (!DEPARSED.has(property) || typeof s !== 'string' || typeof d !== 'string') return false;
  return plain(s) === plain(d);
}

/**
 * The object as the follow creates it: a schema whose owner the target user cannot make owner is
 * created as the target user's (the deliberate difference below), never refused for its AUTHORIZATION.
 */
function asCreated(ctx: CompareContext, o: SchemaObject): SchemaObject {
  if (o.kind !== 'schema' || typeof o.props.owner !== 'string') return o;
  return { ...o, props: { ...o.props, owner: restoredOwner(o.props.owner, ctx.owners).owner } };
}

/** Whether the target user may change the owner of an object `owner` owns on the target: it has that role's privileges. */
function actsAsOwner(ctx: CompareContext, owner: string): boolean {
  return ctx.owners.superuser || owner === ctx.owners.user || ctx.owners.existing.get(owner)?.usage === true;
}

/** A property that differs on purpose, with the reason the README gives; undefined when it does not. */
function expectedProperty(ctx: CompareContext, o: SchemaObject, t: SchemaObject, property: string): string | undefined {
  const s = o.props[property];
  const d = t.props[property];
  if (property === 'owner') {
    const restored = typeof s === 'string' ? restoredOwner(s, ctx.owners) : undefined;
    if (restored?.why !== undefined && d === restored.owner)
      return `owned by ${displayIdent(String(s))} on the source, ${restored.why}: owned by the target user ${displayIdent(restored.owner)}, as the restore leaves it`;
    if (o.kind === 'schema' && o.name === 'public' && d === 'pg_database_owner' && ctx.sourceMajor < 15 && ctx.targetMajor >= 15)
      return `the public schema of PostgreSQL ${ctx.targetMajor} belongs to pg_database_owner (before 15, to the bootstrap superuser)`;
    // the target's public schema is its own (template0's): one owned on the source by a role the
    // target user cannot make owner keeps the owner it has there, as other objects of that role
    // are given to the target user
    if (o.kind === 'schema' && o.name === 'public' && d === 'pg_database_owner' && restored?.why !== undefined)
      return `owned by ${displayIdent(String(s))} on the source, a role the target user cannot make owner there: the target's public schema keeps its owner pg_database_owner`;
  }
  if (property === 'privileges' && typeof s !== 'boolean' && typeof d !== 'boolean') {
    // grants to roles that are not on the target cannot be made there (the restore reported them);
    // a column none of whose grants could be made has none there (NULL: no column privileges)
    const onTarget = (g: Grant) => g.grantee.kind !== 'role' || ctx.targetRoles.has(g.grantee.name);
    const [source, target] = [parseGrants(s ?? ''), parseGrants(d ?? '')];
    if (printGrants(source.filter(onTarget)) === printGrants(target.filter(onTarget))) {
      const absent = new Set([...source, ...target].filter((g) => !onTarget(g)).map((g) => granteeText(g.grantee)));
      return `grants to roles the target does not have, ${[...absent].sort().join(', ')} (the restore reported each)`;
    }
    if (o.kind === 'schema' && o.name === 'public' && ctx.sourceMajor < 15 !== ctx.targetMajor < 15)
      return 'the public schema has default privileges of its own on each side of PostgreSQL 15';
  }
  if (o.kind === 'extension' && property === 'version')
    return `created at the target's default version ${shown(d)} (the source has ${shown(s)}), as pg_restore does`;
  if (
    !ctx.whileSetAside &&
    o.kind === 'constraint' &&
    property === 'definition' &&
    o.props['foreign key'] === true &&
    typeof s === 'string' &&
    d === `${s} NOT VALID`
  )
    return 'added back NOT VALID: rows the source wrote under replica role do not satisfy it (reported when it was added)';
  if (ctx.whileSetAside && (property === 'row security' || property === 'forced row security'))
    return 'row-level security is enabled at the cutover, after its verification has read the rows';
  if (ctx.whileSetAside && property === 'enabled' && (o.kind === 'trigger' || o.kind === 'rule'))
    return 'fires as on a replica while streaming; set back at the cutover';
  return undefined;
}

/**
 * The target's privileges on an object less its grants to roles the source does not have, each told
 * as kept: made on the target alone, they are never revoked to make it the source's.
 */
function grantsToSourceRoles(ctx: CompareContext, o: SchemaObject, acl: PropertyValue, expected: ExpectedDifference[]): PropertyValue {
  if (ctx.sourceRoles === undefined || typeof acl !== 'string') return acl;
  const grants = parseGrants(acl);
  const theirs = (g: Grant) => g.grantee.kind === 'role' && !ctx.sourceRoles!.has(g.grantee.name);
  for (const g of grants.filter(theirs))
    expected.push({
      object: describeObject(o),
      reason: `granted on the target to ${granteeText(g.grantee)}, a role the source does not have: kept`,
    });
  return grants.some(theirs) ? printGrants(grants.filter((g) => !theirs(g))) : acl;
}

/**
 * Objects that are on the source only on purpose. `foreignKeys`: the source's foreign keys by their
 * object id (a comment's is its constraint's), as `schema\0table\0name`.
 */
function expectedMissing(ctx: CompareContext, o: SchemaObject, foreignKeys: ReadonlyMap<string, string>): string | undefined {
  const key = [o.schema, o.relation, o.name].join('\0');
  const setAside = (k: string | undefined) => k !== undefined && (ctx.setAsideKeys?.has(k) ?? true);
  if (ctx.whileSetAside && o.kind === 'constraint' && o.props['foreign key'] === true && setAside(key))
    return 'foreign keys are added back at the cutover';
  if (ctx.whileSetAside && o.kind === 'comment' && o.props['on foreign key'] === true && setAside(foreignKeys.get(o.objectId)))
    return 'comes back with its foreign key at the cutover';
  if (o.kind === 'constraint' && ctx.leftOutKeys.has(key))
    return 'rows the source wrote under replica role violate it and the target refuses it NOT VALID: reported at the cutover with the statement that adds it';
  return undefined;
}

/**
 * Renamed columns: one only on the source and one only on the target. Known (while streaming), by
 * the source attnum the target's column was known with, which a rename keeps: a column dropped and
 * another added alike is not a rename. Otherwise (a check with nothing known), alike but for the
 * name, for the fix it suggests.
 */
function pairRenames(
  missing: SchemaObject[],
  extra: SchemaObject[],
  known: ReadonlyMap<string, number | null> | undefined,
): { from: SchemaObject; to: SchemaObject }[] {
  const pairs: { from: SchemaObject; to: SchemaObject }[] = [];
  const same = (e: SchemaObject, m: SchemaObject) =>
    known ? m.attnum !== undefined && known.get(keyOf(e)) === m.attnum : JSON.stringify(e.props) === JSON.stringify(m.props);
  for (const m of missing.filter((x) => x.kind === 'column')) {
    const i = extra.findIndex((e) => e.kind === 'column' && e.schema === m.schema && e.relation === m.relation && same(e, m));
    if (i < 0) continue;
    pairs.push({ from: extra[i]!, to: m });
    extra.splice(i, 1);
  }
  for (const p of pairs) missing.splice(missing.indexOf(p.to), 1);
  return pairs;
}

/** Kinds an object renamed on the source is renamed as on the target (pairObjectRenames), by the statement each takes. */
const RENAMED = new Set(['index', 'constraint', 'sequence', 'enum type', 'composite type', 'range type', 'domain']);

/** An object's properties that describe it, its name left out (an index's definition names it). */
function withoutName(o: SchemaObject): string {
  const definition = o.props.definition;
  const props =
    o.kind === 'index' && typeof definition === 'string'
      ? { ...o.props, definition: definition.replace(/^(CREATE (?:UNIQUE )?INDEX )("(?:[^"]|"")+"|\S+)( ON )/, '$1$3') }
      : o.props;
  return JSON.stringify(
    Object.keys(props)
      .sort()
      .map((k) => [k, props[k]]),
  );
}

/**
 * Objects other than columns renamed on the source (TypeORM's renameTable renames the table's
 * sequence, primary key, foreign keys, indexes and enum types with it): one only on the source and
 * one only on the target that the migration made, of the same kind, schema and relation, alike in
 * every property but the name. The migration's by the OID recorded for it on the target (a part
 * keeps its OID when the follow renames its table, not its key, which names the table), or by its
 * key. Renamed on the target rather than dropped and made again: a primary key that a foreign key
 * references cannot be dropped, nor a type a column uses, and the target's would be kept as someone
 * else's beside a second one. Only while following (ctx.known): a check with nothing known names
 * nothing as the migration's.
 */
function pairObjectRenames(
  missing: SchemaObject[],
  extra: SchemaObject[],
  ctx: CompareContext,
): { from: SchemaObject; to: SchemaObject }[] {
  const known = knownRecord(ctx);
  if (known === undefined) return [];
  const madeOids = new Set([...(ctx.knownIdentities?.values() ?? [])].flatMap((i) => partsOf(i)?.object ?? []));
  const ours = (t: SchemaObject) => identityOnTarget(ctx, t) !== 'other' && (madeOids.has(t.objectId) || known.has(keyOf(t)));
  const pairs: { from: SchemaObject; to: SchemaObject }[] = [];
  // a constraint first: renaming a primary key or unique constraint renames its index with it
  const candidates = missing
    .filter((m) => RENAMED.has(m.kind))
    .sort((a, b) => Number(b.kind === 'constraint') - Number(a.kind === 'constraint'));
  for (const m of candidates) {
    const alike = withoutName(m);
    const i = extra.findIndex(
      (e) => e.kind === m.kind && e.schema === m.schema && e.relation === m.relation && ours(e) && withoutName(e) === alike,
    );
    if (i < 0) continue;
    pairs.push({ from: extra[i]!, to: m });
    extra.splice(i, 1);
  }
  for (const p of pairs) missing.splice(missing.indexOf(p.to), 1);
  return pairs;
}

/** Kinds of their own an object moved to another schema on the source is moved as on the target (pairObjectMoves). */
const MOVED = new Set(['sequence', 'enum type', 'composite type', 'range type', 'domain']);

/**
 * Objects of their own moved to another schema on the source (ALTER DOMAIN ... SET SCHEMA): one only
 * on the source and one only on the target that the migration made, of the same kind and name,
 * alike in every property, in two schemas. Moved on the target rather than made again beside it:
 * the columns using a type or a domain keep it, and a second one would be left beside the first.
 */
function pairObjectMoves(missing: SchemaObject[], extra: SchemaObject[], ctx: CompareContext): { from: SchemaObject; to: SchemaObject }[] {
  const known = knownRecord(ctx);
  if (known === undefined) return [];
  const ours = (t: SchemaObject) => identityOnTarget(ctx, t) !== 'other' && known.has(keyOf(t));
  const pairs: { from: SchemaObject; to: SchemaObject }[] = [];
  for (const m of missing.filter((x) => MOVED.has(x.kind) && x.relation === null)) {
    const alike = withoutName(m);
    const i = extra.findIndex(
      (e) => e.kind === m.kind && e.relation === null && e.name === m.name && e.schema !== m.schema && ours(e) && withoutName(e) === alike,
    );
    if (i < 0) continue;
    pairs.push({ from: extra[i]!, to: m });
    extra.splice(i, 1);
  }
  for (const p of pairs) missing.splice(missing.indexOf(p.to), 1);
  return pairs;
}

/** `schema\0name` of the objects of their own (relations, types, functions ...) one side has. */
const ownNames = (objects: readonly SchemaObject[]) =>
  new Set(objects.filter((o) => o.relation === null).map((o) => `${o.schema}\0${o.name}`));

/**
 * A part (an index, a constraint, a trigger ...) of a relation the other side does not have under
 * that name: the relation's own follow makes it (a table created, renamed or dropped: the table
 * watch), never the schema watch object by object. A table renamed on the source and not yet on the
 * target would otherwise lose its primary key and indexes there, made again under the new name.
 */
const partOfAbsent = (o: SchemaObject, other: ReadonlySet<string>) =>
  o.relation !== null && o.kind !== 'comment' && !other.has(`${o.schema}\0${o.relation}`);

/**
 * Objects renamed or moved to another schema on the source, each paired with the target's the
 * migration made (pairObjectRenames, pairObjectMoves): a difference each, renamed or moved in place.
 */
function renamedAndMoved(
  missing: SchemaObject[],
  extra: SchemaObject[],
  ctx: CompareContext,
  out: { differences: SchemaDifference[]; steps: (FollowStep | undefined)[] },
): void {
  for (const { from, to } of pairObjectRenames(missing, extra, ctx)) {
    const fix = renameStatement(from, to.name);
    out.differences.push({
      object: describeObject(to),
      detail: `named ${displayIdent(from.name)} on the target (renamed on the source)`,
      fix,
      ...tableOf(to),
    });
    out.steps.push(renameObjectStep(from, fix));
  }
  for (const { from, to } of pairObjectMoves(missing, extra, ctx)) {
    const fix = moveStatement(from, to.schema);
    out.differences.push({
      object: describeObject(to),
      detail: `in schema ${displayIdent(from.schema)} on the target (moved on the source)`,
      fix,
    });
    out.steps.push(moveObjectStep(from, fix));
  }
}

/**
 * The differences of a part whose relation (or, for a sequence, whose owning table) the other side
 * does not have under that name: a part of a table renamed, created or dropped, or of a domain
 * renamed, which goes with its owner's own follow. The schema watch tells the owner, not each part
 * (a sequence's CREATE and DROP beside a table's rename would be a wrong fix); the cutover's
 * check lists them all.
 */
const withItsOwner = new WeakSet<SchemaDifference>();

/** Whether a difference is a part that goes with its absent owner (withItsOwner). */
export function followsItsOwner(d: SchemaDifference): boolean {
  return withItsOwner.has(d);
}

/** An identifier as format('%I') prints it, unquoted. */
const IDENT = /("(?:[^"]|"")+"|[^."]+)/;
const OWNED_BY = new RegExp(`^${IDENT.source}\\.${IDENT.source}\\.`);
const unquote = (name: string) => (name.startsWith('"') ? name.slice(1, -1).replace(/""/g, '"') : name);

/**
 * A sequence owned by a column of a table the other side does not have under that name: it is the
 * table's, renamed with it (TypeORM's renameTable renames both) and paired by the next look once
 * the table's rename is followed. Made now it would stand beside the target's, which the table
 * still owns there.
 */
function ownedByAbsent(o: SchemaObject, other: ReadonlySet<string>): boolean {
  const owner = o.kind === 'sequence' && typeof o.props['owned by'] === 'string' ? OWNED_BY.exec(o.props['owned by']) : null;
  return owner !== null && !other.has(`${unquote(owner[1]!)}\0${unquote(owner[2]!)}`);
}

export function compareSchemas(source: readonly SchemaObject[], target: readonly SchemaObject[], ctx: CompareContext): SchemaComparison {
  const onTarget = new Map(target.map((t) => [keyOf(t), t]));
  const onSource = new Map(source.map((s) => [keyOf(s), s]));
  const differences: SchemaDifference[] = [];
  const steps: (FollowStep | undefined)[] = [];
  const expected: ExpectedDifference[] = [];
  const constraintNames = new Set(source.filter((o) => o.kind === 'constraint').map((o) => [o.schema, o.relation, o.name].join('\0')));
  const foreignKeys = new Map(
    source
      .filter((o) => o.kind === 'constraint' && o.props['foreign key'] === true)
      .map((o) => [o.objectId, [o.schema, o.relation, o.name].join('\0')]),
  );
  const missing: SchemaObject[] = [];
  const identified = new Map<string, string>();
  const [sourceOwn, targetOwn] = [ownNames(source), ownNames(target)];
  for (const o of source) {
    const t = onTarget.get(keyOf(o));
    if (!t) {
      const reason = expectedMissing(ctx, o, foreignKeys);
      if (reason) expected.push({ object: describeObject(o), reason });
      else missing.push(o);
      continue;
    }
    const before = differences.length;
    for (const property of new Set([...Object.keys(o.props), ...Object.keys(t.props)])) {
      if (!compared(o, property)) continue;
      const s = o.props[property] ?? null;
      const d = property === 'privileges' ? grantsToSourceRoles(ctx, o, t.props[property] ?? null, expected) : (t.props[property] ?? null);
      if (s === d || (ctx.sourceMajor !== ctx.targetMajor && sameAcrossVersions(property, s, d))) continue;
      const reason = expectedProperty(ctx, o, t, property);
      if (reason) {
        expected.push({ object: describeObject(o), reason });
        continue;
      }
      const owner = typeof t.props.owner === 'string' ? t.props.owner : ctx.owners.user;
      if (property === 'owner' && typeof s === 'string') {
        ownerDifference(ctx, o, t, s, owner, { differences, steps });
        continue;
      }
      // compared as respelled (ownedSequences.ts), shown as each server prints it, fixed in the target's names
      const [printed, wanted] = [t.asPrinted?.[property] ?? d, o.asOnTarget?.[property] ?? s];
      differences.push({
        object: describeObject(o),
        detail: `${property}: source ${shown(s)}, target ${shown(printed)}`,
        fix: alterStatement(o, property, wanted, printed, owner, t.props),
        ...tableOf(o),
      });
      steps.push(alterStep(o, t, property, wanted, printed, owner));
    }
    otherUnderName(t, before, { ctx, differences, steps, identified });
  }
  const extra = target.filter((t) => !onSource.has(keyOf(t)));
  for (const { from, to } of pairRenames(missing, extra, ctx.known)) {
    const fix = `ALTER TABLE ${qualified(from.schema, from.relation ?? '')} RENAME COLUMN ${ident(from.name)} TO ${ident(to.name)};`;
    differences.push({
      object: describeObject(to),
      detail: `named ${displayIdent(from.name)} on the target (renamed on the source?)`,
      fix,
      ...tableOf(to),
    });
    steps.push(ctx.known ? renameStep(fix) : undefined);
  }
  renamedAndMoved(missing, extra, ctx, { differences, steps });
  for (const o of missing) {
    const made = asCreated(ctx, o.asOnTarget ? { ...o, props: { ...o.props, ...o.asOnTarget } } : o);
    const difference = { object: describeObject(o), detail: 'only on the source', fix: createStatement(made), ...tableOf(o) };
    differences.push(difference);
    const withOwner = partOfAbsent(o, targetOwn) || ownedByAbsent(o, targetOwn);
    if (withOwner) withItsOwner.add(difference);
    steps.push(withOwner ? undefined : createStep(made, constraintNames));
  }
  const kept = onlyOnTarget(extra, missing, sourceOwn, ctx, differences, steps);
  return { differences, steps, expected, kept, objects: source.length, identified };
}

/**
 * An owner on the target other than the one the restore would give (restoredOwner): its fix gives
 * the object that one, never the source's owner where the target user cannot make it owner (no
 * GRANT of such a role is ever advised), and the follow makes it. Where the target's owner is a
 * role whose privileges the target user lacks (someone gave it away on the target), the target user
 * cannot change it: the fix says who can, and nothing is followed.
 */
function ownerDifference(
  ctx: CompareContext,
  o: SchemaObject,
  t: SchemaObject,
  source: string,
  current: string,
  out: { differences: SchemaDifference[]; steps: (FollowStep | undefined)[] },
): void {
  const restored = restoredOwner(source, ctx.owners);
  const detail = `owner: source ${displayIdent(source)}, target ${displayIdent(current)}${restored.why ? ` (${restored.why}: the restore gives it to the target user ${displayIdent(restored.owner)})` : ''}`;
  const reachable = actsAsOwner(ctx, current);
  out.differences.push({
    object: describeObject(o),
    detail,
    fix: reachable
      ? alterStatement(o, 'owner', restored.owner, current, current)
      : ownerOutOfReach(o, restored.owner, current, ctx.owners.user),
    ...tableOf(o),
  });
  out.steps.push(reachable ? alterStep(o, t, 'owner', restored.owner, current, current) : undefined);
}

/**
 * Kinds only the copy and the schema follow make on the target, each recording it as known first:
 * one of them on the target that the migration does not know was made there by someone else, even
 * where the source has one under its name. (A table and its parts, and the sequence of a serial
 * column, are made by the table follow too, before a look sees them.)
 */
const MADE_BY_THE_FOLLOW_ALONE = new Set([
  'view',
  'materialized view',
  'function',
  'procedure',
  'aggregate',
  'enum type',
  'composite type',
  'domain',
  'range type',
]);

/** The known objects, while following; an empty record is none: a migration that records them has at least the tables the copy restored. */
const knownRecord = (ctx: CompareContext) => (ctx.known !== undefined && ctx.known.size > 0 ? ctx.known : undefined);

/** Why the target's object under the name of the source's is someone else's; undefined when it is the migration's or nothing tells. */
function someoneElses(ctx: CompareContext, t: SchemaObject): string | undefined {
  if (identityOnTarget(ctx, t) === 'other')
    return "made on the target by someone else under the name of the migration's (pgferry made another there)";
  const known = knownRecord(ctx);
  if (known !== undefined && !known.has(keyOf(t)) && MADE_BY_THE_FOLLOW_ALONE.has(t.kind))
    return 'made on the target alone (pgferry did not make it) under a name the source now has';
  return undefined;
}

/** Why a free-standing sequence like the source's is someone else's all the same (anotherSequence). */
const SEQUENCE_NOT_MADE =
  "made on the target by someone else under the name of the migration's (not the one pgferry restored or made there)";

/**
 * A free-standing sequence of the target that is not the one recorded under its name (another OID,
 * or a name pgferry found taken), however like the source's: its definition is a few numbers a
 * DBA's sequence shares by default, and its value is what tells it, which no look compares. The
 * cutover never sets its value (switchover/sequenceSync.ts madeByMigration), so a look never takes
 * it for the migration's. A sequence a column owns is its table's, made again with it by a resync.
 */
function anotherSequence(ctx: CompareContext, t: SchemaObject): boolean {
  if (t.kind !== 'sequence' || typeof t.props['owned by'] === 'string') return false;
  const recorded = ctx.knownIdentities?.get(keyOf(t));
  if (recorded === undefined || !ctx.known?.has(keyOf(t))) return false;
  return recorded === NONE_MADE || partsOf(recorded)?.object !== t.objectId;
}

/**
 * After an object both sides have under one name was compared (its differences from `before` on):
 * equal, the target's is the source's, and a known one's OID there is identified; unlike it and
 * someone else's (not the object pgferry recorded under that name, or one pgferry never made), its
 * differences become one, kept, whose fix renames it aside, never alters or drops it (pgferry
 * then makes the source's).
 */
function otherUnderName(
  t: SchemaObject,
  before: number,
  out: {
    ctx: CompareContext;
    differences: SchemaDifference[];
    steps: (FollowStep | undefined)[];
    identified: Map<string, string>;
  },
): void {
  if (out.differences.length === before && !anotherSequence(out.ctx, t)) {
    const now = targetIdentity(t);
    if (now !== undefined && out.ctx.knownIdentities?.get(keyOf(t)) !== now && out.ctx.known?.has(keyOf(t)))
      out.identified.set(keyOf(t), now);
    return;
  }
  const like = out.differences.length === before;
  const whose = like ? SEQUENCE_NOT_MADE : someoneElses(out.ctx, t);
  if (whose === undefined) return;
  // the name is theirs from now on, also once the look records the source's object as known
  if (!out.ctx.known?.has(keyOf(t))) out.identified.set(keyOf(t), NONE_MADE);
  out.differences.splice(before);
  out.steps.splice(before);
  out.differences.push({
    object: describeObject(t),
    detail: `${whose}, ${like ? 'though like' : 'unlike'} the source's: kept`,
    fix: `${renameAsideStatement(t)} (keeps it under another name; pgferry then makes the source's)`,
    ...tableOf(t),
  });
  out.steps.push(undefined);
}

/**
 * The objects only the target has: dropped by the follow only where pgferry restored them or the
 * source had them (never destroy); what the target alone has is kept and listed, and is a
 * difference only where the source needs its name (its fix renames it, never drops it). Adds to
 * `differences` and `steps`; returns the kept ones.
 */
function onlyOnTarget(
  extra: readonly SchemaObject[],
  missing: readonly SchemaObject[],
  sourceOwn: ReadonlySet<string>,
  ctx: CompareContext,
  differences: SchemaDifference[],
  steps: (FollowStep | undefined)[],
): KeptObject[] {
  const known = knownRecord(ctx);
  // made there alone: not known, or known but another object than the one recorded under the name
  const madeThere = (t: SchemaObject) => known !== undefined && (!known.has(keyOf(t)) || identityOnTarget(ctx, t) === 'other');
  const conflicting = conflicts(missing);
  const kept: KeptObject[] = [];
  const keptOwn = new Set(extra.filter((t) => t.relation === null && madeThere(t) && !conflicting(t)).map((t) => `${t.schema}\0${t.name}`));
  for (const t of extra) {
    if (madeThere(t) && !conflicting(t)) {
      // a kept table's columns, keys and indexes are the table's: it is listed once
      if (!(t.relation !== null && keptOwn.has(`${t.schema}\0${t.relation}`)))
        kept.push({
          object: describeObject(t),
          ...keptColumn(t),
          reason:
            identityOnTarget(ctx, t) === 'other'
              ? 'made on the target by someone else under the name of an object pgferry made there: pgferry did not make this one'
              : 'made on the target alone: pgferry did not make it and the source never had it',
        });
      continue;
    }
    if (madeThere(t)) {
      differences.push({
        object: describeObject(t),
        detail:
          'only on the target, made there alone (pgferry did not make it, the source never had it), under a name the source needs for another object: kept',
        fix: `${renameAsideStatement(t)} (keeps it under another name; pgferry then makes the source's)`,
        ...tableOf(t),
      });
      steps.push(undefined);
      continue;
    }
    const difference = { object: describeObject(t), detail: 'only on the target', fix: dropStatement(t), ...tableOf(t) };
    differences.push(difference);
    if (partOfAbsent(t, sourceOwn) || ownedByAbsent(t, sourceOwn)) withItsOwner.add(difference);
    steps.push(partOfAbsent(t, sourceOwn) ? undefined : dropStep(t));
  }
  return kept;
}

/** A kept column's place and the statement that makes it on the source; none for another object. */
function keptColumn(t: SchemaObject): { column?: KeptColumn } {
  if (t.kind !== 'column' || t.relation === null) return {};
  return { column: { schema: t.schema, table: t.relation, name: t.name, add: createStatement(t).replace(/;$/, '') } };
}

/**
 * Whether an object only the target has takes a name an object only the source has needs: the
 * same schema and name among objects of their own (a table and an index, a view and a table: one
 * namespace), or the same relation and name among its parts. Making the source's would fail there.
 */
function conflicts(missing: readonly SchemaObject[]): (t: SchemaObject) => boolean {
  const names = new Set(missing.filter((m) => m.kind !== 'comment').map((m) => `${m.schema}\0${m.relation ?? ''}\0${m.name}`));
  return (t) => t.kind !== 'comment' && names.has(`${t.schema}\0${t.relation ?? ''}\0${t.name}`);
}

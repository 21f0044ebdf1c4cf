// The statement that makes the target match the source, for each way an object can differ. They
// are shown to the user, never run by pgferry: names go through the quoting helper, definitions
// are the source catalog's own deparsed SQL, and text values are written as literals.
import { displayIdent, displayName, ident, literal, qualified } from '../../connect/quote';
import { retypeUsing } from '../../connect/retypeUsing';
import type { PropertyValue, SchemaObject } from './catalog';
import { granteeText, parseGrants, type Grantee } from './grants';

const text = (v: PropertyValue | undefined): string => (typeof v === 'string' ? v : '');

/** The object's name as SQL: schema-qualified, a part followed by its relation, a function by its arguments. */
function objectSql(o: SchemaObject): string {
  if (o.kind === 'schema' || o.kind === 'extension' || o.kind === 'event trigger') return ident(o.name);
  if (o.kind === 'comment') return text(o.props.identity);
  const own = qualified(o.schema, o.name);
  if (o.args !== null) return `${own}(${o.args})`;
  if (o.relation === null || o.kind === 'index') return own;
  return `${ident(o.name)} ON ${qualified(o.schema, o.relation)}`;
}

/**
 * What the object is, as the user reads it: `column public.orders.placed_at`, `trigger t on
 * public.x`. Prose, never SQL: each name printed as messages print names (displayIdent, bare when a
 * plain word), so it reads as the rest of the engine's messages; the fix beside it stays quoted. A
 * comment is named by the identity PostgreSQL prints for its object.
 */
export function describeObject(o: SchemaObject): string {
  if (o.kind === 'comment') return `comment on ${text(o.props.type)} ${text(o.props.identity)}`;
  if (o.kind === 'column') return `column ${displayName(o.schema, o.relation ?? '')}.${displayIdent(o.name)}`;
  if (o.kind === 'schema' || o.kind === 'extension' || o.kind === 'event trigger') return `${o.kind} ${displayIdent(o.name)}`;
  if (o.args !== null) return `${o.kind} ${displayName(o.schema, o.name)}(${o.args})`;
  if (o.relation !== null && o.kind !== 'index') return `${o.kind} ${displayIdent(o.name)} on ${displayName(o.schema, o.relation)}`;
  return `${o.kind} ${displayName(o.schema, o.name)}`;
}

const tableOf = (o: SchemaObject) => qualified(o.schema, o.relation ?? '');

/** A column's definition as ADD COLUMN takes it. */
function columnDefinition(o: SchemaObject): string {
  const p = o.props;
  let sql = `${ident(o.name)} ${text(p.type)}`;
  if (p.collation) sql += ` COLLATE ${text(p.collation)}`;
  if (p.generated) sql += ` GENERATED ALWAYS AS (${text(p.generated)}) STORED`;
  if (p.default) sql += ` DEFAULT ${text(p.default)}`;
  if (p.identity) sql += ` GENERATED ${text(p.identity)} AS IDENTITY`;
  if (p['not null'] === true) sql += ' NOT NULL';
  return sql;
}

/** The keyword a comment's object type takes in COMMENT ON, and its identity as COMMENT ON names it. */
function commentTarget(o: SchemaObject): string {
  const type = text(o.props.type);
  const identity = text(o.props.identity);
  const keyword =
    type === 'table column' ? 'COLUMN' : type === 'table constraint' || type === 'domain constraint' ? 'CONSTRAINT' : type.toUpperCase();
  // `c on public.t` is the identity of a constraint, trigger, rule or policy
  const onWhat = identity.replace(/ on (?=[^ ]+$)/, type === 'domain constraint' ? ' ON DOMAIN ' : ' ON ');
  return `${keyword} ${onWhat}`;
}

/** CREATE for an object the target lacks. */
export function createStatement(o: SchemaObject): string {
  const p = o.props;
  switch (o.kind) {
    case 'column':
      return `ALTER TABLE ${tableOf(o)} ADD COLUMN ${columnDefinition(o)};`;
    case 'constraint':
      return p.on === 'domain'
        ? `ALTER DOMAIN ${tableOf(o)} ADD CONSTRAINT ${ident(o.name)} ${text(p.definition)};`
        : `ALTER TABLE ${tableOf(o)} ADD CONSTRAINT ${ident(o.name)} ${text(p.definition)};`;
    case 'index':
    case 'trigger':
    case 'rule':
      return `${text(p.definition).replace(/;?\s*$/, '')};`;
    case 'function':
    case 'procedure':
      return `${text(p.definition).trim()};`;
    case 'view':
      return `CREATE OR REPLACE VIEW ${objectSql(o)} AS ${text(p.definition).trim()}`;
    case 'materialized view':
      return `CREATE MATERIALIZED VIEW ${objectSql(o)} AS ${text(p.definition).trim()}`;
    case 'sequence':
      return `CREATE SEQUENCE ${objectSql(o)} ${text(p.sequence)};`;
    case 'policy':
      return policyStatement(o);
    case 'schema':
      return `CREATE SCHEMA ${objectSql(o)} AUTHORIZATION ${ident(text(p.owner))};`;
    case 'extension':
      return `CREATE EXTENSION ${objectSql(o)} WITH SCHEMA ${ident(o.schema)} VERSION ${literal(text(p.version))};`;
    case 'comment':
      return `COMMENT ON ${commentTarget(o)} IS ${literal(text(p.text))};`;
    case 'enum type':
      return `CREATE TYPE ${objectSql(o)} AS ENUM (${text(p.labels)});`;
    case 'composite type':
      return `CREATE TYPE ${objectSql(o)} AS (${text(p.attributes)});`;
    case 'domain':
      return `CREATE DOMAIN ${objectSql(o)} AS ${text(p['base type'])}${p.default ? ` DEFAULT ${text(p.default)}` : ''}${p['not null'] === true ? ' NOT NULL' : ''};`;
    default:
      return `create it as on the source (pg_dump --schema-only shows its definition)`;
  }
}

/**
 * The table's CLUSTER ON mark put on this index, or taken off the table: a mark CLUSTER reads when
 * run without an index, which moves no row and leaves the index as it is.
 */
export function clusterStatement(o: SchemaObject, clustered: boolean): string {
  return clustered ? `ALTER TABLE ${tableOf(o)} CLUSTER ON ${ident(o.name)};` : `ALTER TABLE ${tableOf(o)} SET WITHOUT CLUSTER;`;
}

/**
 * The statements that make an enum's labels the source's in place, without touching a row: labels
 * added (none removed or reordered), ADD VALUE each where the source has it; or labels renamed
 * (as many labels, each the target has alone in the place of one the source has alone), RENAME
 * VALUE each, which renames it in every row at once as it did on the source. Undefined otherwise:
 * PostgreSQL removes or reorders no label in place.
 */
export function labelChanges(o: SchemaObject, source: string, target: string): { statements: string[]; renamed: boolean } | undefined {
  // labels are read as quote_literal prints them (catalog.ts), so each is a literal already
  const split = (s: string): string[] => s.match(/E?'(?:[^']|'')*'/g) ?? [];
  const want = split(source);
  const have = split(target);
  const type = qualified(o.schema, o.name);
  if (want.length === have.length) {
    const renames = have.flatMap((label, i) => (label === want[i] ? [] : [[label, want[i]!] as const]));
    if (renames.some(([from, to]) => want.includes(from) || have.includes(to))) return undefined;
    return { statements: renames.map(([from, to]) => `ALTER TYPE ${type} RENAME VALUE ${from} TO ${to};`), renamed: true };
  }
  if (have.some((l, i) => want.indexOf(l) < 0 || (i > 0 && want.indexOf(l) < want.indexOf(have[i - 1]!)))) return undefined;
  const statements: string[] = [];
  want.forEach((label, i) => {
    if (have.includes(label)) return;
    const place = i > 0 ? ` AFTER ${want[i - 1]!}` : have.length ? ` BEFORE ${have[0]!}` : '';
    statements.push(`ALTER TYPE ${type} ADD VALUE IF NOT EXISTS ${label}${place};`);
  });
  return { statements, renamed: false };
}

/**
 * The target's labels the source's type no longer has, when the source's labels are all the
 * target's (some removed, or the order changed): a type PostgreSQL changes only by making it again
 * (drizzle-kit's DROP TYPE and CREATE TYPE of the same name). Undefined when the source has a label
 * the target lacks: a row streamed with it would wait for a type no look can make before it.
 */
export function labelsRemoved(source: string, target: string): string[] | undefined {
  const split = (s: string): string[] => s.match(/E?'(?:[^']|'')*'/g) ?? [];
  const [want, have] = [split(source), split(target)];
  if (want.some((label) => !have.includes(label))) return undefined;
  return have.filter((label) => !want.includes(label));
}

/**
 * A composite type's attributes as the catalog reads them (catalog.ts: `name type, ...`, each name
 * as quote_ident prints it), split where a comma stands outside quotes and parentheses: a type's
 * modifiers (`numeric(12,4)`) and a quoted name or type may hold one.
 */
function attributeList(list: string): { name: string; type: string }[] {
  const entries: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < list.length; i++) {
    const c = list[i];
    if (c === '"') quoted = !quoted;
    else if (!quoted && c === '(') depth++;
    else if (!quoted && c === ')') depth--;
    else if (!quoted && depth === 0 && c === ',' && list[i + 1] === ' ') {
      entries.push(list.slice(start, i));
      start = i + 2;
    }
  }
  if (list !== '') entries.push(list.slice(start));
  return entries.map((entry) => {
    const name = /^("(?:[^"]|"")*"|[^ ]+) /.exec(entry)?.[1] ?? entry;
    return { name, type: entry.slice(name.length + 1) };
  });
}

/**
 * The statements that give a composite type the source's attributes in place (ALTER TYPE ... ADD,
 * DROP or ALTER ATTRIBUTE), as the source was given them: a column of that type keeps its rows,
 * where DROP TYPE would need CASCADE, which drops the column. `added`: the target has the source's
 * first attributes as they are, and lacks only those after them (ADD ATTRIBUTE on the source).
 * Undefined when the order differs in a way ALTER TYPE cannot make (it adds only at the end).
 */
export function attributeChanges(o: SchemaObject, source: string, target: string): { statements: string[]; added: boolean } | undefined {
  const [want, have] = [attributeList(source), attributeList(target)];
  const type = qualified(o.schema, o.name);
  const kept = have.filter((a) => want.some((w) => w.name === a.name));
  const order = [...kept.map((a) => a.name), ...want.filter((w) => !have.some((a) => a.name === w.name)).map((w) => w.name)];
  if (order.join('\0') !== want.map((w) => w.name).join('\0')) return undefined;
  const statements = [
    ...have.filter((a) => !kept.includes(a)).map((a) => `ALTER TYPE ${type} DROP ATTRIBUTE ${a.name};`),
    ...kept.flatMap((a) => {
      const w = want.find((x) => x.name === a.name)!;
      return w.type === a.type ? [] : [`ALTER TYPE ${type} ALTER ATTRIBUTE ${a.name} TYPE ${w.type};`];
    }),
    ...want.filter((w) => !have.some((a) => a.name === w.name)).map((w) => `ALTER TYPE ${type} ADD ATTRIBUTE ${w.name} ${w.type};`),
  ];
  const added = have.length < want.length && have.every((a, i) => a.name === want[i]!.name && a.type === want[i]!.type);
  return { statements, added };
}

/** Storage parameters read as `name=value, ...` (a table's toast ones as `toast.name=value`; an index's definition quotes a value). */
function storageParameters(list: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of list.matchAll(/([\w.]+)=('(?:[^']|'')*'|[^,]*)(?:,\s*|$)/g)) {
    const value = m[2]!;
    out.set(m[1]!, value.startsWith("'") ? value.slice(1, -1).replace(/''/g, "'") : value);
  }
  return out;
}

/** A storage parameter's name as SET and RESET take it: a toast table's under its `toast.` prefix. */
const parameterName = (name: string) => name.split('.').map(ident).join('.');

const ALTERED_AS: Readonly<Record<string, string>> = {
  table: 'TABLE',
  'materialized view': 'MATERIALIZED VIEW',
  view: 'VIEW',
  index: 'INDEX',
};

/**
 * The storage parameters of a relation or an index set as the source has them: RESET what only the
 * target has, SET what the source has otherwise. Each is a parameter of the catalog's, its value
 * a literal; none moves a row.
 */
export function storageStatements(o: SchemaObject, source: string, target: string): string[] {
  const [want, have] = [storageParameters(source), storageParameters(target)];
  const alter = `ALTER ${ALTERED_AS[o.kind] ?? 'TABLE'} ${qualified(o.schema, o.name)}`;
  const reset = [...have.keys()].filter((name) => !want.has(name));
  const set = [...want].filter(([name, value]) => have.get(name) !== value);
  return [
    ...(reset.length ? [`${alter} RESET (${reset.map(parameterName).join(', ')});`] : []),
    ...(set.length ? [`${alter} SET (${set.map(([name, value]) => `${parameterName(name)} = ${literal(value)}`).join(', ')});`] : []),
  ];
}

/** An index's definition as pg_get_indexdef prints it, split around its WITH (storage parameters). */
const INDEX_WITH = /^(.*?) WITH \(((?:[^()']|'(?:[^']|'')*')*)\)(.*)$/s;

function indexParts(definition: string): { rest: string; parameters: string } {
  const m = INDEX_WITH.exec(definition);
  return m ? { rest: `${m[1]!}${m[3]!}`, parameters: m[2]! } : { rest: definition, parameters: '' };
}

/**
 * When two definitions of an index differ only by their storage parameters, the statements that
 * set the target's as the source's (ALTER INDEX ... SET, no rebuild); otherwise undefined.
 */
export function indexStorageStatements(o: SchemaObject, source: string, target: string): string[] | undefined {
  const [s, t] = [indexParts(source), indexParts(target)];
  if (s.rest !== t.rest) return undefined;
  return storageStatements(o, s.parameters, t.parameters);
}

/** DROP for an object only the target has. */
export function dropStatement(o: SchemaObject): string {
  switch (o.kind) {
    case 'column':
      return `ALTER TABLE ${tableOf(o)} DROP COLUMN ${ident(o.name)};`;
    case 'constraint':
      return `ALTER ${o.props.on === 'domain' ? 'DOMAIN' : 'TABLE'} ${tableOf(o)} DROP CONSTRAINT ${ident(o.name)};`;
    case 'comment':
      return `COMMENT ON ${commentTarget(o)} IS NULL;`;
    case 'enum type':
    case 'composite type':
    case 'range type':
    case 'base type':
      return `DROP TYPE ${objectSql(o)};`;
    default:
      return `DROP ${o.kind.toUpperCase()} ${objectSql(o)};`;
  }
}

/**
 * RENAME for an object only the target has, made there by someone else, whose name the source needs
 * for another object: it is kept under another name (never dropped: it is not pgferry's).
 */
export function renameAsideStatement(o: SchemaObject): string {
  return renameStatement(o, `${o.name}_kept`);
}

/** RENAME of an object of the target to `name`, in the statement its kind takes. */
export function renameStatement(o: SchemaObject, name: string): string {
  const to = ident(name);
  switch (o.kind) {
    case 'column':
      return `ALTER TABLE ${tableOf(o)} RENAME COLUMN ${ident(o.name)} TO ${to};`;
    case 'constraint':
      return `ALTER ${o.props.on === 'domain' ? 'DOMAIN' : 'TABLE'} ${tableOf(o)} RENAME CONSTRAINT ${ident(o.name)} TO ${to};`;
    case 'enum type':
    case 'composite type':
    case 'range type':
    case 'base type':
      return `ALTER TYPE ${objectSql(o)} RENAME TO ${to};`;
    default:
      return `ALTER ${o.kind.toUpperCase()} ${objectSql(o)} RENAME TO ${to};`;
  }
}

/** SET SCHEMA of an object of the target of its own (a type, a domain, a sequence) into `schema`, in the statement its kind takes. */
export function moveStatement(o: SchemaObject, schema: string): string {
  const keyword = o.kind.endsWith(' type') ? 'TYPE' : o.kind.toUpperCase();
  return `ALTER ${keyword} ${objectSql(o)} SET SCHEMA ${ident(schema)};`;
}

/** ALTER ... OWNER TO and the keyword each kind takes there. */
function ownerStatement(o: SchemaObject, owner: string): string {
  const keyword = o.kind.endsWith(' type') ? 'TYPE' : o.kind === 'foreign table' ? 'FOREIGN TABLE' : o.kind.toUpperCase();
  return `ALTER ${keyword} ${objectSql(o)} OWNER TO ${ident(owner)};`;
}

/**
 * The fix of an owner the target user cannot change, a plain sentence: the object is owned on the
 * target by a role whose privileges the target user lacks, so only that role or a superuser there
 * can give it to the owner the restore would give it.
 */
export function ownerOutOfReach(o: SchemaObject, owner: string, current: string, user: string): string {
  return `${displayIdent(user)} cannot change it: on the target it is owned by ${displayIdent(current)}, whose privileges ${displayIdent(user)} does not have; ${displayIdent(current)} or a superuser there can run ${ownerStatement(o, owner)}`;
}

/** `grantee=PRIV,PRIV*` entries (grants.ts) into GRANT and REVOKE statements that make `from` equal `to`. */
function privilegeStatements(o: SchemaObject, from: string, to: string, owner: string): string {
  const grantees = new Map<string, Grantee>();
  const parse = (acl: string) =>
    new Map(
      parseGrants(acl).map((g) => {
        grantees.set(granteeText(g.grantee), g.grantee);
        return [granteeText(g.grantee), g.privileges] as const;
      }),
    );
  const have = parse(from);
  const want = parse(to);
  const keyword =
    o.kind === 'function' || o.kind === 'procedure' || o.kind === 'aggregate'
      ? 'FUNCTION'
      : o.kind === 'schema'
        ? 'SCHEMA'
        : o.kind === 'sequence'
          ? 'SEQUENCE'
          : o.kind.endsWith(' type') || o.kind === 'domain'
            ? 'TYPE'
            : 'TABLE';
  const on = o.kind === 'column' ? `TABLE ${tableOf(o)}` : `${keyword} ${objectSql(o)}`;
  const cols = o.kind === 'column' ? ` (${ident(o.name)})` : '';
  const who = (key: string) => {
    const g = grantees.get(key)!;
    return g.kind === 'public' ? 'PUBLIC' : ident(g.kind === 'owner' ? owner : g.name);
  };
  const out: string[] = [];
  for (const grantee of new Set([...have.keys(), ...want.keys()])) {
    const a = have.get(grantee) ?? '';
    const b = want.get(grantee) ?? '';
    if (a === b) continue;
    const privs = (s: string) =>
      s
        .split(',')
        .filter(Boolean)
        .map((x) => x.replace('*', ''));
    const wanted = privs(b);
    const extra = privs(a).filter((x) => !wanted.includes(x));
    if (extra.length) out.push(`REVOKE ${extra.map((x) => `${x}${cols}`).join(', ')} ON ${on} FROM ${who(grantee)};`);
    const plain = b.split(',').filter((x) => x && !x.endsWith('*') && !a.split(',').includes(x));
    const grantable = b
      .split(',')
      .filter((x) => x.endsWith('*') && !a.split(',').includes(x))
      .map((x) => x.slice(0, -1));
    if (plain.length) out.push(`GRANT ${plain.map((x) => `${x}${cols}`).join(', ')} ON ${on} TO ${who(grantee)};`);
    if (grantable.length)
      out.push(`GRANT ${grantable.map((x) => `${x}${cols}`).join(', ')} ON ${on} TO ${who(grantee)} WITH GRANT OPTION;`);
  }
  return out.join(' ');
}

function policyStatement(o: SchemaObject): string {
  const p = o.props;
  let sql = `CREATE POLICY ${objectSql(o)} AS ${p.permissive === false ? 'RESTRICTIVE' : 'PERMISSIVE'} FOR ${text(p.command)} TO ${text(p.roles) || 'PUBLIC'}`;
  if (p.using) sql += ` USING (${text(p.using)})`;
  if (p['with check']) sql += ` WITH CHECK (${text(p['with check'])})`;
  return `${sql};`;
}

const TRIGGER_STATES: Record<string, string> = { O: 'ENABLE', D: 'DISABLE', R: 'ENABLE REPLICA', A: 'ENABLE ALWAYS' };

/**
 * A partition's attachment (its parent, its bound) as the source has it: detached from the parent it
 * hangs from on the target, attached to the source's with the source's bound. Never recreated: a
 * partition holds rows, and the fix keeps them. `targetProps`: the target's object's properties.
 */
function attachmentStatement(o: SchemaObject, targetProps: Readonly<Record<string, PropertyValue>>): string {
  const parent = text(o.props['partition of']);
  const bound = text(o.props['partition bound']);
  const targetParent = text(targetProps['partition of']);
  const out: string[] = [];
  if (targetParent) out.push(`ALTER TABLE ${targetParent} DETACH PARTITION ${objectSql(o)};`);
  if (parent) out.push(`ALTER TABLE ${parent} ATTACH PARTITION ${objectSql(o)} ${bound};`);
  return out.join(' ');
}

/**
 * The statement for one property that differs, `source` being what the target should have; the
 * object is the source's. A property with no statement of its own is fixed by recreating the object.
 * `targetProps`: the target's object's properties, for a fix that needs more than the one that differs.
 */
export function alterStatement(
  o: SchemaObject,
  property: string,
  source: PropertyValue,
  target: PropertyValue,
  targetOwner: string,
  targetProps: Readonly<Record<string, PropertyValue>> = {},
): string {
  const recreate = () => `${dropStatement(o)} ${createStatement(o)}`;
  if (property === 'owner') return ownerStatement(o, text(source));
  if (property === 'privileges') return privilegeStatements(o, text(target), text(source), targetOwner);
  switch (o.kind) {
    case 'column': {
      const col = `ALTER TABLE ${tableOf(o)} ALTER COLUMN ${ident(o.name)}`;
      if (property === 'type' || property === 'collation')
        return `${col} TYPE ${text(o.props.type)}${o.props.collation ? ` COLLATE ${text(o.props.collation)}` : ''}${retypeUsing(o.name, property === 'type' ? text(target) : text(o.props.type), text(o.props.type))};`;
      if (property === 'default') return source === null ? `${col} DROP DEFAULT;` : `${col} SET DEFAULT ${text(source)};`;
      if (property === 'not null') return `${col} ${source === true ? 'SET' : 'DROP'} NOT NULL;`;
      if (property === 'identity')
        return source === null
          ? `${col} DROP IDENTITY;`
          : target === null
            ? `${col} ADD GENERATED ${text(source)} AS IDENTITY;`
            : `${col} SET GENERATED ${text(source)};`;
      return recreate();
    }
    case 'table':
    case 'foreign table': {
      const table = `ALTER TABLE ${objectSql(o)}`;
      if (property === 'row security') return `${table} ${source === true ? 'ENABLE' : 'DISABLE'} ROW LEVEL SECURITY;`;
      if (property === 'forced row security') return `${table} ${source === true ? '' : 'NO '}FORCE ROW LEVEL SECURITY;`;
      if (property === 'unlogged') return `${table} SET ${source === true ? 'UNLOGGED' : 'LOGGED'};`;
      if (property === 'replica identity') return `${table} REPLICA IDENTITY ${text(source) || 'DEFAULT'};`;
      if (property === 'partition of' || property === 'partition bound') return attachmentStatement(o, targetProps);
      if (property === 'storage parameters') return storageStatements(o, text(source), text(target)).join(' ');
      return `recreate ${describeObject(o)} as on the source (its ${property} differs)`;
    }
    case 'sequence':
      return property === 'sequence'
        ? `ALTER SEQUENCE ${objectSql(o)} ${text(source)};`
        : `ALTER SEQUENCE ${objectSql(o)} OWNED BY ${text(source) || 'NONE'};`;
    case 'view':
    case 'materialized view':
      if (property === 'storage parameters') return storageStatements(o, text(source), text(target)).join(' ');
      return o.kind === 'view' ? createStatement(o) : recreate();
    case 'function':
    case 'procedure':
      return createStatement(o);
    case 'trigger':
    case 'rule':
      if (property === 'enabled')
        return `ALTER TABLE ${tableOf(o)} ${TRIGGER_STATES[text(source)] ?? 'ENABLE'} ${o.kind.toUpperCase()} ${ident(o.name)};`;
      return recreate();
    case 'index':
      if (property === 'clustered') return clusterStatement(o, source === true);
      if (property === 'definition') {
        const storage = indexStorageStatements(o, text(source), text(target));
        if (storage) return storage.join(' ');
      }
      return recreate();
    case 'enum type':
    case 'composite type':
      return typeStatement(o, property, source, target);
    case 'domain':
      return domainStatement(o, property, source);
    case 'policy': {
      // ALTER POLICY changes its roles and expressions in place; its command or kind, or an
      // expression taken away, only a new policy can
      const alter = `ALTER POLICY ${objectSql(o)}`;
      if (property === 'roles') return `${alter} TO ${text(source) || 'PUBLIC'};`;
      if (property === 'using' && source !== null) return `${alter} USING (${text(source)});`;
      if (property === 'with check' && source !== null) return `${alter} WITH CHECK (${text(source)});`;
      return recreate();
    }
    case 'extension':
      return `ALTER EXTENSION ${objectSql(o)} UPDATE TO ${literal(text(source))};`;
    case 'comment':
      return createStatement(o);
    default:
      return recreate();
  }
}

/**
 * A domain's default or NOT NULL made the source's in place (ALTER DOMAIN), its columns kept;
 * recreating a domain its columns use would need CASCADE, which drops them: never printed. Its
 * base type no statement changes in place.
 */
function domainStatement(o: SchemaObject, property: string, source: PropertyValue): string {
  const domain = `ALTER DOMAIN ${objectSql(o)}`;
  if (property === 'default') return source === null ? `${domain} DROP DEFAULT;` : `${domain} SET DEFAULT ${text(source)};`;
  if (property === 'not null') return `${domain} ${source === true ? 'SET' : 'DROP'} NOT NULL;`;
  return `make a domain of the source's ${property} under another name, move each column using ${describeObject(o)} to it (ALTER TABLE ... ALTER COLUMN ... TYPE), then drop this one and rename the new one as the source has it`;
}

/**
 * An enum's labels or a composite type's attributes made the source's in place; recreating a type
 * its columns use would need CASCADE, which drops them: never printed.
 */
function typeStatement(o: SchemaObject, property: string, source: PropertyValue, target: PropertyValue): string {
  if (o.kind === 'enum type') {
    const change = property === 'labels' ? labelChanges(o, text(source), text(target)) : undefined;
    if (change) return change.statements.join(' ');
    return `recreate ${describeObject(o)} as on the source (its ${property} differs; ALTER TYPE cannot remove or reorder a label)`;
  }
  const change = property === 'attributes' ? attributeChanges(o, text(source), text(target)) : undefined;
  if (change) return change.statements.join(' ');
  return `recreate ${describeObject(o)} as on the source (its ${property} differs; ALTER TYPE adds an attribute only at the end)`;
}

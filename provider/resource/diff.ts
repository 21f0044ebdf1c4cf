// The diff rules of PgMigration, pure: which input changes replace the migration, which update it
// (cutover, tuning, credentials, the databases of one created without them), which are nothing (databases reordered, customTimeouts), and
// which are refused (cutover taken back, replacing a migration that has cut over).
import { FILTER_KEYS } from '../engine';
import { armSourceOf } from '../azure/body';
import { withDefaults } from './defaults';
import { containsUnknown } from './unknown';
import { cutoverRaised, wantedCutovers } from './inputSchema';
import { withPgferrySpellings } from './aliases';
import { REPLACE_KEYS, SERVER_IDENTITY_KEYS, SERVER_UPDATE_KEYS, UPDATE_KEYS } from './inputKeys';

type Props = Record<string, unknown>;

export interface DiffDecision {
  readonly changes: boolean;
  readonly replaces: string[];
  readonly stables: string[];
  readonly deleteBeforeReplace: boolean;
  /** Lines for the preview (the provider host shows stdout as info). */
  readonly notes: string[];
}

/** What the diff knows beyond the stored outputs: the live state when it was read. */
export interface DiffContext {
  readonly liveState?: string;
  /** Migration names that PGFERRY_ALLOW_DROP_AFTER_CUTOVER names for this operation. */
  readonly dropAllowed?: (migrationName: string) => boolean;
  /** Migration names that PGFERRY_ALLOW_HOST_CHANGE names: replaced though only the mapped address moved. */
  readonly hostChangeAllowed?: (migrationName: string) => boolean;
}

const FINAL_STATES = new Set(['Succeeded', 'Failed', 'Canceled', 'ValidationFailed']);

/** Thrown for a change the resource refuses (shown by `pulumi preview`). */
export class RefusedChangeError extends Error {
  override readonly name = 'RefusedChangeError';
}

/** Per input: replaced for certain, replaced unless an unknown value turns out unchanged, or updated. */
interface Comparison {
  readonly replaces: string[];
  readonly unknownReplaces: string[];
  readonly changed: string[];
}

/**
 * `olds` are the stored outputs (which echo the inputs and the last status), `news` the checked
 * inputs. A replace-key whose new value is not known yet (a server FQDN from a resource updated
 * in the same run) counts as a replace, as Terraform-bridged providers plan it: preview may show
 * a replace that `up` finds unnecessary, never an update that `up` turns into a replace.
 */
export function diffInputs(olds: Props, news: Props, context: DiffContext = {}): DiffDecision {
  if (olds.cutover === true && news.cutover === false) {
    throw new RefusedChangeError(
      'cutover: cannot go from true back to false (the cutover has been performed; replace the resource to migrate again)',
    );
  }
  // raising cutoverCount after a fall-back with resumeForward starts a new round, without a fall-back
  if (olds.fallBack === true && news.fallBack === false && !cutoverRaised(olds, news)) {
    throw new RefusedChangeError(
      'fallBack: cannot go from true back to false (the old source is the primary again); with resumeForward: true, raise cutoverCount to cut over again, else replace the resource to migrate again',
    );
  }
  if (wantedCutovers(news) < wantedCutovers(olds)) {
    throw new RefusedChangeError(`cutoverCount: cannot go down from ${wantedCutovers(olds)} (a cutover made cannot be taken back)`);
  }
  // the stored outputs spell azure-native's booleans as Azure does ("True"); the inputs, as pgferry
  const o = withDefaults(withPgferrySpellings(olds));
  const n = withDefaults(news);
  refuseMovedAddress(o, n, context);
  const found = compare(o, n);
  const cutOver = hasCutOver(context.liveState ?? o.state, o.option);
  const optedIn = n.allowReplaceAfterCutover === true;
  const notes: string[] = [];
  const name = String(o.migrationName);
  if (cutOver && !optedIn && found.replaces.length > 0) throw refusedReplace(name, found.replaces);
  const replaces = [...found.replaces];
  const changed = [...found.changed];
  if (found.unknownReplaces.length > 0 && cutOver && !optedIn) {
    // It cannot be replaced without the opt-in: `up` compares the real values and stops if they differ.
    changed.push(...found.unknownReplaces);
    notes.push(
      `${name}: ${found.unknownReplaces.join(', ')} not known until up; the migration has cut over, so up stops with an error if it changed (allowReplaceAfterCutover: true replaces it)`,
    );
  } else {
    replaces.push(...found.unknownReplaces);
  }
  if (replaces.length > 0 && cutOver) notes.push(replaceAfterCutoverNote(name, o, context));
  const runnerDead = o.runnerAlive === false && !FINAL_STATES.has(String(o.state));
  if (runnerDead && replaces.length === 0) notes.push(`${name}: its runner is not running; up restarts it`);
  return {
    changes: replaces.length > 0 || changed.length > 0 || runnerDead,
    replaces,
    stables: REPLACE_KEYS.filter((k) => !replaces.includes(k)),
    deleteBeforeReplace: replaces.length > 0 && mustDeleteFirst(o, n),
    notes,
  };
}

function compare(o: Props, n: Props): Comparison {
  const result: Comparison = { replaces: [], unknownReplaces: [], changed: [] };
  for (const key of REPLACE_KEYS) classify(result, key, o[key], n[key]);
  // created without dbsToMigrate, it waits for them (WaitingForDBsToMigrateSpecification): naming
  // them is an update, as Azure's PATCH of dbsToMigrate, unless it ended (a new migration then)
  const named = asList(o.databases).length === 0 && !FINAL_STATES.has(String(o.state));
  if (named && (containsUnknown(n.databases) || asList(n.databases).length > 0)) result.changed.push('databases');
  else if (containsUnknown(n.databases)) result.unknownReplaces.push('databases');
  else if (!sameSet(o.databases, n.databases)) result.replaces.push('databases');
  // What moves is part of which migration this is: a running migration cannot start or stop
  // moving a table in place (its copy, slot and publication were made for the old selection).
  // Patterns compare as sets: reordering them is no change.
  for (const key of FILTER_KEYS) {
    if (containsUnknown(n[key])) result.unknownReplaces.push(key);
    else if (!sameSet(o[key], n[key])) result.replaces.push(key);
  }
  for (const side of ['source', 'target'] as const) compareServer(result, side, o[side], n[side]);
  for (const key of UPDATE_KEYS) if (!same(o[key], n[key])) result.changed.push(key);
  return result;
}

function classify(result: Comparison, key: string, old: unknown, value: unknown): void {
  if (same(old, value)) return;
  if (containsUnknown(value)) result.unknownReplaces.push(key);
  else result.replaces.push(key);
}

function compareServer(result: Comparison, side: string, old: unknown, value: unknown): void {
  const o = asRecord(old);
  if (typeof value !== 'object' || value === null) {
    // the whole server is unknown (built inside an apply) or missing
    if (containsUnknown(value)) result.unknownReplaces.push(side);
    else if (!same(old, value)) result.replaces.push(side);
    return;
  }
  const n = value as Props;
  const identity = SERVER_IDENTITY_KEYS.filter((k) => !same(o[k], n[k]));
  if (identity.some((k) => !containsUnknown(n[k]))) result.replaces.push(side);
  else if (identity.length > 0) result.unknownReplaces.push(side);
  else if (SERVER_UPDATE_KEYS.some((k) => !same(o[k], n[k]))) result.changed.push(side);
}

/**
 * Delete first when the two migrations could meet on one target: the same name (unique on the
 * target), or the same target server with a database in common — side by side they would both
 * write into it, and deleting the old one (dropTargetDatabasesOnDelete) would drop the new one's
 * copy. Unknown values count as meeting.
 */
function mustDeleteFirst(o: Props, n: Props): boolean {
  if (containsUnknown(n.migrationName) || same(o.migrationName, n.migrationName)) return true;
  const ot = asRecord(o.target);
  const nt = n.target;
  if (containsUnknown(nt)) return overlaps(o.databases, n.databases);
  const target = asRecord(nt);
  const sameServer = same(ot.host, target.host) && same(ot.port, target.port);
  return sameServer && overlaps(o.databases, n.databases);
}

function overlaps(a: unknown, b: unknown): boolean {
  if (containsUnknown(b)) return true;
  const old = new Set(asList(a));
  return asList(b).some((db) => old.has(db));
}

/**
 * Identity is not environment: a server named by Azure (the target by serverName, the source by an
 * Azure resource id in sourceDbServerResourceId) whose address alone differs (host or port, as
 * PGFERRY_SERVER_HOSTS or DNS gives it on the machine running Pulumi) is the same server reached
 * another way, and replacing a migration that has not ended for it would cancel it and copy again.
 * Refused unless PGFERRY_ALLOW_HOST_CHANGE names the migration for this operation.
 */
function refuseMovedAddress(o: Props, n: Props, context: DiffContext): void {
  const name = String(o.migrationName);
  if (FINAL_STATES.has(String(context.liveState ?? o.state)) || context.hostChangeAllowed?.(name)) return;
  for (const side of ['target', 'source'] as const) {
    const server = AZURE_NAMED[side](o);
    if (server === undefined || server.key !== AZURE_NAMED[side](n)?.key) continue;
    const os = asRecord(o[side]);
    const ns = asRecord(n[side]);
    if (containsUnknown(n[side]) || (same(os.host, ns.host) && same(os.port, ns.port))) continue;
    if (!same(os.user, ns.user) || !same(os.maintenanceDatabase, ns.maintenanceDatabase)) continue;
    throw new RefusedChangeError(
      `${side}: ${server.said} resolves to ${String(ns.host)}:${String(ns.port)} on this machine and to ${String(os.host)}:${String(os.port)} where migration "${name}" was created or last updated (PGFERRY_SERVER_HOSTS or DNS differ); replacing it would cancel the running migration and copy again. Run with the same PGFERRY_SERVER_HOSTS as there, or set PGFERRY_ALLOW_HOST_CHANGE=${name} for this command to replace it`,
    );
  }
}

/** An Azure name a server was given by: `key` compares two of them, `said` names it in a message. */
interface AzureNamed {
  readonly key: string;
  readonly said: string;
}

const AZURE_NAMED: Record<'source' | 'target', (props: Props) => AzureNamed | undefined> = {
  // the target's Azure server name (serverName, or azure-native 2.x's targetDbServerName), any case
  target: (props) => {
    const name = props.serverName ?? props.targetDbServerName;
    return typeof name === 'string' && name !== '' ? { key: name.toLowerCase(), said: `server "${name.toLowerCase()}"` } : undefined;
  },
  // the source's Azure resource id, any case (ARM's ids are)
  source: (props) => {
    const id = props.sourceDbServerResourceId;
    const arm = typeof id === 'string' ? armSourceOf(id) : undefined;
    return arm === undefined ? undefined : { key: String(id).toLowerCase(), said: `${arm.kind} "${arm.name}" (sourceDbServerResourceId)` };
  },
};

function refusedReplace(name: string, keys: readonly string[]): RefusedChangeError {
  return new RefusedChangeError(
    `allowReplaceAfterCutover: migration "${name}" has cut over (Succeeded) and changing ${keys.join(', ')} would replace it: a new migration would copy over the databases applications now use. Undo the change, or set allowReplaceAfterCutover: true on this resource to replace it in this update (the preview then shows the replace)`,
  );
}

function replaceAfterCutoverNote(name: string, o: Props, context: DiffContext): string {
  const drop = o.dropTargetDatabasesOnDelete === true;
  if (!drop) return `${name}: replacing a migration that has cut over (allowReplaceAfterCutover); its target databases are kept`;
  return context.dropAllowed?.(name)
    ? `${name}: replacing a migration that has cut over; its target databases ${asList(o.databases).join(', ')} WILL BE DROPPED (dropTargetDatabasesOnDelete, and PGFERRY_ALLOW_DROP_AFTER_CUTOVER names it)`
    : `${name}: replacing a migration that has cut over; its target databases are kept (dropTargetDatabasesOnDelete applies after a cutover only when PGFERRY_ALLOW_DROP_AFTER_CUTOVER names the migration)`;
}

/**
 * Whether the migration has cut over: it Succeeded having copied data, so the target databases are
 * the ones applications now use. A Validate-only migration that Succeeded copied nothing: changing
 * its option to migrate (Azure's validate-first flow) is an ordinary replace.
 */
export function hasCutOver(state: unknown, option: unknown): boolean {
  return state === 'Succeeded' && option !== 'Validate';
}

function asRecord(value: unknown): Props {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Props) : {};
}

function asList(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : [];
}

/** Database lists compared as sets: reordering them is no change. */
export function sameSet(a: unknown, b: unknown): boolean {
  const x = new Set(asList(a));
  const y = new Set(asList(b));
  return x.size === y.size && [...x].every((v) => y.has(v));
}

/** Structural equality of JSON values; unset (undefined/null) object fields count as absent. */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if ((a === undefined || a === null) && (b === undefined || b === null)) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => same(v, b[i]));
  if (typeof a === 'object' && typeof b === 'object' && a !== null && b !== null && !Array.isArray(a) && !Array.isArray(b)) {
    const ra = a as Props;
    const rb = b as Props;
    const keys = new Set([...Object.keys(ra), ...Object.keys(rb)]);
    for (const key of keys) if (!same(ra[key], rb[key])) return false;
    return true;
  }
  return false;
}

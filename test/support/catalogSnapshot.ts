// A server's catalog for one database, read object by object into a comparable form (keys and
// values made of names, never OIDs), and the differences between two such snapshots. The
// fidelity test compares pgferry's target with a pg_dump | pg_restore target; the bench can
// compare any two servers the same way.
import pg from 'pg';
import { qualified } from '../../provider/engine/connect/quote';
import { DATABASE, DATABASE_QUERIES, MEMBERSHIPS, PARAMETER_ACLS, ROLE_DATABASE_SETTINGS, ROLES, SEQUENCES } from './catalogQueries';

/** Object key ("table app.orders", "role app_reader") → its properties. */
export type CatalogSnapshot = ReadonlyMap<string, Readonly<Record<string, unknown>>>;

/** One property that differs, or an object present on one side only (field `exists`). */
export interface CatalogDifference {
  readonly key: string;
  readonly field: string;
  /** JSON text of the value on each side; `undefined` for an absent object. */
  readonly reference: string | undefined;
  readonly actual: string | undefined;
}

/** Where to read: a superuser connection (pg_authid and every sequence must be readable). */
export interface SnapshotServer {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
}

type Props = Record<string, unknown>;

function merge(into: Map<string, Props>, rows: readonly { key: string | null; props: Props }[]): void {
  for (const row of rows) {
    // pg_identify_object gives no identity for an object of another database (a shared
    // catalog's comment): such rows are not this database's.
    if (row.key === null) continue;
    into.set(row.key, { ...into.get(row.key), ...row.props });
  }
}

async function openSession(server: SnapshotServer, database: string): Promise<pg.Client> {
  const client = new pg.Client({ ...server, database, application_name: 'pgferry catalog snapshot' });
  await client.connect();
  // Names print fully qualified, times in UTC, whatever the database's own settings say.
  await client.query(`SET search_path = pg_catalog; SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET extra_float_digits = 3`);
  return client;
}

/** Sequence parameters from the catalog, current values from each sequence. */
async function readSequences(client: pg.Client, into: Map<string, Props>): Promise<void> {
  const { rows } = await client.query<{ key: string; schema: string; name: string; props: Props }>(SEQUENCES);
  for (const row of rows) {
    const value = await client.query<{ last_value: string; is_called: boolean }>(
      `SELECT last_value::text AS last_value, is_called FROM ${qualified(row.schema, row.name)}`,
    );
    merge(into, [{ key: row.key, props: { ...row.props, lastValue: value.rows[0]!.last_value, isCalled: value.rows[0]!.is_called } }]);
  }
}

/** Reads `database` and the cluster's roles on `server` into one snapshot. */
export async function readCatalogSnapshot(server: SnapshotServer, database: string): Promise<CatalogSnapshot> {
  const snapshot = new Map<string, Props>();
  const client = await openSession(server, database);
  try {
    for (const sql of DATABASE_QUERIES) merge(snapshot, (await client.query(sql)).rows);
    await readSequences(client, snapshot);
    merge(snapshot, (await client.query(DATABASE, [database])).rows);
    merge(snapshot, (await client.query(ROLE_DATABASE_SETTINGS, [database])).rows);
    merge(snapshot, (await client.query(ROLES)).rows);
    merge(snapshot, (await client.query(MEMBERSHIPS)).rows);
    const { rows } = await client.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`);
    if (Number(rows[0]!.v) >= 150000) merge(snapshot, (await client.query(PARAMETER_ACLS)).rows);
  } finally {
    await client.end();
  }
  return snapshot;
}

/** Every difference between a reference snapshot and another one, sorted by key (pure). */
export function diffSnapshots(reference: CatalogSnapshot, actual: CatalogSnapshot): CatalogDifference[] {
  const differences: CatalogDifference[] = [];
  const keys = [...new Set([...reference.keys(), ...actual.keys()])].sort();
  for (const key of keys) {
    const a = reference.get(key);
    const b = actual.get(key);
    if (!a || !b) {
      differences.push({ key, field: 'exists', reference: a ? 'true' : undefined, actual: b ? 'true' : undefined });
      continue;
    }
    for (const field of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      const left = JSON.stringify(a[field] ?? null);
      const right = JSON.stringify(b[field] ?? null);
      if (left !== right) differences.push({ key, field, reference: left, actual: right });
    }
  }
  return differences;
}

/** One line per difference, for assertion messages and docs/limits.md. */
export function describeDifference(d: CatalogDifference): string {
  if (d.field === 'exists') return `${d.key}: only on the ${d.reference ? 'reference (pg_dump | pg_restore)' : 'pgferry'} target`;
  return `${d.key}: ${d.field} is ${d.reference} with pg_dump | pg_restore, ${d.actual} with pgferry`;
}

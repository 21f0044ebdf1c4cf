// Schema fidelity (issue 16): the fidelity fixture migrated by pgferry and, into a cluster of its
// own, by pg_dumpall --roles-only + pg_dump -Fd | pg_restore; the two targets' catalogs must
// agree object by object, but for the deliberate differences of test/support/fidelityDifferences.
// Clusters are shared: the 15 source and its reference snapshot serve both the 15 → 15 and the
// managed runs; each reference cluster is stopped once its snapshot is read.
import assert from 'node:assert/strict';
import { parseMigrationSpec, runMigration, type MigrationSpec, type ServerSpec } from '../../provider/engine';
import { resolvePgTools } from '../../provider/engine/schema/tools';
import {
  describeDifference,
  diffSnapshots,
  readCatalogSnapshot,
  type CatalogDifference,
  type CatalogSnapshot,
} from '../support/catalogSnapshot';
import { loadFidelityDatabase } from '../support/fidelitySchema';
import { unexplained } from '../support/fidelityDifferences';
import { dumpRestoreReference } from '../support/referenceMigration';
import { makeManagedTarget, serverSpec, startCluster, type Cluster, type PgMajor } from '../support';

const DATABASE = 'fidelity';

/** Marks of the fixture the snapshot must see, so a reader that misses a catalog fails here. */
const FIXTURE_MARKS: readonly [key: string, field: string, value: unknown][] = [
  ['index app.orders_customer_idx', 'clustered', true],
  ['index app.orders_identity_idx', 'replicaIdentity', true],
  ['index app.orders_note_trgm', 'columnStatistics', ['1=500']],
  ['table column app.orders.customer_id', 'options', ['n_distinct=2000']],
  ['table constraint orders_total_cap on app.orders', 'validated', false],
  ['trigger labels_replica on app.labels', 'enabled', 'R'],
  ['rule labels_log on app.labels', 'enabled', 'D'],
  ['sequence app.labels_rev_seq', 'ownedBy', 'app.labels.rev (a)'],
  ['role app_owner', 'comment', 'owns the application schema'],
  ['role setting app_owner in database fidelity', 'settings', ['lock_timeout=5s']],
  ['membership of app_reader in pg_read_all_stats', 'admin', false],
  ['database fidelity', 'connectionLimit', 50],
  ['subscription fidelity_sub', 'owner', 'postgres'],
];

/** Snapshot of the reference: the source copied by the PostgreSQL tools into `reference`. */
async function referenceSnapshot(source: Cluster, reference: Cluster): Promise<CatalogSnapshot> {
  const tools = await resolvePgTools(parseMigrationSpec(specInput(source, serverSpec(reference), 'tools')), source.major);
  await dumpRestoreReference({ tools, source, target: reference, database: DATABASE });
  const snapshot = await readCatalogSnapshot(reference, DATABASE);
  for (const [key, field, value] of FIXTURE_MARKS) assert.deepEqual(snapshot.get(key)?.[field], value, `${key}: ${field}`);
  return snapshot;
}

function specInput(source: Cluster, target: ServerSpec, name: string): Record<string, unknown> {
  return { migrationName: name, source: serverSpec(source), target, databases: [DATABASE], tableJobs: 2, indexJobs: 2 };
}

/**
 * Migrates with pgferry, then returns the differences from the reference no deliberate one
 * explains, and the warnings the migration reported.
 */
async function pgferryDifferences(
  spec: MigrationSpec,
  target: Cluster,
  reference: CatalogSnapshot,
): Promise<{ differences: CatalogDifference[]; ownerDifferences: number; warnings: string[] }> {
  const warnings: string[] = [];
  const status = await runMigration(spec, { onProgress: (e) => (e.kind === 'warning' ? warnings.push(e.message) : undefined) });
  assert.equal(status.state, 'Succeeded', status.message);
  const actual = await readCatalogSnapshot(target, DATABASE);
  const all = diffSnapshots(reference, actual);
  const admin = spec.target.user === target.user ? undefined : spec.target.user;
  return {
    differences: unexplained(all, { reference, actual, admin }),
    ownerDifferences: all.filter((d) => d.field === 'owner').length,
    warnings,
  };
}

function assertNone(differences: readonly CatalogDifference[]): void {
  if (differences.length > 0)
    assert.fail(`${differences.length} unexplained difference(s):\n${differences.map(describeDifference).join('\n')}`);
}

async function startAll(majors: readonly PgMajor[], label: string): Promise<Cluster[]> {
  return Promise.all(majors.map((major, i) => startCluster({ major, label: `${label}${i}` })));
}

describe('schema fidelity: pgferry gives the catalog pg_dump | pg_restore gives (issue 16)', function () {
  this.timeout(600_000);

  describe('PostgreSQL 15 source', () => {
    let source: Cluster;
    let target: Cluster;
    let managed: Cluster;
    let reference: CatalogSnapshot;
    before(async () => {
      const [src, ref, dst, mng] = await startAll([15, 15, 15, 15], 'fid15-');
      [source, target, managed] = [src!, dst!, mng!];
      await loadFidelityDatabase(source, DATABASE);
      reference = await referenceSnapshot(source, ref!);
      await ref!.stop();
    });
    after(async () => Promise.all([source, target, managed].map((c) => c?.stop())));

    it('15 → 15 onto a superuser target: no difference', async () => {
      const spec = parseMigrationSpec(specInput(source, serverSpec(target), 'fidelity-15'));
      const { differences, ownerDifferences } = await pgferryDifferences(spec, target, reference);
      assertNone(differences);
      assert.equal(ownerDifferences, 0);
    });

    it('15 → 15 onto a managed target (non-superuser admin in azure_pg_admin): only the managed differences, reported', async () => {
      const admin = await makeManagedTarget(managed);
      const spec = parseMigrationSpec(specInput(source, admin, 'fidelity-managed'));
      const { differences, ownerDifferences, warnings } = await pgferryDifferences(spec, managed, reference);
      assertNone(differences);
      // objects left with the admin are there (postgres is a superuser on the target) and reported
      assert.ok(ownerDifferences > 0);
      assert.ok(
        warnings.some((w) => / OWNER TO /.test(w)),
        warnings.join('\n'),
      );
      assert.ok(
        warnings.some((w) => /SUPERUSER/.test(w)),
        warnings.join('\n'),
      );
    });
  });

  describe('PostgreSQL 13 source, 16 target', () => {
    let clusters: Cluster[] = [];
    after(async () => Promise.all(clusters.map((c) => c.stop())));

    it('13 → 16 onto a superuser target: no difference', async () => {
      clusters = await startAll([13, 16, 16], 'fid13-');
      const [source, ref, target] = clusters as [Cluster, Cluster, Cluster];
      await loadFidelityDatabase(source, DATABASE);
      const reference = await referenceSnapshot(source, ref);
      await ref.stop();
      const spec = parseMigrationSpec(specInput(source, serverSpec(target), 'fidelity-13-16'));
      assertNone((await pgferryDifferences(spec, target, reference)).differences);
    });
  });
});

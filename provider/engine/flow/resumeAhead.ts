// The sessions a resumed online runner takes before its first applied change, opened side by side
// as soon as it has its spec: its steps (the lease, the control catalog, the versions and start
// checks, the takeover, the slots' states, the applied counts, then each stream's replication
// connection, apply session and catalog session) each opened one after another, and on a loaded
// machine every connection was a server process started and a login (docs/bench.md, issue 65).
// Opening one holds nothing: the lease is still taken before anything else, the fence and the
// applied position are read on the apply session as before, and START_REPLICATION still waits for
// that position, so the order that keeps exactly once and the one runner is the same.
import { keepSessionsAhead } from '../connect/session';
import { aheadKey, endAhead, type SessionKind } from '../connect/sessionsAhead';
import type { MigrationSpec, ServerSpec } from '../input/migrationSpec';

interface Kept {
  readonly server: ServerSpec;
  readonly database: string | undefined;
  readonly keep: number;
  readonly kind: SessionKind;
  /** Replaced once taken: the maintenance databases' sessions, which several steps take in turn. */
  readonly refill: boolean;
}

/**
 * What a resume takes: on the target's maintenance database the lease's and the catalog's sessions
 * and the start checks' (two at once), on the source's the versions' and the takeover's; per
 * database, on the source the slot's state and the stream's catalog session and its replication
 * connection, on the target the applied counts and the apply session (pipeline mode). The
 * per-database ones are taken once each.
 */
function keptForResume(spec: Pick<MigrationSpec, 'source' | 'target' | 'databases'>): Kept[] {
  const { source, target } = spec;
  return [
    { server: target, database: undefined, keep: 2, kind: 'plain', refill: true },
    { server: source, database: undefined, keep: 1, kind: 'plain', refill: true },
    ...spec.databases.flatMap((database): Kept[] => [
      { server: source, database, keep: 2, kind: 'plain', refill: false },
      { server: source, database, keep: 1, kind: 'replication', refill: false },
      { server: target, database, keep: 1, kind: 'plain', refill: false },
      { server: target, database, keep: 1, kind: 'pipeline', refill: false },
    ]),
  ];
}

/** Opens the sessions a resumed online runner takes up to its streams, side by side (endSessionsAheadOfResume ends what is left). */
export function keepSessionsAheadOfResume(spec: Pick<MigrationSpec, 'source' | 'target' | 'databases'>): void {
  for (const k of keptForResume(spec))
    keepSessionsAhead(k.server, k.database, k.keep, 'resume ahead', { kind: k.kind, refill: k.refill });
}

/**
 * Ends the sessions kept ahead of a resume that no step took (a database copied again, one cut
 * over before the crash, a lease held by another runner), once its streams are opened or the run
 * ends without them; nothing when none were kept.
 */
export async function endSessionsAheadOfResume(spec: Pick<MigrationSpec, 'source' | 'target' | 'databases'>): Promise<void> {
  await endAhead(keptForResume(spec).map((k) => aheadKey(k.server, k.database, k.kind)));
}

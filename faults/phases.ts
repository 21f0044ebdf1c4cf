// Where in a migration a fault lands. Each phase is recognised on the wire, as the runner's own
// statements pass the fault proxy, so even a phase that lasts milliseconds (the sequence step, one
// step of the cutover) is hit exactly: the proxy holds the matching message while the fault is
// injected. A phase's trigger fires at its n-th match, n drawn from the trial's seed.
import type { FrontendMessage } from '../test/support/pgWire';
import type { ProxyConnection } from '../test/support/faultProxy';
import type { FixtureSize } from './fixture';

export const PHASES = [
  'validation',
  'schema-restore',
  'copy-split-table',
  'index-build',
  'post-data',
  'sequences',
  'large-objects',
  'streaming',
  'verify-pin',
  'cutover-fence',
  'cutover-marker',
  'cutover-drain',
  'cutover-sequences',
  'cutover-verify',
  'cutover-drop-slot',
  'cutover-origin-drop',
  'cutover-complete',
] as const;
export type Phase = (typeof PHASES)[number];

/** Phases met while changes stream before any cutover: the trial waits a while for them before asking for it. */
export const STREAMING_PHASES: readonly Phase[] = ['streaming', 'verify-pin'];

export interface PhaseTrigger {
  /** Which server's proxy sees the matching message. */
  readonly server: 'source' | 'target';
  readonly match: (conn: ProxyConnection, message: FrontendMessage) => boolean;
  /** The trigger fires at a match drawn from 1..maxMatch (the last one a phase surely has). */
  readonly maxMatch: number;
  /** Hold the matching message until the fault is in place (statement-level precision). */
  readonly hold: boolean;
  /** Armed only once the user has asked for the cutover. */
  readonly afterCutoverRequest: boolean;
}

const app = (conn: ProxyConnection): string => conn.startup?.application_name ?? '';
const isStatement = (m: FrontendMessage): boolean => m.type === 'Q' || m.type === 'B';
const sqlOf = (m: FrontendMessage): string => m.sql ?? '';
/**
 * A statement on pgferry's own control catalog: every session that opens it sends `CREATE TABLE IF
 * NOT EXISTS pgferry.schema_version`, which is not the schema restore (a trial drawn at the first
 * CREATE TABLE once hit the `create` command's catalog check, before the runner existed).
 */
const onControlCatalog = (m: FrontendMessage): boolean => /\bpgferry"?\./.test(sqlOf(m));

/** A batch's COMMIT on an apply session (it travels with the progress record in one message). */
const applyCommit = (conn: ProxyConnection, m: FrontendMessage): boolean =>
  app(conn) === 'pgferry apply' && m.type === 'Q' && /\bCOMMIT\s*;?\s*$/i.test(sqlOf(m));

export function phaseTrigger(phase: Phase, size: FixtureSize): PhaseTrigger {
  const t = (server: PhaseTrigger['server'], maxMatch: number, match: PhaseTrigger['match'], hold = true): PhaseTrigger => ({
    server,
    match,
    maxMatch,
    hold,
    afterCutoverRequest: phase.startsWith('cutover'),
  });
  switch (phase) {
    case 'validation':
      return t('target', 3, (c, m) => m.type === 'startup' && /^pgferry[- ]validate/.test(app(c)), false);
    case 'schema-restore':
      return t('target', 7, (_c, m) => isStatement(m) && /^\s*CREATE TABLE/i.test(sqlOf(m)) && !onControlCatalog(m));
    case 'copy-split-table':
      // CopyData into the split table; the runner sends about one per 64 KiB.
      return t(
        'target',
        Math.max(4, Math.floor((size.bigRows * 170) / 65536)),
        (c, m) => m.type === 'd' && /\bbig\b/.test(c.copying ?? ''),
      );
    case 'index-build':
      return t(
        'target',
        6,
        (_c, m) => isStatement(m) && /^\s*(CREATE (UNIQUE )?INDEX|ALTER TABLE[\s\S]*PRIMARY KEY)/i.test(sqlOf(m)) && !onControlCatalog(m),
      );
    case 'post-data':
      return t('target', 2, (_c, m) => isStatement(m) && /FOREIGN KEY|CREATE TRIGGER/i.test(sqlOf(m)));
    case 'sequences':
      return t('target', 2, (c, m) => isStatement(m) && app(c) !== 'pgferry cutover' && /\bsetval\b/i.test(sqlOf(m)));
    case 'large-objects':
      return t(
        'target',
        Math.max(2, size.largeObjects),
        (c, m) => app(c) === 'pgferry lo' && isStatement(m) && /\blo_(put|create)\b/.test(sqlOf(m)),
      );
    case 'streaming':
      return t('target', 30, applyCommit);
    case 'verify-pin':
      // the background verifier's pin: its source snapshot taken and the message past it about to be
      // written, with the apply held at a transaction boundary (verify/background.ts)
      return t('source', 4, (c, m) => app(c) === 'pgferry verify' && isStatement(m) && /pg_logical_emit_message/.test(sqlOf(m)));
    case 'cutover-fence':
      // the writer fence's ALTER DATABASE (fenceWriters), one per database, before the marker: held, so
      // the fault lands with the fence recorded in the catalog and not yet on the source
      return t(
        'source',
        2,
        (c, m) =>
          app(c) === 'pgferry fence' &&
          isStatement(m) &&
          /ALTER DATABASE[\s\S]*SET default_transaction_read_only\s*=\s*on\b/i.test(sqlOf(m)),
      );
    case 'cutover-marker':
      return t(
        'source',
        2,
        (c, m) => app(c) === 'pgferry cutover' && isStatement(m) && /pg_logical_emit_message|pg_current_wal_lsn/.test(sqlOf(m)),
      );
    case 'cutover-drain':
      return t('target', 3, applyCommit);
    case 'cutover-sequences':
      return t('target', 2, (c, m) => app(c) === 'pgferry cutover' && isStatement(m) && /\bsetval\b/i.test(sqlOf(m)));
    case 'cutover-verify':
      return t('target', 4, (c, m) => m.type === 'startup' && app(c) === 'pgferry verify', false);
    case 'cutover-drop-slot':
      return t('source', 4, (_c, m) => isStatement(m) && /pg_drop_replication_slot|DROP PUBLICATION/i.test(sqlOf(m)));
    case 'cutover-origin-drop':
      return t('target', 2, (_c, m) => isStatement(m) && /pg_replication_origin_drop/.test(sqlOf(m)));
    case 'cutover-complete':
      return t('target', 3, (_c, m) => m.type === 'B' && (m.params ?? []).includes('Succeeded'));
  }
}

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

/**
 * Phases after a cutover with a fallback window (docs/fallback.md): the reverse stream applying the
 * application's writes on the new server to the old source, and each step of `update --fall-back`.
 * A list of their own, drawn in a share of the trials from a fork of their own (trial.ts), so a seed
 * drawn before they came still picks the same forward phase from PHASES.
 */
export const FALLBACK_PHASES = [
  'reverse-stream',
  'fallback-fence',
  'fallback-marker',
  'fallback-drain',
  'fallback-sequences',
  'fallback-verify',
  'fallback-release',
] as const;
type ForwardPhase = (typeof PHASES)[number];
export type Phase = ForwardPhase | (typeof FALLBACK_PHASES)[number];
export const ALL_PHASES: readonly Phase[] = [...PHASES, ...FALLBACK_PHASES];

export function isFallbackPhase(phase: Phase): boolean {
  return (FALLBACK_PHASES as readonly string[]).includes(phase);
}

/** A step of `update --fall-back`: its fault comes only if the trial's user falls back. */
export function isFallBackStep(phase: Phase): boolean {
  return isFallbackPhase(phase) && phase !== 'reverse-stream';
}

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
  /**
   * When the trigger is armed: from the start, once the user asked for the cutover, once the
   * fallback window is open (the application writing on the new server), or once the user asked to
   * fall back.
   */
  readonly armAt: ArmMoment;
}

export type ArmMoment = 'start' | 'cutover' | 'window' | 'fall-back';

function armMoment(phase: Phase): ArmMoment {
  if (phase === 'reverse-stream') return 'window';
  if (phase.startsWith('fallback')) return 'fall-back';
  return phase.startsWith('cutover') ? 'cutover' : 'start';
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

/**
 * A session of pgferry's beginning its work as `purpose`: its startup message naming it so, or, when
 * it was opened ahead of a hold under another name (connect/sessionsAhead.ts: a fenced cutover's and
 * every fall-back's steps take their sessions so), the statement that gives it that name when it is
 * taken (the proxy has read the name by then). The fall-back's verification takes every session it
 * uses from those, so a trigger on a startup message alone never fired there.
 */
const sessionBegins =
  (purpose: string) =>
  (c: ProxyConnection, m: FrontendMessage): boolean =>
    app(c) === purpose && (m.type === 'startup' || (m.type === 'Q' && /^\s*SET\s+application_name\s*=/i.test(sqlOf(m))));

/** A batch's COMMIT on an apply session (it travels with the progress record in one message). */
const applyCommit = (conn: ProxyConnection, m: FrontendMessage): boolean =>
  app(conn) === 'pgferry apply' && m.type === 'Q' && /\bCOMMIT\s*;?\s*$/i.test(sqlOf(m));

/**
 * What the cutover's drain does on the target: each batch's COMMIT, and, once its stream reached the
 * marker, each apply session's end (the ROLLBACK of the transaction it had open, then the reset of
 * its origin's session). An unfenced cutover stops the application first, so its drain often has no
 * batch left to commit: a trigger on COMMITs alone never fired there. Armed at the cutover request,
 * so an apply session's end while streaming is not counted.
 */
const drainStatement = (conn: ProxyConnection, m: FrontendMessage): boolean =>
  applyCommit(conn, m) ||
  (app(conn) === 'pgferry apply' &&
    m.type === 'Q' &&
    /^\s*(ROLLBACK|SELECT pg_replication_origin_xact_reset\(\))\s*;?\s*$/i.test(sqlOf(m)));

/**
 * The background verifier's pin on the source (verify/background.ts, cdc/pin/sourcePosition.ts): the
 * message emitted past the pinned position, with the apply held there. A source of PostgreSQL 17 or
 * later emits it in the verifier's pinned session; an older one from a second session (`pgferry
 * pin`), whose commit flushes it, while the pinned session waits in its REPEATABLE READ transaction:
 * a trigger on the verifier's session alone never fired on such a source. A table resync's pin opens
 * a `pgferry pin` session too, so that one counts only while a verifier session of its database is
 * inside its pin. One matcher per trial: it follows the verifier's sessions.
 */
function verifierPin(): PhaseTrigger['match'] {
  const pinned = new Map<number, string>();
  return (c, m) => {
    const sql = sqlOf(m);
    if (app(c) === 'pgferry verify' && m.type === 'Q') {
      if (/^\s*BEGIN ISOLATION LEVEL REPEATABLE READ\b/i.test(sql)) pinned.set(c.id, c.startup?.database ?? '');
      else if (/^\s*ROLLBACK\b/i.test(sql)) pinned.delete(c.id);
    }
    if (!isStatement(m) || !/pg_logical_emit_message/.test(sql)) return false;
    if (app(c) === 'pgferry verify') return true;
    return app(c) === 'pgferry pin' && [...pinned.values()].includes(c.startup?.database ?? '');
  };
}

export function phaseTrigger(phase: Phase, size: FixtureSize): PhaseTrigger {
  const t = (server: PhaseTrigger['server'], maxMatch: number, match: PhaseTrigger['match'], hold = true): PhaseTrigger => ({
    server,
    match,
    maxMatch,
    hold,
    armAt: armMoment(phase),
  });
  switch (phase) {
    case 'validation':
      // two on the target: the validation's connectivity check, then the gate of every run (the
      // target databases it may not replace, flow/preCopyWaits.ts); a third never came
      return t('target', 2, (c, m) => m.type === 'startup' && /^pgferry[- ]validate/.test(app(c)), false);
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
      // written, with the apply held at a transaction boundary
      return t('source', 4, verifierPin());
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
      return t('target', 3, drainStatement);
    case 'cutover-sequences':
      return t('target', 2, (c, m) => app(c) === 'pgferry cutover' && isStatement(m) && /\bsetval\b/i.test(sqlOf(m)));
    case 'cutover-verify':
      return t('target', 4, sessionBegins('pgferry verify'), false);
    case 'cutover-drop-slot':
      return t('source', 4, (_c, m) => isStatement(m) && /pg_drop_replication_slot|DROP PUBLICATION/i.test(sqlOf(m)));
    case 'cutover-origin-drop':
      return t('target', 2, (_c, m) => isStatement(m) && /pg_replication_origin_drop/.test(sqlOf(m)));
    case 'cutover-complete':
      // each database recorded Succeeded (control/cutoverCount.ts, the state written in its statement
      // since the count came), then the migration (its state a parameter): three in a two-database trial
      return t(
        'target',
        3,
        (_c, m) =>
          m.type === 'B' && ((m.params ?? []).includes('Succeeded') || /\bstate\s*=\s*'Succeeded'\s*,\s*ended_at\b/.test(sqlOf(m))),
      );
    default:
      return fallbackTrigger(phase, t);
  }
}

/** The reverse stream's and the fall-back's triggers: the old source is the reverse applier's target. */
function fallbackTrigger(
  phase: Phase,
  t: (server: PhaseTrigger['server'], maxMatch: number, match: PhaseTrigger['match'], hold?: boolean) => PhaseTrigger,
): PhaseTrigger {
  switch (phase) {
    case 'reverse-stream':
      // a batch of the new server's writes committing on the old source with its position
      return t('source', 20, applyCommit);
    case 'fallback-fence':
      // the target's writer fence (switchover/writerFence.ts on the other side), held before it lands
      return t(
        'target',
        2,
        (c, m) =>
          app(c) === 'pgferry fence' &&
          isStatement(m) &&
          /ALTER DATABASE[\s\S]*SET default_transaction_read_only\s*=\s*on\b/i.test(sqlOf(m)),
      );
    case 'fallback-marker':
      return t(
        'target',
        2,
        (c, m) => app(c) === 'pgferry cutover' && isStatement(m) && /pg_logical_emit_message|pg_current_wal_lsn/.test(sqlOf(m)),
      );
    case 'fallback-drain':
      return t('source', 3, applyCommit);
    case 'fallback-sequences':
      return t('source', 2, (c, m) => app(c) === 'pgferry cutover' && isStatement(m) && /\bsetval\b/i.test(sqlOf(m)));
    case 'fallback-verify':
      // a verification session on the old source, taken from those the fall-back's hold opened ahead
      return t('source', 4, sessionBegins('pgferry verify'), false);
    case 'fallback-release':
      // the reverse slot and publication dropped on the new server, past the point of no return
      return t('target', 4, (_c, m) => isStatement(m) && /pg_drop_replication_slot|DROP PUBLICATION/i.test(sqlOf(m)));
    default:
      throw new Error(`no trigger for phase ${phase}`);
  }
}

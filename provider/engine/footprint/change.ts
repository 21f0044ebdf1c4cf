// The footprint: what an online migration changes on the servers, each change recorded before it
// is made and given back at release. Every such change is one module of this folder implementing
// ReversibleChange, and release.ts gives them back in one loop, in the order of FOOTPRINT
// (index.ts). A new kind of change is a new module here and a place in that order; the test
// test/unit/footprint.test.ts fails on a module of this folder that is not in it.
import type pg from 'pg';
import { INVALID_CATALOG_NAME, sqlState } from '../connect/sqlstate';
import { recordEvent } from '../control/store';
import type { MigrationRun } from '../run/migrationRun';
import type { MigrationSpec } from '../input/migrationSpec';

/** What restoring needs of a migration: a running one, or a cleanup after its runner is gone. */
export type RestoreContext = Pick<MigrationRun, 'spec' | 'store' | 'warn' | 'onProgress'> & { readonly signal?: AbortSignal };

/** A RestoreContext without a running migration (a cancel carried out for a stopped runner): warnings become events. */
export function restoreContextOf(spec: MigrationRun['spec'], store: MigrationRun['store']): RestoreContext {
  return {
    spec,
    store,
    warn: (message, database) => recordEvent(store, spec.migrationName, 'warning', message, database),
    onProgress: () => undefined,
  };
}

/** What giving a change back needs: a running migration, or a cancel for a stopped runner (restoreContextOf), with the instance its names derive from. */
export type FootprintContext = RestoreContext & { readonly instance: string | undefined };

/** What the stream's own changes (slot, publication, origin) need: their names alone. */
export type StreamContext = Pick<FootprintContext, 'spec' | 'instance'>;

/** Where a change is made: one of the two servers, or the pooler in front of the source (spec.pooler). */
type ChangedServer = 'source' | 'target' | 'pooler';

/** Why the user cannot make a change, with the statement that gives the right. */
export interface RightsRefusal {
  readonly message: string;
  readonly fix: string;
}

/** The rights a change needs, for validation and the docs. */
export interface ChangeRights {
  /** The server the rights are needed on (the pooler: the user's PgBouncer in front of the source). */
  readonly server: ChangedServer;
  /** In words: what the user must be or hold. */
  readonly needs: string;
  /**
   * The check of those rights up front, read-only (validation asks every change the spec makes):
   * why the user of `server` may not make the change in `database`, undefined when it may.
   */
  readonly refusal: (sessions: RightsSessions) => Promise<RightsRefusal | undefined>;
}

/** What a rights check reads: one migration's database, a read-only session on each server. */
export interface RightsSessions {
  readonly spec: MigrationSpec;
  readonly database: string;
  /** On the source database. */
  readonly source: pg.Client;
  /** On the target's maintenance database: the target database may not exist yet (the copy creates it). */
  readonly target: pg.Client;
}

/** What a failed undo leaves, said in a warning when a release goes on after it ('warn'). */
interface UndoFailure {
  /** "could not ...", followed by the error. */
  readonly what: string;
  /** What is left and where it is recorded. */
  readonly left: string;
}

/**
 * One reversible change pgferry makes on a server for an online migration, as the release and the
 * validation see it. Each change is made by its stage, which records it first, through functions
 * of the stage's own signature (in the change's file, or in cdc/prepare/ and cdc/apply/ where the
 * stage owns the mechanism); it is given back only through `undo`, and `undo`, `pending` and
 * `describe` have one signature, so the release is one loop.
 */
export interface ReversibleChange {
  /** The module's name (its file in this folder), used in events and by the test of the loop. */
  readonly name: string;
  /** The server it changes. */
  readonly server: ChangedServer;
  /** One line: what it changes and how it is given back (docs, events, `show`). */
  readonly describe: string;
  /** Where the change is recorded before it is made: a control catalog table and its columns, or the recorded names it derives from. */
  readonly ledger: string;
  /** The rights it needs. */
  readonly rights: ChangeRights;
  /** Whether a migration with this spec may make it at all. */
  readonly madeFor: (spec: MigrationSpec) => boolean;
  /** A change that stays after a successful cutover on purpose (the writer fence): the release of a database cut over keeps it. */
  readonly staysAfterCutover?: boolean;
  /** What is still to give back in a database, one line each (empty: nothing); read from the ledger, and from the server where the server is the record. */
  readonly pending: (ctx: FootprintContext, database: string) => Promise<readonly string[]>;
  /** Gives the change back in a database; idempotent, and a no-op where nothing is pending. */
  readonly undo: (ctx: FootprintContext, database: string) => Promise<unknown>;
  /** What a failed undo leaves. */
  readonly failure: (ctx: FootprintContext, database: string) => UndoFailure;
}

/** Runs a step on one database; a database that is gone (on either side) has nothing left there. */
export async function unlessDatabaseGone<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (error) {
    if (sqlState(error) !== INVALID_CATALOG_NAME) throw error;
    return undefined;
  }
}

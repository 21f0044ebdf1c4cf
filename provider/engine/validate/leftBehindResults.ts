// Results for the objects a non-superuser target user cannot create: blockers whose fix offers
// skipUnsupportedObjects while it is off, Warnings naming each object left behind with its
// definition while it is on. Validation and the schema copy build them the same way; neither
// ever advises changing the source, which stays as it is (it is the fallback).
import { displayIdent } from '../connect/quote';
import type { LeftBehindObject, UnsupportedObject } from '../catalog/unsupported';
import type { ValidationResult } from '../core/model';
import { CODES } from './codes';
import { CHECK_TYPES, failed, warning } from './result';
import { listSome } from '../util/listSome';

/** Codes of the Warnings that list objects left behind: the schema copy replaces validation's with its own. */
export const LEFT_BEHIND_CODES: ReadonlySet<string> = new Set([
  CODES.EVENT_TRIGGER,
  CODES.UNTRUSTED_LANGUAGE,
  CODES.C_FUNCTION,
  CODES.OBJECT_LEFT_BEHIND,
]);

const SWITCH =
  'set skipUnsupportedObjects: true (CLI --skip-unsupported-objects) to migrate everything else and leave it behind, listed with its definition';
const ADMIN_CREATES = "have the target's administrator create it on the target from that definition";
const ADMIN_MIGRATES = "have the target's administrator run the migration with a superuser target user";

function whyUnsupported(o: UnsupportedObject): string {
  switch (o.reason) {
    case 'EVENT_TRIGGER':
      return 'only a superuser can create an event trigger';
    case 'UNTRUSTED_LANGUAGE':
      return o.kind === 'extension'
        ? 'it creates an untrusted procedural language, which only a superuser can create'
        : 'only a superuser can create an untrusted procedural language';
    case 'C_FUNCTION':
      return 'only a superuser can create a C-language function that no extension provides';
    default:
      return `it depends on ${o.needs}, which the target user cannot create`;
  }
}

function withDefinition(result: ValidationResult, definition: string | undefined): ValidationResult {
  return definition === undefined ? result : { ...result, definition };
}

/** skipUnsupportedObjects off: each object the target user cannot create fails, naming what depends on it. */
export function unsupportedBlockers(objects: readonly UnsupportedObject[], database: string, targetUser: string): ValidationResult[] {
  const db = displayIdent(database);
  return objects
    .filter((o) => o.reason !== undefined)
    .map((root) => {
      const dependents = objects.filter((o) => o.reason === undefined && o.needs === root.description);
      const tables = dependents.filter((o) => o.holdsData);
      const also = dependents.length
        ? `; ${dependents.length} object(s) depend on it: ${listSome(dependents.map((o) => o.description))}`
        : '';
      const fix = tables.length
        ? `${ADMIN_MIGRATES}: ${listSome(tables.map((t) => t.description))} cannot be left behind without it`
        : `${SWITCH}; then ${ADMIN_CREATES}, or ${ADMIN_MIGRATES}`;
      return withDefinition(
        failed(
          root.reason!,
          CHECK_TYPES.schema,
          `${root.description} in ${db}: ${whyUnsupported(root)}, and the target user ${displayIdent(targetUser)} is not one${also}`,
          fix,
          { database },
        ),
        root.definition,
      );
    });
}

/** skipUnsupportedObjects on: a Warning per object left behind; a table depending on one still fails. */
export function leftBehindResults(objects: readonly LeftBehindObject[], database: string, targetUser: string): ValidationResult[] {
  const db = displayIdent(database);
  const scope = { database };
  return objects.map((o) => {
    if (o.holdsData) {
      return failed(
        CODES.TABLE_NEEDS_UNSUPPORTED_OBJECT,
        CHECK_TYPES.schema,
        `${o.description} in ${db} depends on ${o.needs}, which the target user ${displayIdent(targetUser)} cannot create: a table cannot be left behind`,
        ADMIN_MIGRATES,
        scope,
      );
    }
    const attached = o.attached?.length ? ` (with its ${[...new Set(o.attached)].join(', ')})` : '';
    const because =
      o.reason === undefined ? whyUnsupported(o) : `${whyUnsupported(o)}, and the target user ${displayIdent(targetUser)} is not one`;
    return withDefinition(
      warning(
        o.reason ?? CODES.OBJECT_LEFT_BEHIND,
        CHECK_TYPES.schema,
        `${o.description} in ${db} is left behind${attached}: ${because}`,
        o.definition === undefined
          ? "have the target's administrator recreate it on the target (pg_dump of the source database shows its definition)"
          : "have the target's administrator create it on the target from its definition",
        scope,
      ),
      o.definition,
    );
  });
}

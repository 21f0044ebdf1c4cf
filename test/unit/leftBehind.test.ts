// What the schema copy leaves behind, decided from a TOC listing and the source's unsupported
// objects without a server: dependencies followed to a fixed point, ACL and COMMENT entries going
// with their object, and each entry's script cut out of pg_restore's output.
import assert from 'node:assert/strict';
import type { UnsupportedObject } from '../../provider/engine/catalog/unsupported';
import { parseEntryScripts, parseToc } from '../../provider/engine/schema/dumpRestore';
import { selectLeftBehind } from '../../provider/engine/schema/leftBehindPlan';

// `pg_restore --list --verbose` of a database with plperlu, a C function, views, a trigger and an event trigger.
const LISTING = `;
; Archive created at 2026-11-22 21:26:09 UTC
;     dbname: d
;
; Selected TOC Entries:
;
3366; 0 0 ENCODING - ENCODING 
2; 3079 16385 EXTENSION - plperlu 
3370; 0 0 COMMENT - EXTENSION plperlu 
;\tdepends on: 2
222; 1255 16403 FUNCTION public c_abs(integer) postgres
219; 1255 16397 FUNCTION public no_ddl() postgres
220; 1255 16400 FUNCTION public perl_trg() postgres
;\tdepends on: 2
221; 1255 16399 FUNCTION public perl_upper(text) postgres
;\tdepends on: 2
3371; 0 0 COMMENT public FUNCTION perl_upper(text) postgres
;\tdepends on: 221
3372; 0 0 ACL public FUNCTION perl_upper(text) postgres
;\tdepends on: 221
215; 1259 16390 TABLE public t postgres
216; 1259 16404 VIEW public v_c postgres
;\tdepends on: 215 222
3373; 0 0 ACL public TABLE v_c postgres
;\tdepends on: 216
217; 1259 16408 VIEW public v_v postgres
;\tdepends on: 216
3216; 2606 16396 CONSTRAINT public t t_pkey postgres
;\tdepends on: 215
3217; 2620 16401 TRIGGER public t t_perl postgres
;\tdepends on: 215 220
3214; 3466 16398 EVENT TRIGGER - audit_ddl postgres
;\tdepends on: 219
3374; 0 0 COMMENT - EVENT TRIGGER audit_ddl postgres
;\tdepends on: 3214
`;

function object(catalogOid: string, objectOid: string, description: string, reason?: UnsupportedObject['reason']): UnsupportedObject {
  return {
    catalogOid,
    objectOid,
    kind: description.split(' ')[0]!,
    description,
    needs: description,
    holdsData: false,
    ...(reason ? { reason } : {}),
  };
}

describe('schema copy: what is left behind', () => {
  it('reads catalog OIDs and dependencies from the verbose TOC listing', () => {
    const toc = parseToc(LISTING);
    const trigger = toc.find((e) => e.dumpId === 3217)!;
    assert.deepEqual([trigger.catalogOid, trigger.objectOid, trigger.desc, trigger.dependsOn], ['2620', '16401', 'TRIGGER', [215, 220]]);
    assert.equal(toc.find((e) => e.dumpId === 3214)!.desc, 'EVENT TRIGGER');
    assert.deepEqual(toc.find((e) => e.dumpId === 222)!.dependsOn, []);
  });

  it('follows the dump dependencies from the roots and attaches ACL and COMMENT entries to their object', () => {
    const toc = parseToc(LISTING);
    // Only the roots: the dump's own dependencies must find the functions, views and the trigger.
    const roots = [
      object('3079', '16385', 'extension plperlu', 'UNTRUSTED_LANGUAGE'),
      object('1255', '16403', 'function public.c_abs(integer)', 'C_FUNCTION'),
      object('3466', '16398', 'event trigger audit_ddl', 'EVENT_TRIGGER'),
    ];
    const selection = selectLeftBehind(toc, roots);
    assert.deepEqual(
      [...selection.dumpIds].sort((a, b) => a - b),
      [2, 216, 217, 220, 221, 222, 3214, 3217, 3370, 3371, 3372, 3373, 3374],
    );
    assert.deepEqual(
      selection.owners.map((o) => [o.entry.dumpId, o.object?.description ?? null, o.needs ?? null]),
      [
        [2, 'extension plperlu', 'extension plperlu'],
        [222, 'function public.c_abs(integer)', 'function public.c_abs(integer)'],
        [220, null, 'extension plperlu'],
        [221, null, 'extension plperlu'],
        [216, null, 'function public.c_abs(integer)'],
        [217, null, 'function public.c_abs(integer)'],
        [3217, null, 'extension plperlu'],
        [3214, 'event trigger audit_ddl', 'event trigger audit_ddl'],
      ],
    );
    assert.deepEqual(
      selection.attached.get(221)!.map((e) => e.dumpId),
      [3371, 3372],
    );
    assert.deepEqual(
      selection.attached.get(216)!.map((e) => e.dumpId),
      [3373],
    );
    assert.deepEqual(
      selection.attached.get(3214)!.map((e) => e.dumpId),
      [3374],
    );
    // the table, its key and the plpgsql event-trigger function stay
    for (const kept of [215, 3216, 219, 3366]) assert.equal(selection.dumpIds.has(kept), false, String(kept));
  });

  it('lists an object with two entries once (a materialized view and its data)', () => {
    const toc = parseToc(
      [
        '222; 1255 16403 FUNCTION public c_abs(integer) postgres',
        '230; 1259 16420 MATERIALIZED VIEW public m postgres',
        ';\tdepends on: 222',
        '3380; 0 0 COMMENT public MATERIALIZED VIEW m postgres',
        ';\tdepends on: 230',
        '3390; 1259 16420 MATERIALIZED VIEW DATA public m postgres',
        ';\tdepends on: 230',
      ].join('\n'),
    );
    const selection = selectLeftBehind(toc, [object('1255', '16403', 'function public.c_abs(integer)', 'C_FUNCTION')]);
    assert.deepEqual(
      selection.owners.map((o) => o.entry.dumpId),
      [222, 230],
    );
    assert.deepEqual(
      selection.attached.get(230)!.map((e) => e.dumpId),
      [3380, 3390],
    );
  });

  it('selects nothing when the source has no unsupported object', () => {
    const selection = selectLeftBehind(parseToc(LISTING), []);
    assert.equal(selection.dumpIds.size, 0);
    assert.equal(selection.owners.length, 0);
  });

  it("cuts each entry's script out of pg_restore --verbose --file=- output", () => {
    const script = [
      '--',
      '-- PostgreSQL database dump',
      '--',
      '',
      "SET client_encoding = 'UTF8';",
      '',
      '--',
      '-- TOC entry 221 (class 1255 OID 16399)',
      '-- Dependencies: 2',
      '-- Name: perl_upper(text); Type: FUNCTION; Schema: public; Owner: postgres',
      '-- Data Pos: 0',
      '--',
      '',
      'CREATE FUNCTION public.perl_upper(text) RETURNS text',
      '    LANGUAGE plperlu',
      '    AS $_X$',
      '-- a comment line inside the body',
      'return uc($_[0]); $_X$;',
      '',
      '',
      '--',
      '-- TOC entry 3214 (class 3466 OID 16398)',
      '-- Dependencies: 219',
      '-- Name: audit_ddl; Type: EVENT TRIGGER; Schema: -; Owner: postgres',
      '-- Data Pos: 0',
      '--',
      '',
      'CREATE EVENT TRIGGER audit_ddl ON ddl_command_start',
      '   EXECUTE FUNCTION public.no_ddl();',
      '',
      '',
      '-- Completed on 2026-11-22 21:27:37 UTC',
      '',
      '--',
      '-- PostgreSQL database dump complete',
      '--',
      '',
    ].join('\n');
    const scripts = parseEntryScripts(script);
    assert.deepEqual([...scripts.keys()], [221, 3214]);
    assert.deepEqual(scripts.get(221), {
      name: 'perl_upper(text)',
      type: 'FUNCTION',
      schema: 'public',
      sql: 'CREATE FUNCTION public.perl_upper(text) RETURNS text\n    LANGUAGE plperlu\n    AS $_X$\n-- a comment line inside the body\nreturn uc($_[0]); $_X$;',
    });
    assert.equal(scripts.get(3214)!.sql, 'CREATE EVENT TRIGGER audit_ddl ON ddl_command_start\n   EXECUTE FUNCTION public.no_ddl();');
    assert.equal(scripts.get(3214)!.schema, '-');
  });
});

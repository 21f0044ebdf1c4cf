// The names the engine's messages print outside validation (a cutover's late writes, the owner
// check's routes) go through the one printing helper, displayIdent: bare when plain, quoted
// otherwise, a control character escaped so a message stays on one line. A fix meant to be pasted
// and run keeps the SQL quoting, so it stays valid SQL.
import assert from 'node:assert/strict';
import { lateWritesMessage } from '../../provider/engine/switchover/lateWrites';
import { inheritFix, targetOwnerRoute, type TargetOwnerContext } from '../../provider/engine/schema/ownerAccess';

describe('names printed in the messages of the cutover and the owner check', () => {
  it('a late write names its database and user as displayIdent prints them, on one line', () => {
    const message = lateWritesMessage('shop\nEU', [
      { xid: 1, commitLsn: '0/1', tables: ['public.items'], writers: [{ user: 'app', application: 'web', address: '::1', pid: 7 }] },
      {
        xid: 2,
        commitLsn: '0/2',
        tables: ['public.items'],
        writers: [{ user: 'Ops "team"', application: 'psql', address: '::1', pid: 8 }],
      },
    ]);
    assert.equal(message.includes('\n'), false, message);
    assert.ok(
      message.startsWith('U&"shop\\000AEU": 2 transaction(s) committed on the source after the cutover point wrote public.items, by '),
      message,
    );
    assert.ok(message.includes('user app, application "web"'), message);
    assert.ok(message.includes('user "Ops ""team""", application "psql"'), message);
  });

  it('an unseen late write names its database as displayIdent prints it', () => {
    const message = lateWritesMessage('shop', [{ xid: 1, commitLsn: '0/1', tables: ['public.items'], writers: [] }]);
    assert.ok(message.startsWith('shop: 1 transaction(s)'), message);
    assert.ok(message.includes('look for it in pg_stat_activity of shop on the source'), message);
  });

  it("the owner check's route prints roles bare when plain, and its fix keeps the SQL quoting", () => {
    const ctx: TargetOwnerContext = {
      user: 'pgadmin',
      superuser: false,
      createRole: true,
      inherit: false,
      major: 15,
      migrateRoles: true,
      existing: new Map(),
    };
    assert.equal(
      targetOwnerRoute('App Owner', ctx).route,
      'owned by "App Owner", which pgferry creates with pgadmin as a member, but pgadmin is NOINHERIT',
    );
    assert.equal(
      inheritFix({ ...ctx, major: 16 }, ['App Owner']),
      'on the target, as an administrator: GRANT "App Owner" TO "pgadmin" WITH INHERIT TRUE; or set migrateRoles: false so that pgadmin owns the tables',
    );
  });
});

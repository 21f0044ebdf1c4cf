// The privileges property of the schema check (verify/schema/grants.ts), pure: grants printed as one
// text and read back whole, whatever a role's name holds.
import assert from 'node:assert/strict';
import { grantsFromRows, parseGrants, printGrants, type Grant } from '../../provider/engine/verify/schema/grants';

const ODD = ['app user', 'x=y', '"q"', 'a,b', 'Upper', 'ünï', 'new\nline', 'back\\slash', '(owner)', 'PUBLIC', 'SELECT=r/x', ''];

describe('schema check: the privileges text (unit)', () => {
  it('prints plain names bare, the owner and PUBLIC as markers, sorted by code unit whatever the collation', () => {
    const text = grantsFromRows([
      ['role', 'reader', 'SELECT'],
      ['public', null, 'USAGE'],
      ['owner', null, 'INSERT,SELECT*'],
    ]);
    assert.equal(text, '(owner)=INSERT,SELECT* PUBLIC=USAGE reader=SELECT');
  });

  it('reads back every role name whole, a role named (owner) or PUBLIC told from the owner and PUBLIC', () => {
    const grants: Grant[] = [
      { grantee: { kind: 'owner' }, privileges: 'SELECT*' },
      { grantee: { kind: 'public' }, privileges: 'SELECT' },
      ...ODD.map((name, i): Grant => ({ grantee: { kind: 'role', name }, privileges: i % 2 ? 'SELECT,UPDATE' : 'INSERT*' })),
    ];
    const text = printGrants(grants);
    assert.equal(text.includes('\n'), false, text);
    const back = parseGrants(text);
    const key = (g: Grant) => JSON.stringify(g);
    assert.deepEqual(back.map(key).sort(), grants.map(key).sort());
    assert.equal(printGrants(back), text);
    assert.ok(text.includes('"app user"=INSERT*'), text);
    assert.ok(text.includes('"(owner)"=INSERT*'), text);
  });

  it('reads bare names as written by hand (a fixture) and refuses text that is not as printed', () => {
    assert.deepEqual(parseGrants('(owner)=arwdDxt ReportTeam=r'), [
      { grantee: { kind: 'owner' }, privileges: 'arwdDxt' },
      { grantee: { kind: 'role', name: 'ReportTeam' }, privileges: 'r' },
    ]);
    assert.deepEqual(parseGrants(''), []);
    assert.throws(() => parseGrants('"unclosed=SELECT'), /privileges text not as printed/);
    assert.throws(() => parseGrants('"name"SELECT'), /privileges text not as printed/);
  });
});

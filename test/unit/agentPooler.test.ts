// A migration through a pooler run by agents (docs/agents.md, docs/pooler.md): the spec of runtime
// agents names a pooler; the catalog keeps its run spec without the pooler's password; the runner an
// agent starts takes the agent's own admin credentials of the pooler; and `show` says why nothing
// runs while no live agent holds them.
import assert from 'node:assert/strict';
import { parseMigrationSpec } from '../../provider/engine';
import { poolerKey, poolerKeyOf, waitingReason } from '../../provider/engine/control/agents';
import type { AgentInfo } from '../../provider/engine/core/model';
import { agentSpec, runSpecOf } from '../../provider/engine/input/runSpec';

const base = {
  migrationName: 'm1',
  source: { host: '10.0.0.4', user: 'postgres', password: 'source-Secret-1' },
  target: { host: 'dst.example.com', user: 'pgadmin' },
  databases: ['shop'],
  mode: 'Online',
  runtime: 'agents',
};
const pooler = { host: '10.0.0.5', user: 'pgferry_admin', password: 'pooler-Secret-77', configFile: '/etc/pgbouncer/pgbouncer.ini' };

function agent(name: string, alive: boolean, hasCredentials: boolean, hasPoolerCredentials?: boolean): AgentInfo {
  return {
    name,
    host: 'vm1',
    pid: 1,
    version: 'x',
    heartbeatAt: '2026-11-29T00:00:00.000Z',
    alive,
    itemsHeld: 0,
    items: [],
    hasCredentials,
    ...(hasPoolerCredentials === undefined ? {} : { hasPoolerCredentials }),
  };
}

describe('a pooled migration of runtime agents', () => {
  it('parses: a pooler with runtime agents is accepted', () => {
    const spec = parseMigrationSpec({ ...base, pooler });
    assert.equal(spec.runtime, 'agents');
    assert.equal(spec.pooler?.host, '10.0.0.5');
  });

  it("stores no pooler password, and the agent's runner takes the agent's admin user and password", () => {
    const stored = runSpecOf(parseMigrationSpec({ ...base, pooler }));
    assert.ok(!JSON.stringify(stored).includes(pooler.password), 'the run spec holds no pooler password');
    assert.equal(poolerKeyOf(stored), poolerKey('10.0.0.5', 6432));
    const target = { host: 'dst.example.com', port: 5432, user: 'pgadmin', maintenanceDatabase: 'postgres', sslMode: 'prefer' as const };
    const spec = agentSpec(stored, { user: 'migrator' }, target, { user: 'agent_admin', password: 'agent-Pooler-9' });
    assert.equal(spec.pooler?.user, 'agent_admin');
    assert.equal(spec.pooler?.password, 'agent-Pooler-9');
    assert.equal(spec.pooler?.configFile, pooler.configFile);
    // a stored spec without a pooler gets none, whatever the agent holds
    const plain = agentSpec(runSpecOf(parseMigrationSpec(base)), { user: 'migrator' }, target, { user: 'agent_admin' });
    assert.equal(plain.pooler, undefined);
  });

  it("says it waits for an agent with the pooler's credentials while the live agents hold only the source's", () => {
    const needs = { sources: ['10.0.0.4:5432/shop'], pooler: poolerKey('10.0.0.5', 6432) };
    assert.equal(
      waitingReason([agent('a1', true, true, false), agent('a2', false, true, true)], needs),
      "waiting for an agent with the pooler's credentials (10.0.0.5:6432): 1 alive, none holds them",
    );
    assert.match(waitingReason([agent('a1', true, false, true)], needs)!, /^waiting for an agent with the source's credentials/);
    assert.equal(waitingReason([agent('a1', true, false, true), agent('a2', true, true, true)], needs), undefined);
    assert.equal(waitingReason([agent('a1', true, true)], { sources: needs.sources }), undefined);
  });
});

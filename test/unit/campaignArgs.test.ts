// The fault campaign's command line (faults/campaign.ts) and its draw of a forced agent's fault
// (faults/trialDraw.ts): `--help` and `-h` list every option with what it takes and its default,
// exit 0; an unknown option is one line naming it and the allowed ones, exit 2; and `--fault
// agent-*` keeps every trial one of agents, no fallback phase and no pooler drawn, its other draws
// the seed's own.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { campaignUsage, parseCampaignArgs } from '../../faults/campaign';
import { FAULT_KINDS, isAgentFault } from '../../faults/faults';
import { isFallbackPhase } from '../../faults/phases';
import { drawPooler, POOLER_SHARE } from '../../faults/poolerTrial';
import { makeRng, trialSeed } from '../../faults/rng';
import { drawPhaseAndFault, FALLBACK_SHARE } from '../../faults/trialDraw';

const CAMPAIGN = path.resolve(__dirname, '../../faults/campaign.js');
const run = (...args: string[]) => spawnSync(process.execPath, [CAMPAIGN, ...args], { encoding: 'utf8', timeout: 60_000 });
const seeds = Array.from({ length: 400 }, (_, i) => trialSeed(27, i));

describe('fault campaign command line', () => {
  it('prints every option with what it takes and its default for --help and -h, one line each, and exits 0', () => {
    assert.deepEqual(parseCampaignArgs(['--help']), { help: true });
    assert.deepEqual(parseCampaignArgs(['-h', '--trials', '3']), { help: true });
    const usage = campaignUsage();
    for (const option of ['trials', 'seed', 'replay', 'size', 'fault', 'phase', 'pooler', 'apply-sessions', 'keep', 'out', 'help']) {
      const lines = usage.filter((l) => l.includes(`--${option} `) || l.includes(`--${option}  `));
      assert.equal(lines.length, 1, `one line for --${option}: ${lines.join(' | ')}`);
      assert.match(lines[0]!, /\(default: [^)]+\)$/, `--${option} says its default`);
    }
    assert.match(
      usage.find((l) => l.includes('--trials'))!,
      /--trials N\s.*\(default: 50\)/,
    );
    assert.match(
      usage.find((l) => l.includes('--size'))!,
      /--size ci\|small\|default\s.*\(default: default\)/,
    );
    assert.match(
      usage.find((l) => l.includes('--fault'))!,
      new RegExp(`--fault KIND\\s.*${FAULT_KINDS.join(', ')}.*\\(default: drawn\\)`),
    );
    for (const flag of ['--help', '-h']) {
      const shown = run(flag);
      assert.equal(shown.status, 0, `${flag}: exit ${shown.status}, ${shown.stderr}`);
      assert.deepEqual(shown.stdout.trimEnd().split('\n'), usage, `${flag} prints the usage`);
    }
  });

  it('refuses an unknown option or a stray argument in one line naming it and the allowed options, exit 2', () => {
    assert.throws(
      () => parseCampaignArgs(['--trials', '3', '--bogus']),
      (e: Error) => /^unknown option "--bogus"; allowed: --trials, --seed, .*--help/.test(e.message) && !e.message.includes('\n'),
    );
    assert.throws(() => parseCampaignArgs(['3']), {
      message: /^unexpected argument "3": every value follows its option; allowed: --trials/,
    });
    const refused = run('--bogus');
    assert.equal(refused.status, 2);
    const lines = refused.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, refused.stderr);
    assert.match(lines[0]!, /^faults: unknown option "--bogus"; allowed: --trials, .*--help/);
  });

  it('keeps every trial of a forced agent fault an agent trial: no fallback phase and no pooler drawn, the phase otherwise the seed draws', () => {
    let fallbackDrawn = 0;
    for (const fault of ['agent-kill', 'agent-lease-loss'] as const) {
      for (const seed of seeds) {
        const forced = drawPhaseAndFault(makeRng(seed), { fault, fallbackShare: FALLBACK_SHARE, poolerShare: POOLER_SHARE });
        const unforced = drawPhaseAndFault(makeRng(seed), { fallbackShare: FALLBACK_SHARE, poolerShare: POOLER_SHARE });
        assert.equal(forced.plan.kind, fault, `seed ${seed}: ${forced.plan.kind} at ${forced.phase}`);
        assert.ok(!isFallbackPhase(forced.phase), `seed ${seed}: ${forced.phase}`);
        if (isFallbackPhase(unforced.phase)) fallbackDrawn += 1;
        else assert.equal(forced.phase, unforced.phase, `seed ${seed}: the phase the seed draws`);
        assert.equal(forced.poolerShare, 0);
        assert.equal(drawPooler(makeRng(seed).fork('pooler'), ['a', 'b'], forced.poolerShare, undefined, false), undefined);
      }
    }
    assert.ok(fallbackDrawn > 0, 'no seed drew a fallback phase: the test shows nothing');
  });

  it("turns a drawn agent's fault at a fallback phase into the runner's own, and refuses a forced one with a fallback phase or a pooler", () => {
    let turned = 0;
    for (const seed of seeds) {
      const drawn = drawPhaseAndFault(makeRng(seed), { fallbackShare: 1, poolerShare: POOLER_SHARE });
      assert.ok(!isAgentFault(drawn.plan.kind), `seed ${seed}: ${drawn.plan.kind} at ${drawn.phase}`);
      const kind = drawPhaseAndFault(makeRng(seed), { fallbackShare: 0, poolerShare: POOLER_SHARE }).plan.kind;
      if (isAgentFault(kind)) turned += 1;
    }
    assert.ok(turned > 0, "no seed drew an agent's fault");
    assert.throws(() => drawPhaseAndFault(makeRng(1), { fault: 'agent-kill', phase: 'fallback-drain', poolerShare: POOLER_SHARE }), {
      message:
        /^--fault agent-kill with --phase fallback-drain: agents do not run a migration in its fallback window; allowed: a phase of validation, /,
    });
    assert.throws(() => parseCampaignArgs(['--fault', 'agent-lease-loss', '--pooler', 'always']), {
      message: /^--fault agent-lease-loss with --pooler always: .*; allowed: --pooler never, or no --pooler$/,
    });
    assert.equal(parseCampaignArgs(['--fault', 'agent-kill', '--pooler', 'never', '--seed', '5']).help, false);
  });
});

// Most online tests show one scenario on both kinds of target pgferry supports: a superuser one, and
// a managed-like one whose user has neither superuser nor the replica role, as Azure's admin
// (makeManagedTarget). onBothTargets declares the two tests, each on a pair of servers of its own,
// so a test file says only what its scenario does and what each kind shows.
import type { ServerSpec } from '../../provider/engine/input/migrationSpec';
import { makeManagedTarget } from './managed';
import { serverSpec, startPair, type ServerPair } from './servers';

type TargetKind = 'superuser' | 'managed';

interface OnTarget {
  /** A new source 15 and target 15, stopped after the test whatever happens. */
  readonly pair: ServerPair;
  /** The target as the migration connects to it: its superuser, or the managed-like admin. */
  readonly target: ServerSpec;
  readonly managed: boolean;
  /** `super` or `managed`: a migration's name shows the kind it ran on. */
  readonly kind: 'super' | 'managed';
}

/**
 * Declares, in the describe it is called in, one test per target kind, titled by `titles`: the
 * superuser target's first, then the managed-like one's. The describe's timeout applies to each.
 */
export function onBothTargets(titles: Readonly<Record<TargetKind, string>>, test: (on: OnTarget) => Promise<void>): void {
  for (const kind of ['superuser', 'managed'] as const) onTarget(kind, titles[kind], test);
}

/** Declares one test on one kind of target, for a scenario too long to run on both. */
export function onTarget(kind: TargetKind, title: string, test: (on: OnTarget) => Promise<void>): void {
  it(title, async () => {
    const pair = await startPair(15, 15);
    try {
      const managed = kind === 'managed';
      const target = managed ? await makeManagedTarget(pair.target) : serverSpec(pair.target);
      await test({ pair, target, managed, kind: managed ? 'managed' : 'super' });
    } finally {
      await pair.stop();
    }
  });
}

// Tests that need something a machine may lack. Elsewhere the test is skipped with the reason
// printed; on CI (CI=true) the set-up (scripts/ensure-deps.mjs) installs every prerequisite, so a
// missing one fails the run instead of passing it quietly (.mocharc.cjs forbids pending tests there).
import type { Context } from 'mocha';

/** Skips the calling test (or hook's suite) unless `available`, printing `what` is missing; fails on CI. */
export function requirePrerequisite(ctx: Context, available: boolean, what: string): void {
  if (available) return;
  if (process.env.CI) throw new Error(`missing prerequisite on CI: ${what} (scripts/ensure-deps.mjs installs it)`);
  console.log(`      skipped (missing prerequisite): ${what}`);
  ctx.skip();
}

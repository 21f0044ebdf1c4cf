// The fallback window's duration (fallbackWindow, docs/fallback.md): its rule and its seconds, apart
// from the zod schema so the runner, which takes a parsed spec, reads it without loading zod; and
// what a cutover will do by the spec (its window, fence and pooler), as the status shows it.
import type { CutoverPlan } from '../core/model';

export const FALLBACK_WINDOW_RULE = 'must be a duration of whole minutes, hours or days (30m, 24h, 7d) from 10m to 30d';

/**
 * Whether `text` is a fallback window pgferry takes (FALLBACK_WINDOW_RULE): how long after the
 * cutover the reverse stream keeps the old source up to date, as a user writes it (`24h`).
 */
export function isFallbackWindow(text: string): boolean {
  if (!/^[1-9]\d{0,5}[mhd]$/.test(text)) return false;
  const seconds = fallbackWindowSeconds(text);
  return seconds >= 600 && seconds <= 30 * 86400;
}

/** A fallback window's seconds (a string isFallbackWindow accepts). */
export function fallbackWindowSeconds(window: string): number {
  const unit = { m: 60, h: 3600, d: 86400 }[window.slice(-1) as 'm' | 'h' | 'd'];
  return Number(window.slice(0, -1)) * unit;
}

/** What decides a cutover's window and fence: the migration's spec, and the request's options over it. */
interface WindowAndFence {
  readonly fenceWriters?: boolean;
  readonly fallbackWindow?: string;
}

/**
 * Why a cutover may not run as asked: a fallback window without the writer fence (docs/fallback.md:
 * an application left on the old source would write beside the reverse stream). The request's
 * options override the spec's, and a window asked with the request fences unless the request says
 * otherwise; the spec and the request each refuse the pair alone (the schema), so what is left is a
 * window from one and `fenceWriters: false` from the other. One line naming which asked what;
 * undefined when the cutover may run.
 */
export function unfencedWindowRefusal(spec: WindowAndFence, request: WindowAndFence): string | undefined {
  const window = request.fallbackWindow ?? spec.fallbackWindow;
  if (window === undefined) return undefined;
  const fence = request.fenceWriters ?? (request.fallbackWindow !== undefined || spec.fenceWriters === true);
  if (fence) return undefined;
  const windowFrom = request.fallbackWindow !== undefined ? 'the cutover request' : "the migration's spec";
  const fenceFrom = request.fenceWriters === false ? 'the cutover request (--no-fence-writers)' : "the migration's spec";
  return `a fallback window (${window}, from ${windowFrom}) needs the writers fenced, and ${fenceFrom} asked fenceWriters: false: request the cutover again with the fence (or without the window)`;
}

/**
 * What a cutover will do by the spec alone, before any request's options: the window it opens,
 * the fence, the pooler (recorded with the runner, so the console's confirmation can say it).
 */
export function cutoverPlanOf(spec: WindowAndFence & { readonly pooler?: unknown }): CutoverPlan {
  return {
    ...(spec.fallbackWindow === undefined ? {} : { fallbackWindow: spec.fallbackWindow }),
    fenceWriters: spec.fenceWriters === true,
    pooler: spec.pooler !== undefined,
  };
}

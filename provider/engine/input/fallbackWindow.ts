// The fallback window's duration (fallbackWindow, docs/fallback.md): its rule and its seconds, apart
// from the zod schema so the runner, which takes a parsed spec, reads it without loading zod.

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

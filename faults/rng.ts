// The campaign's seeded randomness: one 32-bit seed replays a trial's fault, phase, timing and
// workload. mulberry32, a dozen lines, rather than a dependency: nothing here needs more than
// uniform draws, and a package would put a lockfile change on every parallel branch.

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Integer in [min, max]. */
  int(min: number, max: number): number;
  /** One element, uniformly. */
  pick<T>(items: readonly T[]): T;
  /** One element, with probability proportional to its weight. */
  weighted<T>(items: readonly (readonly [T, number])[]): T;
  /** True with probability p. */
  chance(p: number): boolean;
  /** An independent stream derived from this one (so adding draws to one part leaves the others). */
  fork(label: string): Rng;
}

function hashLabel(seed: number, label: string): number {
  let h = seed ^ 0x9e3779b9;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x85ebca6b) >>> 0;
  return h >>> 0;
}

export function makeRng(seed: number): Rng {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const rng: Rng = {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (items) => items[Math.floor(next() * items.length)]!,
    weighted: (items) => {
      const total = items.reduce((s, [, w]) => s + w, 0);
      let x = next() * total;
      for (const [item, w] of items) {
        x -= w;
        if (x < 0) return item;
      }
      return items[items.length - 1]![0];
    },
    chance: (p) => next() < p,
    fork: (label) => makeRng(hashLabel(seed, label)),
  };
  return rng;
}

/** The seed of trial `index` of a campaign started with `campaignSeed` (a trial replays alone from it). */
export function trialSeed(campaignSeed: number, index: number): number {
  return hashLabel(campaignSeed, `trial ${index}`);
}

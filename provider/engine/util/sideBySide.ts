// Steps that do not depend on each other, run side by side: each holds the applications for round
// trips of its own, so together they hold them for the longest one, not for their sum.

/**
 * Runs every task to its end, then throws the first failure in the order given, or returns every
 * result. Unlike Promise.all, a failure never leaves a sibling still writing while the caller
 * already acts on it (rolls a switchover back, gives a hold back).
 */
export async function sideBySide<T extends readonly unknown[] | []>(tasks: T): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const settled: readonly PromiseSettledResult<unknown>[] = await Promise.allSettled(tasks);
  const values: unknown[] = [];
  for (const s of settled) {
    if (s.status === 'rejected') throw s.reason;
    values.push(s.value);
  }
  return values as { -readonly [K in keyof T]: Awaited<T[K]> };
}

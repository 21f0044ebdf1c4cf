// A list of names in a message, cut to its first few: used by every folder that names objects in
// one line (premigration checks, filter problems, what a migration leaves behind).
/** `a, b, c and 4 more`: object lists stay one line. */
export function listSome(items: readonly string[], max = 5): string {
  if (items.length <= max) return items.join(', ');
  return `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}

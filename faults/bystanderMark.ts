// The name every bystander's object carries (bystander.ts), in a file of its own: the trial, the
// schema changes and the judge's verdict (outcome.ts) recognise the bystander's objects by it, and
// bystander.ts itself reports through outcome.ts's types, so the mark living there made a cycle.

/** The prefix of every bystander's object name (tables, columns, indexes, constraints). */
export const BYSTANDER_MARK = 'bystander_';

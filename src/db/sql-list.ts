/**
 * A fixed list of words as a SQL list literal, `('a', 'b')`, for `in` clauses built once from constants
 * in code (never from input). A literal rather than `= any($n)` keeps the statement's text equal to
 * the predicate of a partial index over the same list, so the planner can always use that index.
 */
export function sqlList(words: readonly string[]): string {
  for (const word of words) if (!/^[a-z_]+$/.test(word)) throw new Error(`not a plain word for a SQL list: ${word}`);
  return `(${words.map((word) => `'${word}'`).join(', ')})`;
}

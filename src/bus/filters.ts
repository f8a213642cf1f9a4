/**
 * Consumer filters, with the matching rules of OctoBot's `async_channel` (`_check_filters`): a query
 * selects the consumers whose stored filters match every queried key.
 */

/** Matches anything, on either side: in a stored filter, in a stored list, or in a query. */
export const WILDCARD = '*';

/** One filter value. Compared with `===`, so `1` never matches `true` (unlike Python's `1 == True`). */
export type FilterValue = string | number | boolean;

/** What a consumer registers with: a value, or a list of values any of which may match. */
export type ConsumerFilters = Readonly<Record<string, FilterValue | readonly FilterValue[]>>;

/** What a producer selects consumers with. An empty query selects every consumer. */
export type FilterQuery = Readonly<Record<string, FilterValue>>;

/**
 * true when `stored` (a consumer's filters) matches every key of `query`:
 * - a query value of {@link WILDCARD} matches any stored value, even a missing key;
 * - a stored {@link WILDCARD} matches any queried value;
 * - a stored list matches when it holds the queried value or the wildcard;
 * - a key the consumer did not register never matches a concrete value.
 *
 * Allocation-free: it runs once per consumer on every `send`.
 */
export function matchesFilters(stored: ConsumerFilters, query: FilterQuery): boolean {
  for (const key in query) {
    const wanted = query[key];
    if (wanted === WILDCARD) continue;
    const have = stored[key];
    if (have === undefined) return false;
    if (have === wanted || have === WILDCARD) continue;
    if (Array.isArray(have)) {
      const list = have as readonly FilterValue[];
      if (list.includes(wanted as FilterValue) || list.includes(WILDCARD)) continue;
    }
    return false;
  }
  return true;
}

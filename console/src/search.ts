/**
 * A search's page, filled over as many requests as it takes, within a bound. The API reads at
 * most 5,000 list items a request (README, "Lists come in pages"), so in a workspace of 10,000 cohorts a
 * rare name may match nothing in the first request or two: their answers are empty with a
 * cursor. Shown as they came, a search for a cohort past the first 5,000 said "No cohort
 * matches" (the Cohorts page, with "Search further") or never offered it (the segment builder's
 * picker, which had no way further). Asked one after the other (one request in flight), until
 * `limit` matches, the end, `requests` requests, or the search is no longer wanted (the user
 * typed on, or left the page).
 */

/** Requests one search may chain by itself: 50,000 list items at the API's 5,000 a request. */
export const SEARCH_REQUESTS = 10;

export interface SearchPage<T> {
  items: T[];
  next: string | null;
}

export const fillSearch = async <T>(
  ask: (cursor: string | null, limit: number) => Promise<SearchPage<T>>,
  options: { limit: number; cursor?: string | null; requests?: number; wanted?: () => boolean },
): Promise<SearchPage<T>> => {
  const items: T[] = [];
  let next = options.cursor ?? null;
  for (let asked = 1; ; asked += 1) {
    const page = await ask(next, options.limit - items.length);
    items.push(...page.items);
    next = page.next;
    if (
      next === null ||
      items.length >= options.limit ||
      asked >= (options.requests ?? SEARCH_REQUESTS) ||
      !(options.wanted?.() ?? true)
    )
      return { items, next };
  }
};

/**
 * A list's page as a search box asks for it: a search filled over up to `requests` requests
 * (fillSearch), no search one request for one page. Every searched list of the console (its
 * pages' and pickers') asks through this.
 */
export const searchPages = <T>(
  ask: (cursor: string | null, limit: number) => Promise<SearchPage<T>>,
  options: { search?: string; limit: number; cursor?: string | null; requests?: number; wanted?: () => boolean },
): Promise<SearchPage<T>> =>
  options.search?.trim() ? fillSearch(ask, options) : ask(options.cursor ?? null, options.limit);

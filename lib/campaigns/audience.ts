/**
 * Whether one user is in a campaign's target, from that user's memberships alone (pure):
 * the segment filter evaluated for one user, and what it takes to say the user *entered*.
 * A cache of values read rarely and used often (definitions, triggers) lives here too.
 */
import { LRUCache } from 'lru-cache';
import { cohortTestsOf, type Filter } from '../segments/filter.js';

/** How a membership is named in the sets MembershipChecks answers. */
export const membershipKey = (partner: string, cohortId: string) => `${partner}\u0000${cohortId}`;

/** The filter, for one user whose memberships `isMember` tells. */
export const matchesFilter = (filter: Filter, isMember: (partner: string, cohortId: string) => boolean): boolean => {
  if ('cohort' in filter) return isMember(filter.cohort.partner, filter.cohort.cohort_id) === filter.cohort.includes;
  if ('all' in filter) return filter.all.every((child) => matchesFilter(child, isMember));
  return filter.any.some((child) => matchesFilter(child, isMember));
};

/** The AND of several segments' filters (a campaign targets one segment, or more AND-ed). */
export const combineFilters = (filters: readonly Filter[]): Filter =>
  filters.length === 1 ? filters[0]! : { all: [...filters] };

/** The distinct cohorts a filter names. */
export const cohortsOf = (filter: Filter): { partner: string; cohortId: string }[] => {
  const seen = new Map<string, { partner: string; cohortId: string }>();
  for (const test of cohortTestsOf(filter))
    seen.set(membershipKey(test.partner, test.cohort_id), { partner: test.partner, cohortId: test.cohort_id });
  return [...seen.values()];
};

/**
 * What a membership flip did to a user's place in the target. `now` holds the user's
 * memberships as read after the flip (strongly consistent, so it includes the flip, and
 * perhaps later ones). After = now with the flipped cohort as the event says; before = the
 * same with it the other way. Entered: out before, in after, and still in now (a user
 * already out again is not entered). Out: not in the target now.
 */
export const transition = (
  filter: Filter,
  now: ReadonlySet<string>,
  flip: { partner: string; cohortId: string; added: boolean },
): { entered: boolean; inNow: boolean } => {
  const flipped = membershipKey(flip.partner, flip.cohortId);
  const withFlip = (member: boolean) => (partner: string, cohortId: string) => {
    const key = membershipKey(partner, cohortId);
    return key === flipped ? member : now.has(key);
  };
  const inNow = matchesFilter(filter, (partner, cohortId) => now.has(membershipKey(partner, cohortId)));
  const before = matchesFilter(filter, withFlip(!flip.added));
  const after = matchesFilter(filter, withFlip(flip.added));
  return { entered: !before && after && inNow, inNow };
};

/**
 * Values kept for `ttlMs` per key (0: not kept), the least recently used dropped past
 * `maxEntries` (lru-cache): campaign definitions and triggers, read on every event otherwise.
 * A load that fails is forgotten, so the next read tries again.
 */
export const ttlCache = <T>(ttlMs: number, clock: () => number = Date.now, maxEntries = 10_000) => {
  const entries =
    ttlMs > 0
      ? new LRUCache<string, Promise<T>>({ max: maxEntries, ttl: ttlMs, ttlResolution: 0, perf: { now: clock } })
      : undefined;
  return async (key: string, load: () => Promise<T>): Promise<T> => {
    if (!entries) return load();
    const hit = entries.get(key);
    if (hit) return hit;
    const value = load();
    entries.set(key, value);
    value.catch(() => {
      if (entries.get(key) === value) entries.delete(key);
    });
    return value;
  };
};

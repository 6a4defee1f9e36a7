/**
 * The segment filter grammar: a cohort test ("Heap Cohorts includes / does not include
 * <cohort>"), combined with `all` and `any`, nested. Cohorts of several partners mix.
 */
import * as z from 'zod';
import { describeIssues, MAX_COHORT_ID_LENGTH } from '../contract/partner.js';
import { ValidationError } from '../errors.js';
import { nestsDeeperThan } from '../http/limits.js';
import { MAX_PARTNER_NAME_LENGTH } from '../workspaces/partners.js';

export const MAX_FILTER_DEPTH = 6;
export const MAX_FILTER_CHILDREN = 20;
export const MAX_FILTER_COHORTS = 50;

export interface CohortTest {
  cohort: { partner: string; cohort_id: string; includes: boolean };
}
export type Filter = CohortTest | { all: Filter[] } | { any: Filter[] };

const CohortTestSchema = z.strictObject({
  cohort: z.strictObject({
    partner: z
      .string({ error: 'must be a string' })
      .min(1, { error: 'must be a non-empty string' })
      .max(MAX_PARTNER_NAME_LENGTH),
    cohort_id: z
      .string({ error: 'must be a string' })
      .min(1, { error: 'must be a non-empty string' })
      .max(MAX_COHORT_ID_LENGTH),
    includes: z.boolean({ error: 'must be true (includes) or false (does not include)' }),
  }),
});

export const FilterSchema: z.ZodType<Filter> = z.lazy(() =>
  z.union(
    [
      CohortTestSchema,
      z.strictObject({
        all: z.array(FilterSchema).min(1, { error: 'needs at least one filter' }).max(MAX_FILTER_CHILDREN),
      }),
      z.strictObject({
        any: z.array(FilterSchema).min(1, { error: 'needs at least one filter' }).max(MAX_FILTER_CHILDREN),
      }),
    ],
    { error: 'must be one of {"cohort": {partner, cohort_id, includes}}, {"all": [filters]}, {"any": [filters]}' },
  ),
);

const depthOf = (filter: Filter): number =>
  'cohort' in filter ? 1 : 1 + Math.max(...('all' in filter ? filter.all : filter.any).map(depthOf));

export const cohortTestsOf = (filter: Filter): CohortTest['cohort'][] =>
  'cohort' in filter ? [filter.cohort] : ('all' in filter ? filter.all : filter.any).flatMap(cohortTestsOf);

/** Parses a filter, or a 400 that says what is wrong with it. */
export const parseFilter = (value: unknown): Filter => {
  // Before the (recursive) schema: a filter of MAX_FILTER_DEPTH levels is 2 JSON levels per level ({"all": [...]}, {"cohort": {...}}).
  if (nestsDeeperThan(value, 2 * MAX_FILTER_DEPTH))
    throw new ValidationError(`Invalid filter: nested deeper than ${MAX_FILTER_DEPTH} levels`);
  const result = FilterSchema.safeParse(value);
  if (!result.success) {
    const details = describeIssues(result.error).map(
      (detail) => `filter${detail.startsWith('body') ? detail.slice(4) : `.${detail}`}`,
    );
    throw new ValidationError(`Invalid filter: ${details[0] ?? 'not a filter'}`, details);
  }
  if (depthOf(result.data) > MAX_FILTER_DEPTH)
    throw new ValidationError(`Invalid filter: nested deeper than ${MAX_FILTER_DEPTH} levels`);
  if (cohortTestsOf(result.data).length > MAX_FILTER_COHORTS)
    throw new ValidationError(`Invalid filter: more than ${MAX_FILTER_COHORTS} cohort tests`);
  return result.data;
};

/** The same filter, whatever the order of keys in its objects (a stored map does not keep it). */
export const sameFilter = (a: Filter, b: Filter): boolean => {
  if ('cohort' in a || 'cohort' in b) {
    return (
      'cohort' in a &&
      'cohort' in b &&
      a.cohort.partner === b.cohort.partner &&
      a.cohort.cohort_id === b.cohort.cohort_id &&
      a.cohort.includes === b.cohort.includes
    );
  }
  const [kind, children] = 'all' in a ? (['all', a.all] as const) : (['any', a.any] as const);
  const others = kind in b ? (b as Record<typeof kind, Filter[]>)[kind] : undefined;
  return (
    others !== undefined &&
    others.length === children.length &&
    children.every((child, index) => sameFilter(child, others[index]!))
  );
};

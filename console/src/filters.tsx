/** A segment filter as the page shows it, and the editor's model of one (groups all the way down, as the API nests them). */
import type { Cohort, Filter } from './api.ts';
import { formatNumber, t } from './i18n.ts';
import { partnerName } from './partners.ts';

/** lib/segments/filter.ts: MAX_FILTER_DEPTH (a cohort test is one level, each group one more). */
export const MAX_FILTER_DEPTH = 6;

export type Condition = { kind: 'cohort'; id: number; partner: string; cohortId: string; includes: boolean };
export type Group = { kind: 'group'; id: number; combinator: 'all' | 'any'; children: Node[] };
export type Node = Condition | Group;

let nextId = 1;
export const newCondition = (partner: string): Condition => ({
  kind: 'cohort',
  id: nextId++,
  partner,
  cohortId: '',
  includes: true,
});
export const newGroup = (children: Node[] = []): Group => ({
  kind: 'group',
  id: nextId++,
  combinator: 'all',
  children,
});

export const fromFilter = (filter: Filter): Node =>
  'cohort' in filter
    ? {
        kind: 'cohort',
        id: nextId++,
        partner: filter.cohort.partner,
        cohortId: filter.cohort.cohort_id,
        includes: filter.cohort.includes,
      }
    : {
        kind: 'group',
        id: nextId++,
        combinator: 'all' in filter ? 'all' : 'any',
        children: ('all' in filter ? filter.all : filter.any).map(fromFilter),
      };

/** The root is always a group in the editor. */
export const rootOf = (filter: Filter | undefined, partner: string): Group => {
  if (!filter) return newGroup([newCondition(partner)]);
  const node = fromFilter(filter);
  return node.kind === 'group' ? node : newGroup([node]);
};

/** The API's filter; a group of one is that one (so "Heap cohort includes X" is the plain cohort test, exact from counts). */
export const toFilter = (node: Node): Filter => {
  if (node.kind === 'cohort')
    return { cohort: { partner: node.partner, cohort_id: node.cohortId, includes: node.includes } };
  if (node.children.length === 1) return toFilter(node.children[0]!);
  const children = node.children.map(toFilter);
  return node.combinator === 'all' ? { all: children } : { any: children };
};

export const conditionsOf = (node: Node): Condition[] =>
  node.kind === 'cohort' ? [node] : node.children.flatMap(conditionsOf);

export const cohortKey = (partner: string, cohortId: string) => `${partner}\u0000${cohortId}`;

/** Bounds of the size from the cohorts' counts alone (as lib/segments/size.ts bounds it; the workspace's user count is not known here). */
export const estimate = (node: Node, counts: Map<string, number>): { min: number; max: number } => {
  if (node.kind === 'cohort') {
    const count = counts.get(cohortKey(node.partner, node.cohortId)) ?? 0;
    return node.includes ? { min: count, max: count } : { min: 0, max: Number.POSITIVE_INFINITY };
  }
  const parts = node.children.map((child) => estimate(child, counts));
  if (parts.length === 0) return { min: 0, max: 0 };
  if (node.combinator === 'all')
    return {
      min: parts.length === 1 ? parts[0]!.min : 0,
      max: Math.min(...parts.map((part) => part.max)),
    };
  return {
    min: Math.max(...parts.map((part) => part.min)),
    max: parts.reduce((sum, part) => sum + part.max, 0),
  };
};

/** A cohort as a filter names it: its name when known. */
export type NamedCohort = Pick<Cohort, 'partner' | 'cohort_id'> & { name: string | null };

export const FilterView = ({ filter, cohorts }: { filter: Filter; cohorts: readonly NamedCohort[] }) => {
  if ('cohort' in filter) {
    const { partner, cohort_id, includes } = filter.cohort;
    const cohort = cohorts.find((item) => item.partner === partner && item.cohort_id === cohort_id);
    const values = { partner: partnerName(partner), cohort: cohort?.name ?? cohort_id };
    return <span>{includes ? t('filter.includes', values) : t('filter.excludes', values)}</span>;
  }
  const children = 'all' in filter ? filter.all : filter.any;
  return (
    <span>
      {'all' in filter ? t('filter.all') : t('filter.any')}
      <ul class="filter-list">
        {children.map((child, index) => (
          <li key={index}>
            <FilterView filter={child} cohorts={cohorts} />
          </li>
        ))}
      </ul>
    </span>
  );
};

export const formatEstimate = (bounds: { min: number; max: number }): string =>
  bounds.min === bounds.max
    ? t('builder.estimateExact', { count: bounds.min })
    : Number.isFinite(bounds.max)
      ? t('builder.estimate', { min: bounds.min, max: bounds.max })
      : t('builder.estimateOpen', { min: bounds.min });

export { formatNumber };

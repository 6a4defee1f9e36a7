/** The console's logic that needs no browser: routes, the builder's filters and estimate, the language chosen. */
import { describe, expect, it } from 'vitest';
import { pickLanguage } from '../src/i18n.ts';
import { estimate, newCondition, newGroup, rootOf, toFilter, type Condition, type Group } from '../src/filters.tsx';
import { href, parseHash } from '../src/router.ts';

describe('routes', () => {
  it('round-trips ids with any character through the address', () => {
    // Prepare
    const cohortId = 'xss/<i>1</i> #?%';

    // Act
    const route = parseHash(href('cohorts', 'heap', cohortId));

    // Assess
    expect(route).toEqual({ page: 'cohort', partner: 'heap', cohortId });
  });

  it('names every page, and an unknown or malformed address is not found', () => {
    // Assess
    expect(parseHash('')).toEqual({ page: 'partners' });
    expect(parseHash('#/segments/new')).toEqual({ page: 'segment-new' });
    expect(parseHash('#/segments/s1/edit')).toEqual({ page: 'segment-edit', segmentId: 's1' });
    expect(parseHash('#/campaigns/new/s1')).toEqual({ page: 'campaign-new', kind: 'campaign', segmentId: 's1' });
    expect(parseHash('#/canvases/c9')).toEqual({ page: 'campaign', kind: 'canvas', campaignId: 'c9' });
    expect(parseHash('#/nowhere')).toEqual({ page: 'not-found' });
    expect(parseHash('#/cohorts/heap/%E0%A4%A')).toEqual({ page: 'cohorts' });
  });
});

describe('the segment builder', () => {
  const condition = (cohortId: string, includes = true): Condition => ({ ...newCondition('heap'), cohortId, includes });

  it('sends a group of one as that one, so "Heap cohort includes X" is the plain cohort test', () => {
    // Act
    const filter = toFilter(newGroup([condition('c1')]));

    // Assess
    expect(filter).toEqual({ cohort: { partner: 'heap', cohort_id: 'c1', includes: true } });
  });

  it('keeps all/any and nesting, and reads a stored filter back into the same filter', () => {
    // Prepare
    const nested: Group = { ...newGroup([condition('c2'), condition('c3', false)]), combinator: 'any' };
    const root = newGroup([condition('c1'), nested]);

    // Act
    const filter = toFilter(root);

    // Assess
    expect(filter).toEqual({
      all: [
        { cohort: { partner: 'heap', cohort_id: 'c1', includes: true } },
        {
          any: [
            { cohort: { partner: 'heap', cohort_id: 'c2', includes: true } },
            { cohort: { partner: 'heap', cohort_id: 'c3', includes: false } },
          ],
        },
      ],
    });
    expect(toFilter(rootOf(filter, 'heap'))).toEqual(filter);
  });

  it('bounds the size from the counts as the API does (includes exact, all at most its smallest, any at least its largest)', () => {
    // Prepare
    const counts = new Map([
      ['heap\u0000c1', 10],
      ['heap\u0000c2', 4],
    ]);

    // Assess
    expect(estimate(newGroup([condition('c1')]), counts)).toEqual({ min: 10, max: 10 });
    expect(estimate(newGroup([condition('c1'), condition('c2')]), counts)).toEqual({ min: 0, max: 4 });
    expect(estimate({ ...newGroup([condition('c1'), condition('c2')]), combinator: 'any' }, counts)).toEqual({
      min: 10,
      max: 14,
    });
    expect(estimate(newGroup([condition('c1', false)]), counts).max).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('the language', () => {
  it("takes the first of the browser's languages it speaks, exactly or by its primary tag", () => {
    // Assess
    expect(pickLanguage(['pt-BR', 'en'])).toBe('pt-BR');
    expect(pickLanguage(['pt-PT'])).toBe('pt-BR');
    expect(pickLanguage(['fr-FR', 'de-AT', 'en'])).toBe('de');
    expect(pickLanguage(['ja'])).toBe('en');
    expect(pickLanguage([])).toBe('en');
  });
});

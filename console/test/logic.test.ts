/** The console's logic that needs no browser: routes, the builder's filters and estimate, the language chosen, searches. */
import { describe, expect, it } from 'vitest';
import { pickLanguage } from '../src/i18n.ts';
import { estimate, newCondition, newGroup, rootOf, toFilter, type Condition, type Group } from '../src/filters.tsx';
import { href, parseHash } from '../src/router.ts';
import { cohortPath } from '../src/api.ts';
import { fillSearch, SEARCH_REQUESTS, type SearchPage, searchPages } from '../src/search.ts';
import {
  exitEventsOf,
  newTrigger,
  type TriggerDraft,
  triggerOf,
  triggerProblems,
  triggerSummary,
} from '../src/pages/entry-trigger.tsx';

describe('routes', () => {
  it('round-trips ids with any character through the address', () => {
    // Prepare
    const cohortId = 'xss/<i>1</i> #?%';

    // Act
    const route = parseHash(href('cohorts', 'heap', cohortId));

    // Assess
    expect(route).toEqual({ page: 'cohort', partner: 'heap', cohortId });
  });

  it('reaches a cohort whose id is a dot segment, or holds / % ? # and spaces, in the address and at the API', () => {
    for (const cohortId of ['.', '..', '%2E', '%2e%2E', './..', 'a/../b', '?x=1#y', ' spaced  out ', 'a+b', '...']) {
      // Act
      const route = parseHash(href('cohorts', 'heap', cohortId));
      const asked = new URL(cohortPath('heap', cohortId), 'https://api.example');

      // Assess: the page's route, and the request as fetch sends it (URL parsing is fetch's), keep the id whole.
      expect(route, cohortId).toEqual({ page: 'cohort', partner: 'heap', cohortId });
      expect(asked.pathname, cohortId).toBe('/cohorts/heap');
      expect([...asked.searchParams], cohortId).toEqual([['cohort_id', cohortId]]);
    }
    // Why not in the path: the URL parser drops a dot segment, `%2E` too.
    expect(new URL(`/cohorts/heap/${encodeURIComponent('..')}`, 'https://api.example').pathname).toBe('/cohorts/');
    expect(new URL('/cohorts/heap/%2E', 'https://api.example').pathname).toBe('/cohorts/heap/');
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

describe('a search over a list the API reads 5,000 items at a time', () => {
  /**
   * The API as it answers a search of 10,002 cohorts (5,000 read a request): nothing matches in
   * the first two requests, the one match in the third. Records each request and how many were
   * in flight at once.
   */
  const bigList = (matchIn: number, requestsToEnd: number) => {
    const asked: { cursor: string | null; limit: number }[] = [];
    let inFlight = 0;
    let most = 0;
    const ask = async (cursor: string | null, limit: number): Promise<SearchPage<string>> => {
      asked.push({ cursor, limit });
      inFlight += 1;
      most = Math.max(most, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 1));
      inFlight -= 1;
      const request = asked.length;
      return {
        items: request === matchIn ? ['c1'] : [],
        next: request === requestsToEnd ? null : `after-${request}`,
      };
    };
    return { ask, asked, most: () => most };
  };

  it('asks on, one request at a time, until the rare match past the first 10,000 items is found', async () => {
    // Prepare
    const api = bigList(3, 3);

    // Act
    const page = await fillSearch(api.ask, { limit: 50 });

    // Assess
    expect(page).toEqual({ items: ['c1'], next: null });
    expect(api.asked).toEqual([
      { cursor: null, limit: 50 },
      { cursor: 'after-1', limit: 50 },
      { cursor: 'after-2', limit: 50 },
    ]);
    expect(api.most()).toBe(1);
  });

  it('stops at a full page, asking each request only for what the page still needs', async () => {
    // Prepare
    let request = 0;
    const asked: number[] = [];
    const ask = async (_cursor: string | null, limit: number) => {
      request += 1;
      asked.push(limit);
      return { items: Array.from({ length: Math.min(limit, 30) }, (_, i) => `c${request}-${i}`), next: 'more' };
    };

    // Act
    const page = await fillSearch(ask, { limit: 50, cursor: 'from-here' });

    // Assess
    expect(page.items).toHaveLength(50);
    expect(page.next).toBe('more');
    expect(asked).toEqual([50, 20]);
  });

  it('stops at its bound of requests, with the cursor to search further from', async () => {
    // Prepare
    const api = bigList(99, 99);

    // Act
    const page = await fillSearch(api.ask, { limit: 100 });

    // Assess
    expect(api.asked).toHaveLength(SEARCH_REQUESTS);
    expect(page).toEqual({ items: [], next: `after-${SEARCH_REQUESTS}` });
  });

  it('stops asking once the search is no longer wanted (typed on, or the page left)', async () => {
    // Prepare
    const api = bigList(3, 3);
    let wanted = true;

    // Act
    const page = await fillSearch(
      async (cursor, limit) => {
        const answer = await api.ask(cursor, limit);
        wanted = false;
        return answer;
      },
      { limit: 50, wanted: () => wanted },
    );

    // Assess
    expect(api.asked).toHaveLength(1);
    expect(page).toEqual({ items: [], next: 'after-1' });
  });
});

describe('a list page as its search box asks for it (every list: cohorts, segments, campaigns, Canvases)', () => {
  const recorder = () => {
    const asked: { cursor: string | null; limit: number }[] = [];
    const ask = async (cursor: string | null, limit: number): Promise<SearchPage<string>> => {
      asked.push({ cursor, limit });
      return { items: [], next: `after-${asked.length}` };
    };
    return { ask, asked };
  };

  it('asks once for one page when nothing (or only blanks) is typed, from the cursor it is given', async () => {
    for (const search of [undefined, '', '   ']) {
      // Prepare
      const api = recorder();

      // Act
      const page = await searchPages(api.ask, { limit: 100, cursor: 'c', ...(search === undefined ? {} : { search }) });

      // Assess: an empty page with a cursor is simply the page (no search to fill).
      expect(api.asked, String(search)).toEqual([{ cursor: 'c', limit: 100 }]);
      expect(page).toEqual({ items: [], next: 'after-1' });
    }
  });

  it('fills a search over up to SEARCH_REQUESTS requests, from the cursor it is given ("Search further")', async () => {
    // Prepare
    const api = recorder();

    // Act
    const page = await searchPages(api.ask, { search: 'funnel', limit: 50, cursor: 'after-10' });

    // Assess
    expect(api.asked).toHaveLength(SEARCH_REQUESTS);
    expect(api.asked[0]).toEqual({ cursor: 'after-10', limit: 50 });
    expect(page).toEqual({ items: [], next: `after-${SEARCH_REQUESTS}` });
  });
});

describe('event triggers in the campaign form', () => {
  const draft = (change: Partial<TriggerDraft>): TriggerDraft => ({ ...newTrigger(), ...change });

  it('writes the body’s trigger and exit events as the API takes them', () => {
    expect(triggerOf(draft({}))).toEqual({});
    expect(triggerOf(draft({ type: 'custom_event', eventName: ' Started Trial ' }))).toEqual({
      trigger: { type: 'custom_event', name: 'Started Trial' },
    });
    expect(triggerOf(draft({ type: 'purchase', productId: '' }))).toEqual({ trigger: { type: 'purchase' } });
    expect(triggerOf(draft({ type: 'purchase', productId: 'pack' }))).toEqual({
      trigger: { type: 'purchase', product_id: 'pack' },
    });
    expect(exitEventsOf(draft({ exitEvents: 'Converted\n\n  Churned \n' }))).toEqual({
      exit_on_events: ['Converted', 'Churned'],
    });
    expect(exitEventsOf(draft({ exitEvents: ' \n' }))).toEqual({});
    expect(triggerProblems(draft({ type: 'custom_event', eventName: ' ' }))).toHaveLength(1);
    expect(triggerProblems(draft({ type: 'purchase' }))).toEqual([]);
  });

  it('summarises what enters the user, and says nothing more for entering the segment', () => {
    const base = {
      campaign_id: 'c',
      name: 'n',
      status: 'active' as const,
      segment_ids: ['s'],
      created_at: '',
      updated_at: '',
      launched_at: null,
      stopped_at: null,
    };

    expect(
      triggerSummary({
        ...base,
        delivery: {
          type: 'action_based',
          trigger: { type: 'custom_event', name: 'Started Trial' },
          delay_seconds: 600,
        },
      }),
      // The catalog is not loaded without a browser (initI18n): the summary exists, its words are the e2e test's.
    ).toBeTypeOf('string');
    expect(
      triggerSummary({ ...base, delivery: { type: 'action_based', trigger: { type: 'purchase', product_id: null } } }),
    ).toBeTypeOf('string');
    expect(triggerSummary({ ...base, delivery: { type: 'action_based', delay_seconds: 0 } })).toBeUndefined();
  });
});

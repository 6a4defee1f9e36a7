/**
 * Server-side search and order of the workspace's lists (lib/paging.ts, queryPage in
 * lib/dynamodb/batch.ts), on a workspace with thousands of cohorts: a search follows its
 * cursor to every match, each once, in key order, each request reading a bounded number of
 * items (5 queries); `order=desc` reverses the key order; `partner` narrows to one key range.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { cohortListKey } from '../../lib/dynamodb/membership-store.js';
import { startTestStack } from '../support/stack.js';
import { restCall } from '../support/client.js';
import { putCohortListItems } from '../support/cohort-list.js';
import { KNOWN_PARTNERS } from '../../lib/workspaces/partners.js';

let stack: LocalStack;
/** Queries of the workspace's cohort list while a request runs. */
let cohortQueries = 0;

const COHORTS = 6_000;
/** Where the matching cohorts sit among the others (by id), and their names. */
const MATCHING: Record<string, string> = {
  c0005: 'Abandoned Funnel Ω',
  c2999: 'abandoned cart',
  c5998: 'Checkout ABANDONERS',
};

beforeAll(async () => {
  stack = await startTestStack({ poll: false });
  const workspaceId = stack.workspace.workspaceId;
  await putCohortListItems(stack, [
    ...Array.from({ length: COHORTS }, (_, index) => {
      const cohortId = `c${String(index).padStart(4, '0')}`;
      return { partner: 'heap', cohortId, name: MATCHING[cohortId] ?? `Cohort number ${index}` };
    }),
    { partner: 'segment', cohortId: 's1', name: 'Abandon ship (another partner)' },
  ]);
  stack.clients.dynamodb.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { ExpressionAttributeValues?: Record<string, { S?: string }> };
      if (
        context.commandName === 'QueryCommand' &&
        input.ExpressionAttributeValues?.[':pk']?.S === cohortListKey(workspaceId)
      )
        cohortQueries += 1;
      return next(args);
    },
    { step: 'serialize', priority: 'low', name: 'countCohortListQueries' },
  );
}, 120_000);
afterAll(() => stack?.stop());

/** Every page of a list, and the most queries one request made. */
const allPages = async (query: string) => {
  const keys: string[] = [];
  let cursor: string | null = null;
  let requests = 0;
  let mostQueries = 0;
  do {
    cohortQueries = 0;
    const answer = await restCall(
      stack,
      `/cohorts?${query}&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    mostQueries = Math.max(mostQueries, cohortQueries);
    keys.push(
      ...answer.body.cohorts.map(
        (cohort: { partner: string; cohort_id: string }) => `${cohort.partner}#${cohort.cohort_id}`,
      ),
    );
    cursor = answer.body.next_cursor;
    requests += 1;
  } while (cursor !== null && requests < 100);
  return { keys, cursor, requests, mostQueries };
};

describe('list search', () => {
  it('finds every match among 6,000 cohorts, each once in key order, reading at most 5 queries a request', async () => {
    // Act
    const search = await allPages('q=abandon');

    // Assess: the three heap cohorts and the other partner's; more than one request, as one
    // request reads at most 5,000 items.
    expect(search.cursor).toBeNull();
    expect(search.keys).toEqual(['heap#c0005', 'heap#c2999', 'heap#c5998', 'segment#s1']);
    expect(search.requests).toBeGreaterThan(1);
    expect(search.mostQueries).toBeLessThanOrEqual(5);
  });

  it('narrows to one partner, matches an id prefix, and reverses the order', async () => {
    // Act
    const heapOnly = await allPages('q=ABANDON&partner=heap');
    const idPrefix = await allPages('q=c299&partner=heap');
    const newestFirst = await restCall(stack, '/cohorts?partner=heap&order=desc&limit=3');
    const folded = await allPages(`q=${encodeURIComponent('FUNNEL ω')}`);

    // Assess
    expect(heapOnly.keys).toEqual(['heap#c0005', 'heap#c2999', 'heap#c5998']);
    expect(idPrefix.keys).toEqual(Array.from({ length: 10 }, (_, index) => `heap#c299${index}`));
    expect(newestFirst.body.cohorts.map((cohort: { cohort_id: string }) => cohort.cohort_id)).toEqual([
      'c5999',
      'c5998',
      'c5997',
    ]);
    expect(folded.keys).toEqual(['heap#c0005']);
  });

  it('names the cohorts of each listed segment, and searches segments on the server', async () => {
    // Prepare
    const created = await restCall(stack, '/segments', {
      body: {
        name: 'Funnel leavers',
        filter: { all: [{ cohort: { partner: 'heap', cohort_id: 'c0005', includes: true } }] },
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);

    // Act
    const found = await restCall(stack, '/segments?q=LEAVERS');

    // Assess
    expect(found.body.segments).toEqual([
      expect.objectContaining({
        name: 'Funnel leavers',
        cohorts: [{ partner: 'heap', cohort_id: 'c0005', name: MATCHING.c0005 }],
      }),
    ]);
    expect(found.body.next_cursor).toBeNull();
  });

  it('says which partners have cohorts in one request, one bounded query of each partner', async () => {
    // Act
    cohortQueries = 0;
    const answer = await restCall(stack, '/cohorts/partners');

    // Assess: heap's 6,000 cohorts and segment's one; one item read of each known partner's key range.
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body).toEqual({ partners: ['heap', 'segment'], message: 'success' });
    expect(cohortQueries).toBe(KNOWN_PARTNERS.length);
  });

  it('answers a search, an order or a partner it cannot use with a 400 that says which', async () => {
    for (const [query, field] of [
      [`q=${'x'.repeat(201)}`, '`q`'],
      ['order=random', '`order`'],
      ['partner=nobody', '`partner`'],
    ] as const) {
      const answer = await restCall(stack, `/cohorts?${query}`);
      expect(answer.status, query).toBe(400);
      expect(JSON.stringify(answer.body), query).toContain(field);
    }
  });

  it('refuses a query parameter a route does not take with a 400 naming it and the ones it takes (a typo is no filter)', async () => {
    // Prepare: a segment (for its audience route) and the demo Currents connector.
    const created = await restCall(stack, '/segments', {
      body: {
        name: 'Any cohort',
        filter: { all: [{ cohort: { partner: 'heap', cohort_id: 'c0001', includes: true } }] },
      },
    });
    const segmentId = created.body.segment.segment_id as string;
    const connectorId = stack.currents.demoConnectorId;
    const cases: [path: string, unknown: string, takes: string[]][] = [
      ['/cohorts?partnr=heap', 'partnr', ['limit', 'cursor', 'q', 'order', 'partner']],
      ['/segments?partner=heap', 'partner', ['limit', 'cursor', 'q', 'order']],
      ['/campaigns?foo=1&limit=5', 'foo', ['limit', 'cursor', 'q', 'order', 'segment_id']],
      ['/canvases?Q=x', 'Q', ['limit', 'cursor', 'q', 'order', 'segment_id']],
      [`/currents/${connectorId}/dead-letters?search=x`, 'search', ['limit', 'cursor', 'q', 'order']],
      [`/segments/${segmentId}/users?q=x`, 'q', ['limit', 'cursor']],
      ['/cohorts/partners?partner=heap', 'partner', []],
      ['/workspace?x=', 'x', []],
      ['/currents?limit=1', 'limit', []],
    ];

    for (const [path, unknown, takes] of cases) {
      // Act
      const answer = await restCall(stack, path);

      // Assess: a 400 in the contract's shape, naming the parameter and every accepted one.
      expect(answer.status, path).toBe(400);
      expect(answer.body.message, path).toBe(`Unknown query parameter: \`${unknown}\``);
      expect(answer.body.errors, path).toHaveLength(2);
      for (const name of takes) expect(answer.body.errors[1], `${path}: ${name}`).toContain(`\`${name}\``);
      if (takes.length === 0) expect(answer.body.errors[1], path).toContain('no query parameters');
    }
    // A POST takes none either: nothing is created.
    const post = await restCall(stack, '/segments?dry_run=1', {
      body: {
        name: 'Not made',
        filter: { all: [{ cohort: { partner: 'heap', cohort_id: 'c0001', includes: true } }] },
      },
    });
    expect(post.status).toBe(400);
    expect((await restCall(stack, '/segments?q=not%20made')).body.segments).toEqual([]);
    // The parameters a route takes still work, and two unknown ones are both named.
    expect((await restCall(stack, '/segments?limit=1&order=desc&q=any')).status).toBe(200);
    const two = await restCall(stack, '/segments?a=1&b=2');
    expect(two.body.message).toBe('Unknown query parameters: `a`, `b`');
  });

  it("refuses a cursor of another query, and a forged one outside the partner's range, with a 400 (never a 500)", async () => {
    // Prepare: a cursor of the segment partner's list, of a search, and of the plain list.
    const ofSegment = (await restCall(stack, '/cohorts?partner=segment&limit=1')).body.next_cursor;
    const ofSearch = (await restCall(stack, '/cohorts?q=cohort&limit=1')).body.next_cursor as string;
    const ofPlain = (await restCall(stack, '/cohorts?limit=1')).body.next_cursor as string;
    const forged = Buffer.from(JSON.stringify({ after: 'zzz' })).toString('base64url');

    // Act / Assess: each used with another query.
    for (const query of [
      `partner=heap&cursor=${encodeURIComponent(ofSegment)}`,
      `partner=heap&cursor=${encodeURIComponent(ofPlain)}`,
      `q=other&cursor=${encodeURIComponent(ofSearch)}`,
      `order=desc&cursor=${encodeURIComponent(ofPlain)}`,
      `cursor=${encodeURIComponent(ofSearch)}`,
    ]) {
      const answer = await restCall(stack, `/cohorts?${query}`);
      expect(answer.status, query).toBe(400);
      expect(answer.body.message, query).toContain('`cursor`');
    }
    // A cohorts cursor on another list.
    expect((await restCall(stack, `/segments?cursor=${encodeURIComponent(ofPlain)}`)).status).toBe(400);
    // A forged cursor of the plain list's kind, outside heap's range (DynamoDB would refuse the start key).
    const outside = await restCall(stack, `/cohorts?partner=heap&cursor=${encodeURIComponent(forged)}`);
    expect(outside.status).toBe(400);
    // The same query continues with its own cursor.
    expect((await restCall(stack, `/cohorts?q=cohort&limit=1&cursor=${encodeURIComponent(ofSearch)}`)).status).toBe(
      200,
    );
  });
});

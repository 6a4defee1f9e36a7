/**
 * The console on a workspace of thousands of cohorts, in Chromium: the Cohorts page asks one
 * page at a time and searches on the server as the user types; the segment builder's cohort
 * picker does the same; no view asks for the whole list. Cohorts are written straight into
 * DynamoDB Local (3,000 through the partner API would take minutes), in the store's layout.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { cohortKey, laneSortKey } from '../../lib/dynamodb/membership-store.js';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { buildConsole } from '../../scripts/console.js';
import { launchChromium, type Browser } from '../support/browser.js';
import { restCall } from '../support/client.js';
import { putCohortListItems } from '../support/cohort-list.js';
import { startTestStack } from '../support/stack.js';

const COHORTS = 3_000;
/** The one cohort whose name holds "Zebra", far down the id order. */
const NEEDLE = { cohortId: 'c2718', name: 'Zebra crossing — weekend walkers' };
/** A name and an id of the lengths that broke the layout (884 characters; 190). */
const LONG = { cohortId: `c0001-${'x'.repeat(184)}`, name: `Loyal ${'weekend '.repeat(109)}`.trim() };

let stack: LocalStack;
let browser: Browser;
let page: Page;
let consoleFolder: string;
/** Every /cohorts list request the page made (its query). */
const listRequests: URLSearchParams[] = [];

beforeAll(async () => {
  consoleFolder = await buildConsole(await mkdtemp(join(tmpdir(), 'console-build-')));
  stack = await startTestStack({ consoleFolder, poll: false });
  await putCohortListItems(
    stack,
    Array.from({ length: COHORTS }, (_, index) => {
      const cohortId = index === 1 ? LONG.cohortId : `c${String(index).padStart(4, '0')}`;
      const name = cohortId === NEEDLE.cohortId ? NEEDLE.name : index === 1 ? LONG.name : `Weekly cohort ${index}`;
      return { partner: 'heap', cohortId, name };
    }),
  );
  browser = await launchChromium();
  page = await browser.newPage();
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.pathname === '/cohorts' && request.resourceType() === 'fetch') listRequests.push(url.searchParams);
  });
  await page.goto(`${stack.url}/`);
  await page.getByLabel('REST API key').fill(stack.workspace.restApiKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation').waitFor();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  if (consoleFolder) await rm(consoleFolder, { recursive: true, force: true });
});

const rowsOf = (table: string) => page.getByRole('table', { name: table }).getByRole('row');
/** Whether the page is wider than the window (a long name pushing it out). */
const overflows = () => page.evaluate<boolean>('document.documentElement.scrollWidth > window.innerWidth');

describe('the console at a workspace of 3,000 cohorts', () => {
  it('lists the cohorts a page at a time, and finds one far down by searching on the server', async () => {
    // Act
    await page.getByRole('navigation').getByRole('link', { name: 'Cohorts', exact: true }).click();
    const rows = rowsOf('Cohorts of this workspace');
    await expect.poll(() => rows.count(), { timeout: 30_000 }).toBe(101);
    // The 884-character name and the 190-character id are on the first page: cut, the page no wider.
    await page.getByRole('link', { name: LONG.name }).waitFor();
    expect(await overflows()).toBe(false);
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await overflows()).toBe(false);
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.getByRole('button', { name: 'Show more' }).click();
    await expect.poll(() => rows.count(), { timeout: 30_000 }).toBe(201);
    listRequests.length = 0;
    await page.getByLabel('Search cohorts by name or id').fill('zebra');

    // Assess: the match alone, asked of the server with the search; no page larger than 100.
    await expect.poll(() => rows.count(), { timeout: 30_000 }).toBe(2);
    await page.getByRole('link', { name: NEEDLE.name }).waitFor();
    expect(listRequests.some((query) => query.get('q') === 'zebra')).toBe(true);
    expect(listRequests.every((query) => Number(query.get('limit')) <= 100)).toBe(true);
    expect(browser.incidents).toEqual([]);
  });

  it('counts a search as the API does (an emoji is one character): 200 are asked for, 201 are refused in the page, asking nothing', async () => {
    // Prepare
    await page.getByRole('navigation').getByRole('link', { name: 'Cohorts', exact: true }).click();
    const box = page.getByLabel('Search cohorts by name or id');
    await box.waitFor();
    listRequests.length = 0;

    // Act: 200 emoji (400 UTF-16 units): kept whole and asked for.
    await box.fill('🎉'.repeat(200));
    await expect
      .poll(() => listRequests.some((query) => query.get('q') === '🎉'.repeat(200)), { timeout: 30_000 })
      .toBe(true);
    const kept = await box.inputValue();
    listRequests.length = 0;
    await box.fill('🎉'.repeat(201));
    await page.getByRole('alert').getByText('A search is at most 200 characters').waitFor();
    await box.fill('');
    await expect.poll(() => listRequests.some((query) => !query.has('q')), { timeout: 30_000 }).toBe(true);

    // Assess: nothing asked with the 201-character text; the alert gone once it is shortened.
    expect([...kept].length).toBe(200);
    expect(listRequests.some((query) => (query.get('q') ?? '').length > 400)).toBe(false);
    expect(await page.getByText('A search is at most 200 characters').count()).toBe(0);
    expect(browser.incidents).toEqual([]);
  });

  it('drops a "Show more" answer that arrives after the search changed', async () => {
    // Prepare: the next page of the plain list is held until the user has searched.
    await page.getByRole('navigation').getByRole('link', { name: 'Segments', exact: true }).click();
    await page.getByRole('navigation').getByRole('link', { name: 'Cohorts', exact: true }).click();
    const rows = rowsOf('Cohorts of this workspace');
    await expect.poll(() => rows.count(), { timeout: 30_000 }).toBe(101);
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    await page.route(
      (url) => url.pathname === '/cohorts' && url.searchParams.has('cursor') && !url.searchParams.has('q'),
      async (route) => {
        await held;
        await route.continue();
      },
    );
    await page.getByRole('button', { name: 'Show more' }).click();
    await page.getByLabel('Search cohorts by name or id').fill('zebra');
    await expect.poll(() => rows.count(), { timeout: 30_000 }).toBe(2);

    // Act: the old page's answer arrives, and the page renders what it does with it.
    const answered = page.waitForResponse((response) => new URL(response.url()).searchParams.has('cursor'));
    release();
    await answered;
    await page.evaluate('new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))');

    // Assess: still the search's one match.
    expect(await rows.count()).toBe(2);
    await page.getByRole('link', { name: NEEDLE.name }).waitFor();
    await page.unroute((url) => url.pathname === '/cohorts');
  });

  it('picks a cohort in the segment builder by searching the server as the user types', async () => {
    // Act
    listRequests.length = 0;
    await page.getByRole('navigation').getByRole('link', { name: 'Segments', exact: true }).click();
    await page.getByRole('link', { name: 'New segment' }).click();
    await page.getByLabel('Segment name').fill('Zebra walkers');
    await page.getByLabel('Search cohorts by name').fill('ZEBRA CROSS');

    // Assess: the only match is chosen; the picker asked one partner's cohorts with the search.
    await expect
      .poll(() => page.getByLabel('Cohort', { exact: true }).inputValue(), { timeout: 30_000 })
      .toBe(NEEDLE.cohortId);
    expect(listRequests.some((query) => query.get('q') === 'ZEBRA CROSS' && query.get('partner') === 'heap')).toBe(
      true,
    );
    expect(listRequests.every((query) => Number(query.get('limit')) <= 100)).toBe(true);
    // A search that shows the long-named cohort keeps the builder within the window.
    await page.getByLabel('Search cohorts by name').fill('loyal weekend');
    await expect
      .poll(() => page.getByLabel('Cohort', { exact: true }).inputValue(), { timeout: 30_000 })
      .toBe(LONG.cohortId);
    expect(await overflows()).toBe(false);
    // And at a phone's width.
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await overflows()).toBe(false);
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.getByLabel('Search cohorts by name').fill('zebra');
    await expect
      .poll(() => page.getByLabel('Cohort', { exact: true }).inputValue(), { timeout: 30_000 })
      .toBe(NEEDLE.cohortId);
    await page.getByRole('button', { name: 'Save segment' }).click();
    await page.getByRole('heading', { level: 1, name: 'Zebra walkers' }).waitFor({ timeout: 30_000 });
    expect(browser.incidents).toEqual([]);
  });

  it('picks segments for a campaign by searching the server, never loading the whole list', async () => {
    // Prepare: 120 segments (more than a picker's 50), one of them "Heron spotters".
    let heronId = '';
    for (let index = 0; index < 120; index += 1) {
      const answer = await restCall(stack, '/segments', {
        body: {
          name: index === 77 ? 'Heron spotters' : `Segment ${index}`,
          filter: {
            cohort: { partner: 'heap', cohort_id: `c${String(index + 100).padStart(4, '0')}`, includes: true },
          },
        },
      });
      expect(answer.status).toBe(201);
      if (index === 77) heronId = answer.body.segment.segment_id;
    }
    // Segment ids are random: whether "Heron spotters" is among the first 50 decides how many boxes show.
    const firstFifty = (await restCall(stack, '/segments?limit=50')).body.segments.map(
      (segment: { segment_id: string }) => segment.segment_id,
    );
    const boxes = firstFifty.includes(heronId) ? 50 : 51;
    const segmentRequests: URLSearchParams[] = [];
    const watch = (request: { url(): string; resourceType(): string }) => {
      const url = new URL(request.url());
      if (url.pathname === '/segments' && request.resourceType() === 'fetch') segmentRequests.push(url.searchParams);
    };
    page.on('request', watch);

    // Act
    await page.getByRole('navigation').getByRole('link', { name: 'Campaigns', exact: true }).click();
    await page.getByRole('link', { name: 'New campaign' }).click();
    const searched = page.waitForResponse((response) => new URL(response.url()).searchParams.get('q') === 'heron');
    await page.getByLabel('Search segments by name or id').fill('heron');
    await searched;
    // The search's one match alone (the first page may have shown it too: wait for the answer, not for the box).
    await expect.poll(() => page.getByRole('checkbox').count(), { timeout: 90_000 }).toBe(1);
    const heron = page.getByRole('checkbox', { name: 'Heron spotters' });
    await heron.check({ timeout: 90_000 });
    await page.getByLabel('Search segments by name or id').fill('');

    // Assess: still chosen (shown first) when the search would not show it; every request a page of 50 at most.
    await expect.poll(() => page.getByRole('checkbox').count(), { timeout: 90_000 }).toBe(boxes);
    expect(await heron.isChecked()).toBe(true);
    expect(segmentRequests.some((query) => query.get('q') === 'heron')).toBe(true);
    expect(segmentRequests.every((query) => Number(query.get('limit')) <= 50)).toBe(true);
    expect(browser.incidents).toEqual([]);
    page.off('request', watch);
  });

  it("shows in the segment picker the size each segment's counts decide or its last job counted, or that it is unknown, asking nothing more", async () => {
    // Prepare: cohort c0044 as one synced before list items kept a copy of the count (its count
    // is not known to a list), c0046 with its copy (42); a segment on c0046, two on c0044, one
    // of them with a size a job stored (written as the job writes it: this stack runs no job).
    const listItem = (cohortId: string, update: string, values: Record<string, unknown>) =>
      stack.clients.documents.send(
        new UpdateCommand({
          TableName: stack.tables.cohorts,
          Key: { pk: `${stack.workspace.workspaceId}#COHORTS`, sk: `heap#${cohortId}` },
          UpdateExpression: update,
          ExpressionAttributeValues: values,
        }),
      );
    await listItem('c0044', 'SET lastSyncedAt = :at', { ':at': new Date().toISOString() });
    await listItem('c0046', 'SET lastSyncedAt = :at, memberCount = :count, countReadAt = :at', {
      ':at': new Date().toISOString(),
      ':count': 42,
    });
    // Its count lane agrees (an exact read that found it otherwise would correct the copy).
    await stack.clients.documents.send(
      new PutCommand({
        TableName: stack.tables.cohorts,
        Item: {
          pk: cohortKey({ workspaceId: stack.workspace.workspaceId, partner: 'heap', cohortId: 'c0046' }),
          sk: laneSortKey(0),
          members: 42,
        },
      }),
    );
    const segment = async (name: string, cohortId = 'c0044') =>
      (
        await restCall(stack, '/segments', {
          body: { name, filter: { any: [{ cohort: { partner: 'heap', cohort_id: cohortId, includes: true } }] } },
        })
      ).body.segment.segment_id as string;
    const countedId = await segment('Osprey counted');
    await segment('Osprey uncounted');
    await segment('Osprey from counts', 'c0046');
    await stack.clients.documents.send(
      new UpdateCommand({
        TableName: stack.tables.cohorts,
        Key: { pk: `${stack.workspace.workspaceId}#SEGMENTS`, sk: countedId },
        UpdateExpression: 'SET computedSize = :size',
        ExpressionAttributeValues: { ':size': { value: 1234, computedAt: new Date().toISOString() } },
      }),
    );
    const asked: string[] = [];
    const watch = (request: { url(): string; resourceType(): string }) => {
      if (request.resourceType() === 'fetch') asked.push(new URL(request.url()).pathname);
    };

    // Act
    await page.getByRole('navigation').getByRole('link', { name: 'Campaigns', exact: true }).click();
    await page.getByRole('link', { name: 'New campaign' }).click();
    await page.getByLabel('Search segments by name or id').waitFor();
    page.on('request', watch);
    const searched = page.waitForResponse((response) => new URL(response.url()).searchParams.get('q') === 'osprey');
    await page.getByLabel('Search segments by name or id').fill('osprey');
    await searched;
    await expect.poll(() => page.getByRole('checkbox').count(), { timeout: 90_000 }).toBe(3);
    const labels = await page.locator('label.choice', { hasText: 'Osprey' }).allTextContents();
    page.off('request', watch);

    // Assess: the stored size, or "size unknown"; only list requests (the search, and the picker's
    // first page if it was still on its way when the watch began): no segment read, no job started.
    expect(labels.map((label) => label.replace(/\s+/g, ' ').trim()).sort()).toEqual([
      'Osprey counted · 1,234 users when last computed',
      'Osprey from counts · 42 users',
      'Osprey uncounted · size unknown',
    ]);
    expect([...new Set(asked)]).toEqual(['/segments']);
    expect(browser.incidents).toEqual([]);
  });

  it('shows a deleted targeted segment as deleted, with its id, in the list and on the campaign (no link to a 404)', async () => {
    // Prepare: a campaign on two segments, one of them then deleted.
    const segment = async (name: string) =>
      (
        await restCall(stack, '/segments', {
          body: { name, filter: { cohort: { partner: 'heap', cohort_id: 'c0042', includes: true } } },
        })
      ).body.segment.segment_id as string;
    const keptId = await segment('Kept target');
    const goneId = await segment('Soon deleted');
    const created = await restCall(stack, '/campaigns', {
      body: {
        name: 'Orphaned target',
        segment_ids: [keptId, goneId],
        message: { url: 'https://hooks.example.com/x', body: '{}' },
        delivery: { type: 'scheduled' },
      },
    });
    expect(created.status).toBe(201);
    expect((await restCall(stack, `/segments/${goneId}`, { method: 'DELETE' })).status).toBe(200);
    const label = `Deleted segment (id ${goneId})`;

    // Act
    await page.getByRole('navigation').getByRole('link', { name: 'Campaigns', exact: true }).click();
    const row = page.getByRole('table', { name: 'Campaigns' }).getByRole('row', { name: /Orphaned target/ });
    await row.waitFor({ timeout: 90_000 });
    const listed = await row.getByRole('cell').nth(1).textContent();
    await row.getByRole('link', { name: 'Orphaned target' }).click();
    const deleted = page.getByTestId('deleted-segment');
    await deleted.waitFor({ timeout: 90_000 });

    // Assess
    expect(listed).toBe(`Kept target, ${label}`);
    expect(await deleted.textContent()).toBe(label);
    expect(await page.getByRole('link', { name: 'Kept target' }).count()).toBe(1);
    expect(await page.locator(`a[href$="${goneId}"]`).count()).toBe(0);
    expect(browser.incidents).toEqual([]);
  });

  it('keeps a name that starts with a right-to-left override to itself: the next target and the page title read as written', async () => {
    // Prepare: a campaign on a segment named with U+202E first, then one named in plain text.
    const segment = async (name: string) =>
      (
        await restCall(stack, '/segments', {
          body: { name, filter: { cohort: { partner: 'heap', cohort_id: 'c0043', includes: true } } },
        })
      ).body.segment.segment_id as string;
    const overrideName = '\u202EReversed on purpose';
    const overrideId = await segment(overrideName);
    const plainId = await segment('Plain after');
    const created = await restCall(stack, '/campaigns', {
      body: {
        name: 'Bidi neighbours',
        segment_ids: [overrideId, plainId],
        message: { url: 'https://hooks.example.com/x', body: '{}' },
        delivery: { type: 'scheduled' },
      },
    });
    expect(created.status).toBe(201);
    /** Whether `text` inside the first `selector` element holding it is laid out left to right (its first letter left of its last). */
    const readsLeftToRight = (selector: string, text: string) =>
      page.evaluate<boolean | undefined>(`(() => {
        const text = ${JSON.stringify(text)};
        const holder = [...document.querySelectorAll(${JSON.stringify(selector)})].find((element) => element.textContent.includes(text));
        if (!holder) return undefined;
        const walker = document.createTreeWalker(holder, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
          const at = node.textContent.indexOf(text);
          if (at < 0) continue;
          const left = (offset) => {
            const range = document.createRange();
            range.setStart(node, offset);
            range.setEnd(node, offset + 1);
            return range.getBoundingClientRect().left;
          };
          return left(at) < left(at + text.length - 1);
        }
        return undefined;
      })()`);

    // Act
    await page.getByRole('navigation').getByRole('link', { name: 'Campaigns', exact: true }).click();
    const row = page.getByRole('table', { name: 'Campaigns' }).getByRole('row', { name: /Bidi neighbours/ });
    await row.waitFor({ timeout: 90_000 });
    const targetsReadRight = await readsLeftToRight('td', 'Plain after');
    await page.evaluate(`location.hash = ${JSON.stringify(`#/segments/${encodeURIComponent(overrideId)}`)}`);
    await page.locator('h1 bdi').filter({ hasText: 'Reversed on purpose' }).waitFor({ timeout: 90_000 });

    // Assess: the override ends with its name, in the page and in the window's title
    expect(targetsReadRight).toBe(true);
    expect(await page.title()).toBe(`\u2068${overrideName}\u2069 · Cohort import console`);
    expect(browser.incidents).toEqual([]);
  });

  it('finds a cohort past the first 5,000 by typing its name: its search asks on by itself, on the Cohorts page and in the builder', async () => {
    // Prepare: 7,200 more cohorts, then one after them all in id order: a search reads 5,000
    // cohorts a request, so its first two requests match nothing (the tour at 10,000 cohorts
    // found the builder's picker never offering such a cohort, and the Cohorts page saying
    // "No cohort matches the search.").
    await putCohortListItems(
      stack,
      Array.from({ length: 7_200 }, (_, index) => ({
        partner: 'heap',
        cohortId: `d${String(index).padStart(4, '0')}`,
        name: `Daily cohort ${index}`,
      })),
    );
    const far = { cohortId: 'z-far', name: 'Quokka spotters' };
    await putCohortListItems(stack, [{ partner: 'heap', ...far }]);
    const searches: URLSearchParams[] = [];
    let inFlight = 0;
    let most = 0;
    const isSearch = (request: { url(): string; resourceType(): string }) =>
      request.resourceType() === 'fetch' && new URL(request.url()).searchParams.get('q') === 'quokka';
    const started = (request: { url(): string; resourceType(): string }) => {
      if (!isSearch(request)) return;
      searches.push(new URL(request.url()).searchParams);
      inFlight += 1;
      most = Math.max(most, inFlight);
    };
    const ended = (request: { url(): string; resourceType(): string }) => {
      if (isSearch(request)) inFlight -= 1;
    };
    page.on('request', started);
    page.on('requestfinished', ended);
    page.on('requestfailed', ended);

    // Act
    await page.getByRole('navigation').getByRole('link', { name: 'Cohorts', exact: true }).click();
    await page.getByLabel('Search cohorts by name or id').fill('quokka');

    // Assess: found by typing, no "Search further" asked of the user; the search's requests
    // followed one another (each after the cursor of the last), never two at once.
    await page.getByRole('link', { name: far.name }).waitFor({ timeout: 30_000 });
    expect(await page.getByRole('button', { name: 'Search further' }).count()).toBe(0);
    expect(searches.filter((query) => query.has('cursor')).length).toBeGreaterThanOrEqual(2);
    expect(most).toBe(1);

    // Act: the builder's picker, the same search.
    await page.getByRole('navigation').getByRole('link', { name: 'Segments', exact: true }).click();
    await page.getByRole('link', { name: 'New segment' }).click();
    await page.getByLabel('Search cohorts by name').fill('quokka');

    // Assess: its only match is chosen.
    await expect
      .poll(() => page.getByLabel('Cohort', { exact: true }).inputValue(), { timeout: 30_000 })
      .toBe(far.cohortId);
    expect(searches.some((query) => query.get('partner') === 'heap' && query.has('cursor'))).toBe(true);
    expect(browser.incidents).toEqual([]);
    page.off('request', started);
    page.off('requestfinished', ended);
    page.off('requestfailed', ended);
  });
});

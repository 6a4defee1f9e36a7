/**
 * `npm run bench -- --scenario console [--cohorts 10000 --segments 1000 --campaigns 200 --users 100000 --samples 20]`
 *
 * The console and its lists at a real workspace's size, on the local stack: N users, 10,000
 * cohorts (list items with their counts, written straight into DynamoDB Local), 1,000 segments
 * and 200 campaigns (created over the API). Then:
 * - every list API page over HTTP (first page, a later page by cursor, newest first, a search
 *   for a rare name): `samples` requests each, p50 / p95 / max milliseconds;
 * - in Debian's Chromium (playwright-core), each console page from the click in the navigation
 *   to its first meaningful content (the first row of its list, or its form), and the most
 *   requests one view had in flight at once.
 * Goals (issue 18): list pages < 200 ms, first meaningful content < 1 s, one request in flight per
 * view. Writes bench/results/console-<time>.json and console-latest.json.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startLocalStack } from '../local/stack.js';
import { buildConsole } from '../scripts/console.js';
import { launchChromium } from '../test/support/browser.js';
import { log, machineDescription, now, percentile } from './lib/harness.js';
import { seededCohortName, seedWorkspace } from './lib/workspace-seed.js';

process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.POWERTOOLS_TRACE_ENABLED ??= 'false';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'console' },
    users: { type: 'string', default: '100000' },
    cohorts: { type: 'string', default: '10000' },
    segments: { type: 'string', default: '1000' },
    campaigns: { type: 'string', default: '200' },
    samples: { type: 'string', default: '20' },
    writers: { type: 'string', default: '16' },
    latest: { type: 'string', default: 'yes' },
  },
});
const USERS = Number(values.users);
const COHORTS = Number(values.cohorts);
const SEGMENTS = Number(values.segments);
const CAMPAIGNS = Number(values.campaigns);
const SAMPLES = Number(values.samples);
const WRITERS = Number(values.writers);
const LIST_GOAL_MS = 200;
const CONTENT_GOAL_MS = 1_000;

const consoleFolder = await buildConsole(await mkdtemp(join(tmpdir(), 'console-bench-')));
const stack = await startLocalStack({
  prefix: `console${Date.now().toString(36)}`,
  poll: false,
  consoleFolder,
  requestsPerHour: 1e9,
  exportsFolder: 'bench/.exports',
});
const browser = await launchChromium();
try {
  const auth = { authorization: `Bearer ${stack.workspace.restApiKey}` };
  const api = async (path: string) => {
    const response = await fetch(`${stack.url}${path}`, { headers: auth });
    const answer = (await response.json()) as Record<string, unknown>;
    if (!response.ok) throw new Error(`${path}: ${response.status} ${JSON.stringify(answer)}`);
    return answer;
  };

  // --- the workspace ------------------------------------------------------------------------
  await seedWorkspace(
    stack,
    { users: USERS, cohorts: COHORTS, segments: SEGMENTS, campaigns: CAMPAIGNS },
    { writers: WRITERS },
  );

  // --- list API pages -----------------------------------------------------------------------
  const lists: Record<string, { p50: number; p95: number; max: number; items: number }> = {};
  const time = async (name: string, path: () => Promise<string>, field: string) => {
    const samples: number[] = [];
    let items = 0;
    for (let sample = 0; sample < SAMPLES; sample += 1) {
      const target = await path();
      const started = now();
      const answer = await api(target);
      samples.push(now() - started);
      items = (answer[field] as unknown[]).length;
    }
    lists[name] = { p50: percentile(samples, 50), p95: percentile(samples, 95), max: Math.max(...samples), items };
  };
  const cursorAfter = async (path: string, pages: number) => {
    let cursor: string | null = null;
    for (let page = 0; page < pages; page += 1) {
      const answer = await api(
        `${path}${path.includes('?') ? '&' : '?'}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      cursor = answer.next_cursor as string | null;
    }
    return cursor;
  };
  const cohortsPage50 = await cursorAfter('/cohorts', 50);
  const segmentsPage5 = await cursorAfter('/segments', 5);
  log('timing list pages');
  await time('GET /cohorts (first 100)', async () => '/cohorts?limit=100', 'cohorts');
  if (cohortsPage50)
    await time(
      'GET /cohorts (page 51, by cursor)',
      async () => `/cohorts?limit=100&cursor=${encodeURIComponent(cohortsPage50!)}`,
      'cohorts',
    );
  await time('GET /cohorts?order=desc', async () => '/cohorts?limit=100&order=desc', 'cohorts');
  await time('GET /cohorts?q=heron (1 in 1,000)', async () => '/cohorts?limit=100&q=heron', 'cohorts');
  await time(
    'GET /cohorts?partner=heap&q=c0999 (id prefix)',
    async () => '/cohorts?limit=100&partner=heap&q=c0999',
    'cohorts',
  );
  await time('GET /segments (first 100)', async () => '/segments?limit=100', 'segments');
  if (segmentsPage5)
    await time(
      'GET /segments (page 6, by cursor)',
      async () => `/segments?limit=100&cursor=${encodeURIComponent(segmentsPage5!)}`,
      'segments',
    );
  await time('GET /segments?q=heron', async () => '/segments?limit=100&q=heron', 'segments');
  await time('GET /campaigns (first 100)', async () => '/campaigns?limit=100', 'campaigns');
  await time('GET /campaigns?q=heron', async () => '/campaigns?limit=100&q=heron', 'campaigns');

  // --- the console in Chromium --------------------------------------------------------------
  log('timing console pages in Chromium');
  const page = await browser.newPage();
  // Requests in flight per view: per API resource (a page's lists each have their own:
  // Campaigns shows /campaigns and /canvases), every fetch to the API counted.
  const inFlight = new Map<string, number>();
  let mostInFlight = 0;
  const resourceOf = (request: { resourceType(): string; url(): string }) => {
    if (request.resourceType() !== 'fetch') return undefined;
    const url = new URL(request.url());
    return url.origin === new URL(stack.url).origin ? `/${url.pathname.split('/')[1]}` : undefined;
  };
  page.on('request', (request) => {
    const resource = resourceOf(request);
    if (resource === undefined) return;
    inFlight.set(resource, (inFlight.get(resource) ?? 0) + 1);
    mostInFlight = Math.max(mostInFlight, inFlight.get(resource)!);
  });
  const settle = (request: { resourceType(): string; url(): string }) => {
    const resource = resourceOf(request);
    if (resource !== undefined) inFlight.set(resource, (inFlight.get(resource) ?? 1) - 1);
  };
  /** Until the previous page's requests have finished (so none is counted against the next), at most 10 s. */
  const quiet = async () => {
    for (let waited = 0; [...inFlight.values()].some((count) => count > 0); waited += 20) {
      if (waited > 10_000) throw new Error(`requests still in flight after 10 s: ${JSON.stringify([...inFlight])}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  page.on('requestfinished', settle);
  page.on('requestfailed', settle);
  await page.goto(`${stack.url}/`);
  await page.getByLabel('REST API key').fill(stack.workspace.restApiKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation').waitFor();
  const pages: Record<string, { ms: number[]; mostInFlight: number }> = {};
  /** From `open` (after `prepare`, untimed) to `content`, a few times. */
  const measure = async (
    name: string,
    open: () => Promise<void>,
    content: () => Promise<void>,
    prepare: () => Promise<void> = async () => undefined,
  ) => {
    const ms: number[] = [];
    mostInFlight = 0;
    for (let sample = 0; sample < Math.min(SAMPLES, 5); sample += 1) {
      await page.goto(`${stack.url}/#/`);
      await page.getByRole('navigation').waitFor();
      await prepare();
      await quiet();
      const started = now();
      await open();
      await content();
      ms.push(now() - started);
    }
    pages[name] = { ms, mostInFlight };
  };
  const nav = (name: string) => page.getByRole('navigation').getByRole('link', { name, exact: true }).click();
  await measure(
    'Cohorts',
    () => nav('Cohorts'),
    () => page.getByRole('table', { name: 'Cohorts of this workspace' }).getByRole('row').nth(1).waitFor(),
  );
  await measure(
    'Cohorts, typing "heron" → its match (300 ms pause included)',
    () => page.getByLabel('Search cohorts by name or id').fill('heron'),
    () => page.getByRole('link', { name: seededCohortName(777), exact: true }).waitFor(),
    async () => {
      await nav('Cohorts');
      await page.getByRole('table', { name: 'Cohorts of this workspace' }).getByRole('row').nth(1).waitFor();
    },
  );
  await measure(
    'Segments',
    () => nav('Segments'),
    () => page.getByRole('table', { name: 'Segments of this workspace' }).getByRole('row').nth(1).waitFor(),
  );
  await measure(
    'New segment (builder ready)',
    async () => {
      await nav('Segments');
      await page.getByRole('link', { name: 'New segment' }).click();
    },
    () => page.getByLabel('Segment name').waitFor(),
  );
  await measure(
    'Campaigns',
    () => nav('Campaigns'),
    () =>
      page
        .getByRole('link', { name: /^Campaign \d+$/ })
        .first()
        .waitFor(),
  );

  // --- figures ------------------------------------------------------------------------------
  const result = {
    at: new Date().toISOString(),
    scenario: 'console',
    machine: machineDescription(),
    parameters: { users: USERS, cohorts: COHORTS, segments: SEGMENTS, campaigns: CAMPAIGNS, samples: SAMPLES },
    lists,
    pages: Object.fromEntries(
      Object.entries(pages).map(([name, figures]) => [
        name,
        { p50: percentile(figures.ms, 50), max: Math.max(...figures.ms), mostInFlight: figures.mostInFlight },
      ]),
    ),
    goals: { listMs: LIST_GOAL_MS, contentMs: CONTENT_GOAL_MS },
  };
  const { machine } = result;
  console.log(
    `\nConsole at scale, ${result.at} — ${machine.cpus} × ${machine.cpu}, ${machine.memoryGb} GiB, Node ${machine.node}`,
  );
  console.log(
    `${USERS.toLocaleString('en-US')} users, ${COHORTS.toLocaleString('en-US')} cohorts, ${SEGMENTS.toLocaleString('en-US')} segments, ${CAMPAIGNS} campaigns; ${SAMPLES} samples a list\n`,
  );
  console.log('list API page                                      p50 ms   p95 ms   max ms  items  goal');
  for (const [name, figures] of Object.entries(lists))
    console.log(
      `${name.padEnd(50)} ${figures.p50.toFixed(1).padStart(6)} ${figures.p95.toFixed(1).padStart(8)} ${figures.max.toFixed(1).padStart(8)} ${String(figures.items).padStart(6)}  ${figures.p95 < LIST_GOAL_MS ? 'met' : `MISSED (< ${LIST_GOAL_MS})`}`,
    );
  console.log('\nconsole page (click → first content)               p50 ms   max ms  in flight per view  goal');
  for (const [name, figures] of Object.entries(result.pages))
    console.log(
      `${name.padEnd(50)} ${figures.p50.toFixed(0).padStart(6)} ${figures.max.toFixed(0).padStart(8)} ${String(figures.mostInFlight).padStart(19)}  ${figures.max < CONTENT_GOAL_MS && figures.mostInFlight <= 1 ? 'met' : 'MISSED'}`,
    );
  await mkdir('bench/results', { recursive: true });
  const stampName = `console-${result.at.replace(/[:.]/g, '-')}`;
  await writeFile(`bench/results/${stampName}.json`, JSON.stringify(result, null, 2));
  if (values.latest !== 'no') await writeFile('bench/results/console-latest.json', JSON.stringify(result, null, 2));
  console.log(`\nSaved bench/results/${stampName}.json`);
} finally {
  await browser.close();
  await stack.stop();
  await rm(consoleFolder, { recursive: true, force: true });
}

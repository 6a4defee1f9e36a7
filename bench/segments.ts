/**
 * `npm run bench -- --scenario segments [--users 1000000 --cohorts 100 --writers 16 --samples 5 --limit 100]`
 *
 * Segments at scale on the local stack: N users and 100 cohorts of varied sizes (99 % of
 * the users down to a few hundred), written straight into DynamoDB Local with
 * BatchWriteItem (25 items × 16 in flight) under the stores' own keys, count lanes
 * included; then, for segments of several shapes, over HTTP:
 * - GET /segments/{id}: how long it takes to answer, and with what (exact, or the job's size);
 * - GET /segments/{id}/users?limit=100: the first page, how long, how many users;
 * - the size job: from creating the segment to its size being current, and its counting time;
 * each size and first page checked against an in-memory oracle of the same memberships.
 * Writes bench/results/segments-<time>.json and segments-latest.json.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { startLocalStack } from '../local/stack.js';
import { decodeCursor } from '../lib/segments/evaluate.js';
import type { Filter } from '../lib/segments/filter.js';
import { bulkWrite, log, machineDescription, now, percentile } from './lib/harness.js';
import { seededCohort, seededProfiles } from './lib/seeding.js';

process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.POWERTOOLS_TRACE_ENABLED ??= 'false';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'segments' },
    users: { type: 'string', default: '1000000' },
    cohorts: { type: 'string', default: '100' },
    writers: { type: 'string', default: '16' },
    samples: { type: 'string', default: '5' },
    limit: { type: 'string', default: '100' },
    latest: { type: 'string', default: 'yes' },
  },
});
const USERS = Number(values.users);
const COHORTS = Math.max(61, Number(values.cohorts));
const WRITERS = Number(values.writers);
const SAMPLES = Number(values.samples);
const LIMIT = Number(values.limit);

// --- the workspace, as a function: membership of user i in cohort k -----------------------
/** Cohort sizes: 99 %, 50 %, 25 %, 10 %, then 2 % shrinking by 7 % a cohort (2 % … ~0.002 %). */
const fractions = Array.from({ length: COHORTS }, (_, k) =>
  k === 0 ? 0.99 : k === 1 ? 0.5 : k === 2 ? 0.25 : k === 3 ? 0.1 : 0.02 * 0.93 ** (k - 4),
);
/** A 32-bit mix of (cohort, user) (murmur3's finalizer): independent memberships, reproducible without storing them. */
const mix = (k: number, i: number) => {
  let h = Math.imul(i ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(k + 1, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
};
const thresholds = fractions.map((fraction) => Math.floor(fraction * 2 ** 32));
const isMember = (k: number, i: number) => mix(k, i) < thresholds[k]!;
const cohortId = (k: number) => `c${String(k).padStart(3, '0')}`;

const test = (k: number, includes: boolean): Filter => ({
  cohort: { partner: 'heap', cohort_id: cohortId(k), includes },
});
const SHAPES: { name: string; filter: Filter }[] = [
  { name: 'includes (10 %)', filter: test(3, true) },
  { name: 'does not include (99 %)', filter: test(0, false) },
  { name: 'all: includes 50 % + excludes 25 %', filter: { all: [test(1, true), test(2, false)] } },
  { name: 'all: includes 99 % + includes 25 %', filter: { all: [test(0, true), test(2, true)] } },
  {
    name: 'any of 5 (10 %, 1.0 %, 0.5 %, 0.1 %, 0.03 %)',
    filter: { any: [test(3, true), test(10, true), test(20, true), test(40, true), test(60, true)] },
  },
  {
    name: 'nested: any(all(50 %, not 10 %), all(25 %, not 99 %))',
    filter: { any: [{ all: [test(1, true), test(3, false)] }, { all: [test(2, true), test(0, false)] }] },
  },
  { name: 'all: excludes 50 % + excludes 2 %', filter: { all: [test(1, false), test(4, false)] } },
];

const holds = (filter: Filter, i: number): boolean => {
  if ('cohort' in filter) return isMember(Number(filter.cohort.cohort_id.slice(1)), i) === filter.cohort.includes;
  return 'all' in filter ? filter.all.every((child) => holds(child, i)) : filter.any.some((child) => holds(child, i));
};

// ---------------------------------------------------------------------------------------
log(`segments: ${USERS.toLocaleString('en-US')} users, ${COHORTS} cohorts`);
const stack = await startLocalStack({
  prefix: `seg${Date.now().toString(36)}`,
  poll: true,
  // Seeding writes millions of registers straight into the table: no membership events for them.
  pollEvents: false,
  visibilityTimeoutSeconds: 180,
  watchEvents: false,
  exportsFolder: 'bench/.exports',
});

try {
  const workspaceId = stack.workspace.workspaceId;
  const documents = stack.clients.documents;
  const brazeIds = randomBytes(12 * USERS)
    .toString('hex')
    .match(/.{24}/g)!;
  /** Users in braze_id order, as segments serve them. */
  const order = Array.from({ length: USERS }, (_, i) => i).sort((a, b) => (brazeIds[a]! < brazeIds[b]! ? -1 : 1));

  const writeAll = (table: string, items: Iterator<Record<string, unknown>>, what: string) =>
    bulkWrite(documents, table, items, WRITERS, what);

  // --- seeding ---------------------------------------------------------------------------
  const seededAt = new Date().toISOString();
  // Profiles (with their byWorkspace keys) and the count lanes; not the identifier index
  // items, which segments never read (half the items to write).
  log(`seeding ${USERS.toLocaleString('en-US')} users (profiles) and the user count`);
  const usersWritten = await writeAll(
    stack.tables.users,
    seededProfiles(workspaceId, brazeIds, 'seg-user-', seededAt),
    'users',
  );

  const memberCounts = fractions.map(() => 0);
  log(`seeding ${COHORTS} cohorts (registers under their 32 shards, the cohort item, a count lane)`);
  function* cohortItems() {
    for (let k = 0; k < COHORTS; k += 1) {
      const members = function* () {
        for (let i = 0; i < USERS; i += 1) {
          if (!isMember(k, i)) continue;
          memberCounts[k]! += 1;
          yield brazeIds[i]!;
        }
      };
      yield* seededCohort({ workspaceId, partner: 'heap', cohortId: cohortId(k) }, `Cohort ${k}`, members(), seededAt);
    }
  }
  const registersWritten = await writeAll(stack.tables.cohorts, cohortItems(), 'memberships');
  const memberships = memberCounts.reduce((sum, count) => sum + count, 0);
  log(
    `${memberships.toLocaleString('en-US')} memberships; cohorts of ${Math.max(...memberCounts).toLocaleString('en-US')} down to ${Math.min(...memberCounts).toLocaleString('en-US')}`,
  );

  // --- the API ---------------------------------------------------------------------------
  const headers = { authorization: `Bearer ${stack.workspace.restApiKey}`, 'content-type': 'application/json' };
  const call = async <T>(path: string, init: { method?: string; body?: unknown } = {}) => {
    const started = now();
    const method = init.method ?? (init.body === undefined ? 'GET' : 'POST');
    const response = await fetch(`${stack.url}${path}`, {
      method,
      headers,
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
    const body = (await response.json()) as T;
    if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(body)}`);
    return { body, ms: now() - started };
  };
  interface SegmentAnswer {
    segment: {
      segment_id: string;
      size: number | null;
      size_status: string;
      size_computed_at: string | null;
      size_bounds: { min: number; max: number };
    };
  }
  interface PageAnswer {
    users: { braze_id: string }[];
    next_cursor: string | null;
  }

  const results = [];
  const problems: string[] = [];
  for (const shape of SHAPES) {
    log(`segment: ${shape.name}`);
    const audience: number[] = [];
    for (const i of order) if (holds(shape.filter, i)) audience.push(i);
    const expectedSize = audience.length;

    const created = await call<SegmentAnswer>('/segments', { body: { name: shape.name, filter: shape.filter } });
    const createdAt = now();
    const id = created.body.segment.segment_id;
    // Asked at once: the job, if any, is counting meanwhile (this machine's 2 cores are shared with it).
    const firstGet = await call<SegmentAnswer>(`/segments/${id}`);
    const firstPageDuringJob = await call<PageAnswer>(`/segments/${id}/users?limit=${LIMIT}`);
    let settled = firstGet.body.segment;
    while (settled.size_status !== 'exact' && settled.size_status !== 'current') {
      if (now() - createdAt > 60 * 60_000) throw new Error(`${shape.name}: no size after an hour`);
      await new Promise((resolve) => setTimeout(resolve, 200));
      settled = (await call<SegmentAnswer>(`/segments/${id}`)).body.segment;
    }
    const jobSeconds = settled.size_status === 'exact' ? 0 : (now() - createdAt) / 1000;
    const countingSeconds =
      settled.size_status === 'exact' ? 0 : (Date.now() - Date.parse(settled.size_computed_at!)) / 1000;

    // Quiet machine: the answers a user waits for.
    const getMs: number[] = [];
    const pageMs: number[] = [];
    let page: PageAnswer | undefined;
    for (let sample = 0; sample < SAMPLES; sample += 1) {
      const answered = await call<SegmentAnswer>(`/segments/${id}`);
      getMs.push(answered.ms);
      const served = await call<PageAnswer>(`/segments/${id}/users?limit=${LIMIT}`);
      pageMs.push(served.ms);
      page = served.body;
    }

    // Against the oracle: the size, and the page = the audience up to where the page stopped.
    const servedIds = page!.users.map((user) => user.braze_id);
    const resumeAfter = page!.next_cursor === null ? undefined : decodeCursor(page!.next_cursor);
    const expectedPage =
      servedIds.length === LIMIT || resumeAfter === undefined
        ? audience.slice(0, LIMIT).map((i) => brazeIds[i]!)
        : audience
            .map((i) => brazeIds[i]!)
            .filter((brazeId) => brazeId <= resumeAfter)
            .slice(0, LIMIT);
    if (settled.size !== expectedSize) problems.push(`${shape.name}: size ${settled.size}, expected ${expectedSize}`);
    if (JSON.stringify(servedIds) !== JSON.stringify(expectedPage))
      problems.push(`${shape.name}: first page differs from the oracle's`);
    if (settled.size_bounds.min > expectedSize || settled.size_bounds.max < expectedSize)
      problems.push(`${shape.name}: bounds ${JSON.stringify(settled.size_bounds)} miss ${expectedSize}`);

    const result = {
      shape: shape.name,
      filter: shape.filter,
      size: settled.size,
      expectedSize,
      status: settled.size_status,
      bounds: settled.size_bounds,
      createMs: created.ms,
      firstGet: { ms: firstGet.ms, status: firstGet.body.segment.size_status },
      firstPageDuringJobMs: firstPageDuringJob.ms,
      getMs: { median: percentile(getMs, 50), max: Math.max(...getMs) },
      firstPage: {
        median: percentile(pageMs, 50),
        max: Math.max(...pageMs),
        users: servedIds.length,
        more: page!.next_cursor !== null,
      },
      job: { toCurrentSeconds: jobSeconds, countingSeconds },
    };
    results.push(result);
    log(
      `  size ${settled.size?.toLocaleString('en-US')} (${settled.size_status}); GET ${result.getMs.median.toFixed(0)} ms; first page ${result.firstPage.median.toFixed(0)} ms, ${servedIds.length} users; job ${jobSeconds.toFixed(1)} s`,
    );
  }

  const run = {
    at: new Date().toISOString(),
    scenario: 'segments',
    machine: machineDescription(),
    parameters: { users: USERS, cohorts: COHORTS, writers: WRITERS, samples: SAMPLES, limit: LIMIT },
    seeding: {
      users: usersWritten,
      memberships: { ...registersWritten, count: memberships },
      largestCohort: Math.max(...memberCounts),
      smallestCohort: Math.min(...memberCounts),
    },
    segments: results,
    problems,
  };

  console.log(
    `\nSegments at scale, ${run.at} — ${run.machine.cpus} × ${run.machine.cpu}, ${run.machine.memoryGb} GiB, Node ${run.machine.node}`,
  );
  console.log(
    `${USERS.toLocaleString('en-US')} users, ${COHORTS} cohorts, ${memberships.toLocaleString('en-US')} memberships; DynamoDB Local on the same machine\n`,
  );
  console.log(
    '| segment | size | answered as | GET size (median / max) | first page of 100 (median / max) | users on it | job: create → current (counting) |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const result of results) {
    console.log(
      `| ${result.shape} | ${result.size?.toLocaleString('en-US')} | ${result.status} | ${result.getMs.median.toFixed(0)} / ${result.getMs.max.toFixed(0)} ms | ${result.firstPage.median.toFixed(0)} / ${result.firstPage.max.toFixed(0)} ms | ${result.firstPage.users}${result.firstPage.more ? ' + cursor' : ''} | ${result.job.toCurrentSeconds === 0 ? '—' : `${result.job.toCurrentSeconds.toFixed(1)} s (${result.job.countingSeconds.toFixed(1)} s)`} |`,
    );
  }
  console.log(
    problems.length === 0
      ? '\nevery size and first page verified against the oracle'
      : `\nNOT verified: ${problems.join('; ')}`,
  );

  await mkdir('bench/results', { recursive: true });
  const stampName = `segments-${run.at.replace(/[:.]/g, '-')}`;
  await writeFile(`bench/results/${stampName}.json`, JSON.stringify(run, null, 2));
  if (values.latest !== 'no') await writeFile('bench/results/segments-latest.json', JSON.stringify(run, null, 2));
  console.log(`Saved bench/results/${stampName}.json`);
  if (problems.length > 0) process.exitCode = 1;
} finally {
  await stack.stop();
}

/**
 * Segments on partner cohorts over the local stack: includes / does not include, all /
 * any, nesting, several partners; sizes (exact from counts, or computed by the size job,
 * stale after a sync, recomputed); paging with a cursor while memberships change, within
 * a read budget.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/constants.js';
import type { LocalStack } from '../../local/stack.js';
import { DynamoMembershipStore } from '../../lib/dynamodb/membership-store.js';
import { DynamoUserStore } from '../../lib/dynamodb/user-store.js';
import { audiencePage } from '../../lib/segments/service.js';
import { eventually, startTestStack } from '../support/stack.js';
import { partnerClient, restCall, workspaceClient } from '../support/client.js';

let stack: LocalStack;
let workspace: ReturnType<typeof workspaceClient>;
let heap: ReturnType<typeof partnerClient>;
let segment: ReturnType<typeof partnerClient>;
const brazeIdOf = new Map<string, string>();

const includes = (cohortId: string, partner = 'heap') => ({ cohort: { partner, cohort_id: cohortId, includes: true } });
const excludes = (cohortId: string, partner = 'heap') => ({
  cohort: { partner, cohort_id: cohortId, includes: false },
});

const syncAndWait = async (
  client: ReturnType<typeof partnerClient>,
  partner: string,
  cohortId: string,
  changes: unknown[],
) => {
  const before = (await workspace.cohort(partner, cohortId)).body.cohort?.sync_reports.length ?? 0;
  expect((await client.changeCohort(cohortId, changes)).status).toBe(201);
  await eventually(async () =>
    (await workspace.cohort(partner, cohortId)).body.cohort?.sync_reports.length > before ? true : undefined,
  );
};

/** The audience as external ids, read page by page through the cursor. */
const audience = async (segmentId: string, limit = 2): Promise<string[]> => {
  const seen: string[] = [];
  let cursor: string | null | undefined;
  do {
    const page = await workspace.segmentUsers(segmentId, { limit: String(limit), ...(cursor ? { cursor } : {}) });
    expect(page.status).toBe(200);
    seen.push(...page.body.users.map((user) => user.external_id ?? user.braze_id));
    cursor = page.body.next_cursor;
  } while (cursor);
  return seen;
};
const sortedByBrazeId = (externalIds: string[]) =>
  [...externalIds].sort((a, b) => (brazeIdOf.get(a)! < brazeIdOf.get(b)! ? -1 : 1));

/** GET the segment until its size is settled: exact, or computed and current. */
const settledSize = (segmentId: string, what = 'a settled size') =>
  eventually(
    async () => {
      const { body } = await workspace.segment(segmentId);
      return body.segment.size_status === 'exact' || body.segment.size_status === 'current' ? body.segment : undefined;
    },
    20_000,
    what,
  );

beforeAll(async () => {
  // Without the 30 s sync write window and the 1-minute recompute interval, so that the
  // tests need not wait them out (their defaults are unit-tested).
  stack = await startTestStack({
    partners: ['heap', 'segment'],
    segmentSizePolicy: { syncWriteWindowMs: 0, minRecomputeIntervalMs: 0, jobLeaseMs: 600_000 },
  });
  workspace = workspaceClient(stack);
  heap = partnerClient(stack, stack.workspace, 'heap');
  segment = partnerClient(stack, stack.workspace, 'segment');
  // Prepare: eight users; heap/a = u1–u4, heap/b = u3–u5, segment/c = u4, u6.
  await workspace.track(Array.from({ length: 8 }, (_, index) => ({ external_id: `u${index + 1}` })));
  const exported = await workspace.exportIds({
    external_ids: Array.from({ length: 8 }, (_, index) => `u${index + 1}`),
  });
  for (const user of exported.body.users) brazeIdOf.set(user.external_id!, user.braze_id);
  await heap.nameCohort('a', 'Cohort A');
  await syncAndWait(heap, 'heap', 'a', [{ user_ids: ['u1', 'u2', 'u3', 'u4'] }]);
  await syncAndWait(heap, 'heap', 'b', [{ user_ids: ['u3', 'u4', 'u5'] }]);
  await syncAndWait(segment, 'segment', 'c', [{ user_ids: ['u4', 'u6'] }]);
});
afterAll(() => stack?.stop());

describe('segments', () => {
  it.each([
    ['includes', includes('a'), ['u1', 'u2', 'u3', 'u4'], 'exact'],
    ['does not include, alone: the workspace minus the cohort', excludes('a'), ['u5', 'u6', 'u7', 'u8'], 'exact'],
    ['all, with an exclusion', { all: [includes('a'), excludes('b')] }, ['u1', 'u2'], 'computed'],
    ['any, across partners', { any: [includes('b'), includes('c', 'segment')] }, ['u3', 'u4', 'u5', 'u6'], 'computed'],
    [
      'nested',
      { any: [{ all: [includes('a'), excludes('b')] }, { all: [includes('b'), includes('c', 'segment')] }] },
      ['u1', 'u2', 'u4'],
      'computed',
    ],
  ] as const)('%s', async (_case, filter, expected, kind) => {
    // Act
    const created = await workspace.createSegment({ name: _case, filter });

    // Assess: exact from counts at once, or the first computation queued with the segment.
    expect(created.status).toBe(201);
    expect(created.body.segment).toMatchObject(
      kind === 'exact'
        ? { size: expected.length, size_status: 'exact', size_recomputing: false }
        : { size: null, size_status: 'pending', size_computed_at: null, size_recomputing: true },
    );
    const id = created.body.segment.segment_id;
    const settled = await settledSize(id);
    expect(settled).toMatchObject({
      name: _case,
      filter,
      size: expected.length,
      size_status: kind === 'exact' ? 'exact' : 'current',
      size_recomputing: false,
    });
    expect(settled.size_bounds.min).toBeLessThanOrEqual(expected.length);
    expect(settled.size_bounds.max).toBeGreaterThanOrEqual(expected.length);
    expect(await audience(id)).toEqual(sortedByBrazeId([...expected]));
  });

  it('answers a filter naming an unknown cohort with a 400 that says which', async () => {
    const response = await workspace.createSegment({
      name: 'x',
      filter: { all: [includes('a'), includes('nope'), includes('zz', 'segment')] },
    });
    expect(response.status).toBe(400);
    expect(response.body.message).toBe('Unknown cohorts in filter: heap/nope, segment/zz');
  });

  it('answers a malformed filter with a 400 that says what is wrong', async () => {
    const response = await workspace.createSegment({
      name: 'x',
      filter: { cohort: { partner: 'heap', cohort_id: 'a' } },
    });
    expect(response.status).toBe(400);
    expect(response.body.message).toMatch(/^Invalid filter: /);
  });

  it('lists each segment with the size its last job counted, null when no job has, and the size its counts decide, without queueing a job', async () => {
    // Prepare: a combination the job counts (u3–u6), and a single cohort whose size the counts give exactly (no job).
    const combined = (
      await workspace.createSegment({
        name: 'listed size b or c',
        filter: { any: [includes('b'), includes('c', 'segment')] },
      })
    ).body.segment.segment_id as string;
    const computed = await settledSize(combined, 'the computation');
    const single = (await workspace.createSegment({ name: 'listed size a', filter: includes('a') })).body.segment
      .segment_id as string;
    const outside = (
      await workspace.createSegment({
        name: 'listed size not a',
        filter: { cohort: { partner: 'heap', cohort_id: 'a', includes: false } },
      })
    ).body.segment.segment_id as string;
    await stack.settled();

    // Act
    const listed = await restCall(stack, '/segments?q=listed%20size');
    await stack.settled();

    // Assess
    const byId = new Map(
      (listed.body.segments as { segment_id: string; last_computed_size: unknown }[]).map((item) => [
        item.segment_id,
        item.last_computed_size,
      ]),
    );
    expect(byId.get(combined)).toEqual({ size: 4, computed_at: computed.size_computed_at });
    expect(byId.get(single)).toBeNull();
    // From counts: the cohort's count, the users outside it; not a union the counts only bound.
    const fromCounts = new Map(
      (listed.body.segments as { segment_id: string; size_from_counts: unknown }[]).map((item) => [
        item.segment_id,
        item.size_from_counts,
      ]),
    );
    expect(fromCounts.get(single)).toBe((await workspace.segment(single)).body.segment.size);
    expect(fromCounts.get(outside)).toBe((await workspace.segment(outside)).body.segment.size);
    expect(fromCounts.get(combined)).toBeNull();
    // Listing queued nothing: the single segment still has no computed size, the combination no job running.
    expect((await workspace.segment(combined)).body.segment).toMatchObject({ size_recomputing: false });
    expect((await restCall(stack, '/segments?q=listed%20size%20a')).body.segments[0].last_computed_size).toBeNull();
  });

  it('lists, renames and deletes segments', async () => {
    const created = await workspace.createSegment({ name: 'to rename', filter: includes('a') });
    const id = created.body.segment.segment_id;
    expect((await workspace.updateSegment(id, { name: 'renamed', filter: includes('b') })).body.segment).toMatchObject({
      name: 'renamed',
      filter: includes('b'),
    });
    expect((await workspace.segments()).body.segments.map((listed) => listed.name)).toContain('renamed');
    expect((await workspace.deleteSegment(id)).status).toBe(200);
    expect((await workspace.segment(id)).status).toBe(404);
    expect((await workspace.deleteSegment(id)).status).toBe(404);
  });

  it('lists segments and cohorts in pages that follow their cursor to the end, each once, in key order', async () => {
    // Prepare
    for (const name of ['page a', 'page b', 'page c']) await workspace.createSegment({ name, filter: includes('a') });
    const all = async (path: string, field: string) => {
      const keys: string[] = [];
      let cursor: string | null = null;
      for (let pages = 0; pages < 100; pages += 1) {
        const answer = await restCall(stack, `${path}?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        expect(answer.status).toBe(200);
        expect(answer.body[field].length).toBeLessThanOrEqual(1);
        keys.push(
          ...answer.body[field].map(
            (item: Record<string, string>) => item.segment_id ?? `${item.partner}#${item.cohort_id}`,
          ),
        );
        cursor = answer.body.next_cursor;
        if (cursor === null) break;
      }
      return { keys, cursor };
    };

    // Act
    const segments = await all('/segments', 'segments');
    const cohorts = await all('/cohorts', 'cohorts');

    // Assess
    for (const listed of [segments, cohorts]) {
      expect(listed.cursor).toBeNull();
      expect(new Set(listed.keys).size).toBe(listed.keys.length);
      expect(listed.keys).toEqual([...listed.keys].sort());
    }
    expect(segments.keys.length).toBeGreaterThanOrEqual(3);
    expect(cohorts.keys).toEqual(expect.arrayContaining(['heap#a', 'heap#b']));
    for (const query of ['limit=0', 'limit=501', 'cursor=nope'])
      for (const path of ['/segments', '/cohorts'])
        expect((await restCall(stack, `${path}?${query}`)).status).toBe(400);
  });

  it('pages through the audience while memberships change, never seeing a user twice', async () => {
    // Prepare: a segment of everyone in heap/b or segment/c.
    const id = (
      await workspace.createSegment({ name: 'moving', filter: { any: [includes('b'), includes('c', 'segment')] } })
    ).body.segment.segment_id;
    const ordered = sortedByBrazeId(['u3', 'u4', 'u5', 'u6']);
    const first = await workspace.segmentUsers(id, { limit: '1' });
    expect(first.body.users.map((user) => user.external_id)).toEqual(ordered.slice(0, 1));
    // A user not served yet and in heap/b only (u4 is in segment/c as well).
    const leaving = ordered.slice(1).find((user) => user === 'u3' || user === 'u5')!;

    // Act: that user leaves, another (u8) joins.
    await syncAndWait(heap, 'heap', 'b', [{ user_ids: [leaving], should_remove: true }, { user_ids: ['u8'] }]);
    const rest: string[] = [];
    let cursor = first.body.next_cursor;
    while (cursor) {
      const page = await workspace.segmentUsers(id, { limit: '2', cursor });
      rest.push(...page.body.users.map((user) => user.external_id!));
      cursor = page.body.next_cursor;
    }

    // Assess: the removal shows at once; every user served once, in braze_id order.
    const served = [...first.body.users.map((user) => user.external_id!), ...rest];
    expect(new Set(served).size).toBe(served.length);
    expect(rest).not.toContain(leaving);
    const expectedRest = sortedByBrazeId(['u3', 'u4', 'u5', 'u6', 'u8'].filter((user) => user !== leaving)).filter(
      (user) => brazeIdOf.get(user)! > brazeIdOf.get(ordered[0]!)!,
    );
    expect(rest).toEqual(expectedRest);
    // Put heap/b back as it was for the other tests.
    await syncAndWait(heap, 'heap', 'b', [{ user_ids: [leaving] }, { user_ids: ['u8'], should_remove: true }]);
  });

  it('answers a bad cursor or limit with a 400', async () => {
    const id = (await workspace.createSegment({ name: 'cursor', filter: includes('a') })).body.segment.segment_id;
    expect((await workspace.segmentUsers(id, { cursor: 'garbage' })).status).toBe(400);
    expect((await workspace.segmentUsers(id, { limit: '0' })).status).toBe(400);
    expect((await workspace.segmentUsers(id, { limit: '1001' })).status).toBe(400);
  });

  it('shows a user merged by identify once', async () => {
    // Prepare: an anonymous device in heap/a, then identified as u1 (already in heap/a).
    await workspace.track([{ device_id: 'merge-me' }]);
    await syncAndWait(heap, 'heap', 'a', [{ device_ids: ['merge-me'] }]);
    const id = (await workspace.createSegment({ name: 'merge', filter: includes('a') })).body.segment.segment_id;
    expect(await audience(id)).toHaveLength(5);

    // Act
    await workspace.identify({ devices_to_identify: [{ external_id: 'u1', device_id: 'merge-me' }] });

    // Assess
    const users = await audience(id);
    expect(users.filter((user) => user === 'u1')).toHaveLength(1);
    expect(users).toHaveLength(4);
    expect((await workspace.segment(id)).body.segment.size).toBe(4);
  });
});

describe('segment sizes', () => {
  it('keeps the workspace user count exact through creates, a retried create, racing creates and a retried merge', async () => {
    // Prepare: a workspace of its own on the stack's tables.
    const users = stack.stores.users;
    const workspaceId = `count-${randomBytes(4).toString('hex')}`;
    const now = new Date();

    // Act
    const created = await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        users.findOrCreate(workspaceId, { type: 'external_id', externalId: `c${index}` }, now),
      ),
    );
    // A client that did not hear the answer creates the same user again.
    const retried = await users.findOrCreate(workspaceId, { type: 'external_id', externalId: 'c0' }, now);
    // Eight concurrent first sightings of one device.
    const racing = await Promise.all(
      Array.from({ length: 8 }, () => users.findOrCreate(workspaceId, { type: 'device_id', deviceId: 'raced' }, now)),
    );
    const source = (await users.getProfile(workspaceId, racing[0]!.brazeId))!;
    const target = (await users.getProfile(workspaceId, created[1]!.brazeId))!;
    await users.mergeInto(workspaceId, source, target, now);
    // The same merge again (a retried identify that got that far).
    await users.mergeInto(workspaceId, source, target, now);

    // Assess: 20 users, whatever the retries; the count agrees with the profiles listed.
    expect(retried).toEqual({ brazeId: created[0]!.brazeId, created: false });
    expect(new Set(racing.map((result) => result.brazeId)).size).toBe(1);
    expect(racing.filter((result) => result.created)).toHaveLength(1);
    const listed: string[] = [];
    for await (const brazeId of users.workspaceUsers(workspaceId)) listed.push(brazeId);
    expect(listed).toHaveLength(20);
    expect(await users.workspaceUserCount(workspaceId)).toMatchObject({ users: 20 });
  });

  it('answers a "does not include" exactly from counts as users come and go over the API', async () => {
    // Prepare
    const id = (await workspace.createSegment({ name: 'not in a', filter: excludes('a') })).body.segment.segment_id;
    const truth = async () => (await audience(id, 50)).length;
    const before = (await workspace.segment(id)).body.segment;
    expect(before).toMatchObject({ size: await truth(), size_status: 'exact' });

    // Act: two new users, one of them sent twice (a retried /users/track); an anonymous
    // device identified as an existing user (a merge: its profile is removed).
    await workspace.track([
      { external_id: 'count-1' },
      { external_id: 'count-2' },
      { external_id: 'count-1' },
      { device_id: 'count-device' },
    ]);
    const afterCreates = (await workspace.segment(id)).body.segment;
    await workspace.identify({ devices_to_identify: [{ external_id: 'count-2', device_id: 'count-device' }] });
    const afterMerge = (await workspace.segment(id)).body.segment;

    // Assess
    expect(afterCreates).toMatchObject({ size: before.size! + 3, size_status: 'exact' });
    expect(afterMerge).toMatchObject({ size: before.size! + 2, size_status: 'exact' });
    expect(afterMerge.size).toBe(await truth());
  });

  it('computes a combination in the background, marks it stale when a cohort it names syncs, and recomputes it', async () => {
    // Prepare: u3–u6, computed by the job.
    const id = (
      await workspace.createSegment({ name: 'b or c', filter: { any: [includes('b'), includes('c', 'segment')] } })
    ).body.segment.segment_id;
    const first = await settledSize(id, 'the first computation');
    expect(first).toMatchObject({ size: 4, size_status: 'current' });

    // Act: u7 joins heap/b.
    await syncAndWait(heap, 'heap', 'b', [{ user_ids: ['u7'] }]);
    const stale = (await workspace.segment(id)).body.segment;
    const recomputed = await settledSize(id, 'the recomputation');

    // Assess: the last size, said to be stale, with a recompute under way; then the new size, as of later.
    expect(stale).toMatchObject({
      size: 4,
      size_status: 'stale',
      size_computed_at: first.size_computed_at,
      size_recomputing: true,
    });
    expect(recomputed).toMatchObject({ size: 5, size_status: 'current', size_recomputing: false });
    expect(Date.parse(recomputed.size_computed_at!)).toBeGreaterThan(Date.parse(first.size_computed_at!));
    await syncAndWait(heap, 'heap', 'b', [{ user_ids: ['u7'], should_remove: true }]);
  });

  it('computes a new filter afresh, and keeps the size through a rename', async () => {
    const id = (await workspace.createSegment({ name: 'edit', filter: { all: [includes('a'), excludes('b')] } })).body
      .segment.segment_id;
    const computed = await settledSize(id);

    const renamed = (
      await workspace.updateSegment(id, { name: 'edited', filter: { all: [excludes('b'), includes('a')].reverse() } })
    ).body.segment;
    const refiltered = (
      await workspace.updateSegment(id, { name: 'edited', filter: { all: [includes('a'), includes('b')] } })
    ).body.segment;
    const recomputed = await settledSize(id);

    expect(renamed).toMatchObject({
      name: 'edited',
      size: computed.size,
      size_status: 'current',
      size_computed_at: computed.size_computed_at,
    });
    expect(refiltered).toMatchObject({ size: null, size_status: 'pending', size_recomputing: true });
    expect(recomputed).toMatchObject({ size: 2, size_status: 'current' });
  });

  it('reads a bounded amount for a page of "does not include" a cohort holding almost everyone, and moves on', async () => {
    // Prepare: a workspace of its own with 1,000 users and a cohort of all but 3 of them;
    // stores on a DynamoDB client that counts the keys its queries return.
    const workspaceId = `page-${randomBytes(4).toString('hex')}`;
    const now = new Date();
    const brazeIds: string[] = [];
    for (let batch = 0; batch < 1_000; batch += 25) {
      const created = await Promise.all(
        Array.from({ length: 25 }, (_, index) =>
          stack.stores.users.findOrCreate(workspaceId, { type: 'external_id', externalId: `p${batch + index}` }, now),
        ),
      );
      brazeIds.push(...created.map((user) => user.brazeId));
    }
    const sorted = [...brazeIds].sort();
    const outsiders = [sorted[3]!, sorted[500]!, sorted[996]!];
    const cohort = { workspaceId, partner: 'heap', cohortId: 'almost-everyone' };
    await stack.stores.memberships.applyMemberships(
      cohort,
      sorted
        .filter((brazeId) => !outsiders.includes(brazeId))
        .map((brazeId) => ({ brazeId, member: true, orderKey: '0001' })),
      now,
    );
    const dynamodb = new DynamoDBClient({
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      endpoint: stack.dynamoDbEndpoint,
    });
    const counting = DynamoDBDocumentClient.from(dynamodb);
    const keysRead = { count: 0 };
    counting.middlewareStack.add(
      (next) => async (args) => {
        const result = await next(args);
        keysRead.count += Number((result.output as { ScannedCount?: number } | undefined)?.ScannedCount ?? 0);
        return result;
      },
      { step: 'initialize', name: 'countKeysRead' },
    );
    const ports = {
      memberships: new DynamoMembershipStore(counting, stack.tables.cohorts),
      users: new DynamoUserStore(counting, stack.tables.users),
    };
    const segment = {
      segmentId: 'page',
      name: 'page',
      filter: excludes('almost-everyone'),
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
    };
    const readBudget = 200;

    // Act
    const first = await audiencePage(workspaceId, segment, { limit: '10' }, ports, readBudget);
    const firstRead = keysRead.count;
    const served = first.users.map((user) => user.braze_id);
    let cursor = first.nextCursor;
    let pages = 1;
    while (cursor) {
      const page = await audiencePage(workspaceId, segment, { limit: '10', cursor }, ports, readBudget);
      served.push(...page.users.map((user) => user.braze_id));
      cursor = page.nextCursor;
      pages += 1;
    }

    // Assess: the first page read at most twice its budget plus a first query page per
    // source (pages grow from limit + 1 and at most double), served the outsider it
    // reached, and said where to go on; paging on serves exactly the outsiders.
    expect(first.read).toBeLessThanOrEqual(readBudget);
    expect(firstRead).toBeGreaterThanOrEqual(readBudget);
    expect(firstRead).toBeLessThanOrEqual(2 * readBudget + 2 * 11);
    expect(first.users.map((user) => user.braze_id)).toEqual([outsiders[0]]);
    expect(first.nextCursor).not.toBeNull();
    expect(served).toEqual(outsiders);
    expect(pages).toBeGreaterThan(5);
    dynamodb.destroy();
  });
});

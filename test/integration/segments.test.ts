/**
 * Segments on partner cohorts over the local stack: includes / does not include, all /
 * any, nesting, several partners; sizes; paging with a cursor while memberships change.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../lib/local/stack.js';
import { eventually, startTestStack } from '../support/stack.js';
import { partnerClient, workspaceClient } from '../support/client.js';

let stack: LocalStack;
let workspace: ReturnType<typeof workspaceClient>;
let heap: ReturnType<typeof partnerClient>;
let segment: ReturnType<typeof partnerClient>;
const brazeIdOf = new Map<string, string>();

const includes = (cohortId: string, partner = 'heap') => ({ cohort: { partner, cohort_id: cohortId, includes: true } });
const excludes = (cohortId: string, partner = 'heap') => ({ cohort: { partner, cohort_id: cohortId, includes: false } });

const syncAndWait = async (client: ReturnType<typeof partnerClient>, partner: string, cohortId: string, changes: unknown[]) => {
  const before = (await workspace.cohort(partner, cohortId)).body.cohort?.sync_reports.length ?? 0;
  expect((await client.changeCohort(cohortId, changes)).status).toBe(201);
  await eventually(async () => ((await workspace.cohort(partner, cohortId)).body.cohort?.sync_reports.length > before ? true : undefined));
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
const sortedByBrazeId = (externalIds: string[]) => [...externalIds].sort((a, b) => (brazeIdOf.get(a)! < brazeIdOf.get(b)! ? -1 : 1));

beforeAll(async () => {
  stack = await startTestStack({ partners: ['heap', 'segment'] });
  workspace = workspaceClient(stack);
  heap = partnerClient(stack, stack.workspace, 'heap');
  segment = partnerClient(stack, stack.workspace, 'segment');
  // Prepare: eight users; heap/a = u1–u4, heap/b = u3–u5, segment/c = u4, u6.
  await workspace.track(Array.from({ length: 8 }, (_, index) => ({ external_id: `u${index + 1}` })));
  const exported = await workspace.exportIds({ external_ids: Array.from({ length: 8 }, (_, index) => `u${index + 1}`) });
  for (const user of exported.body.users) brazeIdOf.set(user.external_id!, user.braze_id);
  await heap.nameCohort('a', 'Cohort A');
  await syncAndWait(heap, 'heap', 'a', [{ user_ids: ['u1', 'u2', 'u3', 'u4'] }]);
  await syncAndWait(heap, 'heap', 'b', [{ user_ids: ['u3', 'u4', 'u5'] }]);
  await syncAndWait(segment, 'segment', 'c', [{ user_ids: ['u4', 'u6'] }]);
});
afterAll(() => stack?.stop());

describe('segments', () => {
  it.each([
    ['includes', includes('a'), ['u1', 'u2', 'u3', 'u4']],
    ['does not include, alone: the workspace minus the cohort', excludes('a'), ['u5', 'u6', 'u7', 'u8']],
    ['all, with an exclusion', { all: [includes('a'), excludes('b')] }, ['u1', 'u2']],
    ['any, across partners', { any: [includes('b'), includes('c', 'segment')] }, ['u3', 'u4', 'u5', 'u6']],
    ['nested', { any: [{ all: [includes('a'), excludes('b')] }, { all: [includes('b'), includes('c', 'segment')] }] }, ['u1', 'u2', 'u4']],
  ])('%s', async (_case, filter, expected) => {
    // Act
    const created = await workspace.createSegment({ name: _case, filter });

    // Assess
    expect(created.status).toBe(201);
    const id = created.body.segment.segment_id;
    expect((await workspace.segment(id)).body.segment).toMatchObject({ name: _case, filter, size: expected.length });
    expect(await audience(id)).toEqual(sortedByBrazeId(expected));
  });

  it('answers a filter naming an unknown cohort with a 400 that says which', async () => {
    const response = await workspace.createSegment({ name: 'x', filter: { all: [includes('a'), includes('nope'), includes('zz', 'segment')] } });
    expect(response.status).toBe(400);
    expect(response.body.message).toBe('Unknown cohorts in filter: heap/nope, segment/zz');
  });

  it('answers a malformed filter with a 400 that says what is wrong', async () => {
    const response = await workspace.createSegment({ name: 'x', filter: { cohort: { partner: 'heap', cohort_id: 'a' } } });
    expect(response.status).toBe(400);
    expect(response.body.message).toMatch(/^Invalid filter: /);
  });

  it('lists, renames and deletes segments', async () => {
    const created = await workspace.createSegment({ name: 'to rename', filter: includes('a') });
    const id = created.body.segment.segment_id;
    expect((await workspace.updateSegment(id, { name: 'renamed', filter: includes('b') })).body.segment).toMatchObject({ name: 'renamed', filter: includes('b') });
    expect((await workspace.segments()).body.segments.map((listed) => listed.name)).toContain('renamed');
    expect((await workspace.deleteSegment(id)).status).toBe(200);
    expect((await workspace.segment(id)).status).toBe(404);
    expect((await workspace.deleteSegment(id)).status).toBe(404);
  });

  it('pages through the audience while memberships change, never seeing a user twice', async () => {
    // Prepare: a segment of everyone in heap/b or segment/c.
    const id = (await workspace.createSegment({ name: 'moving', filter: { any: [includes('b'), includes('c', 'segment')] } })).body.segment.segment_id;
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

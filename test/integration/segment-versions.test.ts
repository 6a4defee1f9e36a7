/**
 * Two editors of one segment (two tabs, two people): `PUT` with `If-Match` (the `ETag` of the
 * version it was made from) applies only over that version, the others answer 409 and change
 * nothing; without it, concurrent updates each apply whole, one after the other, never a mix.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { workspaceClient } from '../support/client.js';
import { putCohortListItems } from '../support/cohort-list.js';
import { startTestStack } from '../support/stack.js';

let stack: LocalStack;
beforeAll(async () => {
  stack = await startTestStack({ poll: false });
  // Cohorts c0–c7, as a sync leaves them (a segment names known cohorts only).
  await putCohortListItems(
    stack,
    Array.from({ length: 8 }, (_, index) => ({ partner: 'heap', cohortId: `c${index}`, name: `Cohort ${index}` })),
  );
}, 120_000);
afterAll(() => stack?.stop());

const filterOf = (cohortId: string, includes = true) => ({
  cohort: { partner: 'heap', cohort_id: cohortId, includes },
});

describe('segment versions', () => {
  it('applies a PUT over the version it names (If-Match), and answers 409 to one made from an older version', async () => {
    // Prepare
    const api = workspaceClient(stack);
    const created = await api.createSegment({ name: 'Race original', filter: filterOf('c1') });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const segmentId = created.body.segment.segment_id;
    const opened = await api.segment(segmentId);
    const tag = opened.headers.get('etag')!;

    // Act: tab 1 renames and saves; tab 2, opened before, changes the filter and saves.
    const first = await api.updateSegment(segmentId, { name: 'Renamed by tab 1', filter: filterOf('c1') }, tag);
    const second = await api.updateSegment(segmentId, { name: 'Race original', filter: filterOf('c1', false) }, tag);
    const after = await api.segment(segmentId);

    // Assess
    expect(tag).toBe(`"${opened.body.segment.updated_at}"`);
    expect(first.status).toBe(200);
    expect(first.headers.get('etag')).toBe(`"${first.body.segment.updated_at}"`);
    expect(second.status).toBe(409);
    expect(second.body).toMatchObject({ message: expect.stringMatching(/was changed since the version/) });
    expect(after.body.segment).toMatchObject({ name: 'Renamed by tab 1', filter: filterOf('c1') });
  });

  it('lets exactly one of concurrent PUTs over one version win; without If-Match each applies whole', async () => {
    // Prepare
    const api = workspaceClient(stack);
    const created = await api.createSegment({ name: 'Concurrent', filter: filterOf('c1') });
    const segmentId = created.body.segment.segment_id;
    const tag = (await api.segment(segmentId)).headers.get('etag')!;
    const bodies = Array.from({ length: 8 }, (_, index) => ({
      name: `Writer ${index}`,
      filter: filterOf(`c${index}`, index % 2 === 0),
    }));

    // Act
    const versioned = await Promise.all(bodies.map((body) => api.updateSegment(segmentId, body, tag)));
    const afterVersioned = (await api.segment(segmentId)).body.segment;
    const unversioned = await Promise.all(bodies.map((body) => api.updateSegment(segmentId, body)));
    const afterUnversioned = (await api.segment(segmentId)).body.segment;

    // Assess: one winner, whose body is what is stored; the rest 409, none a 5xx.
    const winners = versioned.filter((answer) => answer.status === 200);
    expect(winners).toHaveLength(1);
    expect(versioned.filter((answer) => answer.status === 409)).toHaveLength(bodies.length - 1);
    expect({ name: afterVersioned.name, filter: afterVersioned.filter }).toEqual(
      bodies.find((body) => body.name === winners[0]!.body.segment.name),
    );
    // Without If-Match: each is 200 (or 409 after losing five times in a row), never a 5xx, and what
    // is stored is one whole body, its name and filter from the same request.
    expect(unversioned.every((answer) => answer.status === 200 || answer.status === 409)).toBe(true);
    expect(unversioned.some((answer) => answer.status === 200)).toBe(true);
    expect(bodies).toContainEqual({ name: afterUnversioned.name, filter: afterUnversioned.filter });
  });

  it('answers 404 to a PUT of a deleted segment, with or without If-Match', async () => {
    // Prepare
    const api = workspaceClient(stack);
    const created = await api.createSegment({ name: 'Gone', filter: filterOf('c1') });
    const segmentId = created.body.segment.segment_id;
    const tag = (await api.segment(segmentId)).headers.get('etag')!;
    await api.deleteSegment(segmentId);

    // Act
    const [versioned, unversioned] = await Promise.all([
      api.updateSegment(segmentId, { name: 'Gone', filter: filterOf('c1') }, tag),
      api.updateSegment(segmentId, { name: 'Gone', filter: filterOf('c1') }),
    ]);

    // Assess
    expect([versioned.status, unversioned.status]).toEqual([404, 404]);
  });
});

/**
 * Segments: create, list (with sizes from counts), read (with its size), redefine, delete, and their audience.
 */
import { cutToBytes, LIST_PAGE, LIST_QUERY, parseListRequest } from '../../../lib/paging.js';
import { encodeCursor } from '../../../lib/segments/evaluate.js';
import { cohortTestsOf } from '../../../lib/segments/filter.js';
import { NotFoundError } from '../../../lib/errors.js';
import { json } from '../../../lib/http/api.js';
import type { Segment } from '../../../lib/segments/ports.js';
import { audiencePage, parseSegmentBody } from '../../../lib/segments/service.js';
import {
  answerSize,
  createSegment,
  sizeView,
  type SizeAnswer,
  sizeFromListedCounts,
  sizeNeedsUserCount,
  updateSegment,
} from '../../../lib/segments/size.js';
import type { SegmentView } from '../../../lib/contract/views.js';
import type { ApiRoute } from './route.js';

const segmentView = (segment: Segment, size?: SizeAnswer): SegmentView => ({
  segment_id: segment.segmentId,
  name: segment.name,
  filter: segment.filter,
  created_at: segment.createdAt,
  updated_at: segment.updatedAt,
  ...(size !== undefined ? sizeView(size) : {}),
});

/**
 * A segment's version as an entity tag: its `updated_at`. `PUT` with `If-Match: <that tag>` (or the
 * bare `updated_at`) applies only over that version, else 409, so two editors cannot silently
 * undo each other; without If-Match the last write wins, whole.
 */
const etagOf = (updatedAt: string) => `"${updatedAt}"`;
const versionOf = (ifMatch: string | undefined): string | undefined => {
  const tag = ifMatch?.trim().replace(/^W\//, '');
  if (tag === undefined || tag === '' || tag === '*') return undefined;
  return tag.startsWith('"') && tag.endsWith('"') && tag.length >= 2 ? tag.slice(1, -1) : tag;
};

export const segmentsRoutes: readonly ApiRoute[] = [
  {
    method: 'POST',
    path: '/segments',
    handle: async ({ clock, sizePorts, policy }, workspaceId, request) => {
      const created = await createSegment(workspaceId, parseSegmentBody(request.body), sizePorts, clock(), policy);
      return json(201, { segment: segmentView(created.segment, created.size), message: 'success' });
    },
  },
  {
    method: 'GET',
    path: '/segments',
    query: LIST_QUERY,
    handle: async ({ segments, cohorts, segmentSources }, workspaceId, request) => {
      const listRequest = parseListRequest(request.queryStringParameters, LIST_PAGE, 'segments');
      const page = await segments.listPage(workspaceId, listRequest);
      // The cohorts the page's filters name, read once for the page (a list shows filters by
      // name, where the workspace may hold thousands of cohorts), with their listed counts.
      const listed = await cohorts.listedCohorts(
        workspaceId,
        page.segments.flatMap((segment) =>
          cohortTestsOf(segment.filter).map((test) => ({ partner: test.partner, cohortId: test.cohort_id })),
        ),
      );
      const counts = new Map([...listed].map(([key, cohort]) => [key, cohort.memberCount]));
      // The workspace's user count, once, only if a filter on the page needs it.
      const users = page.segments.some((segment) => sizeNeedsUserCount(segment.filter))
        ? (await segmentSources.users.workspaceUserCount(workspaceId)).users
        : 0;
      const cut = cutToBytes(
        page.segments.map((segment) => ({
          ...segmentView(segment),
          // What the size job last counted, as stored (nothing read or queued for it: a list starts no job;
          // GET /segments/{id} says whether it is current). null: never computed by a job.
          last_computed_size: segment.computedSize
            ? { size: segment.computedSize.value, computed_at: segment.computedSize.computedAt }
            : null,
          // The size when the cohorts' counts decide it (one cohort's "includes", say), as the list counts stand.
          size_from_counts: sizeFromListedCounts(segment.filter, counts, users) ?? null,
          cohorts: cohortTestsOf(segment.filter).map((test) => ({
            partner: test.partner,
            cohort_id: test.cohort_id,
            name: listed.get(`${test.partner}#${test.cohort_id}`)?.name ?? null,
          })),
        })),
        page.next,
        (view) => view.segment_id,
      );
      return json(200, {
        segments: cut.items,
        next_cursor: cut.next === undefined ? null : encodeCursor(cut.next, listRequest.scope),
        message: 'success',
      });
    },
  },
  {
    method: 'GET',
    path: '/segments/{segment_id}',
    handle: async ({ clock, sizePorts, policy, segmentOf }, workspaceId, request) => {
      const segment = await segmentOf(workspaceId, request);
      return json(
        200,
        {
          segment: segmentView(segment, await answerSize(workspaceId, segment, sizePorts, clock(), { policy })),
          message: 'success',
        },
        { etag: etagOf(segment.updatedAt) },
      );
    },
  },
  {
    method: 'PUT',
    path: '/segments/{segment_id}',
    handle: async ({ clock, sizePorts, policy }, workspaceId, request) => {
      const segmentId = request.pathParameters.segment_id ?? '';
      const updated = await updateSegment(
        workspaceId,
        segmentId,
        parseSegmentBody(request.body),
        sizePorts,
        clock(),
        policy,
        versionOf(request.headers['if-match']),
      );
      if (!updated) throw new NotFoundError(`No segment ${segmentId} in this workspace`);
      return json(
        200,
        { segment: segmentView(updated.segment, updated.size), message: 'success' },
        { etag: etagOf(updated.segment.updatedAt) },
      );
    },
  },
  {
    method: 'DELETE',
    path: '/segments/{segment_id}',
    handle: async ({ segments }, workspaceId, request) => {
      if (!(await segments.delete(workspaceId, request.pathParameters.segment_id ?? ''))) {
        throw new NotFoundError(`No segment ${request.pathParameters.segment_id} in this workspace`);
      }
      return json(200, { message: 'success' });
    },
  },
  {
    method: 'GET',
    path: '/segments/{segment_id}/users',
    query: ['limit', 'cursor'],
    handle: async ({ segmentSources, segmentOf }, workspaceId, request) => {
      const segment = await segmentOf(workspaceId, request);
      const page = await audiencePage(workspaceId, segment, request.queryStringParameters, segmentSources);
      return json(200, { users: page.users, next_cursor: page.nextCursor, message: 'success' });
    },
  },
];

/**
 * Segments on partner cohorts: definitions checked against the workspace's cohorts,
 * audiences read straight from the membership store as sorted merges, a page at a time
 * within a read budget. Sizes: lib/segments/size.ts.
 */
import * as z from 'zod';
import { NotFoundError, ValidationError } from '../errors.js';
import type { UserProfile } from '../users/ports.js';
import { decodeCursor, encodeCursor, takeWithin, type MemberSource } from './evaluate.js';
import { MAX_FILTER_COHORTS, parseFilter, type Filter } from './filter.js';
import type { MemberReader, Segment, SegmentStore, WorkspaceUsers } from './ports.js';

export const MAX_PAGE = 1_000;
export const DEFAULT_PAGE = 100;
/**
 * Keys a page of users may read from its sources (cohort members, workspace users),
 * whatever the filter: a page that reaches it is served short, with a cursor past what
 * it read. 5,000 keys answer within ~200 ms on DynamoDB Local on a 2-core machine
 * (docs/performance.md, "Segments at scale"); never below two per cohort test, so
 * every source is read once and a page always moves forward.
 */
export const PAGE_READ_BUDGET = 5_000;
/** Largest page asked of DynamoDB (keys only, far under its 1 MB page). */
const MAX_QUERY_PAGE = 1_000;

export interface SegmentPorts {
  segments: SegmentStore;
  memberships: MemberReader;
  users: WorkspaceUsers;
  clock?: () => Date;
}

const SegmentBody = z.object({
  name: z
    .string({ error: 'must be a string' })
    .trim()
    .min(1, { error: 'must be a non-empty string' })
    .max(255, { error: 'must be at most 255 characters' }),
  filter: z.unknown(),
});

export const parseSegmentBody = (body: unknown): { name: string; filter: Filter } => {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new ValidationError('The body must be a JSON object with `name` and `filter`');
  const result = SegmentBody.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new ValidationError(`Invalid segment: \`${String(issue.path[0] ?? 'body')}\` ${issue.message}`);
  }
  if (!('filter' in body)) throw new ValidationError('Invalid segment: `filter` is required');
  return { name: result.data.name, filter: parseFilter(result.data.filter) };
};

/**
 * Reads a sorted stream in pages that grow from `first` to `max` values: a page that
 * needs a few users asks DynamoDB for a few, a long run asks for big pages (fewer round
 * trips). Each page is a query after the last value read.
 *
 * Not the SDK's paginateQuery: its pages keep one `Limit` and resume from DynamoDB's
 * LastEvaluatedKey, while these grow, and resume from a braze_id, the same cursor an API
 * page hands out (`next_cursor`) and the page read budget is counted against.
 */
async function* growingPages(
  open: (after: string | undefined, pageSize: number) => AsyncIterable<string>,
  after: string | undefined,
  pages: { first: number; max: number },
): AsyncGenerator<string> {
  let from = after;
  for (let pageSize = pages.first; ; pageSize = Math.min(pages.max, pageSize * 2)) {
    let read = 0;
    for await (const value of open(from, pageSize)) {
      yield value;
      from = value;
      read += 1;
      if (read === pageSize) break;
    }
    if (read < pageSize) return;
  }
}

export const memberSource = (
  workspaceId: string,
  ports: Pick<SegmentPorts, 'memberships' | 'users'>,
  pages: { first: number; max: number } = { first: MAX_QUERY_PAGE, max: MAX_QUERY_PAGE },
): MemberSource => ({
  cohortMembers: (partner, cohortId, after) =>
    growingPages(
      (from, pageSize) => ports.memberships.cohortMembers({ workspaceId, partner, cohortId }, from, pageSize),
      after,
      pages,
    ),
  workspaceUsers: (after) =>
    growingPages((from, pageSize) => ports.users.workspaceUsers(workspaceId, from, pageSize), after, pages),
});

export const requireSegment = async (
  workspaceId: string,
  segmentId: string,
  segments: Pick<SegmentStore, 'get'>,
): Promise<Segment> => {
  const segment = await segments.get(workspaceId, segmentId);
  if (!segment) throw new NotFoundError(`No segment ${segmentId} in this workspace`);
  return segment;
};

export interface AudienceUser {
  braze_id: string;
  external_id?: string;
  user_aliases: { alias_name: string; alias_label: string }[];
  device_ids: string[];
}

export const audienceUser = (profile: UserProfile): AudienceUser => ({
  braze_id: profile.brazeId,
  ...(profile.externalId !== undefined ? { external_id: profile.externalId } : {}),
  user_aliases: profile.aliases.map((alias) => ({ alias_name: alias.alias_name, alias_label: alias.alias_label })),
  device_ids: profile.deviceIds,
});

/**
 * One page of the audience, in braze_id order, after an opaque cursor. It reads at most
 * `readBudget` keys from the sources (plus the profiles of the users it serves): when a
 * filter rejects most of what it reads, the page holds fewer than `limit` users, even
 * none, and `next_cursor` continues past what was read. `null` is the end.
 */
export const audiencePage = async (
  workspaceId: string,
  segment: Segment,
  options: { limit?: string; cursor?: string },
  ports: Pick<SegmentPorts, 'memberships' | 'users'>,
  readBudget = PAGE_READ_BUDGET,
): Promise<{ users: AudienceUser[]; nextCursor: string | null; read: number }> => {
  // Digits only: Number() would also take "0x10", "1e2" and " 10 ".
  const limit =
    options.limit === undefined
      ? DEFAULT_PAGE
      : /^\d{1,6}$/.test(String(options.limit))
        ? Number(options.limit)
        : Number.NaN;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE)
    throw new ValidationError(`\`limit\` must be an integer from 1 to ${MAX_PAGE}`);
  let after: string | undefined;
  if (options.cursor !== undefined) {
    after = decodeCursor(options.cursor);
    if (after === undefined) throw new ValidationError('`cursor` is not a cursor this API returned');
  }
  // The first query of each source asks for what the page needs (one more, to know if there is more).
  const source = memberSource(workspaceId, ports, { first: limit + 1, max: MAX_QUERY_PAGE });
  const page = await takeWithin(segment.filter, source, {
    after,
    limit,
    readBudget: Math.max(readBudget, 2 * MAX_FILTER_COHORTS + 1),
  });
  const profiles = await ports.users.getProfiles(workspaceId, page.values);
  return {
    users: profiles.map(audienceUser),
    nextCursor: page.more && page.resumeAfter !== undefined ? encodeCursor(page.resumeAfter) : null,
    read: page.read,
  };
};

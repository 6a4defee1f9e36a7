/**
 * Segments on partner cohorts: definitions checked against the workspace's cohorts,
 * audiences read straight from the membership store as sorted merges.
 */
import * as z from 'zod';
import { NotFoundError, ValidationError } from '../errors.js';
import type { DynamoMembershipStore } from '../dynamodb/membership-store.js';
import type { DynamoSegmentStore, Segment } from '../dynamodb/segment-store.js';
import type { DynamoUserStore, UserProfile } from '../dynamodb/user-store.js';
import { count, decodeCursor, encodeCursor, evaluate, take, type MemberSource } from './evaluate.js';
import { cohortTestsOf, parseFilter, type Filter } from './filter.js';

export const MAX_PAGE = 1_000;
export const DEFAULT_PAGE = 100;

export interface SegmentPorts {
  segments: DynamoSegmentStore;
  memberships: Pick<DynamoMembershipStore, 'getCohorts' | 'getCohort' | 'cohortMembers'>;
  users: Pick<DynamoUserStore, 'workspaceUsers' | 'getProfiles'>;
  clock?: () => Date;
}

const SegmentBody = z.object({
  name: z.string({ error: 'must be a string' }).trim().min(1, { error: 'must be a non-empty string' }).max(255),
  filter: z.unknown(),
});

export const parseSegmentBody = (body: unknown): { name: string; filter: Filter } => {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ValidationError('The body must be a JSON object with `name` and `filter`');
  const result = SegmentBody.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new ValidationError(`Invalid segment: \`${String(issue.path[0] ?? 'body')}\` ${issue.message}`);
  }
  if (!('filter' in body)) throw new ValidationError('Invalid segment: `filter` is required');
  return { name: result.data.name, filter: parseFilter(result.data.filter) };
};

/** A filter may only name cohorts the workspace knows (the segment builder's dropdown). */
export const checkCohortsKnown = async (workspaceId: string, filter: Filter, memberships: SegmentPorts['memberships']): Promise<void> => {
  const tests = cohortTestsOf(filter);
  const unique = [...new Map(tests.map((test) => [`${test.partner}/${test.cohort_id}`, test])).values()];
  const known = await memberships.getCohorts(
    workspaceId,
    unique.map((test) => ({ workspaceId, partner: test.partner, cohortId: test.cohort_id })),
  );
  const knownKeys = new Set(known.map((cohort) => `${cohort.partner}/${cohort.cohortId}`));
  const unknown = unique.map((test) => `${test.partner}/${test.cohort_id}`).filter((key) => !knownKeys.has(key));
  if (unknown.length > 0) {
    throw new ValidationError(`Unknown cohort${unknown.length > 1 ? 's' : ''} in filter: ${unknown.join(', ')}`, unknown.map((key) => `no cohort ${key} in this workspace`));
  }
};

export const memberSource = (workspaceId: string, ports: Pick<SegmentPorts, 'memberships' | 'users'>): MemberSource => ({
  cohortMembers: (partner, cohortId, after) => ports.memberships.cohortMembers({ workspaceId, partner, cohortId }, after),
  workspaceUsers: (after) => ports.users.workspaceUsers(workspaceId, after),
});

export const requireSegment = async (workspaceId: string, segmentId: string, segments: DynamoSegmentStore): Promise<Segment> => {
  const segment = await segments.get(workspaceId, segmentId);
  if (!segment) throw new NotFoundError(`No segment ${segmentId} in this workspace`);
  return segment;
};

/**
 * The current size. A single "includes" test is the cohort's count (one read); anything
 * else counts the evaluated audience (reads grow with the members involved).
 */
export const segmentSize = async (workspaceId: string, segment: Segment, ports: Pick<SegmentPorts, 'memberships' | 'users'>): Promise<number> => {
  if ('cohort' in segment.filter && segment.filter.cohort.includes) {
    const cohort = await ports.memberships.getCohort({ workspaceId, partner: segment.filter.cohort.partner, cohortId: segment.filter.cohort.cohort_id });
    return cohort?.memberCount ?? 0;
  }
  return count(evaluate(segment.filter, memberSource(workspaceId, ports)));
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

/** One page of the audience, in braze_id order, after an opaque cursor. */
export const audiencePage = async (
  workspaceId: string,
  segment: Segment,
  options: { limit?: string; cursor?: string },
  ports: Pick<SegmentPorts, 'memberships' | 'users'>,
): Promise<{ users: AudienceUser[]; nextCursor: string | null }> => {
  const limit = options.limit === undefined ? DEFAULT_PAGE : Number(options.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw new ValidationError(`\`limit\` must be an integer from 1 to ${MAX_PAGE}`);
  let after: string | undefined;
  if (options.cursor !== undefined) {
    after = decodeCursor(options.cursor);
    if (after === undefined) throw new ValidationError('`cursor` is not a cursor this API returned');
  }
  const page = await take(evaluate(segment.filter, memberSource(workspaceId, ports), after), limit);
  const profiles = await ports.users.getProfiles(workspaceId, page.values);
  return {
    users: profiles.map(audienceUser),
    nextCursor: page.more && page.values.length > 0 ? encodeCursor(page.values.at(-1)!) : null,
  };
};

/**
 * A segment's size, answered without reading the audience inside a request:
 *
 * - From counts, when the algebra allows: every cohort's member count and the workspace's
 *   user count are exact and cheap (count lanes), and bound the size of any filter. When
 *   the bounds meet, the size is exact now: a single "includes" (the cohort's count), a
 *   single "does not include" (users − the cohort's count), and whatever reduces to them.
 * - Otherwise from a size job: the export worker counts the audience (16 ranges of
 *   braze_id, 4 at a time, a chunk per invocation, resumable) and stores the size on the
 *   segment, as of when the count began. A request answers that size, says whether it is
 *   still current, and queues a recompute when it is not.
 */
import { mapLimit } from '../concurrency.js';
import type { Cohort } from '../cohorts/ports.js';
import { ValidationError } from '../errors.js';
import type { UserCount } from '../users/ports.js';
import { generateId } from '../workspaces/keys.js';
import type { SegmentJobMessage } from './messages.js';
import type { ExportQueue, Segment, SizeJob, SizeRange } from './ports.js';
import { takeWithin } from './evaluate.js';
import { cohortTestsOf, type Filter } from './filter.js';
import { memberSource, type SegmentPorts } from './service.js';

/** When a computed size counts as stale, and how often it is recomputed. */
export interface SizePolicy {
  /**
   * A sync that began before a size job may still write while the job counts: it stamps
   * the cohort's `lastSyncedAt` when it starts, and runs at most the sync function's 30 s
   * timeout (serverless.yml). So a change stamped up to this long before the count began
   * may be missing from it, and makes it stale.
   */
  syncWriteWindowMs: number;
  /** A stale size is recomputed at most this often: a cohort that syncs all day does not keep the worker counting. */
  minRecomputeIntervalMs: number;
  /**
   * A job that has shown no progress for this long is presumed lost (its message
   * dead-lettered, or never sent), and the next request queues another. Above the export
   * queue's 360 s visibility timeout plus a chunk (60 s), so a redelivery is not taken for a loss.
   */
  jobLeaseMs: number;
}

export const DEFAULT_SIZE_POLICY: SizePolicy = Object.freeze({
  syncWriteWindowMs: 30_000,
  minRecomputeIntervalMs: 60_000,
  jobLeaseMs: 10 * 60_000,
});

/** Sixteen ranges of braze_id by the first hex digit (shard boundaries of both indexes): each resumable on its own. */
const HEX = [...'0123456789abcdef'];
const initialRanges = (): SizeRange[] =>
  HEX.map((digit, index) => ({
    // Strictly after "3" is every id starting with 3; ids are 24 hex digits, never one.
    ...(index > 0 ? { after: digit } : {}),
    ...(index < HEX.length - 1 ? { end: HEX[index + 1] } : {}),
    counted: 0,
    done: false,
  }));
/**
 * Ranges counted at once. The merge's CPU binds before DynamoDB does (a 1 GB function has
 * ~0.6 vCPU; four queries in flight keep it busy). Measured at 200,000 users on a 2-core
 * machine shared with DynamoDB Local and the API: 16 at once counted 1.3-3.4× faster but
 * made GET /segments/{id} take up to 1.3 s meanwhile; 4 kept it under 0.4 s.
 */
const RANGES_IN_PARALLEL = 4;
/** A counting step: up to this many users, or this many keys read (so a step that rejects everything still ends). */
const STEP_USERS = 10_000;
const STEP_READS = 50_000;

/** A job to compute a size, as queued: its chunks and ranges are recorded as it runs. */
export const newSizeJob = (now: Date): SizeJob => ({
  jobId: generateId(),
  requestedAt: now.toISOString(),
  chunks: 0,
  progressAt: now.toISOString(),
});

export interface SizeInputs {
  /** The filter's cohorts with their member counts, by `partner/cohort_id`. */
  cohorts: Map<string, Cohort>;
  users: UserCount;
}

const cohortKey = (test: { partner: string; cohort_id: string }) => `${test.partner}/${test.cohort_id}`;

/**
 * The counts a filter's size depends on: each cohort's member count (the sum of its
 * count lanes) and the workspace's user count. A filter may only name cohorts the
 * workspace knows (the segment builder's dropdown): another is a 400 that names it.
 */
export const readSizeInputs = async (
  workspaceId: string,
  filter: Filter,
  ports: Pick<SegmentPorts, 'memberships' | 'users'>,
): Promise<SizeInputs> => {
  const tests = [...new Map(cohortTestsOf(filter).map((test) => [cohortKey(test), test])).values()];
  const [cohorts, users] = await Promise.all([
    ports.memberships.getCohorts(
      workspaceId,
      tests.map((test) => ({ workspaceId, partner: test.partner, cohortId: test.cohort_id })),
    ),
    ports.users.workspaceUserCount(workspaceId),
  ]);
  const byKey = new Map(cohorts.map((cohort) => [`${cohort.partner}/${cohort.cohortId}`, cohort]));
  const unknown = tests.map(cohortKey).filter((key) => !byKey.has(key));
  if (unknown.length > 0) {
    throw new ValidationError(
      `Unknown cohort${unknown.length > 1 ? 's' : ''} in filter: ${unknown.join(', ')}`,
      unknown.map((key) => `no cohort ${key} in this workspace`),
    );
  }
  return { cohorts: byKey, users };
};

export interface SizeBounds {
  min: number;
  max: number;
}

/**
 * Bounds on the size from counts alone. With U users and a cohort of c members:
 * includes = [c, c]; does not include = [U − c, U − c]; `all` of k children is at most its
 * smallest child and at least Σ minᵢ − (k − 1)·U (inclusion–exclusion); `any` is at least
 * its largest child and at most min(U, Σ maxᵢ). Exact when min = max.
 */
export const sizeBounds = (filter: Filter, inputs: SizeInputs): SizeBounds =>
  boundsFromCounts(filter, (test) => inputs.cohorts.get(cohortKey(test))?.memberCount ?? 0, inputs.users.users);

const boundsFromCounts = (
  filter: Filter,
  countOf: (test: { partner: string; cohort_id: string }) => number,
  users: number,
): SizeBounds => {
  const counts = cohortTestsOf(filter).map(countOf);
  // A membership written for a user merged away at that very moment can make a count
  // exceed the users by one; the universe is never smaller than a cohort.
  const universe = Math.max(users, ...counts, 0);
  const bound = (node: Filter): SizeBounds => {
    if ('cohort' in node) {
      const members = Math.max(0, countOf(node.cohort));
      const size = node.cohort.includes ? members : universe - members;
      return { min: size, max: size };
    }
    const children = ('all' in node ? node.all : node.any).map(bound);
    if ('all' in node) {
      return {
        min: Math.max(0, children.reduce((sum, child) => sum + child.min, 0) - (children.length - 1) * universe),
        max: Math.min(...children.map((child) => child.max)),
      };
    }
    return {
      min: Math.max(...children.map((child) => child.min)),
      max: Math.min(
        universe,
        children.reduce((sum, child) => sum + child.max, 0),
      ),
    };
  };
  return bound(filter);
};

/** Whether a filter's size needs the workspace's user count (anything but one cohort's "includes"). */
export const sizeNeedsUserCount = (filter: Filter): boolean => !('cohort' in filter && filter.cohort.includes);

/**
 * The size the counts decide (their bounds meet: one cohort's "includes", one "does not
 * include", and what reduces to them), from counts as a list shows them (a request behind
 * while a sync runs); undefined when they do not decide it or a count is not known. `users`
 * only matters where sizeNeedsUserCount.
 */
export const sizeFromListedCounts = (
  filter: Filter,
  counts: ReadonlyMap<string, number | undefined>,
  users: number,
): number | undefined => {
  const tests = cohortTestsOf(filter);
  if (tests.some((test) => counts.get(`${test.partner}#${test.cohort_id}`) === undefined)) return undefined;
  const bounds = boundsFromCounts(filter, (test) => counts.get(`${test.partner}#${test.cohort_id}`)!, users);
  return bounds.min === bounds.max ? bounds.min : undefined;
};

/** Whether a user in no cohort is in the segment: then creating a user changes its size. */
export const takesUsersInNoCohort = (filter: Filter): boolean => {
  if ('cohort' in filter) return !filter.cohort.includes;
  return 'all' in filter ? filter.all.every(takesUsersInNoCohort) : filter.any.some(takesUsersInNoCohort);
};

/**
 * The last change a computed size depends on: a sync of one of its cohorts, a profile
 * removed (a merge takes the profile out of every cohort), and a profile created when
 * users in no cohort belong to the segment.
 */
export const lastChangeAffecting = (filter: Filter, inputs: SizeInputs): string | undefined =>
  [
    ...[...inputs.cohorts.values()].map((cohort) => cohort.lastSyncedAt),
    inputs.users.lastRemovedAt,
    takesUsersInNoCohort(filter) ? inputs.users.lastCreatedAt : undefined,
  ].reduce<string | undefined>(
    (latest, at) => (at !== undefined && (latest === undefined || Date.parse(at) > Date.parse(latest)) ? at : latest),
    undefined,
  );

export type SizeStatus = 'exact' | 'current' | 'stale' | 'pending';

export interface SizeAnswer {
  /** null only before the first computation of this filter has finished. */
  size: number | null;
  status: SizeStatus;
  /** When the size was true: now for an exact size, else when the job began counting. */
  computedAt: string | null;
  bounds: SizeBounds;
  /** A computation is queued or running. */
  recomputing: boolean;
}

/** Whether the size needs a job, from counts alone: a new segment queues its first computation when it does. */
export const needsSizeJob = (filter: Filter, inputs: SizeInputs): boolean => {
  const bounds = sizeBounds(filter, inputs);
  return bounds.min !== bounds.max;
};

export interface SizePorts extends Pick<SegmentPorts, 'segments' | 'memberships' | 'users'> {
  queue: Pick<ExportQueue, 'send'>;
}

export const sizeJobMessage = (workspaceId: string, segmentId: string, job: SizeJob): SegmentJobMessage => ({
  v: 1,
  type: 'segment-size',
  workspaceId,
  segmentId,
  jobId: job.jobId,
});

/**
 * The size a request answers, from counts and what the job stored; never reads the
 * audience. Staleness rule: a computed size is stale when something it depends on
 * (`lastChangeAffecting`) happened after the count began, less the sync write window. A
 * stale or missing size queues a job unless one is under way or the last one began less
 * than the minimum recompute interval ago.
 */
export const answerSize = async (
  workspaceId: string,
  segment: Segment,
  ports: SizePorts,
  now: Date,
  options: { inputs?: SizeInputs; policy?: SizePolicy } = {},
): Promise<SizeAnswer> => {
  const policy = options.policy ?? DEFAULT_SIZE_POLICY;
  const inputs = options.inputs ?? (await readSizeInputs(workspaceId, segment.filter, ports));
  const bounds = sizeBounds(segment.filter, inputs);
  if (bounds.min === bounds.max)
    return { size: bounds.min, status: 'exact', computedAt: now.toISOString(), bounds, recomputing: false };
  const computed = segment.computedSize;
  const changedAt = lastChangeAffecting(segment.filter, inputs);
  const stale =
    computed === undefined ||
    (changedAt !== undefined && Date.parse(changedAt) >= Date.parse(computed.computedAt) - policy.syncWriteWindowMs);
  const presumedLostBefore = new Date(now.getTime() - policy.jobLeaseMs);
  let recomputing =
    segment.sizeJob !== undefined && Date.parse(segment.sizeJob.progressAt) >= presumedLostBefore.getTime();
  const due =
    computed === undefined || Date.parse(computed.computedAt) <= now.getTime() - policy.minRecomputeIntervalMs;
  if (stale && !recomputing && due) {
    const job = newSizeJob(now);
    // Of concurrent requests, the one that records the job queues it; the others see it under way.
    if (await ports.segments.requestSizeJob(workspaceId, segment.segmentId, job, presumedLostBefore)) {
      await ports.queue.send(sizeJobMessage(workspaceId, segment.segmentId, job));
    }
    recomputing = true;
  }
  return {
    size: computed?.value ?? null,
    status: computed === undefined ? 'pending' : stale ? 'stale' : 'current',
    computedAt: computed?.computedAt ?? null,
    bounds,
    recomputing,
  };
};

/** Counts one range until it is done or the invocation is out of time; steps are bounded by STEP_READS. */
const countRange = async (
  filter: Filter,
  ports: Pick<SegmentPorts, 'memberships' | 'users'>,
  workspaceId: string,
  range: SizeRange,
  outOfTime: () => boolean,
): Promise<SizeRange> => {
  const source = memberSource(workspaceId, ports);
  let { after, counted } = range;
  for (;;) {
    const step = await takeWithin(filter, source, {
      ...(after !== undefined ? { after } : {}),
      ...(range.end !== undefined ? { end: range.end } : {}),
      limit: STEP_USERS,
      readBudget: STEP_READS,
    });
    counted += step.values.length;
    if (!step.more) return { ...range, counted, done: true };
    after = step.resumeAfter;
    if (outOfTime()) return { ...range, ...(after !== undefined ? { after } : {}), counted, done: false };
  }
};

export type SizeJobOutcome =
  | { status: 'done'; size: number }
  | { status: 'running' }
  | { status: 'deferred'; delaySeconds: number }
  | { status: 'superseded' };

/**
 * One chunk of a size job (one worker invocation): counts every unfinished range until
 * done or out of time, then records the progress, or the size when every range is done.
 * A job about to begin right after a change it depends on waits until the sync write
 * window has passed ('deferred': queue it again after `delaySeconds`), so that its size is
 * current when it lands; it waits at most one window after it was requested, so a cohort
 * that syncs without pause still gets a size (flagged stale). 'superseded': the segment is
 * gone, its filter changed, or another delivery of the same chunk got there first.
 */
export const runSizeJobChunk = async (
  message: { workspaceId: string; segmentId: string; jobId: string },
  ports: Pick<SegmentPorts, 'segments' | 'memberships' | 'users'>,
  options: { outOfTime: () => boolean; clock?: () => Date; policy?: SizePolicy },
): Promise<SizeJobOutcome> => {
  const clock = options.clock ?? (() => new Date());
  const policy = options.policy ?? DEFAULT_SIZE_POLICY;
  const segment = await ports.segments.get(message.workspaceId, message.segmentId);
  const job = segment?.sizeJob;
  if (!segment || !job || job.jobId !== message.jobId) return { status: 'superseded' };
  if (job.startedAt === undefined && policy.syncWriteWindowMs > 0) {
    const changedAt = lastChangeAffecting(
      segment.filter,
      await readSizeInputs(message.workspaceId, segment.filter, ports),
    );
    const startAt = Math.min(
      changedAt === undefined ? 0 : Date.parse(changedAt) + policy.syncWriteWindowMs,
      Date.parse(job.requestedAt) + policy.syncWriteWindowMs,
    );
    const wait = startAt - clock().getTime();
    if (wait > 0) return { status: 'deferred', delaySeconds: Math.ceil(wait / 1000) };
  }
  const startedAt = job.startedAt ?? clock().toISOString();
  const ranges = await mapLimit(
    job.ranges ?? initialRanges(),
    RANGES_IN_PARALLEL,
    async (range): Promise<SizeRange> =>
      range.done ? range : countRange(segment.filter, ports, message.workspaceId, range, options.outOfTime),
  );
  if (ranges.every((range) => range.done)) {
    const size = ranges.reduce((sum, range) => sum + range.counted, 0);
    const finished = await ports.segments.finishSizeJob(message.workspaceId, message.segmentId, job, {
      value: size,
      computedAt: startedAt,
    });
    return finished ? { status: 'done', size } : { status: 'superseded' };
  }
  const advanced = await ports.segments.advanceSizeJob(
    message.workspaceId,
    message.segmentId,
    job,
    { startedAt, ranges },
    clock(),
  );
  return advanced ? { status: 'running' } : { status: 'superseded' };
};

/** The size fields of a segment in API answers. */
export const sizeView = (answer: SizeAnswer) => ({
  size: answer.size,
  size_status: answer.status,
  size_computed_at: answer.computedAt,
  size_bounds: answer.bounds,
  size_recomputing: answer.recomputing,
});

/**
 * A segment created with its size: exact from counts when they decide it, otherwise its first
 * size job queued with the write (what POST /segments does).
 */
export const createSegment = async (
  workspaceId: string,
  input: { name: string; filter: Filter },
  ports: SizePorts,
  now: Date,
  policy?: SizePolicy,
): Promise<{ segment: Segment; size: SizeAnswer }> => {
  const inputs = await readSizeInputs(workspaceId, input.filter, ports);
  const job = needsSizeJob(input.filter, inputs) ? newSizeJob(now) : undefined;
  const segment = await ports.segments.create(workspaceId, input, now, job);
  if (job) await ports.queue.send(sizeJobMessage(workspaceId, segment.segmentId, job));
  return { segment, size: await answerSize(workspaceId, segment, ports, now, { inputs, policy }) };
};

/**
 * A segment redefined, with its size: a new filter's size is computed afresh (a job queued when
 * the counts do not decide it), the same filter keeps its size. undefined: no such segment.
 */
export const updateSegment = async (
  workspaceId: string,
  segmentId: string,
  input: { name: string; filter: Filter },
  ports: SizePorts,
  now: Date,
  policy?: SizePolicy,
  /** The version the client changed (If-Match): a segment changed since is a 409. */
  expectedUpdatedAt?: string,
): Promise<{ segment: Segment; size: SizeAnswer } | undefined> => {
  const inputs = await readSizeInputs(workspaceId, input.filter, ports);
  const job = needsSizeJob(input.filter, inputs) ? newSizeJob(now) : undefined;
  const updated = await ports.segments.update(workspaceId, segmentId, input, now, job, expectedUpdatedAt);
  if (!updated) return undefined;
  if (job && updated.filterChanged) await ports.queue.send(sizeJobMessage(workspaceId, updated.segment.segmentId, job));
  return {
    segment: updated.segment,
    size: await answerSize(workspaceId, updated.segment, ports, now, { inputs, policy }),
  };
};

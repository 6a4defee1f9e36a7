/**
 * The ports segments, their sizes and their exports are written against; lib/dynamodb,
 * lib/sqs, lib/s3 and the local stack (local/blob-store.ts) implement them, tests may hand in plain in-memory ones.
 */
import type { CohortRef } from '../cohorts/messages.js';
import type { Cohort } from '../cohorts/ports.js';
import type { UserCount, UserProfile } from '../users/ports.js';
import type { Filter } from './filter.js';
import type { SegmentJobMessage } from './messages.js';

/** A size computed by the job: the audience's size as of `computedAt` (when the count began). */
export interface ComputedSize {
  value: number;
  computedAt: string;
}

/** One range of braze_ids a size job counts: after `after` (exclusive), below `end` (exclusive; none: to the end). */
export interface SizeRange {
  after?: string;
  end?: string;
  counted: number;
  done: boolean;
}

export interface SizeJob {
  jobId: string;
  requestedAt: string;
  /** Chunks written so far; each write is conditioned on it. */
  chunks: number;
  /** Last sign of life (queued, or a chunk written): a job silent for too long is presumed lost. */
  progressAt: string;
  /** When counting began: the size is as of this moment. */
  startedAt?: string;
  ranges?: SizeRange[];
}

export interface Segment {
  segmentId: string;
  name: string;
  filter: Filter;
  createdAt: string;
  updatedAt: string;
  computedSize?: ComputedSize;
  sizeJob?: SizeJob;
}

/**
 * Where segment definitions and their size jobs live. Every size-job write is conditioned
 * on the job's id and progress, and answers false when another writer got there first.
 */
export interface SegmentStore {
  create(workspaceId: string, input: { name: string; filter: Filter }, now: Date, sizeJob?: SizeJob): Promise<Segment>;
  get(workspaceId: string, segmentId: string): Promise<Segment | undefined>;
  /** The names of segments (one BatchGetItem per 100, names only): absent when a segment is not known. */
  names(workspaceId: string, segmentIds: readonly string[]): Promise<Map<string, string>>;
  /**
   * One page in id order (or reverse) after `after`, optionally only those matching a search
   * (name, or id prefix; bounded reads: it may be short); `next` absent at the end.
   */
  listPage(
    workspaceId: string,
    page: { limit: number; after?: string; search?: string; order?: 'asc' | 'desc' },
  ): Promise<{ segments: Segment[]; next?: string }>;
  /**
   * undefined: no such segment. `filterChanged`: the new definition selects differently (a new
   * size job applies). Written over the version it was decided from (a concurrent update makes
   * it decide again); with `expectedUpdatedAt` (the client's If-Match), a segment changed since
   * that version is a ConflictError instead.
   */
  update(
    workspaceId: string,
    segmentId: string,
    input: { name: string; filter: Filter },
    now: Date,
    sizeJob?: SizeJob,
    expectedUpdatedAt?: string,
  ): Promise<{ segment: Segment; filterChanged: boolean } | undefined>;
  delete(workspaceId: string, segmentId: string): Promise<boolean>;
  /** Records a new job unless one is under way (progress since `presumedLostBefore`). */
  requestSizeJob(workspaceId: string, segmentId: string, job: SizeJob, presumedLostBefore: Date): Promise<boolean>;
  advanceSizeJob(
    workspaceId: string,
    segmentId: string,
    job: SizeJob,
    progress: { startedAt: string; ranges: SizeRange[] },
    now: Date,
  ): Promise<boolean>;
  finishSizeJob(workspaceId: string, segmentId: string, job: SizeJob, size: ComputedSize): Promise<boolean>;
}

/** Cohort memberships as segments read them: members in braze_id order, and the cohorts' counts. */
export interface MemberReader {
  /** A cohort's current members, ascending, strictly after `after`, read `pageSize` at a time. */
  cohortMembers(cohort: CohortRef, after?: string, pageSize?: number): AsyncIterable<string>;
  getCohorts(workspaceId: string, refs: readonly CohortRef[]): Promise<Cohort[]>;
}

/** The workspace's users as segments read them. */
export interface WorkspaceUsers {
  /** Every user of the workspace, ascending, strictly after `after`, read `pageSize` at a time. */
  workspaceUsers(workspaceId: string, after?: string, pageSize?: number): AsyncIterable<string>;
  getProfiles(workspaceId: string, brazeIds: readonly string[]): Promise<UserProfile[]>;
  workspaceUserCount(workspaceId: string): Promise<UserCount>;
}

/** The segment worker's queue: export continuations and size jobs. */
export interface ExportQueue {
  /** `delaySeconds`: deliver it no sooner (SQS: at most 900). */
  send(message: SegmentJobMessage, options?: { delaySeconds?: number }): Promise<void>;
}

export interface ExportJob {
  workspaceId: string;
  exportId: string;
  segmentId: string;
  status: 'running' | 'done';
  /** Every user of the audience up to this braze_id is written (or was rejected); the next chunk starts after it. */
  cursor?: string;
  usersWritten: number;
  /** Object keys of the parts, in order. */
  parts: string[];
  prefix: string;
  startedAt: string;
  updatedAt: string;
  finishedAt?: string;
  /** The finished job's manifest, written before the job was marked done. */
  manifest?: string;
}

/** Where export jobs live; `advance` is conditioned on the parts written, so two workers cannot both advance a job. */
export interface ExportStore {
  create(job: ExportJob): Promise<void>;
  get(workspaceId: string, exportId: string): Promise<ExportJob | undefined>;
  /** Records one more part; false if another worker advanced the job first. */
  advance(
    job: ExportJob,
    update: { part: string; cursor?: string; users: number; done: boolean; manifest?: string },
    now: Date,
  ): Promise<boolean>;
}

/** Where audience exports are written: S3 in AWS (lib/s3/blob-store.ts), a folder on the local stack (local/blob-store.ts). */
export interface BlobStore {
  put(key: string, body: string, contentType: string): Promise<void>;
  /** A stored object's text, or undefined if there is none (an export's parts, read back for a download). */
  get(key: string): Promise<string | undefined>;
  /** Where a key (or a prefix) can be found, as a URI a person or a sender can use. */
  locate(key: string): string;
}

/**
 * Audience exports for campaign and canvas senders: the segment's users as
 * newline-delimited JSON, written in parts, each part continuing from the cursor where
 * the previous one stopped. A long export is a chain of chunks, so it survives any one
 * function timing out: the job record says where to continue.
 */
import type { ExportJobView } from '../contract/views.js';
import { randomBytes } from 'node:crypto';
import { generateId } from '../workspaces/keys.js';
import { takeWithin } from './evaluate.js';
import { MAX_FILTER_COHORTS, type Filter } from './filter.js';
import type { BlobStore, ExportJob, ExportQueue, ExportStore, Segment } from './ports.js';
import { audienceUser, memberSource, type SegmentPorts } from './service.js';

/** Users written per step; a chunk stops between steps when it is out of time, users or reads. */
const STEP_USERS = 1_000;
/** Keys a step may read from the sources, so a step of a filter that rejects most of what it reads still ends. */
const STEP_READS = 20_000;

export interface ExportPorts extends Pick<SegmentPorts, 'memberships' | 'users'> {
  exports: ExportStore;
  blobs: BlobStore;
}

export type ExportJobWithFilter = ExportJob & { filter: Filter };

export const startExport = async (
  workspaceId: string,
  segment: Segment,
  ports: ExportPorts,
  now: Date,
): Promise<ExportJobWithFilter> => {
  const exportId = generateId();
  const job: ExportJobWithFilter = {
    workspaceId,
    exportId,
    segmentId: segment.segmentId,
    // The definition at the time of the export: a later edit does not change it midway.
    filter: segment.filter,
    status: 'running',
    usersWritten: 0,
    parts: [],
    prefix: `exports/${workspaceId}/${segment.segmentId}/${exportId}/`,
    startedAt: now.toISOString(),
    updatedAt: now.toISOString(),
  };
  await ports.exports.create(job);
  return job;
};

/** Where a finished job's manifest is: the key its last part recorded, or (jobs finished before that) the fixed name. */
const manifestKey = (job: ExportJob) => job.manifest ?? `${job.prefix}manifest.json`;

const writeManifest = (job: ExportJob, key: string, ports: ExportPorts) =>
  ports.blobs.put(
    key,
    JSON.stringify(
      {
        export_id: job.exportId,
        segment_id: job.segmentId,
        users: job.usersWritten,
        parts: job.parts.map((part) => ports.blobs.locate(part)),
        format: 'application/x-ndjson',
        started_at: job.startedAt,
        finished_at: job.finishedAt,
      },
      null,
      2,
    ),
    'application/json',
  );

/**
 * Writes the next part of an export: users after the job's cursor, until `maxUsers` or
 * `outOfTime()`. Returns the job as it now stands; `advanced` is false when another
 * worker had already written this part (a duplicate delivery), and nothing changed.
 */
export const runExportChunk = async (
  workspaceId: string,
  exportId: string,
  ports: ExportPorts,
  options: { maxUsers: number; outOfTime: () => boolean; clock?: () => Date; maxReads?: number },
): Promise<{ job: ExportJob | undefined; advanced: boolean }> => {
  const clock = options.clock ?? (() => new Date());
  const job = (await ports.exports.get(workspaceId, exportId)) as ExportJobWithFilter | undefined;
  if (!job) return { job: undefined, advanced: false };
  if (job.status === 'done') {
    // Jobs finished before the manifest was written ahead of the last advance: write it again
    // in case the worker died in between.
    if (!job.manifest) await writeManifest(job, manifestKey(job), ports);
    return { job, advanced: false };
  }
  const source = memberSource(workspaceId, ports);
  const lines: string[] = [];
  let cursor = job.cursor;
  let more = true;
  let read = 0;
  const maxReads = options.maxReads ?? Number.POSITIVE_INFINITY;
  for (
    let steps = 0;
    more && lines.length < options.maxUsers && read < maxReads && !(steps > 0 && options.outOfTime());
    steps += 1
  ) {
    const step = await takeWithin(job.filter, source, {
      ...(cursor !== undefined ? { after: cursor } : {}),
      limit: Math.min(STEP_USERS, options.maxUsers - lines.length),
      // Enough to open every source, so a step always moves forward.
      readBudget: Math.max(2 * MAX_FILTER_COHORTS + 1, Math.min(STEP_READS, maxReads - read)),
    });
    read += step.read;
    const profiles = await ports.users.getProfiles(workspaceId, step.values);
    lines.push(...profiles.map((profile) => JSON.stringify(audienceUser(profile))));
    more = step.more;
    // Past what the step decided, even where it served no one.
    if (step.resumeAfter !== undefined) cursor = step.resumeAfter;
    else if (step.values.length > 0) cursor = step.values.at(-1);
  }
  const partNumber = String(job.parts.length + 1).padStart(5, '0');
  // A token per writer: a duplicate worker's part (and manifest) never overwrites the one the job records.
  const token = randomBytes(4).toString('hex');
  const part = `${job.prefix}part-${partNumber}-${token}.ndjson`;
  await ports.blobs.put(part, lines.length > 0 ? `${lines.join('\n')}\n` : '', 'application/x-ndjson');
  const now = clock();
  const updated: ExportJob = {
    ...job,
    cursor,
    parts: [...job.parts, part],
    usersWritten: job.usersWritten + lines.length,
    status: more ? 'running' : 'done',
    updatedAt: now.toISOString(),
    ...(more ? {} : { finishedAt: now.toISOString(), manifest: `${job.prefix}manifest-${token}.json` }),
  };
  // The manifest is written before the job says done, so whoever reads "done" finds it.
  if (updated.manifest) await writeManifest(updated, updated.manifest, ports);
  const advanced = await ports.exports.advance(
    job,
    { part, cursor, users: lines.length, done: !more, ...(updated.manifest ? { manifest: updated.manifest } : {}) },
    now,
  );
  if (!advanced) return { job: await ports.exports.get(workspaceId, exportId), advanced: false };
  return { job: updated, advanced: true };
};

export const exportView = (job: ExportJob, blobs: BlobStore): ExportJobView => ({
  export_id: job.exportId,
  segment_id: job.segmentId,
  status: job.status,
  users_written: job.usersWritten,
  parts: job.parts.length,
  location: blobs.locate(job.prefix),
  manifest: job.status === 'done' ? blobs.locate(manifestKey(job)) : null,
  started_at: job.startedAt,
  finished_at: job.finishedAt ?? null,
});

/**
 * A finished export's NDJSON, its parts in order, for a download through the API. Lambda
 * answers at most 6 MB synchronously (AWS Lambda quotas): above DOWNLOAD_MAX_BYTES the
 * caller is pointed at the parts where they are stored.
 */
export const DOWNLOAD_MAX_BYTES = 5 * 1024 * 1024;

export const readExport = async (
  job: ExportJob,
  blobs: BlobStore,
  maxBytes = DOWNLOAD_MAX_BYTES,
): Promise<{ body: string } | { tooLarge: number }> => {
  const parts: string[] = [];
  let bytes = 0;
  for (const part of job.parts) {
    const text = (await blobs.get(part)) ?? '';
    bytes += Buffer.byteLength(text);
    if (bytes > maxBytes) return { tooLarge: bytes };
    parts.push(text);
  }
  return { body: parts.join('') };
};

/**
 * Starts an export and writes its first part within the request (a small audience is done
 * before the answer); what is left goes to the export worker's queue. Bounded: at most
 * `maxUsers` users and `maxReads` keys, stopping while the request has time left.
 */
export const exportNow = async (
  workspaceId: string,
  segment: Segment,
  ports: ExportPorts & { queue: ExportQueue },
  options: { maxUsers: number; maxReads: number; outOfTime: () => boolean; clock: () => Date },
): Promise<ExportJob> => {
  const job = await startExport(workspaceId, segment, ports, options.clock());
  const { job: written } = await runExportChunk(workspaceId, job.exportId, ports, options);
  const current = written ?? job;
  if (current.status === 'running') await ports.queue.send({ v: 1, workspaceId, exportId: job.exportId });
  return current;
};

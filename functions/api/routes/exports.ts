import { NotFoundError } from '../../../lib/errors.js';
import { json } from '../../../lib/http/api.js';
import { exportView, readExport } from '../../../lib/segments/export.js';
import { PayloadTooLargeError, ValidationError } from '../../../lib/errors.js';
import type { ApiRoute } from './route.js';
import { exportNow } from '../../../lib/segments/export.js';

/** Inline part of an export: up to this many users, stopping while the request has time left. */
const INLINE_EXPORT_USERS = 10_000;
const INLINE_EXPORT_MARGIN_MS = 8_000;

/** Inline part of an export reads at most this many keys (so a request never reads the whole workspace); the worker does the rest. */
const INLINE_EXPORT_READS = 50_000;

export const exportsRoutes: readonly ApiRoute[] = [
  {
    method: 'POST',
    path: '/segments/{segment_id}/exports',
    handle: async ({ segmentSources, exports, clock, segmentOf }, workspaceId, request, context) => {
      const segment = await segmentOf(workspaceId, request);
      const current = await exportNow(
        workspaceId,
        segment,
        { ...segmentSources, exports: exports.store, blobs: exports.blobs, queue: exports.queue },
        {
          maxUsers: INLINE_EXPORT_USERS,
          maxReads: INLINE_EXPORT_READS,
          outOfTime: () => context.getRemainingTimeInMillis() < INLINE_EXPORT_MARGIN_MS,
          clock,
        },
      );
      return json(current.status === 'done' ? 201 : 202, {
        export: exportView(current, exports.blobs),
        message: 'success',
      });
    },
  },
  {
    method: 'GET',
    path: '/segments/{segment_id}/exports/{export_id}',
    handle: async ({ exports }, workspaceId, request) => {
      const job = await exports.store.get(workspaceId, request.pathParameters.export_id ?? '');
      if (!job || job.segmentId !== request.pathParameters.segment_id)
        throw new NotFoundError(`No export ${request.pathParameters.export_id} of this segment`);
      return json(200, { export: exportView(job, exports.blobs), message: 'success' });
    },
  },
  {
    method: 'GET',
    path: '/segments/{segment_id}/exports/{export_id}/download',
    handle: async ({ exports }, workspaceId, request) => {
      const job = await exports.store.get(workspaceId, request.pathParameters.export_id ?? '');
      if (!job || job.segmentId !== request.pathParameters.segment_id)
        throw new NotFoundError(`No export ${request.pathParameters.export_id} of this segment`);
      if (job.status !== 'done')
        throw new ValidationError(`Export ${job.exportId} is still running: download it once its status is done`);
      const read = await readExport(job, exports.blobs);
      if ('tooLarge' in read)
        throw new PayloadTooLargeError(
          `Export ${job.exportId} is larger than the API can answer (Lambda's 6 MB response limit): read its parts from ${exports.blobs.locate(job.prefix)}`,
        );
      return {
        statusCode: 200,
        body: undefined,
        headers: {
          'content-type': 'application/x-ndjson; charset=utf-8',
          'content-disposition': `attachment; filename="export-${job.exportId}.ndjson"`,
          'cache-control': 'no-store',
        },
        raw: { body: read.body, isBase64Encoded: false },
      };
    },
  },
];

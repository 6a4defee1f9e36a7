/**
 * Workspace REST API (Authorization: Bearer <REST API key>):
 *   POST /users/track, POST /users/identify, POST /users/export/ids
 *   GET /cohorts, GET /cohorts/{partner}/{cohort_id}
 */
import type { Context } from 'aws-lambda';
import type { Connector, DynamoConnectorStore } from '../../lib/dynamodb/connector-store.js';
import type { CurrentsQueue } from '../../lib/currents/ports.js';
import { NotFoundError } from '../../lib/errors.js';
import {
  httpApi,
  json,
  rejectMalformedStrings,
  routeKeyOf,
  type JsonHandler,
  type JsonRequest,
  type JsonResponse,
  type JsonRoute,
} from '../../lib/http/api.js';
import type { Cohort, DynamoMembershipStore, SyncReport } from '../../lib/dynamodb/membership-store.js';
import type { Observability } from '../../lib/observability.js';
import { ExportIdsRequest, IdentifyRequest, parseBody, TrackRequest } from '../../lib/users/requests.js';
import { exportUsers, identifyUsers, trackUsers, type UserPorts } from '../../lib/users/service.js';
import { authenticateRestKey } from '../../lib/workspaces/auth.js';
import type { BlobStore, ExportQueue, ExportStore, Segment, SegmentStore } from '../../lib/segments/ports.js';
import { exportView, runExportChunk, startExport } from '../../lib/segments/export.js';
import { audiencePage, parseSegmentBody, requireSegment, type SegmentPorts } from '../../lib/segments/service.js';
import {
  answerSize,
  needsSizeJob,
  newSizeJob,
  readSizeInputs,
  sizeJobMessage,
  sizeView,
  type SizeAnswer,
  type SizePolicy,
  type SizePorts,
} from '../../lib/segments/size.js';
import type { CredentialStore } from '../../lib/workspaces/types.js';
import type { CampaignService } from '../../lib/campaigns/service.js';
import { campaignRoutes } from './campaign-routes.js';

export interface ApiDependencies extends Omit<UserPorts, 'currents'> {
  currents?: { connectors: Pick<DynamoConnectorStore, 'list' | 'get'>; queue: CurrentsQueue };
  credentials: CredentialStore;
  cohorts: Pick<DynamoMembershipStore, 'listCohorts' | 'getCohort' | 'recentSyncReports'>;
  segments: SegmentStore;
  /** Segment evaluation reads memberships and users through these. */
  segmentSources: Omit<SegmentPorts, 'segments'>;
  /** When a computed segment size is stale and how often it is recomputed (default: lib/segments/size.ts). */
  segmentSizePolicy?: SizePolicy;
  exports: { store: ExportStore; blobs: BlobStore; queue: ExportQueue };
  /** Campaigns and Canvases (functions/api/campaign-routes.ts); without it their routes answer 404. */
  campaigns?: CampaignService;
  observability: Observability;
}

const cohortView = (cohort: Cohort) => ({
  partner: cohort.partner,
  cohort_id: cohort.cohortId,
  name: cohort.name,
  member_count: cohort.memberCount,
  created_at: cohort.createdAt ?? null,
  renamed_at: cohort.renamedAt ?? null,
  first_seen_at: cohort.firstSeenAt,
  last_synced_at: cohort.lastSyncedAt ?? null,
});

const reportView = (report: SyncReport) => ({
  request_id: report.requestId,
  accepted_at: report.acceptedAt,
  processed_at: report.processedAt,
  received: report.received,
  matched: report.matched,
  unmatched: report.unmatched,
  added: report.added,
  removed: report.removed,
  already_in_state: report.alreadyInState,
  superseded: report.superseded,
});

/** Inline part of an export: up to this many users, stopping while the request has time left. */
const INLINE_EXPORT_USERS = 10_000;
const INLINE_EXPORT_MARGIN_MS = 8_000;

/** Delivery state of a connector (never its token). */
const connectorView = (connector: Connector) => ({
  connector_id: connector.connectorId,
  url: connector.url,
  events: connector.eventTypes,
  paused: connector.paused,
  delivered: connector.delivered,
  retrying: connector.retrying,
  dropped: connector.dropped,
  last_success_at: connector.lastSuccessAt ?? null,
  last_error: connector.lastError ?? null,
  created_at: connector.createdAt,
});

const segmentView = (segment: Segment, size?: SizeAnswer) => ({
  segment_id: segment.segmentId,
  name: segment.name,
  filter: segment.filter,
  created_at: segment.createdAt,
  updated_at: segment.updatedAt,
  ...(size !== undefined ? sizeView(size) : {}),
});

/** Inline part of an export reads at most this many keys (so a request never reads the whole workspace); the worker does the rest. */
const INLINE_EXPORT_READS = 50_000;

const withErrors = <T extends object>(body: T, errors: unknown[]): T & { errors?: unknown[] } =>
  errors.length > 0 ? { ...body, errors } : body;

/** What the routes read: the dependencies, and what the handler derives from them once. */
interface Api extends ApiDependencies {
  clock: () => Date;
  sizePorts: SizePorts;
  policy: SizePolicy | undefined;
  /** The segment the path names, or a 404. */
  segmentOf(workspaceId: string, request: JsonRequest): Promise<Segment>;
}

/** A route's answer for a workspace whose REST API key the request carried. */
type ApiRouteHandler = (api: Api, workspaceId: string, request: JsonRequest, context: Context) => Promise<JsonResponse>;

const apiRoutes: readonly (Omit<JsonRoute, 'handle'> & { handle: ApiRouteHandler })[] = [
  {
    method: 'POST',
    path: '/users/track',
    handle: async (api, workspaceId, request) => {
      const result = await trackUsers(workspaceId, parseBody(TrackRequest, request.body, '/users/track'), api);
      return json(
        201,
        withErrors(
          {
            message: 'success',
            attributes_processed: result.processed,
            ...(result.events !== undefined ? { events_processed: result.events } : {}),
            ...(result.purchases !== undefined ? { purchases_processed: result.purchases } : {}),
          },
          result.errors,
        ),
      );
    },
  },
  {
    method: 'POST',
    path: '/users/identify',
    handle: async (api, workspaceId, request) => {
      const result = await identifyUsers(workspaceId, parseBody(IdentifyRequest, request.body, '/users/identify'), api);
      return json(
        201,
        withErrors({ message: 'success', identified: result.identified, merged: result.merged }, result.errors),
      );
    },
  },
  {
    method: 'POST',
    path: '/users/export/ids',
    handle: async (api, workspaceId, request) => {
      const result = await exportUsers(
        workspaceId,
        parseBody(ExportIdsRequest, request.body, '/users/export/ids'),
        api,
      );
      return json(201, { users: result.users, invalid_user_ids: result.invalidUserIds, message: 'success' });
    },
  },
  {
    method: 'GET',
    path: '/cohorts',
    handle: async ({ cohorts }, workspaceId) => {
      const list = await cohorts.listCohorts(workspaceId);
      return json(200, { cohorts: list.map(cohortView), message: 'success' });
    },
  },
  {
    method: 'GET',
    path: '/cohorts/{partner}/{cohort_id}',
    handle: async ({ cohorts }, workspaceId, request) => {
      const ref = {
        workspaceId,
        partner: request.pathParameters.partner ?? '',
        cohortId: request.pathParameters.cohort_id ?? '',
      };
      // Reports first: a report is written after its changes, so every report listed is
      // already reflected in the member count read next.
      const reports = await cohorts.recentSyncReports(ref);
      const cohort = await cohorts.getCohort(ref);
      if (!cohort) throw new NotFoundError(`No cohort ${ref.cohortId} of partner ${ref.partner} in this workspace`);
      return json(200, {
        cohort: { ...cohortView(cohort), sync_reports: reports.map(reportView) },
        message: 'success',
      });
    },
  },
  {
    method: 'POST',
    path: '/segments',
    handle: async ({ segments, segmentSources, exports, clock, sizePorts, policy }, workspaceId, request) => {
      const input = parseSegmentBody(request.body);
      const now = clock();
      // The counts say whether the size is exact from them; if not, the first computation is queued now.
      const inputs = await readSizeInputs(workspaceId, input.filter, segmentSources);
      const job = needsSizeJob(input.filter, inputs) ? newSizeJob(now) : undefined;
      const segment = await segments.create(workspaceId, input, now, job);
      if (job) await exports.queue.send(sizeJobMessage(workspaceId, segment.segmentId, job));
      return json(201, {
        segment: segmentView(segment, await answerSize(workspaceId, segment, sizePorts, now, { inputs, policy })),
        message: 'success',
      });
    },
  },
  {
    method: 'GET',
    path: '/segments',
    handle: async ({ segments }, workspaceId) => {
      const list = await segments.list(workspaceId);
      return json(200, { segments: list.map((segment) => segmentView(segment)), message: 'success' });
    },
  },
  {
    method: 'GET',
    path: '/segments/{segment_id}',
    handle: async ({ clock, sizePorts, policy, segmentOf }, workspaceId, request) => {
      const segment = await segmentOf(workspaceId, request);
      return json(200, {
        segment: segmentView(segment, await answerSize(workspaceId, segment, sizePorts, clock(), { policy })),
        message: 'success',
      });
    },
  },
  {
    method: 'PUT',
    path: '/segments/{segment_id}',
    handle: async ({ segments, segmentSources, exports, clock, sizePorts, policy }, workspaceId, request) => {
      const input = parseSegmentBody(request.body);
      const now = clock();
      const inputs = await readSizeInputs(workspaceId, input.filter, segmentSources);
      const job = needsSizeJob(input.filter, inputs) ? newSizeJob(now) : undefined;
      const updated = await segments.update(workspaceId, request.pathParameters.segment_id ?? '', input, now, job);
      if (!updated) throw new NotFoundError(`No segment ${request.pathParameters.segment_id} in this workspace`);
      // A new filter's size is computed afresh; the same filter keeps its size.
      if (job && updated.filterChanged)
        await exports.queue.send(sizeJobMessage(workspaceId, updated.segment.segmentId, job));
      return json(200, {
        segment: segmentView(
          updated.segment,
          await answerSize(workspaceId, updated.segment, sizePorts, now, { inputs, policy }),
        ),
        message: 'success',
      });
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
    handle: async ({ segmentSources, segmentOf }, workspaceId, request) => {
      const segment = await segmentOf(workspaceId, request);
      const page = await audiencePage(workspaceId, segment, request.queryStringParameters, segmentSources);
      return json(200, { users: page.users, next_cursor: page.nextCursor, message: 'success' });
    },
  },
  {
    method: 'POST',
    path: '/segments/{segment_id}/exports',
    handle: async ({ segmentSources, exports, clock, segmentOf }, workspaceId, request, context) => {
      const segment = await segmentOf(workspaceId, request);
      const ports = { ...segmentSources, exports: exports.store, blobs: exports.blobs };
      const job = await startExport(workspaceId, segment, ports, clock());
      // The first part is written now; a small audience is done before the answer.
      const { job: written } = await runExportChunk(workspaceId, job.exportId, ports, {
        maxUsers: INLINE_EXPORT_USERS,
        maxReads: INLINE_EXPORT_READS,
        outOfTime: () => context.getRemainingTimeInMillis() < INLINE_EXPORT_MARGIN_MS,
        clock,
      });
      const current = written ?? job;
      if (current.status === 'running') await exports.queue.send({ v: 1, workspaceId, exportId: job.exportId });
      return json(current.status === 'done' ? 201 : 202, {
        export: exportView(current, exports.blobs),
        message: 'success',
      });
    },
  },
  {
    method: 'GET',
    path: '/currents/{connector_id}',
    handle: async (api, workspaceId, request) => {
      const connector =
        api.currents && (await api.currents.connectors.get(workspaceId, request.pathParameters.connector_id ?? ''));
      if (!connector)
        throw new NotFoundError(`No Currents connector ${request.pathParameters.connector_id} in this workspace`);
      return json(200, { connector: connectorView(connector), message: 'success' });
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
  ...campaignRoutes,
];

/** The routes as API Gateway names them (serverless.yml declares the same; the infra test compares). */
export const API_ROUTES: readonly string[] = apiRoutes.map(routeKeyOf);

export const createApiHandler = (dependencies: ApiDependencies) => {
  const { credentials, segments, segmentSources, exports, observability } = dependencies;
  const api: Api = {
    ...dependencies,
    clock: dependencies.clock ?? (() => new Date()),
    sizePorts: { ...segmentSources, segments, queue: exports.queue },
    policy: dependencies.segmentSizePolicy,
    segmentOf: (workspaceId, request) => requireSegment(workspaceId, request.pathParameters.segment_id ?? '', segments),
  };
  /** Every route answers a workspace: its REST API key first, then the body's strings. */
  const authenticated =
    (handle: ApiRouteHandler): JsonHandler =>
    async (request, context) => {
      const { workspaceId } = await authenticateRestKey(credentials, request.headers.authorization);
      observability.logger.appendKeys({ workspaceId });
      // Every string of a body (ids, names, attribute names and values, filters) is stored or sent on: none UTF-8 cannot carry.
      rejectMalformedStrings(request.body);
      return handle(api, workspaceId, request, context);
    };
  return httpApi(
    observability,
    apiRoutes.map(({ method, path, handle }) => ({ method, path, handle: authenticated(handle) })),
  );
};

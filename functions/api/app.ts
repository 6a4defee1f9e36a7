/**
 * Workspace REST API (Authorization: Bearer <REST API key>):
 *   POST /users/track, POST /users/identify, POST /users/export/ids
 *   GET /cohorts, GET /cohorts/partners, GET /cohorts/{partner}/{cohort_id}
 *   segments, their audiences and exports; Currents connectors; the workspace's own
 *   partners and data import key (the console's pages)
 * and, without a key, the console itself: GET / and GET /assets/{file}.
 */
import { cutToBytes, LIST_PAGE, parseListRequest } from '../../lib/paging.js';
import { encodeCursor } from '../../lib/segments/evaluate.js';
import { cohortTestsOf } from '../../lib/segments/filter.js';
import type { Context } from 'aws-lambda';
import type { DynamoConnectorStore } from '../../lib/dynamodb/connector-store.js';
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
import { exportView, readExport, runExportChunk, startExport } from '../../lib/segments/export.js';
import { PayloadTooLargeError, ValidationError } from '../../lib/errors.js';
import { isKnownPartner, KNOWN_PARTNERS } from '../../lib/workspaces/partners.js';
import { replayDeadLetters } from '../../lib/currents/replay.js';
import { connectorView, deadLetterView } from '../../lib/currents/views.js';
import { isAssetName, type StaticSite, staticResponse } from '../../lib/http/static-site.js';
import {
  keyInfoView,
  parseKeyKind,
  partnerStatuses,
  partnerStatusView,
  requireWorkspace,
  rotateDataImportKey,
  setPartnerEnabled,
  type WorkspaceSettingsStore,
  workspaceView,
} from '../../lib/workspaces/settings.js';
import { audiencePage, parseSegmentBody, requireSegment, type SegmentPorts } from '../../lib/segments/service.js';
import {
  answerSize,
  needsSizeJob,
  newSizeJob,
  readSizeInputs,
  sizeJobMessage,
  sizeView,
  type SizeAnswer,
  sizeFromListedCounts,
  sizeNeedsUserCount,
  type SizePolicy,
  type SizePorts,
} from '../../lib/segments/size.js';
import type { CredentialStore } from '../../lib/workspaces/types.js';
import type { CampaignService } from '../../lib/campaigns/service.js';
import { campaignRoutes } from './campaign-routes.js';
import type { CohortView, SegmentView, SyncReportView } from '../../lib/contract/views.js';

export interface ApiDependencies extends Omit<UserPorts, 'currents'> {
  currents?: {
    connectors: Pick<
      DynamoConnectorStore,
      | 'list'
      | 'get'
      | 'setPaused'
      | 'deadLetterPage'
      | 'claimDeadLetter'
      | 'releaseDeadLetter'
      | 'hasUnclaimedDeadLetters'
      | 'deleteDeadLetter'
    >;
    queue: CurrentsQueue;
  };
  /** The workspace's own settings (its partners, its data import key), as the console changes them. */
  workspaces?: WorkspaceSettingsStore;
  /** The console's files (dist/console), served at / and /assets/{file} (absent: those routes answer 404). */
  console?: StaticSite;
  credentials: CredentialStore;
  cohorts: Pick<
    DynamoMembershipStore,
    'listCohorts' | 'getCohort' | 'recentSyncReports' | 'listedCohorts' | 'partnersWithCohorts'
  >;
  segments: SegmentStore;
  /** Segment evaluation reads memberships and users through these. */
  segmentSources: Omit<SegmentPorts, 'segments'>;
  /** When a computed segment size is stale and how often it is recomputed (default: lib/segments/size.ts). */
  segmentSizePolicy?: SizePolicy;
  exports: { store: ExportStore; blobs: BlobStore; queue: ExportQueue };
  /** How long ingest instances reuse a key lookup (default: lib/workspaces/credential-cache.ts): the least grace a rotation gives. */
  credentialCacheTtlMs?: number;
  /** Campaigns and Canvases (functions/api/campaign-routes.ts); without it their routes answer 404. */
  campaigns?: CampaignService;
  observability: Observability;
}

const cohortView = (cohort: Cohort): CohortView => ({
  partner: cohort.partner,
  cohort_id: cohort.cohortId,
  name: cohort.name,
  member_count: cohort.memberCount,
  created_at: cohort.createdAt ?? null,
  renamed_at: cohort.renamedAt ?? null,
  first_seen_at: cohort.firstSeenAt,
  last_synced_at: cohort.lastSyncedAt ?? null,
});

const reportView = (report: SyncReport): SyncReportView => ({
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

const segmentView = (segment: Segment, size?: SizeAnswer): SegmentView => ({
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

/** The workspace settings port, which every deployed api has (tests may build an api without it). */
const requireSettings = (api: Api): WorkspaceSettingsStore => {
  if (!api.workspaces) throw new NotFoundError('Workspace settings are not served by this API');
  return api.workspaces;
};

const requireConnector = async (api: Api, workspaceId: string, request: JsonRequest) => {
  const connectorId = request.pathParameters.connector_id ?? '';
  const connector = api.currents && (await api.currents.connectors.get(workspaceId, connectorId));
  if (!api.currents || !connector) throw new NotFoundError(`No Currents connector ${connectorId} in this workspace`);
  return { currents: api.currents, connector };
};

/** A paused connector holds its events (the sender checks every 5 minutes, for 48 h at most); resumed, they flow again. */
const setConnectorPaused = async (api: Api, workspaceId: string, request: JsonRequest, paused: boolean) => {
  const { currents, connector } = await requireConnector(api, workspaceId, request);
  if (!(await currents.connectors.setPaused(workspaceId, connector.connectorId, paused)))
    throw new NotFoundError(`No Currents connector ${connector.connectorId} in this workspace`);
  return json(200, { connector: connectorView({ ...connector, paused }), message: 'success' });
};

/** The console's page and the files it loads: served to anyone (they hold no data; every call the page makes carries the key). */
const CONSOLE_ROUTES = [
  { method: 'GET', path: '/' },
  { method: 'GET', path: '/assets/{file}' },
] as const;

const consoleHandler =
  (site: StaticSite | undefined): JsonHandler =>
  async (request) => {
    const file = request.pathParameters.file;
    const name = file === undefined ? 'index.html' : `assets/${file}`;
    const found = site && (file === undefined || isAssetName(file)) ? await site.get(name) : undefined;
    if (!found)
      throw new NotFoundError(
        file === undefined ? 'The console is not built here: run npm run build' : `No console file ${file}`,
      );
    // Vite names every asset by its content's hash: a new build is a new name, so an asset never changes.
    return staticResponse(found, { acceptEncoding: request.headers['accept-encoding'], immutable: file !== undefined });
  };

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
    handle: async ({ cohorts }, workspaceId, request) => {
      const query = request.queryStringParameters;
      const partner = query.partner;
      if (partner !== undefined && !isKnownPartner(partner))
        throw new ValidationError(`\`partner\` must be one of: ${KNOWN_PARTNERS.join(', ')}`);
      const listRequest = parseListRequest(query, LIST_PAGE, 'cohorts', { partner });
      const page = await cohorts.listCohorts(workspaceId, {
        ...listRequest,
        ...(partner === undefined ? {} : { partner }),
      });
      const cut = cutToBytes(page.cohorts.map(cohortView), page.next, (view) => `${view.partner}#${view.cohort_id}`);
      return json(200, {
        cohorts: cut.items,
        next_cursor: cut.next === undefined ? null : encodeCursor(cut.next, listRequest.scope),
        message: 'success',
      });
    },
  },
  {
    // The partners a segment builder offers: those with cohorts here, in one request.
    method: 'GET',
    path: '/cohorts/partners',
    handle: async ({ cohorts }, workspaceId) =>
      json(200, { partners: await cohorts.partnersWithCohorts(workspaceId, KNOWN_PARTNERS), message: 'success' }),
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
  {
    method: 'GET',
    path: '/currents',
    handle: async ({ currents }, workspaceId) => {
      const list = currents ? await currents.connectors.list(workspaceId) : [];
      return json(200, { connectors: list.map(connectorView), message: 'success' });
    },
  },
  {
    method: 'POST',
    path: '/currents/{connector_id}/pause',
    handle: (api, workspaceId, request) => setConnectorPaused(api, workspaceId, request, true),
  },
  {
    method: 'POST',
    path: '/currents/{connector_id}/resume',
    handle: (api, workspaceId, request) => setConnectorPaused(api, workspaceId, request, false),
  },
  {
    method: 'GET',
    path: '/currents/{connector_id}/dead-letters',
    handle: async (api, workspaceId, request) => {
      const { currents, connector } = await requireConnector(api, workspaceId, request);
      const query = request.queryStringParameters;
      const page = parseListRequest(query, LIST_PAGE, `dead-letters/${connector.connectorId}`);
      if (page.search !== undefined) throw new ValidationError('`q`: dead letters are not searched; page through them');
      const found = await currents.connectors.deadLetterPage(workspaceId, connector.connectorId, page);
      const cut = cutToBytes(found.letters, found.next, (letter) => letter.key, {
        bytesOf: (letter) => Buffer.byteLength(JSON.stringify(deadLetterView(letter))),
      });
      return json(200, {
        dead_letters: cut.items.map(deadLetterView),
        next_cursor: cut.next === undefined ? null : encodeCursor(cut.next, page.scope),
        message: 'success',
      });
    },
  },
  {
    method: 'POST',
    path: '/currents/{connector_id}/replay',
    handle: async (api, workspaceId, request) => {
      const { currents, connector } = await requireConnector(api, workspaceId, request);
      const replayed = await replayDeadLetters(currents.connectors, currents.queue, workspaceId, connector.connectorId);
      return json(200, {
        connector_id: connector.connectorId,
        requeued: replayed.requeued,
        remaining: replayed.remaining,
        message: 'success',
      });
    },
  },
  {
    method: 'GET',
    path: '/workspace',
    handle: async (api, workspaceId) => {
      const workspace = await requireWorkspace(requireSettings(api), workspaceId);
      return json(200, { workspace: workspaceView(workspace), message: 'success' });
    },
  },
  {
    method: 'GET',
    path: '/workspace/partners',
    handle: async (api, workspaceId) => {
      const statuses = await partnerStatuses(requireSettings(api), workspaceId);
      return json(200, { partners: statuses.map(partnerStatusView), message: 'success' });
    },
  },
  {
    method: 'PUT',
    path: '/workspace/partners/{partner}',
    handle: async (api, workspaceId, request) => {
      const status = await setPartnerEnabled(
        requireSettings(api),
        workspaceId,
        request.pathParameters.partner ?? '',
        request.body,
      );
      return json(200, { partner: partnerStatusView(status), message: 'success' });
    },
  },
  {
    method: 'GET',
    path: '/workspace/keys/{kind}',
    handle: async (api, workspaceId, request) => {
      const kind = parseKeyKind(request.pathParameters.kind);
      const info = await requireSettings(api).getKeyInfo(workspaceId, kind);
      if (!info) throw new NotFoundError(`No workspace ${workspaceId}`);
      return json(200, { key: keyInfoView(info), message: 'success' });
    },
  },
  {
    method: 'POST',
    path: '/workspace/keys/{kind}',
    handle: async (api, workspaceId, request) => {
      const kind = parseKeyKind(request.pathParameters.kind);
      const key = await rotateDataImportKey(
        requireSettings(api),
        workspaceId,
        kind,
        request.body,
        api.clock(),
        api.credentialCacheTtlMs,
      );
      // The key is in this answer only: never cached, never stored but as its hash.
      return json(201, { key, message: 'success' }, { 'cache-control': 'no-store' });
    },
  },
];

/** The console: its page and the files it loads, for anyone (it holds no data; every call it makes carries the key). */
/** The routes as API Gateway names them (serverless.yml declares the same; the infra test compares). */
export const API_ROUTES: readonly string[] = [...apiRoutes, ...CONSOLE_ROUTES].map(routeKeyOf);

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
  return httpApi(observability, [
    ...apiRoutes.map(({ method, path, handle }) => ({ method, path, handle: authenticated(handle) })),
    ...CONSOLE_ROUTES.map(({ method, path }) => ({ method, path, handle: consoleHandler(dependencies.console) })),
  ]);
};

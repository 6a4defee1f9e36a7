/**
 * Workspace REST API (Authorization: Bearer <REST API key>):
 *   POST /users/track, POST /users/identify, POST /users/export/ids
 *   GET /cohorts, GET /cohorts/{partner}/{cohort_id}
 */
import { NotFoundError } from '../../lib/errors.js';
import { httpApi, json, type JsonRequest, type JsonResponse } from '../../lib/http/api.js';
import type { Cohort, DynamoMembershipStore, SyncReport } from '../../lib/dynamodb/membership-store.js';
import type { Observability } from '../../lib/observability.js';
import { ExportIdsRequest, IdentifyRequest, parseBody, TrackRequest } from '../../lib/users/requests.js';
import { exportUsers, identifyUsers, trackUsers, type UserPorts } from '../../lib/users/service.js';
import { authenticateRestKey } from '../../lib/workspaces/auth.js';
import type { CredentialStore } from '../../lib/workspaces/types.js';

export const API_ROUTES = [
  'POST /users/track',
  'POST /users/identify',
  'POST /users/export/ids',
  'GET /cohorts',
  'GET /cohorts/{partner}/{cohort_id}',
] as const;
type ApiRoute = (typeof API_ROUTES)[number];

export interface ApiDependencies extends UserPorts {
  credentials: CredentialStore;
  cohorts: Pick<DynamoMembershipStore, 'listCohorts' | 'getCohort' | 'recentSyncReports'>;
  observability: Observability;
}

const cohortView = (cohort: Cohort) => ({
  partner: cohort.partner,
  cohort_id: cohort.cohortId,
  name: cohort.name,
  member_count: cohort.memberCount,
  created_at: cohort.createdAt ?? null,
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

const withErrors = <T extends object>(body: T, errors: unknown[]): T & { errors?: unknown[] } => (errors.length > 0 ? { ...body, errors } : body);

export const createApiHandler = (dependencies: ApiDependencies) => {
  const { credentials, cohorts, observability } = dependencies;
  const routes: Record<ApiRoute, (workspaceId: string, request: JsonRequest) => Promise<JsonResponse>> = {
    'POST /users/track': async (workspaceId, request) => {
      const result = await trackUsers(workspaceId, parseBody(TrackRequest, request.body, '/users/track'), dependencies);
      return json(201, withErrors({ message: 'success', attributes_processed: result.processed }, result.errors));
    },
    'POST /users/identify': async (workspaceId, request) => {
      const result = await identifyUsers(workspaceId, parseBody(IdentifyRequest, request.body, '/users/identify'), dependencies);
      return json(201, withErrors({ message: 'success', identified: result.identified, merged: result.merged }, result.errors));
    },
    'POST /users/export/ids': async (workspaceId, request) => {
      const result = await exportUsers(workspaceId, parseBody(ExportIdsRequest, request.body, '/users/export/ids'), dependencies);
      return json(201, { users: result.users, invalid_user_ids: result.invalidUserIds, message: 'success' });
    },
    'GET /cohorts': async (workspaceId) => {
      const list = await cohorts.listCohorts(workspaceId);
      return json(200, { cohorts: list.map(cohortView), message: 'success' });
    },
    'GET /cohorts/{partner}/{cohort_id}': async (workspaceId, request) => {
      const ref = { workspaceId, partner: request.pathParameters.partner ?? '', cohortId: request.pathParameters.cohort_id ?? '' };
      // Reports first: a report is written after its changes, so every report listed is
      // already reflected in the member count read next.
      const reports = await cohorts.recentSyncReports(ref);
      const cohort = await cohorts.getCohort(ref);
      if (!cohort) throw new NotFoundError(`No cohort ${ref.cohortId} of partner ${ref.partner} in this workspace`);
      return json(200, { cohort: { ...cohortView(cohort), sync_reports: reports.map(reportView) }, message: 'success' });
    },
  };

  return httpApi(observability, async (request) => {
    const { workspaceId } = await authenticateRestKey(credentials, request.headers.authorization);
    observability.logger.appendKeys({ workspaceId });
    const route = routes[request.routeKey as ApiRoute];
    if (!route) throw new NotFoundError(`No route ${request.routeKey}`);
    return route(workspaceId, request);
  });
};

/**
 * GET /cohorts (paged, searched), /cohorts/partners, /cohorts/{partner}/{cohort_id} (with its sync reports).
 */
import { cutToBytes, LIST_PAGE, LIST_QUERY, parseListRequest } from '../../../lib/paging.js';
import { encodeCursor } from '../../../lib/segments/evaluate.js';
import { NotFoundError } from '../../../lib/errors.js';
import { json } from '../../../lib/http/api.js';
import type { Cohort, SyncReport } from '../../../lib/dynamodb/membership-store.js';
import { ValidationError } from '../../../lib/errors.js';
import { isKnownPartner, KNOWN_PARTNERS } from '../../../lib/workspaces/partners.js';
import type { CohortView, SyncReportView } from '../../../lib/contract/views.js';
import type { ApiRoute } from './route.js';

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

export const cohortsRoutes: readonly ApiRoute[] = [
  {
    method: 'GET',
    path: '/cohorts',
    query: [...LIST_QUERY, 'partner'],
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
];

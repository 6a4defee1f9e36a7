/**
 * GET /cohorts (paged, searched), /cohorts/partners, /cohorts/{partner}/{cohort_id} (with its sync reports), and
 * /cohorts/{partner}?cohort_id=… (the same, for any id: `.` and `..` cannot be path segments).
 */
import { cutToBytes, LIST_PAGE, LIST_QUERY, parseListRequest } from '../../../lib/paging.js';
import { encodeCursor } from '../../../lib/segments/evaluate.js';
import { NotFoundError } from '../../../lib/errors.js';
import { json } from '../../../lib/http/api.js';
import { pathParameterProblems } from '../../../lib/http/limits.js';
import type { Cohort, SyncReport } from '../../../lib/dynamodb/membership-store.js';
import { ValidationError } from '../../../lib/errors.js';
import { isKnownPartner, KNOWN_PARTNERS } from '../../../lib/workspaces/partners.js';
import type { CohortView, SyncReportView } from '../../../lib/contract/views.js';
import type { Api, ApiRoute } from './route.js';

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
    handle: async (api, workspaceId, request) =>
      cohortDetail(api, workspaceId, request.pathParameters.partner ?? '', request.pathParameters.cohort_id ?? ''),
  },
  {
    // The same cohort, its id in the query: any id a partner may send reaches it, `.` and `..`
    // too, which no URL can carry as a path segment (RFC 3986 §5.2.4: fetch, curl and URL
    // parsers remove them, `%2E` included, before a request is sent). The console asks here.
    method: 'GET',
    path: '/cohorts/{partner}',
    query: ['cohort_id'],
    handle: async (api, workspaceId, request) => {
      const partner = request.pathParameters.partner ?? '';
      const cohortId = request.queryStringParameters.cohort_id;
      if (cohortId === undefined)
        throw new ValidationError('`cohort_id` is required', [
          `GET /cohorts/{partner}?cohort_id=… answers one cohort; the list of a partner's cohorts is GET /cohorts?partner=${partner}`,
        ]);
      // Held to what the path would hold it to: non-empty, well-formed, fits its keys.
      const problems = pathParameterProblems({ partner, cohort_id: cohortId });
      if (problems.length > 0) throw new ValidationError(`Invalid query parameter: ${problems[0]}`, problems);
      return cohortDetail(api, workspaceId, partner, cohortId);
    },
  },
];

/** One cohort with its recent sync reports, or a 404. */
const cohortDetail = async ({ cohorts }: Api, workspaceId: string, partner: string, cohortId: string) => {
  const ref = { workspaceId, partner, cohortId };
  // Reports first: a report is written after its changes, so every report listed is
  // already reflected in the member count read next.
  const reports = await cohorts.recentSyncReports(ref);
  const cohort = await cohorts.getCohort(ref);
  if (!cohort) throw new NotFoundError(`No cohort ${ref.cohortId} of partner ${ref.partner} in this workspace`);
  return json(200, {
    cohort: { ...cohortView(cohort), sync_reports: reports.map(reportView) },
    message: 'success',
  });
};

/**
 * Partner endpoints (API Gateway HTTP API):
 *   POST /partners/{partner}/cohorts        create-or-rename a cohort
 *   POST /partners/{partner}/cohorts/users  cohort deltas
 * authenticate (always first: bad keys are a 401 whatever the body) → validate → queue → 201.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import {
  countIdentifiers,
  validateCohortChangesRequest,
  validateNameCohortRequest,
} from '../../lib/contract/partner.js';
import {
  type Acceptance,
  enqueueCohortChanges,
  enqueueCohortName,
  type CohortQueue,
} from '../../lib/cohorts/ingest.js';
import { toRequestId } from '../../lib/cohorts/messages.js';
import { AuthenticationError, ServiceError } from '../../lib/errors.js';
import { httpApi, json, routeKeyOf, type JsonHandler, type JsonRequest, type JsonRoute } from '../../lib/http/api.js';
import type { Observability } from '../../lib/observability.js';
import { authenticatePartner } from '../../lib/workspaces/auth.js';
import { CachedCredentialStore, DEFAULT_CREDENTIAL_CACHE_TTL_MS } from '../../lib/workspaces/credential-cache.js';
import type { CredentialStore } from '../../lib/workspaces/types.js';
import {
  DEFAULT_REQUESTS_PER_HOUR,
  RateLimitedError,
  RateLimiter,
  type RequestCounter,
} from '../../lib/workspaces/rate-limit.js';

export interface IngestDependencies {
  credentials: CredentialStore;
  queue: CohortQueue;
  requestCounter: RequestCounter;
  /** Requests per hour per partner and workspace (contract: 250,000). */
  requestsPerHour?: number;
  /**
   * How long this instance reuses a credential lookup (default 30 s: a revoked key may work
   * that long on a warm instance); 0 reads the store at every request.
   */
  credentialCacheTtlMs?: number;
  observability: Observability;
  /** The time of acceptance stamps, key expiry (grace periods), the credential cache and the rate-limit window. */
  clock?: () => Date;
}

const field = (body: unknown, name: string): unknown =>
  typeof body === 'object' && body !== null && !Array.isArray(body)
    ? (body as Record<string, unknown>)[name]
    : undefined;

/** What a route does with a request whose keys were valid and that the rate limit admitted. */
type Accept = (
  request: JsonRequest,
  acceptance: Acceptance,
  ports: Pick<IngestDependencies, 'queue' | 'observability'>,
) => Promise<void>;

const ingestRoutes: readonly (Omit<JsonRoute, 'handle'> & { accept: Accept })[] = [
  {
    method: 'POST',
    path: '/partners/{partner}/cohorts',
    accept: async (request, acceptance, { queue, observability }) => {
      const cohortName = validateNameCohortRequest(request.body);
      await enqueueCohortName(cohortName, acceptance, queue);
      observability.logger.info('cohort name accepted', { cohortId: cohortName.cohort_id });
    },
  },
  {
    method: 'POST',
    path: '/partners/{partner}/cohorts/users',
    accept: async (request, acceptance, { queue, observability }) => {
      const cohortChanges = validateCohortChangesRequest(request.body);
      const identifiers = countIdentifiers(cohortChanges.cohort_changes);
      // An empty delta is how partners test credentials: valid keys get their 201, nothing is queued.
      if (cohortChanges.cohort_changes.length > 0) await enqueueCohortChanges(cohortChanges, acceptance, queue);
      observability.metrics.addMetric('identifiersAccepted', MetricUnit.Count, identifiers);
      observability.logger.info('cohort changes accepted', {
        cohortId: cohortChanges.cohort_id,
        changes: cohortChanges.cohort_changes.length,
        identifiers,
      });
    },
  },
];

/** The routes as API Gateway names them (serverless.yml declares the same; the infra test compares). */
export const INGEST_ROUTES: readonly string[] = ingestRoutes.map(routeKeyOf);

export const createIngestHandler = ({
  credentials,
  queue,
  requestCounter,
  requestsPerHour = DEFAULT_REQUESTS_PER_HOUR,
  credentialCacheTtlMs = DEFAULT_CREDENTIAL_CACHE_TTL_MS,
  observability,
  clock = () => new Date(),
}: IngestDependencies) => {
  // Per instance (the handler is built once per cold start): see the modules for what each costs and guarantees.
  const cachedCredentials = new CachedCredentialStore(credentials, {
    ttlMs: credentialCacheTtlMs,
    now: () => clock().getTime(),
  });
  const rateLimiter = new RateLimiter(requestCounter, requestsPerHour);
  /** Every route: authenticate (always first), rate-limit, then the route's own work; 201 once it is queued. */
  const admitted =
    (accept: Accept): JsonHandler =>
    async (request) => {
      const partner = request.pathParameters.partner ?? '';
      const now = clock();
      const { workspaceId } = await authenticatePartner(
        cachedCredentials,
        {
          partner,
          partnerApiKey: field(request.body, 'partner_api_key'),
          clientSecret: field(request.body, 'client_secret'),
        },
        now,
      ).catch((error: unknown) => {
        if (error instanceof AuthenticationError) observability.metrics.addMetric('authFailures', MetricUnit.Count, 1);
        throw error;
      });
      observability.logger.appendKeys({ workspaceId, partner });
      const rateLimit = await rateLimiter.admit({ partner, workspaceId, now }).catch((error: unknown) => {
        if (error instanceof RateLimitedError) observability.metrics.addMetric('rateLimited', MetricUnit.Count, 1);
        throw error;
      });
      const acceptance = {
        workspaceId,
        partner,
        stamp: { acceptedAt: now.toISOString(), requestId: toRequestId(request.requestId) },
      };
      try {
        await accept(request, acceptance, { queue, observability });
      } catch (error: unknown) {
        // The request counted against the hour, so its answer (a 400, a 503) says how many are left, as a 201's does.
        if (error instanceof ServiceError) Object.assign(error.headers, rateLimit);
        throw error;
      }
      observability.metrics.addMetric('requestsAccepted', MetricUnit.Count, 1);
      return json(201, { message: 'success' }, rateLimit);
    };
  return httpApi(
    observability,
    ingestRoutes.map(({ method, path, accept }) => ({ method, path, handle: admitted(accept) })),
  );
};

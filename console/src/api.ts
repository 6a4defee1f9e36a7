/**
 * The REST API, as the console calls it: same origin, `Authorization: Bearer <REST API
 * key>`. Every error the API answers carries `{message, errors}`; it is thrown as an
 * ApiError with that message, so a page can show it as sent.
 */
import { searchPages } from './search.ts';
import { session } from './session.ts';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details: readonly string[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** What the console found wrong in a form before sending anything: every problem at once, not an API error. */
export class FormProblems extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join(' '));
    this.name = 'FormProblems';
  }
}

/** Called when the API refuses the key (401): the app signs out and shows the sign-in page with the message. */
let onUnauthorized: (message: string) => void = () => undefined;
export const setUnauthorizedHandler = (handler: (message: string) => void) => {
  onUnauthorized = handler;
};

const detailsOf = (errors: unknown): string[] =>
  Array.isArray(errors) ? errors.map((error) => (typeof error === 'string' ? error : JSON.stringify(error))) : [];

export const request = async <T>(
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  body?: unknown,
  key: string | undefined = session.key(),
  /** More request headers (If-Match). */
  extra: Record<string, string> = {},
): Promise<T> => {
  const headers: Record<string, string> = { accept: 'application/json', ...extra };
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      // The key goes in the header only: no cookies, nothing cached.
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch (error: unknown) {
    throw new ApiError(0, error instanceof Error ? error.message : String(error));
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? {} : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!response.ok) {
    const answer = (parsed ?? {}) as { message?: unknown; errors?: unknown };
    const message =
      typeof answer.message === 'string' && answer.message !== ''
        ? answer.message
        : `${response.status} ${response.statusText}`;
    const error = new ApiError(response.status, message, detailsOf(answer.errors));
    // Only for the session's key: a key being tried on the sign-in page is answered there.
    if (response.status === 401 && key !== undefined && key === session.key()) onUnauthorized(message);
    throw error;
  }
  if (parsed === undefined) throw new ApiError(response.status, 'The API answered something that is not JSON');
  return parsed as T;
};

/** Path segments are percent-encoded: cohort and connector ids may hold any character. */
export const path = (strings: TemplateStringsArray, ...values: string[]) =>
  strings.reduce(
    (out, part, index) => out + part + (index < values.length ? encodeURIComponent(values[index]!) : ''),
    '',
  );

/**
 * Where one cohort is asked for: `GET /cohorts/{partner}?cohort_id=…`, its id in the query. A
 * cohort id is whatever the partner sent, and `.` or `..` (or `%2E`, which URL parsers read as
 * a dot) cannot be a path segment: fetch removes it, with the segment before it, before the
 * request leaves, so `/cohorts/heap/..` would ask for `/cohorts/`. In the query every id arrives
 * as it is (percent-encoded, a space as %20, never `+`).
 */
export const cohortPath = (partner: string, cohortId: string) =>
  `${path`/cohorts/${partner}`}?cohort_id=${encodeURIComponent(cohortId)}`;

// What the API answers: the contract's own types (lib/contract/views.ts), shared with the server.
import type {
  CohortView as Cohort,
  SyncReportView as SyncReport,
  FilterView as Filter,
  SegmentView as Segment,
  AudienceUserView as AudienceUser,
  ExportJobView as ExportJob,
  WorkspaceView as Workspace,
  PartnerStatusView as PartnerStatus,
  KeyInfoView as KeyInfo,
  NewKeyView as NewKey,
  ConnectorView as Connector,
  DeadLetterView as DeadLetter,
  CampaignKind,
  WebhookMessageView as WebhookMessage,
  FiguresView as Figures,
  CampaignView as Campaign,
  RecurringView as Recurring,
  PreviewView as Preview,
  TestSendView as TestSend,
} from '../../lib/contract/views.ts';
export type {
  Cohort,
  SyncReport,
  Filter,
  Segment,
  AudienceUser,
  ExportJob,
  Workspace,
  PartnerStatus,
  KeyInfo,
  NewKey,
  Connector,
  DeadLetter,
  CampaignKind,
  WebhookMessage,
  Figures,
  Campaign,
  Recurring,
  Preview,
  TestSend,
};
export const campaignId = (campaign: Campaign): string => campaign.campaign_id ?? campaign.canvas_id ?? '';

/** The partners with cohorts in this workspace (one request, whatever the workspace's size). */
export const cohortPartners = async (): Promise<string[]> =>
  (await request<{ partners: string[] }>('GET', '/cohorts/partners')).partners;

/**
 * One page of the workspace's cohorts, searched on the server (`q`: a name containing the
 * text in any case, or an id starting with it), optionally one partner's, after `cursor`.
 * A search's page may be short, even empty, before the end: only a null `next` is the end.
 */
export const cohortPage = async (options: {
  search?: string;
  partner?: string;
  cursor?: string | null;
  limit?: number;
}): Promise<{ cohorts: Cohort[]; next: string | null }> => {
  const query = new URLSearchParams({
    limit: String(options.limit ?? 100),
    ...(options.search?.trim() ? { q: options.search.trim() } : {}),
    ...(options.partner ? { partner: options.partner } : {}),
    ...(options.cursor ? { cursor: options.cursor } : {}),
  });
  const answer = await request<{ cohorts: Cohort[]; next_cursor: string | null }>('GET', `/cohorts?${query}`);
  return { cohorts: answer.cohorts, next: answer.next_cursor };
};

/**
 * Cohorts as a search box shows them: a search's page filled over as many requests as it takes
 * (up to SEARCH_REQUESTS, one at a time, while `wanted`), so a rare name past the first 5,000
 * cohorts is found by typing it; no search is one page.
 */
export const searchCohorts = async (options: {
  search?: string;
  partner?: string;
  cursor?: string | null;
  limit?: number;
  wanted?: () => boolean;
}): Promise<{ cohorts: Cohort[]; next: string | null }> => {
  const filled = await searchPages(
    async (cursor, limit) => {
      const page = await cohortPage({ ...options, cursor, limit });
      return { items: page.cohorts, next: page.next };
    },
    { ...options, limit: options.limit ?? 100 },
  );
  return { cohorts: filled.items, next: filled.next };
};

/**
 * One page of segments (in id order, `q` searched on the server: a name containing it, or an id
 * starting with it); each names its filter's cohorts (the API reads their names for the page).
 */
export const segmentPage = async (query: { search?: string; cursor?: string | null; limit?: number }) => {
  const params = new URLSearchParams({
    limit: String(query.limit ?? 100),
    ...(query.search ? { q: query.search } : {}),
    ...(query.cursor ? { cursor: query.cursor } : {}),
  });
  const answer = await request<{ segments: Segment[]; next_cursor: string | null }>('GET', `/segments?${params}`);
  return { items: answer.segments, next: answer.next_cursor };
};

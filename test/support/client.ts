/** A small HTTP client for the local stack, speaking the public API as a partner or a workspace would. */
import type { LocalStack } from '../../local/stack.js';
import type { ExportedUser } from '../../lib/users/service.js';
import type { CohortView, ExportJobView, SegmentView, SyncReportView } from '../../lib/contract/views.js';
import { eventually } from './stack.js';

export type { ExportedUser };

export interface HttpResult<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

export const request = async <T = Record<string, unknown>>(
  url: string,
  init: { method?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<HttpResult<T>> => {
  const response = await fetch(url, {
    method: init.method ?? (init.body !== undefined || init.rawBody !== undefined ? 'POST' : 'GET'),
    headers: { 'content-type': 'application/json', ...init.headers },
    body: init.rawBody ?? (init.body !== undefined ? JSON.stringify(init.body) : undefined),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : {}) as T, headers: response.headers };
};

export interface WorkspaceKeys {
  dataImportKey: string;
  restApiKey: string;
}

/** A REST call as the stack's workspace (its REST API key), answers of any shape. */
export const restCall = (stack: LocalStack, path: string, init: { method?: string; body?: unknown } = {}) =>
  // biome-ignore lint/suspicious/noExplicitAny: answers of many shapes, each read as the test expects and asserted
  request<Record<string, any>>(`${stack.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${stack.workspace.restApiKey}` },
  });

export const partnerClient = (stack: LocalStack, keys: WorkspaceKeys = stack.workspace, partner = 'heap') => ({
  nameCohort: (cohortId: string, name: string, createdAt = '2021-01-21T19:20:30+05:00') =>
    request(`${stack.url}/partners/${partner}/cohorts`, {
      body: {
        partner_api_key: stack.partnerApiKey,
        client_secret: keys.dataImportKey,
        cohort_id: cohortId,
        name,
        created_at: createdAt,
      },
    }),
  changeCohort: (cohortId: string, cohortChanges: unknown[]) =>
    request(`${stack.url}/partners/${partner}/cohorts/users`, {
      body: {
        partner_api_key: stack.partnerApiKey,
        client_secret: keys.dataImportKey,
        cohort_id: cohortId,
        cohort_changes: cohortChanges,
      },
    }),
  /**
   * As a partner sends it (Heap retries a 5XX or a 429): a 503 or 429 is sent again after its
   * Retry-After, at most `attempts` times; the last answer, and how many retries it took. For
   * tests that load the stack on purpose, where a busy answer is the contract, not a failure.
   */
  changeCohortRetrying: async (cohortId: string, cohortChanges: unknown[], attempts = 10) => {
    for (let attempt = 1; ; attempt += 1) {
      const answer = await request(`${stack.url}/partners/${partner}/cohorts/users`, {
        body: {
          partner_api_key: stack.partnerApiKey,
          client_secret: keys.dataImportKey,
          cohort_id: cohortId,
          cohort_changes: cohortChanges,
        },
      });
      if ((answer.status !== 503 && answer.status !== 429) || attempt >= attempts)
        return { ...answer, retries: attempt - 1 };
      await new Promise((resolve) => setTimeout(resolve, Number(answer.headers.get('retry-after') ?? '1') * 1000));
    }
  },
});

export const workspaceClient = (stack: LocalStack, keys: WorkspaceKeys = stack.workspace) => {
  const headers = { authorization: `Bearer ${keys.restApiKey}` };
  return {
    track: (attributes: unknown[]) => request(`${stack.url}/users/track`, { body: { attributes }, headers }),
    identify: (body: unknown) => request(`${stack.url}/users/identify`, { body, headers }),
    exportIds: (body: unknown) =>
      request<{ users: ExportedUser[]; invalid_user_ids: string[] }>(`${stack.url}/users/export/ids`, {
        body,
        headers,
      }),
    cohorts: () => request<{ cohorts: CohortView[] }>(`${stack.url}/cohorts`, { headers }),
    createSegment: (body: unknown) =>
      request<{ segment: SegmentView & SegmentSizeView; message: string }>(`${stack.url}/segments`, { body, headers }),
    segments: () => request<{ segments: SegmentView[] }>(`${stack.url}/segments`, { headers }),
    segment: (segmentId: string) =>
      request<{ segment: SegmentView & SegmentSizeView }>(`${stack.url}/segments/${segmentId}`, { headers }),
    updateSegment: (segmentId: string, body: unknown, ifMatch?: string) =>
      request<{ segment: SegmentView & SegmentSizeView }>(`${stack.url}/segments/${segmentId}`, {
        method: 'PUT',
        body,
        headers: { ...headers, ...(ifMatch === undefined ? {} : { 'if-match': ifMatch }) },
      }),
    deleteSegment: (segmentId: string) => request(`${stack.url}/segments/${segmentId}`, { method: 'DELETE', headers }),
    segmentUsers: (segmentId: string, query: Record<string, string> = {}) =>
      request<{ users: ExportedUser[]; next_cursor: string | null }>(
        `${stack.url}/segments/${segmentId}/users?${new URLSearchParams(query)}`,
        { headers },
      ),
    exportSegment: (segmentId: string) =>
      request<{ export: ExportJobView }>(`${stack.url}/segments/${segmentId}/exports`, { method: 'POST', headers }),
    exportStatus: (segmentId: string, exportId: string) =>
      request<{ export: ExportJobView }>(`${stack.url}/segments/${segmentId}/exports/${exportId}`, { headers }),
    cohort: (partner: string, cohortId: string) =>
      request<{ cohort: CohortView & { sync_reports: SyncReportView[] } }>(
        `${stack.url}/cohorts/${encodeURIComponent(partner)}/${encodeURIComponent(cohortId)}`,
        { headers },
      ),
  };
};

/** A segment's size fields, all present: the answers to GET, POST and PUT of one segment. */
type SegmentSizeView = Required<
  Pick<SegmentView, 'size' | 'size_status' | 'size_computed_at' | 'size_bounds' | 'size_recomputing'>
>;

/** Applies cohort changes as the partner, and waits until the sync has reported them (a new sync report). */
export const applyCohortChanges = async (stack: LocalStack, cohortId: string, changes: unknown[]) => {
  const reports = async () =>
    (await workspaceClient(stack).cohort('heap', cohortId)).body.cohort?.sync_reports.length ?? 0;
  const before = await reports();
  await partnerClient(stack).changeCohort(cohortId, changes);
  await eventually(async () => ((await reports()) > before ? true : undefined), 30_000, `sync of ${cohortId}`);
};

/** A small HTTP client for the local stack, speaking the public API as a partner or a workspace would. */
import type { LocalStack } from '../../lib/local/stack.js';

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

export const partnerClient = (stack: LocalStack, keys: WorkspaceKeys = stack.workspace, partner = 'heap') => ({
  nameCohort: (cohortId: string, name: string, createdAt = '2021-01-21T19:20:30+05:00') =>
    request(`${stack.url}/partners/${partner}/cohorts`, {
      body: { partner_api_key: stack.partnerApiKey, client_secret: keys.dataImportKey, cohort_id: cohortId, name, created_at: createdAt },
    }),
  changeCohort: (cohortId: string, cohortChanges: unknown[]) =>
    request(`${stack.url}/partners/${partner}/cohorts/users`, {
      body: { partner_api_key: stack.partnerApiKey, client_secret: keys.dataImportKey, cohort_id: cohortId, cohort_changes: cohortChanges },
    }),
});

export const workspaceClient = (stack: LocalStack, keys: WorkspaceKeys = stack.workspace) => {
  const headers = { authorization: `Bearer ${keys.restApiKey}` };
  return {
    track: (attributes: unknown[]) => request(`${stack.url}/users/track`, { body: { attributes }, headers }),
    identify: (body: unknown) => request(`${stack.url}/users/identify`, { body, headers }),
    exportIds: (body: unknown) => request<{ users: ExportedUser[]; invalid_user_ids: string[] }>(`${stack.url}/users/export/ids`, { body, headers }),
    cohorts: () => request<{ cohorts: CohortView[] }>(`${stack.url}/cohorts`, { headers }),
    cohort: (partner: string, cohortId: string) =>
      request<{ cohort: CohortView & { sync_reports: Record<string, unknown>[] } }>(
        `${stack.url}/cohorts/${encodeURIComponent(partner)}/${encodeURIComponent(cohortId)}`,
        { headers },
      ),
  };
};

export interface CohortView {
  partner: string;
  cohort_id: string;
  name: string;
  member_count: number;
  created_at: string | null;
  last_synced_at: string | null;
}

export interface ExportedUser {
  braze_id: string;
  external_id?: string;
  user_aliases: { alias_name: string; alias_label: string }[];
  device_ids: string[];
  cohorts: { partner: string; cohort_id: string; name: string }[];
  custom_attributes: Record<string, unknown>;
}

/**
 * The REST API, as the console calls it: same origin, `Authorization: Bearer <REST API
 * key>`. Every error the API answers carries `{message, errors}`; it is thrown as an
 * ApiError with that message, so a page can show it as sent.
 */
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
): Promise<T> => {
  const headers: Record<string, string> = { accept: 'application/json' };
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

// What the API answers (functions/api/app.ts), as far as the console reads it.
export interface Cohort {
  partner: string;
  cohort_id: string;
  name: string;
  member_count: number;
  created_at: string | null;
  renamed_at: string | null;
  first_seen_at: string;
  last_synced_at: string | null;
}
export interface SyncReport {
  request_id: string;
  accepted_at: string;
  processed_at: string;
  received: number;
  matched: number;
  unmatched: number;
  added: number;
  removed: number;
  already_in_state: number;
  superseded: number;
}
export type Filter =
  | { cohort: { partner: string; cohort_id: string; includes: boolean } }
  | { all: Filter[] }
  | { any: Filter[] };
export interface Segment {
  segment_id: string;
  name: string;
  filter: Filter;
  created_at: string;
  updated_at: string;
  size?: number | null;
  size_status?: 'exact' | 'current' | 'stale' | 'pending';
  size_computed_at?: string | null;
  size_bounds?: { min: number; max: number };
  size_recomputing?: boolean;
  /** In a list: the size its last job counted, as stored (not checked for staleness); null: none. */
  last_computed_size?: { size: number; computed_at: string } | null;
  /** In lists: the size when the cohorts' counts decide it (one cohort's "includes", say), as the list counts stand. */
  size_from_counts?: number | null;
  /** In a list: the cohorts its filter names, with their names (null when a cohort is not known). */
  cohorts?: { partner: string; cohort_id: string; name: string | null }[];
}
export interface AudienceUser {
  braze_id: string;
  external_id?: string;
  user_aliases: { alias_name: string; alias_label: string }[];
  device_ids: string[];
}
export interface ExportJob {
  export_id: string;
  segment_id: string;
  status: 'running' | 'done';
  users_written: number;
  parts: number;
  location: string;
  manifest: string | null;
  started_at: string;
  finished_at: string | null;
}
export interface Workspace {
  workspace_id: string;
  name: string;
  partners: string[];
}
export interface PartnerStatus {
  partner: string;
  enabled: boolean;
  available: boolean;
}
export interface KeyInfo {
  kind: 'data_import' | 'rest';
  hint: string | null;
  created_at: string | null;
}
export interface NewKey extends KeyInfo {
  key: string;
  previous_key_expires_at: string | null;
}
export interface Connector {
  connector_id: string;
  url: string;
  events: string[];
  paused: boolean;
  delivered: number;
  retrying: number;
  dropped: number;
  last_success_at: string | null;
  last_error: { at: string; status: number; reason: string } | null;
  created_at: string;
}
export interface DeadLetter {
  dropped_at: string;
  reason: string;
  status: number;
  event_id: string;
  event_type: string;
}
export type CampaignKind = 'campaign' | 'canvas';
export interface WebhookMessage {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string;
}
export interface Figures {
  targeted: number;
  sent: number;
  delivered: number;
  failed: number;
  skipped: Record<string, number>;
  last_error: { at?: string; status?: number | null; reason?: string } | string | null;
}
export interface Campaign {
  campaign_id?: string;
  canvas_id?: string;
  name: string;
  status: 'draft' | 'active' | 'stopped' | 'archived';
  segment_ids: string[];
  /** In a list and a GET of one: the segments it targets, with their names (null when a segment is gone). */
  segments?: { segment_id: string; name: string | null }[];
  created_at: string;
  updated_at: string;
  launched_at: string | null;
  stopped_at: string | null;
  message?: WebhookMessage;
  delivery?:
    | { type: 'scheduled'; at: string | null; recurring: Recurring | null; next_run_at: string | null }
    | { type: 'action_based'; delay_seconds: number; reeligible_after_days: number | null };
  reeligible_after_days?: number | null;
  /** Messages per minute at most, evenly spread (null: no limit). */
  rate_limit_per_minute?: number | null;
  steps?: { name: string; delay_seconds: number; message: WebhookMessage; figures?: Figures }[];
  figures?: Figures;
}
export interface Recurring {
  frequency: 'daily' | 'weekly';
  time: string;
  timezone: string;
  weekdays?: number[];
}
export interface Preview {
  outcome: 'rendered' | 'template_error';
  reason: string | null;
  request: { url: string; method: string; headers: Record<string, string>; body: string | null } | null;
}
export interface TestSend {
  outcome: 'delivered' | 'failed' | 'template_error';
  status: number | null;
  reason: string | null;
  response_body?: string | null;
}
export const campaignId = (campaign: Campaign): string => campaign.campaign_id ?? campaign.canvas_id ?? '';

/**
 * One page of the workspace's cohorts, searched on the server (`q`: a name containing the
 * text in any case, or an id starting with it), optionally one partner's, after `cursor`.
 * A search's page may be short, even empty, before the end: only a null `next` is the end.
 */
/** The partners with cohorts in this workspace (one request, whatever the workspace's size). */
export const cohortPartners = async (): Promise<string[]> =>
  (await request<{ partners: string[] }>('GET', '/cohorts/partners')).partners;

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

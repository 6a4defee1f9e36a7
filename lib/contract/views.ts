/**
 * The REST API's answers as JSON, in one place: the server's view mappers are typed with them
 * (functions/api and the views of each lib folder), so an answer cannot drift from what is declared here, and the
 * console imports the same types (console/src/api.ts) instead of copying them. Types only:
 * this file imports nothing, so the browser bundle can use it.
 */
export type CohortView = {
  partner: string;
  cohort_id: string;
  name: string;
  member_count: number;
  created_at: string | null;
  renamed_at: string | null;
  first_seen_at: string;
  last_synced_at: string | null;
};
export type SyncReportView = {
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
};
export type FilterView =
  | { cohort: { partner: string; cohort_id: string; includes: boolean } }
  | { all: FilterView[] }
  | { any: FilterView[] };
export type SegmentView = {
  segment_id: string;
  name: string;
  filter: FilterView;
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
};
export type AudienceUserView = {
  braze_id: string;
  external_id?: string;
  user_aliases: { alias_name: string; alias_label: string }[];
  device_ids: string[];
};
export type ExportJobView = {
  export_id: string;
  segment_id: string;
  status: 'running' | 'done';
  users_written: number;
  parts: number;
  location: string;
  manifest: string | null;
  started_at: string;
  finished_at: string | null;
};
export type WorkspaceView = {
  workspace_id: string;
  name: string;
  partners: string[];
  created_at: string;
};
export type PartnerStatusView = {
  partner: string;
  enabled: boolean;
  available: boolean;
};
export type KeyInfoView = {
  kind: 'data_import' | 'rest';
  hint: string | null;
  created_at: string | null;
};
export type NewKeyView = KeyInfoView & {
  key: string;
  previous_key_expires_at: string | null;
};
export type ConnectorView = {
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
};
export type DeadLetterView = {
  dropped_at: string;
  reason: string;
  status: number;
  event_id: string;
  event_type: string;
};
export type CampaignKind = 'campaign' | 'canvas';
export type WebhookMessageView = {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string;
};
export type FiguresView = {
  targeted: number;
  sent: number;
  delivered: number;
  failed: number;
  skipped: Record<string, number>;
  last_error: { at?: string; status?: number | null; reason?: string } | string | null;
};
export type CampaignView = {
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
  message?: WebhookMessageView;
  delivery?:
    | { type: 'scheduled'; at: string | null; recurring: RecurringView | null; next_run_at: string | null }
    | {
        type: 'action_based';
        /** Absent: on entering the segment (a Canvas's delivery is absent then, and holds only the trigger otherwise). */
        trigger?: TriggerView;
        delay_seconds?: number;
        reeligible_after_days?: number | null;
        reeligible_after?: ReeligibleAfterView | null;
      }
    | {
        type: 'api_triggered';
        reeligible_after_days?: number | null;
        reeligible_after?: ReeligibleAfterView | null;
        ignore_frequency_cap: boolean;
      };
  reeligible_after_days?: number | null;
  reeligible_after?: ReeligibleAfterView | null;
  /** Custom events that end a journey (absent: none). */
  exit_on_events?: string[];
  /** Messages per minute at most, evenly spread (null: no limit). */
  rate_limit_per_minute?: number | null;
  /** A list's summaries leave out each step's message. */
  steps?: { name: string; delay_seconds: number; message?: WebhookMessageView; figures?: FiguresView }[];
  figures?: FiguresView;
};
export type RecurringView = {
  frequency: 'daily' | 'weekly';
  time: string;
  timezone: string;
  weekdays?: number[];
};
export type PreviewView = {
  outcome: 'rendered' | 'template_error';
  reason: string | null;
  request: { url: string; method: string; headers: Record<string, string>; body: string | null } | null;
};
export type TestSendView = {
  outcome: 'delivered' | 'failed' | 'template_error';
  status: number | null;
  reason: string | null;
  response_body?: string | null;
};
/** What enters a user of an action-based campaign or Canvas. */
export type TriggerView =
  | { type: 'entered_segment' }
  | { type: 'custom_event'; name: string }
  | { type: 'purchase'; product_id: string | null };
/** A re-eligibility wait as it was given (null: never again). */
export type ReeligibleAfterView = { value: number; unit: 'minutes' | 'hours' | 'days' | 'weeks' };

/**
 * What the campaign queues carry. Sends: one message per (campaign, step, user, entry),
 * small, with the profile when the sender need not read it (a scheduled run read it
 * already). Work: the minute tick, a chunk of a run's audience, a timer shard to drain.
 */
import { createHash } from 'node:crypto';
import * as z from 'zod';

export const SendProfile = z.object({
  external_id: z.string().optional(),
  user_aliases: z.array(z.object({ alias_name: z.string(), alias_label: z.string() })),
  device_ids: z.array(z.string()),
  custom_attributes: z.record(z.string(), z.unknown()),
});
export type SendProfile = z.infer<typeof SendProfile>;

export const SendMessage = z.object({
  v: z.literal(1),
  workspaceId: z.string().min(1),
  campaignId: z.string().min(1),
  step: z.number().int().min(0),
  brazeId: z.string().min(1),
  /**
   * The entry stamp (action-based: the membership event's id; API-triggered: the dispatch id)
   * or the run id (scheduled, and an API broadcast).
   */
  entry: z.string().min(1),
  /**
   * `api`: a recipient of an API trigger (lib/campaigns/trigger.ts); `event`: an entry by a
   * tracked event (lib/campaigns/event-entries.ts), a journey as `entry` is.
   */
  kind: z.enum(['entry', 'run', 'api', 'event']),
  dueAt: z.string(),
  cohort: z.object({ partner: z.string(), cohort_id: z.string(), name: z.string() }).optional(),
  profile: SendProfile.optional(),
  /**
   * An API trigger's properties for this user (`api_trigger_properties` / `canvas_entry_properties`
   * in Liquid), or the tracked event's (`event_properties`, and `canvas_entry_properties` in a Canvas).
   */
  properties: z.record(z.string(), z.unknown()).optional(),
  /** Its `dueAt` is a slot of the campaign's send-rate limit (lib/campaigns/pacing.ts): never paced twice. */
  paced: z.literal(true).optional(),
});
export type SendMessage = z.infer<typeof SendMessage>;

export const WorkMessage = z.discriminatedUnion('type', [
  z.object({ v: z.literal(1), type: z.literal('campaign.tick') }),
  z.object({
    v: z.literal(1),
    type: z.literal('campaign.audience'),
    workspaceId: z.string(),
    campaignId: z.string(),
    runId: z.string(),
    range: z.number().int().min(0),
    chunk: z.number().int().min(0),
    /** An API broadcast's `trigger_properties`, for every user of the run. */
    properties: z.record(z.string(), z.unknown()).optional(),
  }),
  z.object({ v: z.literal(1), type: z.literal('campaign.timers'), shard: z.number().int().min(0) }),
  /** A custom event or purchase tracked through /users/track, for the campaigns it enters or exits. */
  z.object({
    v: z.literal(1),
    type: z.literal('campaign.event'),
    workspaceId: z.string().min(1),
    brazeId: z.string().min(1),
    event: z.discriminatedUnion('type', [
      z.object({ type: z.literal('custom_event'), name: z.string().min(1) }),
      z.object({ type: z.literal('purchase'), productId: z.string().min(1) }),
    ]),
    /** The event's own `time` (ISO-8601, as tracked). */
    time: z.string(),
    properties: z.record(z.string(), z.unknown()).optional(),
  }),
]);
export type WorkMessage = z.infer<typeof WorkMessage>;

/**
 * The message's identity: campaign (or Canvas step) + user + entry. It keys the send
 * record and is the `Idempotency-Key` receivers see, the same on every attempt.
 */
export const sendKey = (message: Pick<SendMessage, 'workspaceId' | 'campaignId' | 'step' | 'brazeId' | 'entry'>) =>
  createHash('sha256')
    .update(
      [message.workspaceId, message.campaignId, String(message.step), message.brazeId, message.entry].join('\u0000'),
    )
    .digest('base64url')
    .slice(0, 32);

/**
 * The event-triggered parts of a campaign or Canvas definition (docs/campaigns.md,
 * "Event-triggered campaigns and Canvases"): the action-based delivery's `trigger` and the
 * definition's `exit_on_events`, as the REST bodies give them, stored, and answered.
 */
import * as z from 'zod';
import type { TriggerView } from '../contract/views.js';
import { ValidationError } from '../errors.js';
import type { CampaignKind, Delivery, EventTrigger } from './model.js';

const nonEmpty = z.string({ error: 'must be a string' }).trim().min(1, { error: 'must be a non-empty string' });

/** At most this many exit events (Braze's exception events are a handful too). */
export const MAX_EXIT_EVENTS = 10;
/** A custom event's name, as /users/track takes it (lib/users/requests.ts). */
const EventName = nonEmpty.max(255, { error: 'must be at most 255 characters' });
/** What enters a user of an action-based campaign or Canvas (default: entering the segment). */
export const TriggerSchema = z
  .discriminatedUnion(
    'type',
    [
      z.strictObject({ type: z.literal('entered_segment') }),
      z.strictObject({ type: z.literal('custom_event'), name: EventName }),
      z.strictObject({ type: z.literal('purchase'), product_id: EventName.optional() }),
    ],
    { error: 'must be {type: entered_segment}, {type: custom_event, name} or {type: purchase, product_id?}' },
  )
  .optional();
/** Custom events that end a journey, each named once. */
export const ExitEventsSchema = z
  .array(EventName, { error: 'must be an array of custom event names' })
  .max(MAX_EXIT_EVENTS, { error: `must name at most ${MAX_EXIT_EVENTS} events` })
  .superRefine((names, context) => {
    names.forEach((name, index) => {
      if (names.indexOf(name) < index)
        context.addIssue({ code: 'custom', path: [index], message: `must not name an event twice (${name})` });
    });
  })
  .optional();
/** The stored trigger of a definition's `trigger` (entered_segment: none). */
export const triggerOf = (trigger: z.infer<typeof TriggerSchema>): { trigger?: EventTrigger } =>
  trigger?.type === 'custom_event'
    ? { trigger: { type: 'custom_event', name: trigger.name } }
    : trigger?.type === 'purchase'
      ? {
          trigger: { type: 'purchase', ...(trigger.product_id !== undefined ? { productId: trigger.product_id } : {}) },
        }
      : {};

/**
 * Exit events are for entries that are journeys (action-based campaigns, every Canvas): a
 * scheduled or API-triggered campaign's send has no entry to end. The trigger's own event
 * would end every journey it starts.
 */
export const exitEventsOf = (
  names: string[] | undefined,
  delivery: Delivery,
  kind: CampaignKind,
): { exitOnEvents?: string[] } => {
  if (names === undefined || names.length === 0) return {};
  if (kind === 'campaign' && delivery.type !== 'action_based')
    throw new ValidationError(
      `Invalid campaign: \`exit_on_events\` is for action-based campaigns and Canvases (a ${delivery.type} campaign's send has no journey to end)`,
    );
  if (
    delivery.type === 'action_based' &&
    delivery.trigger?.type === 'custom_event' &&
    names.includes(delivery.trigger.name)
  )
    throw new ValidationError(
      `Invalid ${kind}: \`exit_on_events\` must not name the trigger's own event (${delivery.trigger.name}): each entry would end at once`,
    );
  return { exitOnEvents: names };
};

/** An event trigger as the API answers it. */
export const triggerView = (trigger: EventTrigger | undefined): TriggerView =>
  trigger?.type === 'custom_event'
    ? { type: 'custom_event', name: trigger.name }
    : trigger?.type === 'purchase'
      ? { type: 'purchase', product_id: trigger.productId ?? null }
      : { type: 'entered_segment' };

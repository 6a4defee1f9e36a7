/**
 * Event-triggered entry and exit (docs/campaigns.md, "Event-triggered campaigns and Canvases"):
 * a custom event or purchase tracked through /users/track is queued on the campaigns work queue
 * (the request never waits on a campaign), and here enters its user into each active
 * action-based campaign or Canvas it triggers, with the event's properties for Liquid, and ends
 * the journeys of those that exit on it. An entry is made as a membership entry is (the same
 * store write, re-eligibility, the figures' `targeted`), its stamp derived from the event (user,
 * name or product, time), so a replayed /users/track call enters the user once and the sender's
 * claims drop the copies of its messages. Whether the user is in the target is decided when each
 * message is sent, as for every entry.
 */
import { createHash } from 'node:crypto';
import { ttlCache } from './audience.js';
import { reeligibleAt } from './journeys.js';
import type { SendMessage, WorkMessage } from './messages.js';
import { JOURNEY_GRACE_MS, reeligibleAfterMs, stepDueTimes, type Campaign } from './model.js';
import type { CampaignStore, EventTriggerIndex } from './ports.js';
import { MAX_PROPERTIES_BYTES } from './trigger.js';

export type TrackedEventMessage = Extract<WorkMessage, { type: 'campaign.event' }>;
export type TrackedEvent = TrackedEventMessage['event'];

/** The index key of a custom event's name; every purchase shares one key (the product is checked on the definition). */
export const customEventKey = (name: string) => `event\u0000${name}`;
export const PURCHASE_KEY = 'purchase';
const keyOf = (event: TrackedEvent) => (event.type === 'purchase' ? PURCHASE_KEY : customEventKey(event.name));

/** The index keys a launched campaign or Canvas is found by: its trigger's and its exit events'. */
export const eventKeysOf = (campaign: Pick<Campaign, 'delivery' | 'exitOnEvents'>): string[] => {
  const trigger = campaign.delivery.type === 'action_based' ? campaign.delivery.trigger : undefined;
  const keys = [
    ...(trigger ? [trigger.type === 'purchase' ? PURCHASE_KEY : customEventKey(trigger.name)] : []),
    ...(campaign.exitOnEvents ?? []).map(customEventKey),
  ];
  return [...new Set(keys)];
};

/** Whether a tracked event enters users of this definition. */
export const triggeredBy = (campaign: Pick<Campaign, 'delivery'>, event: TrackedEvent): boolean => {
  if (campaign.delivery.type !== 'action_based' || !campaign.delivery.trigger) return false;
  const trigger = campaign.delivery.trigger;
  if (trigger.type === 'custom_event') return event.type === 'custom_event' && event.name === trigger.name;
  return event.type === 'purchase' && (trigger.productId === undefined || trigger.productId === event.productId);
};

/** The entry stamp of an event: the same for every replay of it (its user, name or product, and time). */
export const eventEntryStamp = (workspaceId: string, brazeId: string, event: TrackedEvent, time: string): string =>
  `v${createHash('sha256')
    .update(
      [workspaceId, brazeId, event.type, event.type === 'purchase' ? event.productId : event.name, time].join('\u0000'),
    )
    .digest('hex')
    .slice(0, 31)}`;

/**
 * The work message of one tracked event. Its properties ride along for Liquid unless they are
 * over MAX_PROPERTIES_BYTES as JSON (a SendMessageBatch of 10 is at most 256 KB): then the event
 * still enters, without them.
 */
export const trackedEventMessage = (
  workspaceId: string,
  brazeId: string,
  event: TrackedEvent,
  time: string,
  properties: Record<string, unknown> | undefined,
): TrackedEventMessage => ({
  v: 1,
  type: 'campaign.event',
  workspaceId,
  brazeId,
  event,
  time: new Date(time).toISOString(),
  ...(properties && Buffer.byteLength(JSON.stringify(properties)) <= MAX_PROPERTIES_BYTES ? { properties } : {}),
});

export interface EventEntryPorts {
  campaigns: Pick<CampaignStore, 'get' | 'enter' | 'getEntry' | 'exit'>;
  index: Pick<EventTriggerIndex, 'campaignsOn'>;
  /** The send pipeline's release (lib/campaigns/journeys.ts). */
  release(messages: SendMessage[]): Promise<void>;
  clock: () => Date;
  /** How long definitions and index lookups are reused (default 10 s; tests 0). */
  cacheTtlMs?: number;
}

export const createEventEntries = (ports: EventEntryPorts) => {
  const definitions = ttlCache<Campaign | undefined>(ports.cacheTtlMs ?? 10_000);
  const lookups = ttlCache<string[]>(ports.cacheTtlMs ?? 10_000);

  /** Ends the user's active journey, unless it was entered by an event later than this one. */
  const exitOn = async (campaign: Campaign, brazeId: string, time: string): Promise<boolean> => {
    const { workspaceId, campaignId } = campaign;
    const entry = await ports.campaigns.getEntry(workspaceId, campaignId, brazeId);
    if (entry?.state !== 'active' || (entry.eventTime !== undefined && entry.eventTime > time)) return false;
    return ports.campaigns.exit(workspaceId, campaignId, brazeId, entry.stamp, ports.clock(), 'event');
  };

  const enter = async (campaign: Campaign, message: TrackedEventMessage): Promise<boolean> => {
    const { workspaceId, campaignId } = campaign;
    const { brazeId } = message;
    const stamp = eventEntryStamp(workspaceId, brazeId, message.event, message.time);
    const now = ports.clock();
    const enteredAt = now.getTime();
    const delivery = campaign.delivery as Extract<Campaign['delivery'], { type: 'action_based' }>;
    const outcome = await ports.campaigns.enter(
      workspaceId,
      campaignId,
      brazeId,
      {
        stamp,
        orderStamp: stamp,
        enteredAt: now.toISOString(),
        // One journey at a time, as a membership entry: its last step plus a grace.
        endsAt: new Date(stepDueTimes(campaign, enteredAt).at(-1)! + JOURNEY_GRACE_MS).toISOString(),
        state: 'active',
        reeligibleAt: reeligibleAt(enteredAt, reeligibleAfterMs(delivery)),
        eventTime: message.time,
      },
      campaign.steps.length,
      now,
    );
    if (outcome === 'not_eligible') return false;
    // A replay (or a redelivered work message): the same steps at the entry's own times, under the same ids.
    const entry = outcome === 'again' ? await ports.campaigns.getEntry(workspaceId, campaignId, brazeId) : undefined;
    if (outcome === 'again' && (entry?.stamp !== stamp || entry.state !== 'active')) return false;
    const dueTimes = stepDueTimes(campaign, entry ? Date.parse(entry.enteredAt) : enteredAt);
    await ports.release(
      dueTimes.map(
        (dueAt, step): SendMessage => ({
          v: 1,
          workspaceId,
          campaignId,
          step,
          brazeId,
          entry: stamp,
          kind: 'event',
          dueAt: new Date(dueAt).toISOString(),
          ...(message.properties ? { properties: message.properties } : {}),
        }),
      ),
    );
    return outcome === 'entered';
  };

  /** One tracked event: the journeys it ends, then the entries it makes. */
  const onTrackedEvent = async (message: TrackedEventMessage): Promise<{ entered: number; exited: number }> => {
    const { workspaceId, brazeId, event } = message;
    const key = keyOf(event);
    const campaignIds = await lookups(JSON.stringify([workspaceId, key]), () =>
      ports.index.campaignsOn(workspaceId, key),
    );
    const counts = { entered: 0, exited: 0 };
    for (const campaignId of campaignIds) {
      const campaign = await definitions(`${workspaceId}\u0000${campaignId}`, () =>
        ports.campaigns.get(workspaceId, campaignId),
      );
      if (campaign?.status !== 'active' || !campaign.filter) continue;
      if (event.type === 'custom_event' && campaign.exitOnEvents?.includes(event.name))
        if (await exitOn(campaign, brazeId, message.time)) counts.exited += 1;
      if (triggeredBy(campaign, event) && (await enter(campaign, message))) counts.entered += 1;
    }
    return counts;
  };

  return { onTrackedEvent };
};

export type EventEntries = ReturnType<typeof createEventEntries>;

/**
 * Currents "Custom HTTP" events (../shared/reference/partner-cohort-api.md, last section;
 * field names and types as in the public currents-examples samples,
 * sample-data/Custom HTTP/users/behaviors/{CustomEvent,Purchase}.json).
 */
import { randomUUID } from 'node:crypto';
import * as z from 'zod';

export const CURRENTS_EVENT_TYPES = ['users.behaviors.CustomEvent', 'users.behaviors.Purchase'] as const;
export type CurrentsEventType = (typeof CURRENTS_EVENT_TYPES)[number];

const CurrentsUser = z.object({
  user_id: z.string(),
  external_user_id: z.string().optional(),
  device_id: z.string().optional(),
  timezone: z.string().optional(),
});

/** The sample structure; receivers must tolerate unknown fields, so objects are loose. */
export const CurrentsCustomEvent = z.looseObject({
  event_type: z.literal('users.behaviors.CustomEvent'),
  id: z.uuid(),
  time: z.number().int(),
  user: CurrentsUser,
  properties: z.looseObject({
    name: z.string(),
    app_id: z.string().optional(),
    custom_properties: z.record(z.string(), z.unknown()),
  }),
});
export const CurrentsPurchase = z.looseObject({
  event_type: z.literal('users.behaviors.Purchase'),
  id: z.uuid(),
  time: z.number().int(),
  user: CurrentsUser,
  properties: z.looseObject({
    product_id: z.string(),
    price: z.number(),
    currency: z.string(),
    quantity: z.number().int(),
    app_id: z.string().optional(),
    purchase_properties: z.record(z.string(), z.unknown()),
  }),
});
export const CurrentsEvent = z.discriminatedUnion('event_type', [CurrentsCustomEvent, CurrentsPurchase]);
export type CurrentsEvent = z.infer<typeof CurrentsEvent>;

export interface EventUser {
  brazeId: string;
  externalId?: string;
  deviceId?: string;
  timezone?: string;
}

const currentsUser = (user: EventUser) => ({
  user_id: user.brazeId,
  ...(user.externalId !== undefined ? { external_user_id: user.externalId } : {}),
  ...(user.deviceId !== undefined ? { device_id: user.deviceId } : {}),
  ...(user.timezone !== undefined ? { timezone: user.timezone } : {}),
});

/** Epoch seconds, as Currents sends `time`. */
const epochSeconds = (time: string | Date) => Math.floor(new Date(time).getTime() / 1000);

export const customEvent = (
  user: EventUser,
  event: { name: string; time: string; properties?: Record<string, unknown>; app_id?: string },
): CurrentsEvent => ({
  event_type: 'users.behaviors.CustomEvent',
  id: randomUUID(),
  time: epochSeconds(event.time),
  user: currentsUser(user),
  properties: {
    name: event.name,
    ...(event.app_id ? { app_id: event.app_id } : {}),
    custom_properties: event.properties ?? {},
  },
});

export const purchaseEvent = (
  user: EventUser,
  purchase: {
    product_id: string;
    currency: string;
    price: number;
    quantity?: number;
    time: string;
    properties?: Record<string, unknown>;
    app_id?: string;
  },
): CurrentsEvent => ({
  event_type: 'users.behaviors.Purchase',
  id: randomUUID(),
  time: epochSeconds(purchase.time),
  user: currentsUser(user),
  properties: {
    product_id: purchase.product_id,
    price: purchase.price,
    currency: purchase.currency,
    quantity: purchase.quantity ?? 1,
    ...(purchase.app_id ? { app_id: purchase.app_id } : {}),
    purchase_properties: purchase.properties ?? {},
  },
});

/**
 * Where users come from (cohort import never creates one): the workspace REST API's
 * /users/track, /users/identify and /users/export/ids, as Braze's endpoints of those names.
 */
import type { IdentifierRef } from '../cohorts/matching.js';
import {
  customAttributesOf,
  type ExportIdsRequest,
  type IdentifyRequest,
  type TrackEvent,
  type TrackPurchase,
  type TrackRequest,
} from './requests.js';
import { customEvent, purchaseEvent, type EventUser } from '../currents/events.js';
import { trackedEventMessage } from '../campaigns/event-entries.js';
import type { WorkQueue } from '../campaigns/ports.js';
import type { ConnectorDirectory, CurrentsQueue } from '../currents/ports.js';
import { UserConflictError, type UserMemberships, type UserProfile, type UserStore } from './ports.js';

export interface UserPorts {
  users: UserStore;
  memberships: UserMemberships;
  /** Where tracked events and purchases go: the workspace's Currents connectors, through their queue. */
  currents?: { connectors: ConnectorDirectory; queue: CurrentsQueue };
  /**
   * And the campaigns work queue, for the campaigns and Canvases they enter or exit
   * (lib/campaigns/event-entries.ts): queued, never looked up in the request.
   */
  campaignEvents?: WorkQueue;
  clock?: () => Date;
}

export interface ItemError {
  type: string;
  input_array: string;
  index: number;
}

const itemError = (inputArray: string, index: number, error: unknown): ItemError => {
  if (error instanceof UserConflictError) return { type: error.message, input_array: inputArray, index };
  throw error;
};

export const trackUsers = async (
  workspaceId: string,
  request: TrackRequest,
  ports: UserPorts,
): Promise<{ processed: number; events?: number; purchases?: number; errors: ItemError[] }> => {
  const { users, clock = () => new Date() } = ports;
  const now = clock();
  const errors: ItemError[] = [];
  let processed = 0;
  // In order: a later object may build on a user an earlier one created, and events come
  // after attributes, so an event may name a user created in the same request.
  for (const [index, attributes] of (request.attributes ?? []).entries()) {
    try {
      const owner: IdentifierRef =
        attributes.external_id !== undefined
          ? { type: 'external_id', externalId: attributes.external_id }
          : attributes.user_alias !== undefined
            ? { type: 'alias', label: attributes.user_alias.alias_label, name: attributes.user_alias.alias_name }
            : { type: 'device_id', deviceId: attributes.device_id! };
      // A lone device id names an anonymous profile; read it once, to refuse an identified owner.
      const existing = owner.type === 'device_id' ? await users.find(workspaceId, owner) : undefined;
      if (existing?.identified) {
        throw new UserConflictError(
          `device ${attributes.device_id} belongs to an identified user: send its external_id`,
        );
      }
      const brazeId = existing?.brazeId ?? (await users.findOrCreate(workspaceId, owner, now)).brazeId;
      if (attributes.external_id !== undefined && attributes.user_alias !== undefined) {
        await users.addAlias(workspaceId, brazeId, attributes.user_alias, now);
      }
      if (attributes.external_id !== undefined && attributes.device_id !== undefined) {
        await users.addDeviceToIdentifiedUser(workspaceId, brazeId, attributes.device_id, now);
      }
      await users.setCustomAttributes(workspaceId, brazeId, customAttributesOf(attributes), now);
      processed += 1;
    } catch (error: unknown) {
      errors.push(itemError('attributes', index, error));
    }
  }
  const tracked = await trackBehaviors(workspaceId, request, ports, now, errors);
  return { processed, ...tracked, errors };
};

/**
 * Events and purchases of existing users become Currents events, queued for every active
 * connector of the workspace that takes their type. An event of a user who does not exist
 * creates nothing and is reported in `errors`; the rest of the request applies.
 */
const trackBehaviors = async (
  workspaceId: string,
  request: TrackRequest,
  ports: UserPorts,
  now: Date,
  errors: ItemError[],
): Promise<{ events?: number; purchases?: number }> => {
  const owners = async (items: readonly (TrackEvent | TrackPurchase)[], inputArray: string) => {
    const found: (EventUser | undefined)[] = [];
    for (const [index, item] of items.entries()) {
      const brazeId =
        item.braze_id ??
        (
          await ports.users.find(
            workspaceId,
            item.external_id !== undefined
              ? { type: 'external_id', externalId: item.external_id }
              : { type: 'alias', label: item.user_alias!.alias_label, name: item.user_alias!.alias_name },
          )
        )?.brazeId;
      const profile = brazeId === undefined ? undefined : await ports.users.getProfile(workspaceId, brazeId);
      if (!profile) {
        errors.push({
          type: 'no such user: events of users who do not exist create nothing',
          input_array: inputArray,
          index,
        });
        found.push(undefined);
        continue;
      }
      const timezone = profile.customAttributes.time_zone;
      found.push({
        brazeId: profile.brazeId,
        ...(profile.externalId !== undefined ? { externalId: profile.externalId } : {}),
        ...(profile.deviceIds[0] !== undefined ? { deviceId: profile.deviceIds[0] } : {}),
        ...(typeof timezone === 'string' ? { timezone } : {}),
      });
    }
    return found;
  };
  const events = request.events ?? [];
  const purchases = request.purchases ?? [];
  const eventOwners = await owners(events, 'events');
  const purchaseOwners = await owners(purchases, 'purchases');
  const currentsEvents = [
    ...events.flatMap((event, index) => (eventOwners[index] ? [customEvent(eventOwners[index]!, event)] : [])),
    ...purchases.flatMap((purchase, index) =>
      purchaseOwners[index] ? [purchaseEvent(purchaseOwners[index]!, purchase)] : [],
    ),
  ];
  if (currentsEvents.length > 0 && ports.currents) {
    // A paused connector's events are queued too: the delivery function holds them while it is paused
    // (functions/currents/app.ts), so that "pause" delays a connector's events and never loses them.
    const connectors = await ports.currents.connectors.list(workspaceId);
    const queuedAt = now.getTime();
    const messages = connectors.flatMap((connector) =>
      currentsEvents
        .filter((event) => connector.eventTypes.includes(event.event_type))
        .map((event) => ({ v: 1 as const, workspaceId, connectorId: connector.connectorId, queuedAt, event })),
    );
    await ports.currents.queue.send(messages);
  }
  if (ports.campaignEvents) {
    const work = [
      ...events.flatMap((event, index) => {
        const owner = eventOwners[index];
        return owner
          ? [
              trackedEventMessage(
                workspaceId,
                owner.brazeId,
                { type: 'custom_event', name: event.name },
                event.time,
                event.properties,
              ),
            ]
          : [];
      }),
      ...purchases.flatMap((purchase, index) => {
        const owner = purchaseOwners[index];
        return owner
          ? [
              trackedEventMessage(
                workspaceId,
                owner.brazeId,
                { type: 'purchase', productId: purchase.product_id },
                purchase.time,
                purchase.properties,
              ),
            ]
          : [];
      }),
    ];
    if (work.length > 0) await ports.campaignEvents.send(work);
  }
  // Counted only for the arrays the request had, as Braze answers.
  return {
    ...(request.events ? { events: eventOwners.filter(Boolean).length } : {}),
    ...(request.purchases ? { purchases: purchaseOwners.filter(Boolean).length } : {}),
  };
};

/**
 * Identify: the anonymous profile becomes `external_id` when that id is new, or is
 * merged into the existing user and removed. Either way its devices stop matching
 * cohort imports (they now name an identified user).
 */
export const identifyUsers = async (
  workspaceId: string,
  request: IdentifyRequest,
  { users, memberships, clock = () => new Date() }: UserPorts,
): Promise<{ identified: number; merged: number; errors: ItemError[] }> => {
  const now = clock();
  const errors: ItemError[] = [];
  let identified = 0;
  let merged = 0;
  const identifyOne = async (source: IdentifierRef, externalId: string, describe: string): Promise<void> => {
    const entry = await users.find(workspaceId, source);
    if (!entry) throw new UserConflictError(`${describe} not found`);
    const profile = await users.getProfile(workspaceId, entry.brazeId);
    if (!profile) throw new UserConflictError(`${describe} not found`);
    if (profile.externalId !== undefined) {
      if (profile.externalId === externalId) return;
      throw new UserConflictError(`${describe} belongs to another identified user`);
    }
    const existing = await users.find(workspaceId, { type: 'external_id', externalId });
    const target = existing && (await users.getProfile(workspaceId, existing.brazeId));
    if (!target) {
      await users.identifyInPlace(workspaceId, profile, externalId, now);
      identified += 1;
      return;
    }
    await memberships.dropUser(workspaceId, profile.brazeId, now);
    await users.mergeInto(workspaceId, profile, target, now);
    // Again, now that the profile is gone: a sync that matched its identifiers before they were
    // re-pointed may have put a membership back meanwhile (an add the events function saw while
    // the profile still existed, so no orphan). Any add after this finds the profile gone, and
    // the events function ends it as an orphan.
    await memberships.dropUser(workspaceId, profile.brazeId, now);
    merged += 1;
  };
  for (const [index, item] of (request.aliases_to_identify ?? []).entries()) {
    const alias = item.user_alias;
    await identifyOne(
      { type: 'alias', label: alias.alias_label, name: alias.alias_name },
      item.external_id,
      `alias ${alias.alias_label}:${alias.alias_name}`,
    ).catch((error: unknown) => errors.push(itemError('aliases_to_identify', index, error)));
  }
  for (const [index, item] of (request.devices_to_identify ?? []).entries()) {
    await identifyOne(
      { type: 'device_id', deviceId: item.device_id },
      item.external_id,
      `device ${item.device_id}`,
    ).catch((error: unknown) => errors.push(itemError('devices_to_identify', index, error)));
  }
  return { identified, merged, errors };
};

export interface ExportedUser {
  braze_id: string;
  external_id?: string;
  user_aliases: { alias_name: string; alias_label: string }[];
  device_ids: string[];
  cohorts: { partner: string; cohort_id: string; name: string }[];
  custom_attributes: Record<string, unknown>;
  created_at: string;
}

export const exportUsers = async (
  workspaceId: string,
  request: ExportIdsRequest,
  { users, memberships }: UserPorts,
): Promise<{ users: ExportedUser[]; invalidUserIds: string[] }> => {
  const wanted: { ref?: IdentifierRef; brazeId?: string; label: string }[] = [
    ...(request.external_ids ?? []).map((externalId) => ({
      ref: { type: 'external_id', externalId } as IdentifierRef,
      label: externalId,
    })),
    ...(request.user_aliases ?? []).map((alias) => ({
      ref: { type: 'alias', label: alias.alias_label, name: alias.alias_name } as IdentifierRef,
      label: `${alias.alias_label}:${alias.alias_name}`,
    })),
    ...(request.device_id !== undefined
      ? [{ ref: { type: 'device_id', deviceId: request.device_id } as IdentifierRef, label: request.device_id }]
      : []),
    ...(request.braze_id !== undefined ? [{ brazeId: request.braze_id, label: request.braze_id }] : []),
  ];
  const invalidUserIds: string[] = [];
  const brazeIds: string[] = [];
  for (const item of wanted) {
    const brazeId = item.brazeId ?? (item.ref && (await users.find(workspaceId, item.ref))?.brazeId);
    if (brazeId === undefined) invalidUserIds.push(item.label);
    else brazeIds.push(brazeId);
  }
  const profiles = await users.getProfiles(workspaceId, brazeIds);
  const found = new Set(profiles.map((profile) => profile.brazeId));
  if (request.braze_id !== undefined && !found.has(request.braze_id) && !invalidUserIds.includes(request.braze_id)) {
    invalidUserIds.push(request.braze_id);
  }
  const exported = await Promise.all(profiles.map((profile) => toExportedUser(workspaceId, profile, memberships)));
  return { users: exported, invalidUserIds };
};

const toExportedUser = async (
  workspaceId: string,
  profile: UserProfile,
  memberships: UserMemberships,
): Promise<ExportedUser> => {
  const refs = await memberships.cohortsOfUser(workspaceId, profile.brazeId);
  const cohorts = refs.length > 0 ? await memberships.getCohorts(workspaceId, refs) : [];
  return {
    braze_id: profile.brazeId,
    ...(profile.externalId !== undefined ? { external_id: profile.externalId } : {}),
    user_aliases: profile.aliases.map((alias) => ({ alias_name: alias.alias_name, alias_label: alias.alias_label })),
    device_ids: profile.deviceIds,
    cohorts: cohorts
      .map((cohort) => ({ partner: cohort.partner, cohort_id: cohort.cohortId, name: cohort.name }))
      .sort((a, b) => `${a.partner}#${a.cohort_id}`.localeCompare(`${b.partner}#${b.cohort_id}`)),
    custom_attributes: profile.customAttributes,
    created_at: profile.createdAt,
  };
};

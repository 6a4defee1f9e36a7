/**
 * API-triggered campaigns and Canvases, Braze's `POST /campaigns/trigger/send` and
 * `POST /canvas/trigger/send` (docs/campaigns.md, "API-triggered campaigns and Canvases"):
 * up to 50 recipients by `external_user_id` or `user_alias`, each entered once per dispatch
 * (re-eligibility permitting) with its properties, or `broadcast` to the whole target segment
 * (a run of the segment, as a scheduled campaign's). The messages go through the one send
 * pipeline (pacing, claims, receiver, figures); the dispatch id is the entry stamp, so the
 * sender's claims make a replayed trigger send nothing twice.
 */
import { createHash } from 'node:crypto';
import * as z from 'zod';
import { mapLimit } from '../concurrency.js';
import { describeIssues, Identifier } from '../contract/partner.js';
import { ConflictError, isLoadError, NotFoundError, ValidationError } from '../errors.js';
import type { UserStore } from '../users/ports.js';
import { generateId } from '../workspaces/keys.js';
import { audienceMessages, runRanges } from './journeys.js';
import type { SendMessage } from './messages.js';
import { JOURNEY_GRACE_MS, reeligibleAfterMs, stepDueTimes, type Campaign, type CampaignKind } from './model.js';
import type { CampaignStore, WorkQueue } from './ports.js';
import { reeligibleAt } from './journeys.js';

/** Braze's bound: at most 50 recipients a call. */
export const MAX_TRIGGER_RECIPIENTS = 50;
/**
 * A recipient's properties (the top-level ones with its own over them), as JSON: each message
 * carries them through SQS, 10 to a SendMessageBatch of at most 256 KB, so 20 KB (Braze allows
 * 50 KB: the larger objects are refused here, with this reason).
 */
export const MAX_PROPERTIES_BYTES = 20_000;
/** An `Idempotency-Key` header: 1 to 255 visible ASCII characters. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

const Properties = z
  .record(
    z
      .string()
      .min(1, { error: 'property names must be non-empty' })
      .max(255, { error: 'property names must be at most 255 characters' }),
    z.unknown(),
    { error: 'must be an object of properties' },
  )
  .refine((properties) => Buffer.byteLength(JSON.stringify(properties)) <= MAX_PROPERTIES_BYTES, {
    error: `must be at most ${MAX_PROPERTIES_BYTES.toLocaleString('en-US')} bytes as JSON`,
  });

const schemaOf = (kind: CampaignKind) => {
  const propertiesName = kind === 'canvas' ? 'canvas_entry_properties' : 'trigger_properties';
  const Recipient = z
    .strictObject({
      external_user_id: Identifier.optional(),
      user_alias: z.strictObject({ alias_name: Identifier, alias_label: Identifier }).optional(),
      [propertiesName]: Properties.optional(),
      send_to_existing_only: z
        .boolean({ error: 'must be true or false' })
        .refine((only) => only, {
          error:
            'must be true: this service never creates users (Braze would create one for `false`); create the user through /users/track first',
        })
        .optional(),
    })
    .refine((recipient) => (recipient.external_user_id === undefined) !== (recipient.user_alias === undefined), {
      error: 'exactly one of `external_user_id` and `user_alias` names the recipient',
    });
  return z
    .strictObject({
      [kind === 'canvas' ? 'canvas_id' : 'campaign_id']: z
        .string({ error: 'must be a string' })
        .min(1, { error: 'must be a non-empty string' })
        .max(255),
      [propertiesName]: Properties.optional(),
      broadcast: z.boolean({ error: 'must be true or false' }).optional(),
      recipients: z
        .array(Recipient, { error: 'must be an array of recipients' })
        .min(1, { error: 'must name at least one recipient (or send `broadcast: true` without recipients)' })
        .max(MAX_TRIGGER_RECIPIENTS, { error: `must name at most ${MAX_TRIGGER_RECIPIENTS} recipients` })
        .optional(),
    })
    .superRefine((body, context) => {
      if (body.broadcast === true && body.recipients !== undefined)
        context.addIssue({
          code: 'custom',
          path: ['recipients'],
          message: 'must be absent when `broadcast` is true (the whole target segment is sent to)',
        });
      if (body.broadcast !== true && body.recipients === undefined)
        context.addIssue({
          code: 'custom',
          path: ['recipients'],
          message: 'is required unless `broadcast` is true',
        });
    });
};

type Properties = Record<string, unknown>;
export interface TriggerRequest {
  campaignId: string;
  broadcast: boolean;
  properties?: Properties;
  recipients: { ref: { external_id: string } | { alias_name: string; alias_label: string }; properties?: Properties }[];
}

/** A trigger call's body (400s name what is wrong, in the `{message, errors}` shape). */
export const parseTriggerBody = (kind: CampaignKind, body: unknown): TriggerRequest => {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new ValidationError('The body must be a JSON object describing the trigger');
  const result = schemaOf(kind).safeParse(body);
  if (!result.success) {
    const details = describeIssues(result.error);
    throw new ValidationError(`Invalid trigger: ${details[0] ?? 'invalid body'}`, details);
  }
  const parsed = result.data as Record<string, unknown>;
  const propertiesName = kind === 'canvas' ? 'canvas_entry_properties' : 'trigger_properties';
  const top = parsed[propertiesName] as Properties | undefined;
  const recipients = ((parsed.recipients ?? []) as Record<string, unknown>[]).map((recipient, index) => {
    const own = recipient[propertiesName] as Properties | undefined;
    const merged = top || own ? { ...top, ...own } : undefined;
    if (merged && Buffer.byteLength(JSON.stringify(merged)) > MAX_PROPERTIES_BYTES)
      throw new ValidationError(
        `Invalid trigger: recipients[${index}]: its properties with the top-level ones are over ${MAX_PROPERTIES_BYTES.toLocaleString('en-US')} bytes as JSON`,
      );
    const alias = recipient.user_alias as { alias_name: string; alias_label: string } | undefined;
    return {
      ref: alias
        ? { alias_name: alias.alias_name, alias_label: alias.alias_label }
        : { external_id: recipient.external_user_id as string },
      ...(merged ? { properties: merged } : {}),
    };
  });
  return {
    campaignId: parsed[kind === 'canvas' ? 'canvas_id' : 'campaign_id'] as string,
    broadcast: parsed.broadcast === true,
    ...(top ? { properties: top } : {}),
    recipients,
  };
};

/** The dispatch id of a call with an `Idempotency-Key`: the same for every replay of it. */
export const dispatchIdOf = (workspaceId: string, campaignId: string, idempotencyKey: string): string =>
  `d${createHash('sha256').update([workspaceId, campaignId, idempotencyKey].join('\u0000')).digest('hex').slice(0, 31)}`;

export interface TriggerPorts {
  campaigns: Pick<CampaignStore, 'get' | 'enter' | 'claimDispatch' | 'beginBroadcast'>;
  users: Pick<UserStore, 'find'>;
  /** The send pipeline's release: paced, then queued within the horizon or kept as timers (lib/campaigns/journeys.ts). */
  release(messages: SendMessage[]): Promise<void>;
  work: WorkQueue;
  clock: () => Date;
}

/**
 * An entry is the same write however often it is made (a second finds its own stamp: `again`),
 * so one that lost to load (a replay racing its original on the same entry: TransactionConflict,
 * throttling) is made again, a few times with a jittered wait, before the call answers 503.
 */
const retryingLoad = async <T>(write: () => Promise<T>, attempts = 5): Promise<T> => {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await write();
    } catch (error: unknown) {
      if (!isLoadError(error) || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 25 * 2 ** attempt));
    }
  }
};

const noun = (kind: CampaignKind) => (kind === 'canvas' ? 'Canvas' : 'campaign');

export const createTrigger = (ports: TriggerPorts) => {
  const require = async (workspaceId: string, kind: CampaignKind, campaignId: string): Promise<Campaign> => {
    const campaign = await ports.campaigns.get(workspaceId, campaignId);
    if (!campaign || campaign.kind !== kind)
      throw new NotFoundError(`No ${noun(kind)} ${campaignId} in this workspace`);
    if (campaign.delivery.type !== 'api_triggered')
      throw new ValidationError(
        `The ${noun(kind)} ${campaignId} is not API-triggered (its delivery is ${campaign.delivery.type}); only an API-triggered one can be triggered`,
      );
    if (campaign.status !== 'active' || !campaign.filter)
      throw new ConflictError(
        `Only an active ${noun(kind)} can be triggered; this one is ${campaign.status}${campaign.status === 'draft' ? ' (launch it first)' : ''}`,
      );
    return campaign;
  };

  /**
   * Triggers an API-triggered campaign or Canvas: its dispatch id. A replay of a call with the
   * same `Idempotency-Key` and body is the same dispatch (nothing is sent twice); the key with
   * another body is a 409.
   */
  const trigger = async (
    workspaceId: string,
    kind: CampaignKind,
    body: unknown,
    idempotencyKey: string | undefined,
  ): Promise<{ dispatchId: string }> => {
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey))
      throw new ValidationError('Invalid Idempotency-Key header: 1 to 255 visible ASCII characters');
    const request = parseTriggerBody(kind, body);
    if (request.broadcast && kind === 'canvas')
      throw new ValidationError(
        'Invalid trigger: `broadcast` to a Canvas is not supported here yet; name its recipients',
      );
    const campaign = await require(workspaceId, kind, request.campaignId);
    const now = ports.clock();
    let dispatchId = generateId();
    if (idempotencyKey !== undefined) {
      dispatchId = dispatchIdOf(workspaceId, campaign.campaignId, idempotencyKey);
      const fingerprint = createHash('sha256').update(JSON.stringify(body)).digest('base64url');
      const claim = await ports.campaigns.claimDispatch(workspaceId, campaign.campaignId, dispatchId, fingerprint, now);
      if (claim === 'different')
        throw new ConflictError(
          'This Idempotency-Key was used with another body for this campaign: a replay must send the same body (or use a new key)',
        );
    }
    if (request.broadcast) await broadcast(campaign, dispatchId, request.properties);
    else await enterRecipients(campaign, dispatchId, request, now);
    return { dispatchId };
  };

  /** The whole target segment, read as a scheduled run reads it (16 ranges), once per dispatch. */
  const broadcast = async (campaign: Campaign, dispatchId: string, properties: Properties | undefined) => {
    const runId = `B${dispatchId}`;
    const ranges = runRanges();
    // Written once; a replay queues the first chunks again, which advance nothing twice (a crash
    // between the write and the queueing is repaired so).
    await ports.campaigns.beginBroadcast(campaign.workspaceId, campaign.campaignId, runId, ranges);
    await ports.work.send(audienceMessages(campaign, runId, ranges, properties));
  };

  /**
   * Each recipient that exists (`send_to_existing_only`), once per dispatch however often named
   * (the first naming's properties), entered as an action-based entry is (re-eligibility, the
   * figures' `targeted`), its steps released with the properties. Whether the user is in the
   * target is decided when each message is sent, as for every entry.
   */
  const enterRecipients = async (campaign: Campaign, dispatchId: string, request: TriggerRequest, now: Date) => {
    const { workspaceId, campaignId } = campaign;
    const found = await mapLimit(request.recipients, 10, async (recipient) => {
      const entry = await ports.users.find(
        workspaceId,
        'external_id' in recipient.ref
          ? { type: 'external_id', externalId: recipient.ref.external_id }
          : { type: 'alias', name: recipient.ref.alias_name, label: recipient.ref.alias_label },
      );
      return entry?.brazeId;
    });
    const users = new Map<string, Properties | undefined>();
    found.forEach((brazeId, index) => {
      if (brazeId !== undefined && !users.has(brazeId)) users.set(brazeId, request.recipients[index]!.properties);
    });
    const enteredAt = now.getTime();
    const dueTimes = stepDueTimes(campaign, enteredAt);
    const delivery = campaign.delivery as Extract<Campaign['delivery'], { type: 'api_triggered' }>;
    // A campaign's one message is the whole journey: re-eligibility alone decides the next trigger.
    // A Canvas is one journey at a time, as an action-based one (its last step plus a grace).
    const endsAt = campaign.kind === 'canvas' ? dueTimes.at(-1)! + JOURNEY_GRACE_MS : enteredAt;
    const released = await mapLimit([...users], 10, async ([brazeId, properties]) => {
      const outcome = await retryingLoad(() =>
        ports.campaigns.enter(
          workspaceId,
          campaignId,
          brazeId,
          {
            stamp: dispatchId,
            orderStamp: dispatchId,
            enteredAt: now.toISOString(),
            endsAt: new Date(endsAt).toISOString(),
            state: 'active',
            reeligibleAt: reeligibleAt(enteredAt, reeligibleAfterMs(delivery)),
          },
          campaign.steps.length,
          now,
        ),
      );
      // `again`: a replay of this dispatch: the same messages again, which the sender's claims drop.
      if (outcome === 'not_eligible') return [];
      return dueTimes.map(
        (dueAt, step): SendMessage => ({
          v: 1,
          workspaceId,
          campaignId,
          step,
          brazeId,
          entry: dispatchId,
          kind: 'api',
          dueAt: new Date(dueAt).toISOString(),
          ...(properties ? { properties } : {}),
        }),
      );
    });
    const messages = released.flat();
    if (messages.length > 0) await ports.release(messages);
  };

  return { trigger };
};

/**
 * Campaigns and Canvases: what a workspace defines (zod schemas of the REST bodies, in
 * Braze's snake_case) and the stored shape. A campaign is one webhook message to a
 * target, scheduled (once or recurring) or action-based (when a user enters the target);
 * a Canvas is an entry (a user enters the target), then ordered steps, each a delay and a
 * webhook message. Both leave a user who leaves the target.
 */
import type { CampaignView } from '../contract/views.js';
import { ExitEventsSchema, exitEventsOf, TriggerSchema, triggerOf, triggerView } from './event-definition.js';
import * as z from 'zod';
import { ConflictError, ValidationError } from '../errors.js';
import { describeIssues, Identifier } from '../contract/partner.js';
import { SORT_KEY_MAX_BYTES } from '../http/limits.js';
import { BrazeId } from '../users/requests.js';
import type { FrequencyCap } from './ports.js';
import type { Filter } from '../segments/filter.js';
import { headerProblem, WEBHOOK_METHODS } from '../webhooks/requests.js';
import { parseTemplate, TemplateError } from './template.js';
import { canonicalTimeZone, isValidTimeZone } from './schedule.js';
import { MAX_RATE_PER_MINUTE, MIN_RATE_PER_MINUTE } from './pacing.js';

export type CampaignKind = 'campaign' | 'canvas';
export type CampaignStatus = 'draft' | 'active' | 'stopped' | 'archived';

export interface WebhookMessage {
  url: string;
  method: (typeof WEBHOOK_METHODS)[number];
  headers: Record<string, string>;
  body: string;
}

export interface Step {
  name: string;
  /** After the entry (first step) or the previous step. */
  delaySeconds: number;
  message: WebhookMessage;
}

export type RecurringSchedule = {
  frequency: 'daily' | 'weekly';
  /** HH:MM, local time in `timezone`. */
  time: string;
  timezone: string;
  /** 0 = Sunday … 6 = Saturday (weekly only). */
  weekdays?: number[];
};

/** Units a re-eligibility wait is given in, and their length. */
export const REELIGIBLE_UNITS = { minutes: 60_000, hours: 3_600_000, days: 86_400_000, weeks: 604_800_000 } as const;
export type ReeligibleUnit = keyof typeof REELIGIBLE_UNITS;
/** At most ten years (3,650 days), whatever the unit. */
const REELIGIBLE_MAX_MS = 3_650 * REELIGIBLE_UNITS.days;

/**
 * What enters a user of an action-based campaign or Canvas: a custom event of this name, or a
 * purchase (of this product, or any), tracked through /users/track (lib/campaigns/event-entries.ts).
 * Absent: entering the target segment, as before.
 */
export type EventTrigger = { type: 'custom_event'; name: string } | { type: 'purchase'; productId?: string };

export type Delivery =
  | { type: 'scheduled'; at?: string; recurring?: RecurringSchedule }
  | {
      type: 'action_based';
      /** Days (fractional when given in a smaller unit); null: never again. */
      reeligibleAfterDays: number | null;
      /** The wait as it was given (absent on definitions stored before units: days). */
      reeligibleAfter?: { value: number; unit: ReeligibleUnit };
      /** Absent: the user enters on entering the target segment. */
      trigger?: EventTrigger;
    }
  | {
      /** Sent when `POST /campaigns/trigger/send` (`/canvas/trigger/send`) names it (lib/campaigns/trigger.ts). */
      type: 'api_triggered';
      reeligibleAfterDays: number | null;
      reeligibleAfter?: { value: number; unit: ReeligibleUnit };
      /** Not held back by the workspace's frequency cap, nor counted in it (transactional messages). */
      ignoreFrequencyCap?: true;
    };

/** The deliveries that enter users one at a time, with re-eligibility. */
export type EntryDelivery = Extract<Delivery, { type: 'action_based' | 'api_triggered' }>;

/** How long after an entry a user may enter again (ms); null: never. */
export const reeligibleAfterMs = (delivery: EntryDelivery): number | null =>
  delivery.reeligibleAfter
    ? delivery.reeligibleAfter.value * REELIGIBLE_UNITS[delivery.reeligibleAfter.unit]
    : delivery.reeligibleAfterDays === null
      ? null
      : delivery.reeligibleAfterDays * REELIGIBLE_UNITS.days;

/**
 * The re-eligibility an action-based campaign or Canvas was given: `reeligible_after_days` (whole
 * days, Braze's original field) or `reeligible_after: {value, unit}` (minutes, hours, days or
 * weeks), not both; neither: never again.
 */
const reeligibilityOf = (
  days: number | null | undefined,
  after: { value: number; unit: ReeligibleUnit } | null | undefined,
  path: string,
  type: EntryDelivery['type'] = 'action_based',
  ignoreFrequencyCap = false,
): EntryDelivery => {
  if (days !== undefined && after !== undefined)
    throw new ValidationError(
      `Invalid campaign: give \`${path}reeligible_after_days\` or \`${path}reeligible_after\`, not both`,
    );
  const cap = type === 'api_triggered' && ignoreFrequencyCap ? { ignoreFrequencyCap: true as const } : {};
  if (!after) return { type, reeligibleAfterDays: days ?? null, ...cap };
  const ms = after.value * REELIGIBLE_UNITS[after.unit];
  if (ms > REELIGIBLE_MAX_MS)
    throw new ValidationError(`Invalid campaign: \`${path}reeligible_after\` is at most 3,650 days`);
  return { type, reeligibleAfterDays: ms / REELIGIBLE_UNITS.days, reeligibleAfter: after, ...cap };
};

export interface Campaign {
  workspaceId: string;
  campaignId: string;
  kind: CampaignKind;
  name: string;
  status: CampaignStatus;
  segmentIds: string[];
  /** The AND of the segments' filters, as they were at launch. */
  filter?: Filter;
  delivery: Delivery;
  steps: Step[];
  /** At most this many messages a minute, evenly spread, shared by a Canvas's steps (lib/campaigns/pacing.ts); absent: no limit. */
  rateLimitPerMinute?: number;
  /** Custom events that end a user's journey (nothing more is sent for that entry); absent: none. */
  exitOnEvents?: string[];
  createdAt: string;
  updatedAt: string;
  launchedAt?: string;
  /**
   * Membership events that occurred (`occurred_at`, the time the sync applied the change, on
   * the real clock) before this are no entries: the user was in the target at launch. Absent on
   * campaigns launched before it was kept.
   */
  entersSince?: string;
  stoppedAt?: string;
  nextRunAt?: string;
  /**
   * Counts the writes of the definition (and of its runs' progress): each whole-item write
   * is conditioned on the revision it read, so a launch racing an edit, or a stop racing a
   * run, is a 409 for the loser, never a lost update. Absent on items written before.
   */
  revision?: number;
}

/** One user at a time in a journey: the last step's due time plus this, before a re-entry can replace an entry. */
export const JOURNEY_GRACE_MS = 3600_000;
/** Delays up to 90 days (a timer item waits as long as needed; the bound keeps mistakes visible). */
export const MAX_DELAY_SECONDS = 90 * 86_400;
export const MAX_CANVAS_STEPS = 10;
export const MAX_SEGMENTS = 5;

export { ConflictError };

const nonEmpty = z.string({ error: 'must be a string' }).trim().min(1, { error: 'must be a non-empty string' });

const MessageSchema = z.strictObject({
  url: nonEmpty.max(2048, { error: 'must be at most 2048 characters' }),
  method: z.enum(WEBHOOK_METHODS).default('POST'),
  headers: z.record(z.string(), z.string()).default({}),
  body: z
    .string()
    .max(64 * 1024)
    .default(''),
});

const RecurringSchema = z.strictObject({
  frequency: z.enum(['daily', 'weekly']),
  time: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, { error: 'must be HH:MM' }),
  timezone: z
    .string()
    .refine(isValidTimeZone, { error: 'must be an IANA time zone name such as Europe/Paris (not an offset)' })
    .transform(canonicalTimeZone),
  weekdays: z
    .array(z.number().int().min(0).max(6))
    .min(1)
    .max(7)
    .refine((days) => new Set(days).size === days.length, { error: 'must not name a day twice' })
    .optional(),
});

const DelaySchema = z.number().int().min(0).max(MAX_DELAY_SECONDS);
const ReeligibleSchema = z.number().int().min(0).max(3650).nullable().optional();
/** A re-eligibility wait in a unit; null: never again. */
const ReeligibleAfterSchema = z
  .strictObject({
    value: z
      .number()
      .int({ error: 'must be a whole number' })
      .min(1)
      .max(3_650 * 24 * 60),
    unit: z.enum(['minutes', 'hours', 'days', 'weeks'], { error: 'must be minutes, hours, days or weeks' }),
  })
  .nullable()
  .optional();
/** An API-triggered campaign or Canvas may opt out of the frequency cap (default: capped, as every message). */
const IgnoreCapSchema = z.boolean({ error: 'must be true or false' }).default(false);
/** Messages per minute, Braze's range; null or absent: no limit. */
const RateLimitSchema = z
  .number({ error: 'must be a number' })
  .int({ error: 'must be a whole number of messages per minute' })
  .min(MIN_RATE_PER_MINUTE, { error: `must be at least ${MIN_RATE_PER_MINUTE} (messages per minute)` })
  .max(MAX_RATE_PER_MINUTE, {
    error: `must be at most ${MAX_RATE_PER_MINUTE.toLocaleString('en-US')} (messages per minute)`,
  })
  .nullable()
  .default(null);
/** A segment id is looked up as a sort key: bounded in UTF-8 bytes (DynamoDB's 1,024), not characters. */
const SegmentIdsSchema = z
  .array(
    nonEmpty.refine((id) => Buffer.byteLength(id, 'utf8') <= SORT_KEY_MAX_BYTES, {
      error: `must be at most ${SORT_KEY_MAX_BYTES} bytes of UTF-8`,
    }),
  )
  .min(1)
  .max(MAX_SEGMENTS)
  // Segments are AND-ed: one twice targets no one else, so it is a mistake to name, not to keep.
  // Checked on the trimmed ids (what is looked up), each repeat at its own index.
  .superRefine((ids, context) => {
    ids.forEach((id, index) => {
      const first = ids.indexOf(id);
      if (first < index)
        context.addIssue({
          code: 'custom',
          path: [index],
          message: `must not name a segment twice (${JSON.stringify(id)} is segment_ids[${first}] too)`,
        });
    });
  });

const CampaignBody = z.strictObject({
  name: nonEmpty.max(255, { error: 'must be at most 255 characters' }),
  segment_ids: SegmentIdsSchema,
  rate_limit_per_minute: RateLimitSchema,
  exit_on_events: ExitEventsSchema,
  message: MessageSchema,
  delivery: z.discriminatedUnion('type', [
    z.strictObject({
      type: z.literal('scheduled'),
      /** ISO-8601; absent: now (at launch). */
      at: z.iso.datetime({ offset: true }).optional(),
      recurring: RecurringSchema.optional(),
    }),
    z.strictObject({
      type: z.literal('action_based'),
      trigger: TriggerSchema,
      delay_seconds: DelaySchema.default(0),
      /** null: never again; N: N days after the last entry. */
      reeligible_after_days: ReeligibleSchema,
      reeligible_after: ReeligibleAfterSchema,
    }),
    z.strictObject({
      type: z.literal('api_triggered'),
      reeligible_after_days: ReeligibleSchema,
      reeligible_after: ReeligibleAfterSchema,
      ignore_frequency_cap: IgnoreCapSchema,
    }),
  ]),
});

const CanvasBody = z.strictObject({
  name: nonEmpty.max(255, { error: 'must be at most 255 characters' }),
  segment_ids: SegmentIdsSchema,
  /** How users enter: on entering the segment (default), or by `POST /canvas/trigger/send`. */
  delivery: z
    .discriminatedUnion('type', [
      z.strictObject({ type: z.literal('action_based'), trigger: TriggerSchema }),
      z.strictObject({ type: z.literal('api_triggered'), ignore_frequency_cap: IgnoreCapSchema }),
    ])
    .optional(),
  reeligible_after_days: ReeligibleSchema,
  reeligible_after: ReeligibleAfterSchema,
  rate_limit_per_minute: RateLimitSchema,
  exit_on_events: ExitEventsSchema,
  steps: z
    .array(
      z.strictObject({
        name: nonEmpty.max(255, { error: 'must be at most 255 characters' }),
        delay_seconds: DelaySchema,
        message: MessageSchema,
      }),
    )
    .min(1)
    .max(MAX_CANVAS_STEPS),
});

export interface CampaignInput {
  name: string;
  segmentIds: string[];
  delivery: Delivery;
  steps: Step[];
  rateLimitPerMinute?: number;
  exitOnEvents?: string[];
}

const rateLimitOf = (perMinute: number | null) => (perMinute === null ? {} : { rateLimitPerMinute: perMinute });

/**
 * What a message's own headers may not hold: what HTTP or the client forbids (headerProblem),
 * and `Idempotency-Key` in any case, which the sender sets (the same on every retry of a send).
 * Checked at save (400) and at render (a template error with this reason).
 */
export const messageHeaderProblem = (headers: Record<string, string>): string | undefined =>
  headerProblem(headers) ??
  (Object.keys(headers).some((name) => name.toLowerCase() === 'idempotency-key')
    ? 'header Idempotency-Key is set by the sender (the same on every retry of a send), not the message'
    : undefined);

const checkMessage = (message: WebhookMessage, where: string): void => {
  const problem = messageHeaderProblem(message.headers);
  if (problem) throw new ValidationError(`Invalid ${where}: ${problem}`);
  for (const [part, source] of [
    ['url', message.url],
    ['body', message.body],
    ...Object.entries(message.headers).map(([name, value]) => [`header ${name}`, value] as const),
  ] as const) {
    try {
      parseTemplate(source);
    } catch (error: unknown) {
      if (error instanceof TemplateError)
        throw new ValidationError(`Invalid ${where} ${part} template: ${error.message}`);
      throw error;
    }
  }
};

/**
 * A campaign or Canvas is stored as one DynamoDB item, at most 400 KB of attribute names and
 * values. Its JSON (a little more than DynamoDB counts) must stay under this, which leaves
 * room for the store's own attributes; the target's filter, added at launch, counts too.
 */
export const MAX_STORED_CAMPAIGN_BYTES = 350_000;
/** When a draft is saved: what launch adds (the target's filter) needs room as well. */
export const MAX_DRAFT_CAMPAIGN_BYTES = 300_000;

/** What is wrong with storing `campaign` (its size as one item), or undefined. */
export const storedSizeProblem = (campaign: object, limit: number, what: string): string | undefined => {
  const bytes = Buffer.byteLength(JSON.stringify(campaign), 'utf8');
  return bytes > limit
    ? `${what} is ${bytes.toLocaleString('en-US')} bytes; a campaign or Canvas is one DynamoDB item (400 KB), so at most ${limit.toLocaleString('en-US')} bytes here: shorten its bodies or headers`
    : undefined;
};

/** AWS-style bound on a frequency cap's window: at most a year; a cap of 0 would stop every message (stop the campaigns instead). */
export const MAX_CAP_WINDOW_SECONDS = 365 * 86_400;
export const MAX_CAP_MESSAGES = 1_000;

/** PUT /settings/frequency-cap. Numbers are JSON numbers: no `true`, `[60]`, `"0x10"` or `"1e2"`. */
const FrequencyCapBody = z.strictObject({
  frequency_cap: z
    .strictObject({
      max_messages: z
        .number({ error: 'must be a number' })
        .int({ error: 'must be a whole number' })
        .min(1, { error: 'must be at least 1' })
        .max(MAX_CAP_MESSAGES, { error: `must be at most ${MAX_CAP_MESSAGES}` }),
      window_seconds: z
        .number({ error: 'must be a number' })
        .int({ error: 'must be a whole number of seconds' })
        .min(60, { error: 'must be at least 60 (seconds)' })
        .max(MAX_CAP_WINDOW_SECONDS, { error: `must be at most ${MAX_CAP_WINDOW_SECONDS} (a year)` }),
    })
    .nullable(),
});

/** Whom a preview or test send renders for: one user by external_id or braze_id, and a Canvas's step (default 0). */
const RenderTargetBody = z
  .strictObject({
    step: z
      .number({ error: 'must be a number' })
      .int({ error: 'must be a whole number' })
      .min(0, { error: 'must be 0 or more' })
      .optional(),
    external_id: Identifier.optional(),
    braze_id: BrazeId.optional(),
  })
  .refine((target) => (target.external_id === undefined) !== (target.braze_id === undefined), {
    error: 'exactly one of `external_id` and `braze_id` names the user',
  });

const parseOrThrow = <T>(schema: z.ZodType<T>, body: unknown, what: string): T => {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new ValidationError(`The body must be a JSON object describing the ${what}`);
  const result = schema.safeParse(body);
  if (!result.success) {
    const details = describeIssues(result.error);
    throw new ValidationError(`Invalid ${what}: ${details[0] ?? 'invalid body'}`, details);
  }
  return result.data;
};

export const parseFrequencyCapBody = (body: unknown): FrequencyCap | null => {
  const { frequency_cap: cap } = parseOrThrow(FrequencyCapBody, body, 'frequency cap');
  return cap && { maxMessages: cap.max_messages, windowSeconds: cap.window_seconds };
};

export type RenderTarget = { step: number } & ({ externalId: string } | { brazeId: string });

export const parseRenderTarget = (body: unknown): RenderTarget => {
  const target = parseOrThrow(RenderTargetBody, body ?? {}, 'preview or test send');
  const step = target.step ?? 0;
  return target.external_id !== undefined
    ? { step, externalId: target.external_id }
    : { step, brazeId: target.braze_id! };
};

export const parseCampaignBody = (body: unknown): CampaignInput => {
  const input = parseOrThrow(CampaignBody, body, 'campaign');
  const message = input.message as WebhookMessage;
  checkMessage(message, 'message');
  const { delivery } = input;
  if (delivery.type === 'scheduled') {
    exitEventsOf(input.exit_on_events, { type: 'scheduled' }, 'campaign');
    if (delivery.recurring?.frequency === 'daily' && delivery.recurring.weekdays)
      throw new ValidationError('Invalid campaign: `weekdays` is for weekly schedules');
    if (delivery.recurring?.frequency === 'weekly' && !delivery.recurring.weekdays)
      throw new ValidationError('Invalid campaign: a weekly schedule needs `weekdays` (0 = Sunday … 6 = Saturday)');
    return {
      name: input.name,
      segmentIds: input.segment_ids,
      delivery: {
        type: 'scheduled',
        ...(delivery.at !== undefined ? { at: new Date(delivery.at).toISOString() } : {}),
        ...(delivery.recurring ? { recurring: delivery.recurring } : {}),
      },
      steps: [{ name: input.name, delaySeconds: 0, message }],
      ...rateLimitOf(input.rate_limit_per_minute),
    };
  }
  const entryDelivery: Delivery =
    delivery.type === 'api_triggered'
      ? reeligibilityOf(
          delivery.reeligible_after_days,
          delivery.reeligible_after,
          'delivery.',
          'api_triggered',
          delivery.ignore_frequency_cap,
        )
      : {
          ...reeligibilityOf(delivery.reeligible_after_days, delivery.reeligible_after, 'delivery.'),
          ...triggerOf(delivery.trigger),
        };
  return {
    name: input.name,
    segmentIds: input.segment_ids,
    delivery: entryDelivery,
    steps: [
      { name: input.name, delaySeconds: delivery.type === 'api_triggered' ? 0 : delivery.delay_seconds, message },
    ],
    ...rateLimitOf(input.rate_limit_per_minute),
    ...exitEventsOf(input.exit_on_events, entryDelivery, 'campaign'),
  };
};

export const parseCanvasBody = (body: unknown): CampaignInput => {
  const input = parseOrThrow(CanvasBody, body, 'canvas');
  const steps = input.steps.map((step, index) => {
    checkMessage(step.message as WebhookMessage, `steps[${index}].message`);
    return { name: step.name, delaySeconds: step.delay_seconds, message: step.message as WebhookMessage };
  });
  const delivery: Delivery = {
    ...reeligibilityOf(
      input.reeligible_after_days,
      input.reeligible_after,
      '',
      input.delivery?.type ?? 'action_based',
      input.delivery?.type === 'api_triggered' && input.delivery.ignore_frequency_cap,
    ),
    ...(input.delivery?.type === 'action_based' ? triggerOf(input.delivery.trigger) : {}),
  };
  return {
    name: input.name,
    segmentIds: input.segment_ids,
    delivery,
    steps,
    ...rateLimitOf(input.rate_limit_per_minute),
    ...exitEventsOf(input.exit_on_events, delivery, 'canvas'),
  };
};

/** When each step is due after an entry at `enteredAt` (ms): the delays add up. */
export const stepDueTimes = (campaign: Pick<Campaign, 'steps'>, enteredAt: number): number[] => {
  let at = enteredAt;
  return campaign.steps.map((step) => {
    at += step.delaySeconds * 1000;
    return at;
  });
};

/**
 * A campaign or Canvas in a list: its view without message templates (a Canvas's steps keep
 * their names and delays), so a page of 500 stays in the hundreds of KB whatever the bodies.
 */
export const campaignSummaryView = (campaign: Campaign) => {
  const {
    message: _message,
    steps,
    ...rest
  } = campaignView(campaign) as ReturnType<typeof campaignView> & {
    message?: unknown;
    steps?: { name: string; delay_seconds: number }[];
  };
  return steps ? { ...rest, steps: steps.map(({ name, delay_seconds }) => ({ name, delay_seconds })) } : rest;
};

/** Re-eligibility as the API answers it: in days (fractional for a smaller unit) and as it was given. */
const reeligibilityView = (delivery: EntryDelivery) => ({
  reeligible_after_days: delivery.reeligibleAfterDays,
  reeligible_after:
    delivery.reeligibleAfter ??
    (delivery.reeligibleAfterDays === null ? null : { value: delivery.reeligibleAfterDays, unit: 'days' as const }),
});

/** The public view of a campaign or Canvas (snake_case, as the API answers). */
export const campaignView = (campaign: Campaign): CampaignView => {
  const message = (step: Step) => ({
    url: step.message.url,
    method: step.message.method,
    headers: step.message.headers,
    body: step.message.body,
  });
  const common = {
    ...(campaign.kind === 'canvas' ? { canvas_id: campaign.campaignId } : { campaign_id: campaign.campaignId }),
    name: campaign.name,
    status: campaign.status,
    segment_ids: campaign.segmentIds,
    rate_limit_per_minute: campaign.rateLimitPerMinute ?? null,
    created_at: campaign.createdAt,
    updated_at: campaign.updatedAt,
    launched_at: campaign.launchedAt ?? null,
    stopped_at: campaign.stoppedAt ?? null,
    // Only a definition with exit events says so (the others answer as before).
    ...(campaign.exitOnEvents ? { exit_on_events: campaign.exitOnEvents } : {}),
  };
  if (campaign.kind === 'canvas') {
    return {
      ...common,
      ...(campaign.delivery.type === 'scheduled'
        ? { reeligible_after_days: null, reeligible_after: null }
        : reeligibilityView(campaign.delivery)),
      // Only an API-triggered Canvas says how users enter (the others enter on the segment, as before).
      ...(campaign.delivery.type === 'api_triggered'
        ? {
            delivery: {
              type: 'api_triggered' as const,
              ignore_frequency_cap: campaign.delivery.ignoreFrequencyCap === true,
            },
          }
        : campaign.delivery.type === 'action_based' && campaign.delivery.trigger
          ? { delivery: { type: 'action_based' as const, trigger: triggerView(campaign.delivery.trigger) } }
          : {}),
      steps: campaign.steps.map((step) => ({
        name: step.name,
        delay_seconds: step.delaySeconds,
        message: message(step),
      })),
    };
  }
  const delivery = campaign.delivery;
  return {
    ...common,
    message: message(campaign.steps[0]!),
    delivery:
      delivery.type === 'scheduled'
        ? {
            type: 'scheduled',
            at: delivery.at ?? null,
            recurring: delivery.recurring ?? null,
            // Only an active campaign has a next run: a stopped or archived one keeps none.
            next_run_at: campaign.status === 'active' ? (campaign.nextRunAt ?? null) : null,
          }
        : delivery.type === 'api_triggered'
          ? {
              type: 'api_triggered',
              ...reeligibilityView(delivery),
              ignore_frequency_cap: delivery.ignoreFrequencyCap === true,
            }
          : {
              type: 'action_based',
              // An event-triggered campaign says what enters; one on the segment answers as before.
              ...(delivery.trigger ? { trigger: triggerView(delivery.trigger) } : {}),
              delay_seconds: campaign.steps[0]!.delaySeconds,
              ...reeligibilityView(delivery),
            },
  };
};

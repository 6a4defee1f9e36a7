/**
 * Sends one webhook message (docs/campaigns.md, "The sender"): claim it (the service sends
 * each (campaign or step, user, entry) at most once), check it is still wanted (campaign
 * active; for action-based messages the entry still current and the user still in the
 * target), render it, ask its destination's breaker, take a frequency-cap slot, POST it
 * through the safe client, and record the outcome with its counter. A retryable failure
 * hands the message back with a backoff; a paused destination hands it back unsent, its
 * attempt not used; anything else is final.
 */
import {
  CLAIMS_PER_CALL,
  type CampaignStore,
  type Claim,
  type FinishedSend,
  type FrequencyCap,
  type MembershipChecks,
  type SendOutcome,
  type SendQueue,
} from './ports.js';
import { mapLimit } from '../concurrency.js';
import type { UserProfile } from '../users/ports.js';
import {
  type Admission,
  type BreakerChange,
  type BreakerReport,
  type BreakerSettings,
  createBreaker,
  DEFER_CAP_SECONDS,
  DEFER_RECEIVE_LIMIT,
  deferDelaySeconds,
  destinationOf,
} from '../webhooks/breaker.js';
import { judge, MAX_ATTEMPTS, retryDelaySeconds } from '../webhooks/policy.js';
import type { WebhookClient, WebhookRequest } from '../webhooks/requests.js';
import { cohortsOf, matchesFilter, membershipKey, ttlCache } from './audience.js';
import { sendKey, type SendMessage, type SendProfile } from './messages.js';
import { type Campaign, messageHeaderProblem, type WebhookMessage } from './model.js';
import { compileTemplate, compileUrlTemplate, TemplateError, type TemplateVariables } from './template.js';

export interface SenderPorts {
  campaigns: Pick<
    CampaignStore,
    | 'get'
    | 'claimSends'
    | 'markRetrying'
    | 'releaseSend'
    | 'finishSends'
    | 'getEntry'
    | 'exit'
    | 'getFrequencyCap'
    | 'admit'
    | 'reserveSlots'
  >;
  memberships: MembershipChecks;
  /** Where a paced message that came too late goes again, with its new slot (absent: the limit is held at release only). */
  sends?: SendQueue;
  users: { getProfile(workspaceId: string, brazeId: string): Promise<UserProfile | undefined> };
  webhooks: WebhookClient & { destination?(url: string): Promise<object | { refused: string }> };
  clock: () => Date;
  /**
   * What claims' leases are measured on (default `clock`): a lease guards against a sender
   * that died, which real time reveals. Tests that hold the campaigns' clock still pass the
   * wall clock here, so a dead sender's claim still lapses.
   */
  leaseClock?: () => Date;
  random?: () => number;
  /** Retry delays (defaults: lib/webhooks/policy.ts); tests make them 0. */
  retry?: { baseSeconds?: number; capSeconds?: number; maxAttempts?: number };
  /** How long a claim holds a message (default 2 min: longer than one attempt, shorter than the queue's visibility timeout). */
  leaseMs?: number;
  /** How long definitions and the cap setting are reused (default 5 s; tests 0). */
  cacheTtlMs?: number;
  /** Webhooks in flight per batch (default 10). */
  concurrency?: number;
  /** Start a message only with this much of the function's time left (default 13 s). */
  startMarginMs?: number;
  /**
   * The destination breaker (docs/campaigns.md, "Destination breaker"; defaults:
   * lib/webhooks/breaker.ts), on `clock`, in this sender's memory; false: none. The defer
   * delays are what SQS holds a paused destination's message for (tests shorten them).
   */
  breaker?:
    | false
    | (Partial<BreakerSettings> & { deferBaseSeconds?: number; deferCapSeconds?: number; deferReceiveLimit?: number });
  /** Told when a destination is paused or resumed (the handler logs and counts it). */
  onDestinationChange?: (change: BreakerChange) => void;
}

export type SendResult =
  /** Settled; `repacedTo`: not sent, queued again for this send-rate slot. */
  | { kind: 'done'; outcome?: SendOutcome; repacedTo?: string }
  /**
   * Hand the message back: it comes again after this many seconds. `deferred`: not sent, its
   * destination paused (its attempt not used).
   */
  | { kind: 'retry'; delaySeconds: number; reason: string; deferred?: true }
  /** Not settled (DynamoDB failed around it): the record fails, and its message comes back after the visibility timeout. */
  | { kind: 'error'; error: unknown };

export const IDEMPOTENCY_HEADER = 'Idempotency-Key';

/** The variables a message's templates see for one user. */
export const templateVariables = (
  campaign: Campaign,
  step: number,
  brazeId: string,
  profile: SendProfile,
  cohort?: { partner: string; cohort_id: string; name: string },
  properties?: Record<string, unknown>,
): TemplateVariables => ({
  ...(profile.external_id !== undefined ? { external_id: profile.external_id } : {}),
  braze_id: brazeId,
  aliases: profile.user_aliases,
  user_aliases: profile.user_aliases,
  device_ids: profile.device_ids,
  custom_attributes: profile.custom_attributes,
  ...(cohort ? { cohort } : {}),
  campaign: { id: campaign.campaignId, name: campaign.name },
  ...(campaign.kind === 'canvas' ? { step: { name: campaign.steps[step]?.name ?? '' } } : {}),
  ...(properties
    ? campaign.kind === 'canvas'
      ? { canvas_entry_properties: properties }
      : { api_trigger_properties: properties }
    : {}),
});

export const profileOf = (profile: UserProfile): SendProfile => ({
  ...(profile.externalId !== undefined ? { external_id: profile.externalId } : {}),
  user_aliases: profile.aliases.map((alias) => ({ alias_name: alias.alias_name, alias_label: alias.alias_label })),
  device_ids: profile.deviceIds,
  custom_attributes: profile.customAttributes,
});

/** Parsed templates per (campaign, step, updatedAt): a message's templates are parsed once per instance. */
const compiled = new Map<
  string,
  {
    url: ReturnType<typeof compileTemplate>;
    body: ReturnType<typeof compileTemplate>;
    headers: [string, ReturnType<typeof compileTemplate>][];
  }
>();
const compiledOf = (campaign: Campaign, step: number, message: WebhookMessage) => {
  const key = `${campaign.workspaceId}\u0000${campaign.campaignId}\u0000${step}\u0000${campaign.updatedAt}`;
  let found = compiled.get(key);
  if (!found) {
    found = {
      url: compileUrlTemplate(message.url),
      body: compileTemplate(message.body),
      headers: Object.entries(message.headers).map(([name, value]) => [name, compileTemplate(value)]),
    };
    if (compiled.size > 1_000) compiled.clear();
    compiled.set(key, found);
  }
  return found;
};

/** The request for one user, rendered whole (or a TemplateError: nothing half-rendered goes out). */
export const renderRequest = async (
  campaign: Campaign,
  step: number,
  variables: TemplateVariables,
  idempotencyKey: string,
): Promise<WebhookRequest> => {
  const message = campaign.steps[step]!.message;
  const templates = compiledOf(campaign, step, message);
  const [url, body, headers] = await Promise.all([
    templates.url(variables),
    templates.body(variables),
    Promise.all(templates.headers.map(async ([name, render]) => [name, await render(variables)] as const)),
  ]);
  // A header that renders to what HTTP cannot carry ("Łukasz", a line break) is this user's template error, with
  // the reason: checked here, as at save, so that nothing half-sent or thrown stands for it.
  const renderedHeaders = Object.fromEntries(headers);
  const problem = messageHeaderProblem(renderedHeaders);
  if (problem) throw new TemplateError(`rendered ${problem}`);
  return {
    url: url.trim(),
    method: message.method,
    headers: { ...renderedHeaders, [IDEMPOTENCY_HEADER]: idempotencyKey },
    ...(message.method === 'GET' || message.method === 'DELETE' ? {} : { body }),
  };
};

/** A redirect's target, described when the client would refuse it. */
const redirectCheck = (webhooks: SenderPorts['webhooks']) =>
  webhooks.destination
    ? async (location: string) => {
        const where = await webhooks.destination!(location);
        return 'refused' in where ? where.refused : undefined;
      }
    : undefined;

/** What one claimed message comes to before anything is recorded. */
type Decision =
  | { kind: 'final'; outcome: SendOutcome }
  | { kind: 'retry'; delaySeconds: number; reason: string }
  /** Claimed but not sent (out of time, or a read failed before the request): the claim is given back. */
  | { kind: 'release'; reason: string; error?: unknown }
  /** Claimed but not sent, its destination paused: the claim is given back and the message comes again later. */
  | { kind: 'defer'; delaySeconds: number; reason: string }
  /** Claimed but not sent, too late for its send-rate slot: the claim is given back and the message queued again for a new slot. */
  | { kind: 'repace'; message: SendMessage; delaySeconds: number }
  /** Failed after the request went out: its outcome is unknown, so the claim is kept (at most once). */
  | { kind: 'error'; error: unknown };

/**
 * Webhooks in flight per batch: 10, as many as a batch of 10 records had when each was sent
 * on its own (serverless.yml: 50 invocations × 10 = 500 requests at most to customers' receivers).
 */
const DEFAULT_CONCURRENCY = 10;
/**
 * A message is started only with this much of the function's time left: one request's
 * 10 s bound (lib/webhooks/safe-http.ts) plus recording the batch's outcomes. Later ones
 * are given back unsent, so a batch never runs into the function's timeout holding claims.
 */
const DEFAULT_START_MARGIN_MS = 13_000;
/**
 * How late after its send-rate slot a paced message may still go: a little more than the
 * slot's rounding to SQS's whole seconds, a batching window and a busy sender's queue. Later,
 * it takes a new slot, so any minute holds at most R × (60 + 5) ÷ 60 of a campaign's
 * messages (≈ 1.08 R): the backlog of a paused destination, a restart or a retry storm is
 * spread again instead of sent at once.
 */
export const LATE_TOLERANCE_MS = 5_000;
/** How early a paced message may go (clocks and rounding): earlier, it waits for its slot. */
const EARLY_TOLERANCE_MS = 1_000;
const SQS_MAX_DELAY_SECONDS = 900;
/** ChangeMessageVisibility's bound: 12 hours. */
const MAX_VISIBILITY_SECONDS = 43_200;

export const createSender = (ports: SenderPorts) => {
  const definitions = ttlCache<Campaign | undefined>(ports.cacheTtlMs ?? 5_000);
  const caps = ttlCache<FrequencyCap | undefined>(ports.cacheTtlMs ?? 5_000);
  const random = ports.random ?? Math.random;
  const maxAttempts = ports.retry?.maxAttempts ?? MAX_ATTEMPTS;
  const leaseMs = ports.leaseMs ?? 120_000;
  const breakerOptions = ports.breaker === false ? undefined : (ports.breaker ?? {});
  const breaker = breakerOptions
    ? createBreaker({
        clock: () => ports.clock().getTime(),
        settings: breakerOptions,
        ...(ports.onDestinationChange ? { onChange: ports.onDestinationChange } : {}),
      })
    : undefined;
  const deferOptions = {
    ...(breakerOptions?.deferBaseSeconds !== undefined ? { baseSeconds: breakerOptions.deferBaseSeconds } : {}),
    ...(breakerOptions?.deferCapSeconds !== undefined ? { capSeconds: breakerOptions.deferCapSeconds } : {}),
  };
  const deferReceiveLimit = breakerOptions?.deferReceiveLimit ?? DEFER_RECEIVE_LIMIT;
  const deferCapSeconds = breakerOptions?.deferCapSeconds ?? DEFER_CAP_SECONDS;

  /**
   * A paused destination's message: handed back until the next probe (its claim released, so
   * no attempt is used), or, on the receive limit, failed with the reason, so that it ends
   * counted rather than in the DLQ. Unknown receives (a caller that is no queue): never failed.
   */
  const paused = (
    waiting: Extract<Admission, { kind: 'wait' }>,
    attempt: number,
    receiveCount: number | undefined,
  ): Decision => {
    const reason = `destination paused after repeated failures (breaker open since ${new Date(waiting.openSinceMs).toISOString()})`;
    if (receiveCount !== undefined && receiveCount >= deferReceiveLimit)
      return {
        kind: 'final',
        // Sent if an earlier attempt went out: a released claim gives its attempt back, so attempt − 1 were made.
        outcome: {
          kind: 'failed',
          status: 0,
          sent: attempt > 1,
          reason: `${reason}: given up after ${receiveCount} receives`,
        },
      };
    return {
      kind: 'defer',
      reason,
      delaySeconds: deferDelaySeconds(
        waiting.untilMs - ports.clock().getTime(),
        receiveCount ?? 1,
        random,
        deferOptions,
      ),
    };
  };

  /** Checks, renders, asks the breaker, caps and POSTs one claimed message: its decision, nothing recorded yet. */
  const decide = async (
    message: SendMessage,
    attempt: number,
    now: Date,
    receiveCount: number | undefined,
  ): Promise<Decision> => {
    const final = (outcome: SendOutcome): Decision => ({ kind: 'final', outcome });
    const campaign = await definitions(`${message.workspaceId}\u0000${message.campaignId}`, () =>
      ports.campaigns.get(message.workspaceId, message.campaignId),
    );
    if (campaign?.status !== 'active' || !campaign.filter || !campaign.steps[message.step])
      return final({ kind: 'skipped', reason: 'campaign_stopped' });

    // An API-triggered campaign's recipient is checked against the segment only: each trigger is
    // its own send, which a later trigger (a new entry) must not end. A Canvas's is a journey.
    const journey = message.kind === 'entry' || (message.kind === 'api' && campaign.kind === 'canvas');
    if (message.kind === 'api' && !journey) {
      const memberships = await ports.memberships.memberOf(
        message.workspaceId,
        message.brazeId,
        cohortsOf(campaign.filter),
      );
      if (!matchesFilter(campaign.filter, (partner, cohortId) => memberships.has(membershipKey(partner, cohortId))))
        return final({ kind: 'skipped', reason: 'left_segment' });
    }
    if (journey) {
      const entry = await ports.campaigns.getEntry(message.workspaceId, message.campaignId, message.brazeId);
      if (!entry || entry.stamp !== message.entry) return final({ kind: 'skipped', reason: 'entry_ended' });
      if (entry.state === 'exited') return final({ kind: 'skipped', reason: 'left_segment' });
      // Read now, not trusted from the entry: the exit event may still be on its way.
      const memberships = await ports.memberships.memberOf(
        message.workspaceId,
        message.brazeId,
        cohortsOf(campaign.filter),
      );
      if (!matchesFilter(campaign.filter, (partner, cohortId) => memberships.has(membershipKey(partner, cohortId)))) {
        await ports.campaigns.exit(message.workspaceId, message.campaignId, message.brazeId, entry.stamp, now);
        return final({ kind: 'skipped', reason: 'left_segment' });
      }
    }

    let profile = message.profile;
    if (!profile) {
      const stored = await ports.users.getProfile(message.workspaceId, message.brazeId);
      if (!stored) return final({ kind: 'skipped', reason: 'user_not_found' });
      profile = profileOf(stored);
    }
    const key = sendKey(message);
    let request: WebhookRequest;
    try {
      request = await renderRequest(
        campaign,
        message.step,
        templateVariables(campaign, message.step, message.brazeId, profile, message.cohort, message.properties),
        key,
      );
    } catch (error: unknown) {
      if (error instanceof TemplateError)
        return final({ kind: 'skipped', reason: 'template_error', detail: error.message });
      throw error;
    }

    // The breaker comes after every check that skips a message (a skip needs no receiver), and
    // before the cap: a message held back for its destination takes no slot of the user's cap.
    const destination = breaker ? destinationOf(request.url) : undefined;
    const admission = destination ? breaker!.admit(destination) : undefined;
    if (admission?.kind === 'wait') return paused(admission, attempt, receiveCount);
    const pass = admission?.pass;
    let reported = false;
    const report = (outcome: BreakerReport) => {
      if (pass && !reported) breaker!.report(pass, outcome);
      reported = true;
    };
    try {
      const cap = await caps(message.workspaceId, () => ports.campaigns.getFrequencyCap(message.workspaceId));
      const capped = !(campaign.delivery.type === 'api_triggered' && campaign.delivery.ignoreFrequencyCap);
      if (capped && cap && !(await ports.campaigns.admit(message.workspaceId, message.brazeId, key, cap, now)))
        return final({ kind: 'skipped', reason: 'frequency_cap' });
      return await post(request, attempt, now, destination, report);
    } finally {
      // Not sent after all (capped, a read failed), or its outcome unknown: a probe that proved nothing.
      report('unused');
    }
  };

  /** POSTs a checked message and judges the answer, which its destination's breaker is told. */
  const post = async (
    request: WebhookRequest,
    attempt: number,
    now: Date,
    destination: string | undefined,
    report: (outcome: BreakerReport) => void,
  ): Promise<Decision> => {
    const final = (outcome: SendOutcome): Decision => ({ kind: 'final', outcome });
    // From here the request may be out: an error no longer gives the claim back.
    try {
      const result = await ports.webhooks.send(request);
      const verdict = await judge(result, { now: now.getTime(), describeRedirect: redirectCheck(ports.webhooks) });
      // A refusal (never sent), a 3XX or a 4XX is about this message, not the receiver.
      report(verdict.kind === 'delivered' ? 'success' : verdict.kind === 'retry' ? 'failure' : 'neutral');
      if (verdict.kind === 'delivered') return final({ kind: 'delivered', status: verdict.status });
      if (verdict.kind === 'failed')
        return final({
          kind: 'failed',
          status: verdict.status,
          reason: verdict.reason,
          sent: result.kind !== 'refused',
        });
      if (attempt >= maxAttempts)
        return final({
          kind: 'failed',
          status: verdict.status,
          sent: true,
          reason: `${verdict.reason}, after ${attempt} attempts`,
        });
      const backoff = retryDelaySeconds(attempt, random, {
        ...(ports.retry?.baseSeconds !== undefined ? { baseSeconds: ports.retry.baseSeconds } : {}),
        ...(ports.retry?.capSeconds !== undefined ? { capSeconds: ports.retry.capSeconds } : {}),
        ...(verdict.retryAfterSeconds !== undefined ? { retryAfterSeconds: verdict.retryAfterSeconds } : {}),
      });
      // If this failure paused the destination (or it was paused meanwhile), coming back before
      // the probe would only be deferred: a receive spent for nothing.
      const state = destination ? breaker!.state(destination) : undefined;
      const untilProbe =
        state && state.state !== 'closed'
          ? Math.min(deferCapSeconds, Math.max(0, Math.ceil((state.probeAtMs - ports.clock().getTime()) / 1000)))
          : 0;
      return { kind: 'retry', reason: verdict.reason, delaySeconds: Math.max(backoff, untilProbe) };
    } catch (error: unknown) {
      return { kind: 'error', error };
    }
  };

  /**
   * The send-rate limit held at send time (docs/campaigns.md, "Send-rate limit"): a paced
   * message more than LATE_TOLERANCE_MS after its slot (its destination was paused, it was
   * retried, the sender fell behind or was down) takes a new slot from its campaign's pacer,
   * one reservation per campaign per batch, and goes now only if that slot is now; otherwise
   * it is queued again for the slot. One that came early (a slot past SQS's 15-minute delay)
   * is handed back until its slot. Decisions by position in `claimed`; the rest are decided
   * as usual.
   */
  const holdRateLimits = async (claimed: readonly SendMessage[], now: Date): Promise<Map<number, Decision>> => {
    const held = new Map<number, Decision>();
    if (!ports.sends) return held;
    const late = new Map<string, { perMinute: number; positions: number[] }>();
    for (const [position, message] of claimed.entries()) {
      if (!message.paced) continue;
      const campaign = await definitions(`${message.workspaceId}\u0000${message.campaignId}`, () =>
        ports.campaigns.get(message.workspaceId, message.campaignId),
      );
      const perMinute = campaign?.status === 'active' ? campaign.rateLimitPerMinute : undefined;
      if (perMinute === undefined) continue;
      const behind = now.getTime() - Date.parse(message.dueAt);
      if (behind < -EARLY_TOLERANCE_MS)
        held.set(position, {
          kind: 'defer',
          delaySeconds: Math.min(MAX_VISIBILITY_SECONDS, Math.ceil(-behind / 1000)),
          reason: 'before its send-rate slot',
        });
      else if (behind > LATE_TOLERANCE_MS) {
        const key = `${message.workspaceId}\u0000${message.campaignId}`;
        const group = late.get(key) ?? { perMinute, positions: [] };
        group.positions.push(position);
        late.set(key, group);
      }
    }
    for (const { perMinute, positions } of late.values()) {
      const { workspaceId, campaignId } = claimed[positions[0]!]!;
      const slots = await ports.campaigns.reserveSlots(
        workspaceId,
        campaignId,
        positions.map(() => now.getTime()),
        perMinute,
      );
      positions.forEach((position, order) => {
        const slot = Math.ceil(slots[order]!);
        // The slot is now (the pacer had room): the message goes, holding it.
        if (slot < now.getTime() + EARLY_TOLERANCE_MS) return;
        held.set(position, {
          kind: 'repace',
          message: { ...claimed[position]!, dueAt: new Date(slot).toISOString(), paced: true },
          delaySeconds: Math.min(SQS_MAX_DELAY_SECONDS, Math.ceil((slot - now.getTime()) / 1000)),
        });
      });
    }
    return held;
  };

  /**
   * Sends a batch (docs/campaigns.md, "The sender"): one claim transaction per 100
   * messages, the claimed ones checked and POSTed `concurrency` at a time, then their
   * outcomes with the counters summed in as few transactions as DynamoDB's limits allow.
   * A result per message, in order. Two messages of the batch for the same send record
   * (a duplicate event queued the same step again) are one send: the copy is done.
   */
  const sendBatch = async (
    messages: readonly SendMessage[],
    options: {
      remainingMs?: () => number;
      /** Each message's receive count (SQS's ApproximateReceiveCount), in order: a paused destination's message is failed at the limit. */
      receiveCounts?: readonly (number | undefined)[];
    } = {},
  ): Promise<SendResult[]> => {
    const results = new Array<SendResult>(messages.length);
    const now = ports.clock();
    const firstOf = new Map<string, number>();
    messages.forEach((message, index) => {
      const key = sendKey(message);
      if (firstOf.has(key)) results[index] = { kind: 'done' };
      else firstOf.set(key, index);
    });

    // Claims, a call per 100: a call that fails wrote nothing, and only its messages are handed back.
    const claimed: { index: number; attempt: number }[] = [];
    const finished: { index: number; sent: FinishedSend }[] = [];
    await Promise.all(
      slices([...firstOf.values()], CLAIMS_PER_CALL).map(async (slice) => {
        let claims: Claim[];
        try {
          claims = await ports.campaigns.claimSends(
            slice.map((index) => messages[index]!),
            (ports.leaseClock ?? ports.clock)(),
            leaseMs,
          );
        } catch (error: unknown) {
          for (const index of slice)
            results[index] = { kind: 'retry', delaySeconds: 1, reason: `not claimed: ${describe(error)}` };
          return;
        }
        slice.forEach((index, position) => {
          const claim = claims[position]!;
          if (claim.state === 'done') results[index] = { kind: 'done' };
          else if (claim.state === 'busy')
            results[index] = {
              kind: 'retry',
              delaySeconds: Math.ceil(claim.retryInMs / 1000),
              reason: 'another delivery holds it',
            };
          else if (claim.state === 'abandoned')
            finished.push({
              index,
              sent: {
                message: messages[index]!,
                attempt: claim.attempt,
                outcome: {
                  kind: 'failed',
                  status: 0,
                  sent: false,
                  reason: 'a sender stopped during the request: outcome unknown, not sent again (at most once)',
                },
              },
            });
          else claimed.push({ index, attempt: claim.attempt });
        });
      }),
    );

    const paced = await holdRateLimits(
      claimed.map(({ index }) => messages[index]!),
      now,
    );
    const startMarginMs = ports.startMarginMs ?? DEFAULT_START_MARGIN_MS;
    const decisions = await mapLimit(
      claimed,
      ports.concurrency ?? DEFAULT_CONCURRENCY,
      async ({ index, attempt }, position) => {
        const held = paced.get(position);
        if (held) return held;
        if (options.remainingMs && options.remainingMs() < startMarginMs)
          return { kind: 'release', reason: 'out of time before the function timeout' } satisfies Decision;
        try {
          return await decide(messages[index]!, attempt, now, options.receiveCounts?.[index]);
        } catch (error: unknown) {
          // Before the request (a read, a cap write): nothing was sent.
          return { kind: 'release', reason: describe(error), error } satisfies Decision;
        }
      },
    );

    const handBacks: Promise<void>[] = [];
    const repaced: { index: number; message: SendMessage; delaySeconds: number }[] = [];
    decisions.forEach((decision, position) => {
      const { index, attempt } = claimed[position]!;
      const message = messages[index]!;
      if (decision.kind === 'final') finished.push({ index, sent: { message, attempt, outcome: decision.outcome } });
      else if (decision.kind === 'error') results[index] = { kind: 'error', error: decision.error };
      else if (decision.kind === 'retry')
        handBacks.push(
          ports.campaigns.markRetrying(message, attempt, decision.reason, ports.clock()).then(
            () => {
              results[index] = { kind: 'retry', delaySeconds: decision.delaySeconds, reason: decision.reason };
            },
            (error: unknown) => {
              results[index] = { kind: 'error', error };
            },
          ),
        );
      else if (decision.kind === 'repace')
        handBacks.push(
          ports.campaigns.releaseSend(message, attempt, ports.clock()).then(
            () => void repaced.push({ index, message: decision.message, delaySeconds: decision.delaySeconds }),
            (error: unknown) => {
              results[index] = { kind: 'error', error };
            },
          ),
        );
      else if (decision.kind === 'defer')
        handBacks.push(
          ports.campaigns.releaseSend(message, attempt, ports.clock()).then(
            () => {
              results[index] = {
                kind: 'retry',
                delaySeconds: decision.delaySeconds,
                reason: decision.reason,
                deferred: true,
              };
            },
            (error: unknown) => {
              results[index] = { kind: 'error', error };
            },
          ),
        );
      else
        handBacks.push(
          ports.campaigns.releaseSend(message, attempt, ports.clock()).then(
            () => {
              results[index] = decision.error
                ? { kind: 'error', error: decision.error }
                : { kind: 'retry', delaySeconds: 0, reason: decision.reason };
            },
            (error: unknown) => {
              results[index] = { kind: 'error', error: decision.error ?? error };
            },
          ),
        );
    });

    const recording = finished.length
      ? ports.campaigns
          .finishSends(
            finished.map(({ sent }) => sent),
            ports.clock(),
          )
          .then(
            () => {
              for (const { index, sent } of finished) results[index] = { kind: 'done', outcome: sent.outcome };
            },
            (error: unknown) => {
              // Sent, not recorded: the messages come back, find their claims and are not sent again.
              for (const { index } of finished) results[index] = { kind: 'error', error };
            },
          )
      : Promise.resolve();
    await Promise.all([recording, ...handBacks]);
    if (repaced.length > 0) {
      // The copy with its new slot is queued before this one is acknowledged: a crash between
      // the two leaves both, and the claim sends one.
      try {
        await ports.sends!.send(repaced.map(({ message, delaySeconds }) => ({ message, delaySeconds })));
        for (const { index, message } of repaced) results[index] = { kind: 'done', repacedTo: message.dueAt };
      } catch (error: unknown) {
        for (const { index } of repaced) results[index] = { kind: 'error', error };
      }
    }
    return results;
  };

  /** One message: a batch of one. */
  const send = async (message: SendMessage): Promise<SendResult> => {
    const [result] = await sendBatch([message]);
    if (result!.kind === 'error') throw result!.error;
    return result!;
  };

  return {
    send,
    sendBatch,
    /** A destination's breaker as this sender sees it (closed when it has none). */
    destinationState: (destination: string) => breaker?.state(destination) ?? { state: 'closed' as const, failures: 0 },
  };
};

const slices = <T>(items: readonly T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, slice) => items.slice(slice * size, (slice + 1) * size));

const describe = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

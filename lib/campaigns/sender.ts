/**
 * Sends one webhook message (docs/campaigns.md, "The sender"): claim it (the service sends
 * each (campaign or step, user, entry) at most once), check it is still wanted (campaign
 * active; for action-based messages the entry still current and the user still in the
 * target), render it, ask its destination's breaker, take a frequency-cap slot, POST it
 * through the safe client, and record the outcome with its counter. A retryable failure
 * hands the message back with a backoff; a paused destination hands it back unsent, its
 * attempt not used; anything else is final. Beside it: its ports and results
 * (sender-ports.ts), the rendering (render.ts) and the send-rate hold (send-rate.ts).
 */
import { CLAIMS_PER_CALL, type Claim, type FinishedSend, type FrequencyCap, type SendOutcome } from './ports.js';
import { mapLimit } from '../concurrency.js';
import {
  type Admission,
  type BreakerReport,
  createBreaker,
  DEFER_CAP_SECONDS,
  DEFER_RECEIVE_LIMIT,
  deferDelaySeconds,
  destinationOf,
} from '../webhooks/breaker.js';
import { judge, MAX_ATTEMPTS, retryDelaySeconds } from '../webhooks/policy.js';
import type { WebhookRequest } from '../webhooks/requests.js';
import { cohortsOf, matchesFilter, membershipKey, ttlCache } from './audience.js';
import { sendKey, type SendMessage } from './messages.js';
import type { Campaign } from './model.js';
import { profileOf, renderRequest, templateVariables } from './render.js';
import { holdRateLimits } from './send-rate.js';
import type { Decision, SenderPorts, SendResult } from './sender-ports.js';
import { TemplateError } from './template.js';

export type { SenderPorts, SendResult } from './sender-ports.js';
export { LATE_TOLERANCE_MS } from './send-rate.js';

/** A redirect's target, described when the client would refuse it. */
const redirectCheck = (webhooks: SenderPorts['webhooks']) =>
  webhooks.destination
    ? async (location: string) => {
        const where = await webhooks.destination!(location);
        return 'refused' in where ? where.refused : undefined;
      }
    : undefined;

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
    const journey =
      message.kind === 'entry' || message.kind === 'event' || (message.kind === 'api' && campaign.kind === 'canvas');
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
      if (entry.state === 'exited')
        return final({ kind: 'skipped', reason: entry.exitedBy === 'event' ? 'exit_event' : 'left_segment' });
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
        templateVariables(
          campaign,
          message.step,
          message.brazeId,
          profile,
          message.cohort,
          message.properties,
          message.kind === 'event' ? 'event' : 'api',
        ),
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
      ports,
      definitions,
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

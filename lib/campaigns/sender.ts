/**
 * Sends one webhook message (docs/campaigns.md, "The sender"): claim it (the service sends
 * each (campaign or step, user, entry) at most once), check it is still wanted (campaign
 * active; for action-based messages the entry still current and the user still in the
 * target), render it, take a frequency-cap slot, POST it through the safe client, and
 * record the outcome with its counter. A retryable failure hands the message back with a
 * backoff; anything else is final.
 */
import type { CampaignStore, FrequencyCap, MembershipChecks, SendOutcome } from './ports.js';
import type { UserProfile } from '../users/ports.js';
import { judge, MAX_ATTEMPTS, retryDelaySeconds } from '../webhooks/policy.js';
import type { WebhookClient, WebhookRequest } from '../webhooks/safe-http.js';
import { cohortsOf, matchesFilter, membershipKey, ttlCache } from './audience.js';
import { sendKey, type SendMessage, type SendProfile } from './messages.js';
import type { Campaign, WebhookMessage } from './model.js';
import { compileTemplate, TemplateError, type TemplateVariables } from './template.js';

export interface SenderPorts {
  campaigns: Pick<
    CampaignStore,
    'get' | 'claimSend' | 'markRetrying' | 'finishSend' | 'getEntry' | 'exit' | 'getFrequencyCap' | 'admit'
  >;
  memberships: MembershipChecks;
  users: { getProfile(workspaceId: string, brazeId: string): Promise<UserProfile | undefined> };
  webhooks: WebhookClient & { destination?(url: string): Promise<object | { refused: string }> };
  clock: () => Date;
  random?: () => number;
  /** Retry delays (defaults: lib/webhooks/policy.ts); tests make them 0. */
  retry?: { baseSeconds?: number; capSeconds?: number; maxAttempts?: number };
  /** How long a claim holds a message (default 2 min: longer than one attempt, shorter than the queue's visibility timeout). */
  leaseMs?: number;
  /** How long definitions and the cap setting are reused (default 5 s; tests 0). */
  cacheTtlMs?: number;
}

export type SendResult =
  | { kind: 'done'; outcome?: SendOutcome }
  /** Hand the message back: it comes again after this many seconds. */
  | { kind: 'retry'; delaySeconds: number; reason: string };

export const IDEMPOTENCY_HEADER = 'Idempotency-Key';

/** The variables a message's templates see for one user. */
export const templateVariables = (
  campaign: Campaign,
  step: number,
  brazeId: string,
  profile: SendProfile,
  cohort?: { partner: string; cohort_id: string; name: string },
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
      url: compileTemplate(message.url),
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
  return {
    url: url.trim(),
    method: message.method,
    headers: { ...Object.fromEntries(headers), [IDEMPOTENCY_HEADER]: idempotencyKey },
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

export const createSender = (ports: SenderPorts) => {
  const definitions = ttlCache<Campaign | undefined>(ports.cacheTtlMs ?? 5_000);
  const caps = ttlCache<FrequencyCap | undefined>(ports.cacheTtlMs ?? 5_000);
  const random = ports.random ?? Math.random;
  const maxAttempts = ports.retry?.maxAttempts ?? MAX_ATTEMPTS;

  const send = async (message: SendMessage): Promise<SendResult> => {
    const now = ports.clock();
    const claim = await ports.campaigns.claimSend(message, now, ports.leaseMs ?? 120_000);
    if (claim.state === 'done') return { kind: 'done' };
    if (claim.state === 'busy')
      return { kind: 'retry', delaySeconds: Math.ceil(claim.retryInMs / 1000), reason: 'another delivery holds it' };
    const finish = async (outcome: SendOutcome): Promise<SendResult> => {
      await ports.campaigns.finishSend(message, claim.attempt, outcome, ports.clock());
      return { kind: 'done', outcome };
    };
    if (claim.state === 'abandoned')
      return finish({
        kind: 'failed',
        status: 0,
        sent: false,
        reason: 'a sender stopped during the request: outcome unknown, not sent again (at most once)',
      });

    const campaign = await definitions(`${message.workspaceId}\u0000${message.campaignId}`, () =>
      ports.campaigns.get(message.workspaceId, message.campaignId),
    );
    if (campaign?.status !== 'active' || !campaign.filter || !campaign.steps[message.step])
      return finish({ kind: 'skipped', reason: 'campaign_stopped' });

    if (message.kind === 'entry') {
      const entry = await ports.campaigns.getEntry(message.workspaceId, message.campaignId, message.brazeId);
      if (!entry || entry.stamp !== message.entry) return finish({ kind: 'skipped', reason: 'entry_ended' });
      if (entry.state === 'exited') return finish({ kind: 'skipped', reason: 'left_segment' });
      // Read now, not trusted from the entry: the exit event may still be on its way.
      const memberships = await ports.memberships.memberOf(
        message.workspaceId,
        message.brazeId,
        cohortsOf(campaign.filter),
      );
      if (!matchesFilter(campaign.filter, (partner, cohortId) => memberships.has(membershipKey(partner, cohortId)))) {
        await ports.campaigns.exit(message.workspaceId, message.campaignId, message.brazeId, entry.stamp, now);
        return finish({ kind: 'skipped', reason: 'left_segment' });
      }
    }

    let profile = message.profile;
    if (!profile) {
      const stored = await ports.users.getProfile(message.workspaceId, message.brazeId);
      if (!stored) return finish({ kind: 'skipped', reason: 'user_not_found' });
      profile = profileOf(stored);
    }
    const key = sendKey(message);
    let request: WebhookRequest;
    try {
      request = await renderRequest(
        campaign,
        message.step,
        templateVariables(campaign, message.step, message.brazeId, profile, message.cohort),
        key,
      );
    } catch (error: unknown) {
      if (error instanceof TemplateError)
        return finish({ kind: 'skipped', reason: 'template_error', detail: error.message });
      throw error;
    }

    const cap = await caps(message.workspaceId, () => ports.campaigns.getFrequencyCap(message.workspaceId));
    if (cap && !(await ports.campaigns.admit(message.workspaceId, message.brazeId, key, cap, now)))
      return finish({ kind: 'skipped', reason: 'frequency_cap' });

    const result = await ports.webhooks.send(request);
    const verdict = await judge(result, { now: now.getTime(), describeRedirect: redirectCheck(ports.webhooks) });
    if (verdict.kind === 'delivered') return finish({ kind: 'delivered', status: verdict.status });
    if (verdict.kind === 'failed')
      return finish({
        kind: 'failed',
        status: verdict.status,
        reason: verdict.reason,
        sent: result.kind !== 'refused',
      });
    if (claim.attempt >= maxAttempts)
      return finish({
        kind: 'failed',
        status: verdict.status,
        sent: true,
        reason: `${verdict.reason}, after ${claim.attempt} attempts`,
      });
    await ports.campaigns.markRetrying(message, claim.attempt, verdict.reason, ports.clock());
    return {
      kind: 'retry',
      reason: verdict.reason,
      delaySeconds: retryDelaySeconds(claim.attempt, random, {
        ...(ports.retry?.baseSeconds !== undefined ? { baseSeconds: ports.retry.baseSeconds } : {}),
        ...(ports.retry?.capSeconds !== undefined ? { capSeconds: ports.retry.capSeconds } : {}),
        ...(verdict.retryAfterSeconds !== undefined ? { retryAfterSeconds: verdict.retryAfterSeconds } : {}),
      }),
    };
  };

  return { send };
};

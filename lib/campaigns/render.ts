/**
 * A webhook message rendered for one user: the variables its templates see, its templates
 * parsed once per (campaign, step, definition) and rendered whole, with the Idempotency-Key
 * header the sender sets. Used by the sender and by the campaign service's preview.
 */
import type { UserProfile } from '../users/ports.js';
import type { WebhookRequest } from '../webhooks/requests.js';
import type { SendProfile } from './messages.js';
import { type Campaign, messageHeaderProblem, type WebhookMessage } from './model.js';
import { compileTemplate, compileUrlTemplate, TemplateError, type TemplateVariables } from './template.js';

export const IDEMPOTENCY_HEADER = 'Idempotency-Key';

/** The variables a message's templates see for one user. */
export const templateVariables = (
  campaign: Campaign,
  step: number,
  brazeId: string,
  profile: SendProfile,
  cohort?: { partner: string; cohort_id: string; name: string },
  properties?: Record<string, unknown>,
  /** `event`: a tracked event's properties (Braze's `event_properties`; a Canvas's entry properties too). */
  propertiesOf: 'api' | 'event' = 'api',
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
    ? propertiesOf === 'event'
      ? {
          event_properties: properties,
          ...(campaign.kind === 'canvas' ? { canvas_entry_properties: properties } : {}),
        }
      : campaign.kind === 'canvas'
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

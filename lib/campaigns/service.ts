/**
 * Campaigns and Canvases as the REST API sees them: create, list, get, update (while a
 * draft), launch, stop, archive, their figures, and a test send to one user. Launch
 * snapshots the target (the AND of its segments' filters), writes the triggers of an
 * action-based one and the first due run of a scheduled one.
 */
import type { CampaignView, FiguresView } from '../contract/views.js';
import { NotFoundError, ValidationError } from '../errors.js';
import type { CampaignStore, EventTriggerIndex, FrequencyCap, StepStats } from './ports.js';
import type { SegmentStore } from '../segments/ports.js';
import type { UserStore } from '../users/ports.js';
import { generateId } from '../workspaces/keys.js';
import { judge } from '../webhooks/policy.js';
import type { WebhookClient } from '../webhooks/requests.js';
import { cohortsOf, combineFilters } from './audience.js';
import {
  campaignSummaryView,
  ConflictError,
  parseCampaignBody,
  parseCanvasBody,
  parseRenderTarget,
  MAX_DRAFT_CAMPAIGN_BYTES,
  MAX_STORED_CAMPAIGN_BYTES,
  storedSizeProblem,
  type Campaign,
  type CampaignInput,
  type CampaignKind,
} from './model.js';
import { instantKey, scheduleProblem } from './instants.js';
import { nextOccurrence } from './schedule.js';
import { profileOf, renderRequest, templateVariables } from './render.js';
import { TemplateError } from './template.js';
import { cutToBytes, LIST_PAGE, parseListRequest } from '../paging.js';
import { encodeCursor } from '../segments/evaluate.js';
import { SORT_KEY_MAX_BYTES } from '../http/limits.js';
import { createTrigger, type TriggerPorts } from './trigger.js';
import { eventKeysOf } from './event-entries.js';

/** Reads and writes a stop or archive tries before answering 409 (each loss means something else was written first). */
const END_ATTEMPTS = 5;

export interface CampaignServicePorts {
  campaigns: Pick<
    CampaignStore,
    | 'create'
    | 'get'
    | 'listPage'
    | 'replace'
    | 'putTriggers'
    | 'deleteTriggers'
    | 'deleteDue'
    | 'stats'
    | 'getFrequencyCap'
    | 'setFrequencyCap'
    | 'enter'
    | 'claimDispatch'
    | 'beginBroadcast'
  >;
  segments: Pick<SegmentStore, 'get' | 'names'>;
  users: Pick<UserStore, 'find' | 'getProfile'>;
  webhooks: WebhookClient;
  clock: () => Date;
  /** The clock membership events' `occurred_at` is on (default: the real one; tests that move `clock` keep it). */
  eventClock?: () => Date;
  /** Accept `http:` webhook URLs (the local stack); AWS takes https only. */
  allowHttp?: boolean;
  /** Where API triggers go (the send pipeline's release and the work queue); absent: the trigger routes answer 404. */
  dispatch?: Pick<TriggerPorts, 'release' | 'work'>;
  /** The event trigger index (lib/campaigns/event-entries.ts); absent: a definition with event triggers or exit events cannot be launched. */
  eventTriggers?: Pick<EventTriggerIndex, 'put' | 'delete'>;
}

/**
 * A URL without Liquid is checked when saved (a templated one when rendered, at send time):
 * it must parse, and be https (http only where allowed). Whether its host is public is
 * decided at send time, against what it resolves to then.
 */
const checkUrls = (input: CampaignInput, allowHttp: boolean): void => {
  input.steps.forEach((step, index) => {
    const url = step.message.url;
    if (/\{\{|\{%/.test(url)) return;
    const where = input.steps.length > 1 ? `steps[${index}].message.url` : 'message.url';
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ValidationError(`Invalid ${where}: not a URL`);
    }
    if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && allowHttp))
      throw new ValidationError(`Invalid ${where}: webhook URLs must be https`);
  });
};

const noun = (kind: CampaignKind) => (kind === 'canvas' ? 'Canvas' : 'campaign');
const parseBody = (kind: CampaignKind, body: unknown): CampaignInput =>
  kind === 'canvas' ? parseCanvasBody(body) : parseCampaignBody(body);

/** The segments a campaign targets, by name (null for a segment deleted since). */
export const targetedSegmentsView = (campaign: Campaign, segmentNames: ReadonlyMap<string, string>) =>
  campaign.segmentIds.map((segmentId) => ({ segment_id: segmentId, name: segmentNames.get(segmentId) ?? null }));

/** A campaign in a list: its summary, and the segments it targets by name (null when gone). */
export const campaignListView = (campaign: Campaign, segmentNames: ReadonlyMap<string, string>): CampaignView => ({
  ...campaignSummaryView(campaign),
  segments: targetedSegmentsView(campaign, segmentNames),
});

export const createCampaignService = (ports: CampaignServicePorts) => {
  const require = async (workspaceId: string, kind: CampaignKind, campaignId: string): Promise<Campaign> => {
    const campaign = await ports.campaigns.get(workspaceId, campaignId);
    if (!campaign || campaign.kind !== kind)
      throw new NotFoundError(`No ${noun(kind)} ${campaignId} in this workspace`);
    return campaign;
  };

  // A target names segments that exist when it is saved (a typo is a 400 at once, not at launch); launch
  // checks again, since a segment can be deleted while the campaign is a draft.
  const targetFilters = async (workspaceId: string, segmentIds: readonly string[]) => {
    const filters = [];
    for (const segmentId of segmentIds) {
      const segment = await ports.segments.get(workspaceId, segmentId);
      if (!segment) throw new ValidationError(`Unknown segment in segment_ids: ${segmentId}`);
      filters.push(segment.filter);
    }
    return filters;
  };

  /** A definition fits the one item it is stored as, a draft with room for what launch adds: a 400 naming the limit. */
  const checkSize = (campaign: Campaign, when: 'saved' | 'launched') => {
    const problem =
      when === 'saved'
        ? storedSizeProblem(campaign, MAX_DRAFT_CAMPAIGN_BYTES, 'The definition')
        : storedSizeProblem(campaign, MAX_STORED_CAMPAIGN_BYTES, 'The definition with its target’s filter');
    if (problem) throw new ValidationError(`Invalid ${noun(campaign.kind)}: ${problem}`);
  };

  /** A scheduled `at` is neither past nor beyond the bound keys can hold (instants.ts): a 400 naming it. */
  const checkSchedule = (delivery: Campaign['delivery'], now: Date, when: 'saved' | 'launched') => {
    if (delivery.type !== 'scheduled' || delivery.at === undefined) return;
    const problem = scheduleProblem(Date.parse(delivery.at), now.getTime());
    if (problem)
      throw new ValidationError(
        `Invalid campaign: \`delivery.at\` ${problem}${when === 'launched' ? ' (change the draft, then launch it)' : ''}`,
      );
  };

  const create = async (workspaceId: string, kind: CampaignKind, body: unknown): Promise<Campaign> => {
    const input = parseBody(kind, body);
    checkSchedule(input.delivery, ports.clock(), 'saved');
    checkUrls(input, ports.allowHttp === true);
    await targetFilters(workspaceId, input.segmentIds);
    const now = ports.clock().toISOString();
    const campaign: Campaign = {
      workspaceId,
      campaignId: generateId(),
      kind,
      status: 'draft',
      ...input,
      createdAt: now,
      updatedAt: now,
    };
    checkSize(campaign, 'saved');
    await ports.campaigns.create(campaign);
    return campaign;
  };

  const update = async (workspaceId: string, kind: CampaignKind, campaignId: string, body: unknown) => {
    const current = await require(workspaceId, kind, campaignId);
    if (current.status !== 'draft')
      throw new ConflictError(`Only a draft ${noun(kind)} can be changed; this one is ${current.status}`);
    const input = parseBody(kind, body);
    checkSchedule(input.delivery, ports.clock(), 'saved');
    checkUrls(input, ports.allowHttp === true);
    await targetFilters(workspaceId, input.segmentIds);
    // The body is the whole definition: a limit it leaves out is removed, not kept from before.
    const { rateLimitPerMinute: _previous, exitOnEvents: _exits, ...kept } = current;
    const updated: Campaign = { ...kept, ...input, updatedAt: ports.clock().toISOString() };
    checkSize(updated, 'saved');
    if (!(await ports.campaigns.replace(updated, ['draft'])))
      throw new ConflictError(
        `The ${noun(kind)} changed meanwhile (another edit, a launch or a stop came first): read it again`,
      );
    return updated;
  };

  const launch = async (workspaceId: string, kind: CampaignKind, campaignId: string): Promise<Campaign> => {
    const current = await require(workspaceId, kind, campaignId);
    if (current.status !== 'draft')
      throw new ConflictError(`Only a draft ${noun(kind)} can be launched; this one is ${current.status}`);
    const filter = combineFilters(await targetFilters(workspaceId, current.segmentIds));
    const now = ports.clock();
    // A draft saved long ago may hold an `at` that has passed since: refused, not sent at once.
    checkSchedule(current.delivery, now, 'launched');
    let nextRunAt: string | undefined;
    if (current.delivery.type === 'scheduled') {
      const { at, recurring } = current.delivery;
      nextRunAt = instantKey(
        recurring ? nextOccurrence(recurring, Math.max(now.getTime(), at ? Date.parse(at) : 0) - 1) : (at ?? now),
      );
    }
    const launched: Campaign = {
      ...current,
      status: 'active',
      filter,
      launchedAt: now.toISOString(),
      // On the clock membership events are stamped with (the real one), whatever `clock` is.
      entersSince: (ports.eventClock ?? (() => new Date()))().toISOString(),
      updatedAt: now.toISOString(),
      ...(nextRunAt ? { nextRunAt } : {}),
    };
    // Triggers first: an event seen before the campaign is active finds it still a draft and does nothing.
    // An event-triggered one has its cohorts' too: a user who leaves the target is exited, as from any journey.
    if (current.delivery.type === 'action_based')
      await ports.campaigns.putTriggers(workspaceId, campaignId, cohortsOf(filter));
    const eventKeys = eventKeysOf(current);
    if (eventKeys.length > 0) {
      if (!ports.eventTriggers)
        throw new ConflictError(`Event triggers are not enabled here: this ${noun(kind)} cannot be launched`);
      await ports.eventTriggers.put(workspaceId, campaignId, eventKeys);
    }
    checkSize(launched, 'launched');
    // Active and its first run due in one transaction: never active with no run to come.
    const due = nextRunAt ? { workspaceId, campaignId, scheduledAt: nextRunAt } : undefined;
    if (!(await ports.campaigns.replace(launched, ['draft'], due ? { due } : {})))
      throw new ConflictError(
        `The ${noun(kind)} changed meanwhile (another edit, a launch or a stop came first): read it again`,
      );
    return launched;
  };

  /**
   * Stops an active campaign (or archives one): no new entries or runs; pending sends are
   * skipped (`campaign_stopped`). A stop is the same wish whatever else changed meanwhile:
   * a run's progress (a new revision) makes it read again and retry, not answer 409; only a
   * status that forbids it (another stop came first) is a 409.
   */
  const end = async (workspaceId: string, kind: CampaignKind, campaignId: string, to: 'stopped' | 'archived') => {
    for (let attempt = 0; ; attempt += 1) {
      const current = await require(workspaceId, kind, campaignId);
      if (to === 'stopped' && current.status !== 'active')
        throw new ConflictError(`Only an active ${noun(kind)} can be stopped; this one is ${current.status}`);
      if (to === 'archived' && current.status === 'archived') return current;
      const now = ports.clock().toISOString();
      const ended: Campaign = {
        ...current,
        status: to,
        updatedAt: now,
        ...(current.status === 'active' ? { stoppedAt: now } : {}),
      };
      if (!(await ports.campaigns.replace(ended, [current.status]))) {
        if (attempt + 1 >= END_ATTEMPTS) throw new ConflictError(`The ${noun(kind)} changed meanwhile; try again`);
        continue;
      }
      if (current.status === 'active' && current.filter && current.delivery.type === 'action_based')
        await ports.campaigns.deleteTriggers(workspaceId, campaignId, cohortsOf(current.filter));
      const eventKeys = eventKeysOf(current);
      if (current.status === 'active' && eventKeys.length > 0)
        await ports.eventTriggers?.delete(workspaceId, campaignId, eventKeys);
      if (current.nextRunAt)
        await ports.campaigns.deleteDue({ workspaceId, campaignId, scheduledAt: current.nextRunAt });
      return ended;
    }
  };

  const report = async (workspaceId: string, kind: CampaignKind, campaignId: string) => {
    const campaign = await require(workspaceId, kind, campaignId);
    const [stats, segmentNames] = await Promise.all([
      ports.campaigns.stats(workspaceId, campaignId, campaign.steps.length),
      // Its segments by name, as a list names them (null for one deleted since): a client need not ask each.
      ports.segments.names(workspaceId, campaign.segmentIds),
    ]);
    return { campaign, stats, segmentNames };
  };

  /**
   * The message (or a Canvas step) rendered for one user (`external_id` or `braze_id`, and
   * `step`), whole or a template error: what a test send posts and a preview shows.
   */
  const renderForUser = async (
    workspaceId: string,
    kind: CampaignKind,
    campaignId: string,
    body: unknown,
    idempotencyKey: string,
  ): Promise<{ request: Awaited<ReturnType<typeof renderRequest>> } | { templateError: string }> => {
    // The campaign first: an unknown one is a 404 whatever the body.
    const campaign = await require(workspaceId, kind, campaignId);
    const target = parseRenderTarget(body);
    const { step } = target;
    if (step >= campaign.steps.length)
      throw new ValidationError(`\`step\` must be an integer from 0 to ${campaign.steps.length - 1}`);
    const brazeId =
      'brazeId' in target
        ? target.brazeId
        : (await ports.users.find(workspaceId, { type: 'external_id', externalId: target.externalId }))?.brazeId;
    const profile = brazeId && (await ports.users.getProfile(workspaceId, brazeId));
    if (!profile) throw new NotFoundError('No such user in this workspace');
    try {
      return {
        request: await renderRequest(
          campaign,
          step,
          templateVariables(campaign, step, profile.brazeId, profileOf(profile)),
          idempotencyKey,
        ),
      };
    } catch (error: unknown) {
      if (error instanceof TemplateError) return { templateError: error.message };
      throw error;
    }
  };

  /**
   * Renders and posts the message (or a Canvas step) for one user now: not counted, not
   * capped, not recorded; the answer says what happened.
   */
  const testSend = async (workspaceId: string, kind: CampaignKind, campaignId: string, body: unknown) => {
    const rendered = await renderForUser(workspaceId, kind, campaignId, body, `test-${generateId()}`);
    if ('templateError' in rendered) return { outcome: 'template_error', reason: rendered.templateError, status: null };
    const result = await ports.webhooks.send(rendered.request);
    const verdict = await judge(result);
    return {
      outcome: verdict.kind === 'delivered' ? 'delivered' : 'failed',
      status: verdict.status || null,
      reason: verdict.kind === 'delivered' ? null : verdict.reason,
      response_body: result.kind === 'response' ? result.body.slice(0, 1_000) : null,
    };
  };

  /** The request a send to one user would make, rendered and not sent (the console's preview). */
  const preview = async (workspaceId: string, kind: CampaignKind, campaignId: string, body: unknown) => {
    const rendered = await renderForUser(workspaceId, kind, campaignId, body, 'preview');
    if ('templateError' in rendered)
      return { outcome: 'template_error', reason: rendered.templateError, request: null };
    const { url, method, headers, body: payload } = rendered.request;
    return { outcome: 'rendered', reason: null, request: { url, method, headers, body: payload ?? null } };
  };

  /**
   * One page of campaigns or Canvases (`?limit=&cursor=&segment_id=&q=&order=`): summaries in id order,
   * bounded reads per request, `next_cursor` null at the end (a short page is not the end).
   */
  const list = async (
    workspaceId: string,
    kind: CampaignKind,
    query: { limit?: string; cursor?: string; segment_id?: string; q?: string; order?: string },
  ) => {
    const segmentId = query.segment_id;
    const page = parseListRequest(query, LIST_PAGE, kind, { segment_id: segmentId });
    if (segmentId !== undefined && (segmentId === '' || Buffer.byteLength(segmentId) > SORT_KEY_MAX_BYTES))
      throw new ValidationError(`\`segment_id\` must be 1 to ${SORT_KEY_MAX_BYTES} bytes`);
    const found = await ports.campaigns.listPage(workspaceId, kind, {
      ...page,
      ...(segmentId === undefined ? {} : { segmentId }),
    });
    // The names of the segments the page targets, read once for the page (a list shows them by
    // name), before the page is cut to its bytes: the names count too.
    const segmentNames = await ports.segments.names(
      workspaceId,
      found.campaigns.flatMap((campaign) => campaign.segmentIds),
    );
    const cut = cutToBytes(found.campaigns, found.next, (campaign) => campaign.campaignId, {
      bytesOf: (campaign) => Buffer.byteLength(JSON.stringify(campaignListView(campaign, segmentNames))),
    });
    return {
      campaigns: cut.items,
      segmentNames,
      nextCursor: cut.next === undefined ? null : encodeCursor(cut.next, page.scope),
    };
  };

  const triggers = ports.dispatch
    ? createTrigger({
        campaigns: ports.campaigns,
        users: ports.users,
        release: ports.dispatch.release,
        work: ports.dispatch.work,
        clock: ports.clock,
      })
    : undefined;

  return {
    create,
    list,
    /** `POST /campaigns/trigger/send`, `POST /canvas/trigger/send` (lib/campaigns/trigger.ts). */
    trigger: (workspaceId: string, kind: CampaignKind, body: unknown, idempotencyKey: string | undefined) => {
      if (!triggers) throw new NotFoundError('API triggers are not enabled here');
      return triggers.trigger(workspaceId, kind, body, idempotencyKey);
    },
    get: require,
    update,
    launch,
    stop: (workspaceId: string, kind: CampaignKind, campaignId: string) =>
      end(workspaceId, kind, campaignId, 'stopped'),
    archive: (workspaceId: string, kind: CampaignKind, campaignId: string) =>
      end(workspaceId, kind, campaignId, 'archived'),
    report,
    testSend,
    preview,
    getFrequencyCap: (workspaceId: string) => ports.campaigns.getFrequencyCap(workspaceId),
    setFrequencyCap: (workspaceId: string, cap: FrequencyCap | null) =>
      ports.campaigns.setFrequencyCap(workspaceId, cap),
  };
};

export type CampaignService = ReturnType<typeof createCampaignService>;

/** The figures as the API answers them, per step (a campaign has one). */
export const statsView = (stats: StepStats): FiguresView => ({
  targeted: stats.targeted,
  sent: stats.sent,
  delivered: stats.delivered,
  failed: stats.failed,
  skipped: stats.skipped,
  last_error: stats.lastError,
});

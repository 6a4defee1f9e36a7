/**
 * The REST routes of campaigns and Canvases (Bearer REST API key, like every API route):
 *   POST|GET /campaigns, GET|PUT /campaigns/{campaign_id},
 *   POST /campaigns/{campaign_id}/launch|stop|archive|test-send|preview, and the same for /canvases;
 *   POST /campaigns/trigger/send and POST /canvas/trigger/send (API-triggered delivery, Braze's shapes;
 *   an optional `Idempotency-Key` header makes a replay the same dispatch);
 *   GET|PUT /settings/frequency-cap.
 * A campaign's or Canvas's answer carries its figures (per step for a Canvas).
 */
import { NotFoundError } from '../../../lib/errors.js';
import { LIST_QUERY } from '../../../lib/paging.js';
import { json, type JsonRequest, type JsonResponse, type JsonRoute } from '../../../lib/http/api.js';
import { campaignView, parseFrequencyCapBody, type Campaign, type CampaignKind } from '../../../lib/campaigns/model.js';
import type { StepStats } from '../../../lib/campaigns/ports.js';
import {
  campaignListView,
  statsView,
  targetedSegmentsView,
  type CampaignService,
} from '../../../lib/campaigns/service.js';

type CampaignRoute = Omit<JsonRoute, 'handle'> & {
  handle: (api: { campaigns?: CampaignService }, workspaceId: string, request: JsonRequest) => Promise<JsonResponse>;
};

const serviceOf = (api: { campaigns?: CampaignService }): CampaignService => {
  if (!api.campaigns) throw new NotFoundError('Campaigns are not enabled here');
  return api.campaigns;
};

/** The answer's view: the definition, and when read, its segments by name and the figures. */
const view = (campaign: Campaign, stats?: StepStats[], segmentNames?: ReadonlyMap<string, string>) => {
  const base = {
    ...campaignView(campaign),
    ...(segmentNames ? { segments: targetedSegmentsView(campaign, segmentNames) } : {}),
  };
  if (!stats) return base;
  if (campaign.kind === 'canvas')
    return {
      ...base,
      steps: (base as { steps: object[] }).steps.map((step, index) => ({ ...step, figures: statsView(stats[index]!) })),
    };
  return { ...base, figures: statsView(stats[0]!) };
};

const routesOf = (kind: CampaignKind, plural: 'campaigns' | 'canvases', idName: string): CampaignRoute[] => {
  const one = kind === 'canvas' ? 'canvas' : 'campaign';
  const idOf = (request: JsonRequest) => request.pathParameters[idName] ?? '';
  const answer = (
    statusCode: number,
    campaign: Campaign,
    stats?: StepStats[],
    segmentNames?: ReadonlyMap<string, string>,
  ) => json(statusCode, { [one]: view(campaign, stats, segmentNames), message: 'success' });
  const action = (name: 'launch' | 'stop' | 'archive'): CampaignRoute => ({
    method: 'POST',
    path: `/${plural}/{${idName}}/${name}`,
    handle: async (api, workspaceId, request) =>
      answer(200, await serviceOf(api)[name](workspaceId, kind, idOf(request))),
  });
  return [
    {
      method: 'POST',
      path: `/${plural}`,
      handle: async (api, workspaceId, request) =>
        answer(201, await serviceOf(api).create(workspaceId, kind, request.body)),
    },
    {
      method: 'GET',
      path: `/${plural}`,
      query: [...LIST_QUERY, 'segment_id'],
      handle: async (api, workspaceId, request) => {
        const page = await serviceOf(api).list(workspaceId, kind, request.queryStringParameters);
        return json(200, {
          [plural]: page.campaigns.map((campaign) => campaignListView(campaign, page.segmentNames)),
          next_cursor: page.nextCursor,
          message: 'success',
        });
      },
    },
    {
      method: 'GET',
      path: `/${plural}/{${idName}}`,
      handle: async (api, workspaceId, request) => {
        const { campaign, stats, segmentNames } = await serviceOf(api).report(workspaceId, kind, idOf(request));
        return answer(200, campaign, stats, segmentNames);
      },
    },
    {
      method: 'PUT',
      path: `/${plural}/{${idName}}`,
      handle: async (api, workspaceId, request) =>
        answer(200, await serviceOf(api).update(workspaceId, kind, idOf(request), request.body)),
    },
    action('launch'),
    action('stop'),
    action('archive'),
    {
      method: 'POST',
      path: `/${plural}/{${idName}}/preview`,
      handle: async (api, workspaceId, request) =>
        json(200, {
          preview: await serviceOf(api).preview(workspaceId, kind, idOf(request), request.body),
          message: 'success',
        }),
    },
    {
      method: 'POST',
      path: `/${plural}/{${idName}}/test-send`,
      handle: async (api, workspaceId, request) =>
        json(200, {
          test_send: await serviceOf(api).testSend(workspaceId, kind, idOf(request), request.body),
          message: 'success',
        }),
    },
  ];
};

/** Braze's trigger endpoints: 201 `{dispatch_id, message: "success"}`. */
const triggerRoute = (kind: CampaignKind, path: string): CampaignRoute => ({
  method: 'POST',
  path,
  handle: async (api, workspaceId, request) => {
    const header = Object.entries(request.headers).find(([name]) => name.toLowerCase() === 'idempotency-key')?.[1];
    const { dispatchId } = await serviceOf(api).trigger(workspaceId, kind, request.body, header);
    return json(201, { dispatch_id: dispatchId, message: 'success' });
  },
});

export const campaignRoutes: readonly CampaignRoute[] = [
  triggerRoute('campaign', '/campaigns/trigger/send'),
  triggerRoute('canvas', '/canvas/trigger/send'),
  ...routesOf('campaign', 'campaigns', 'campaign_id'),
  ...routesOf('canvas', 'canvases', 'canvas_id'),
  {
    method: 'GET',
    path: '/settings/frequency-cap',
    handle: async (api, workspaceId) => {
      const cap = await serviceOf(api).getFrequencyCap(workspaceId);
      return json(200, {
        frequency_cap: cap ? { max_messages: cap.maxMessages, window_seconds: cap.windowSeconds } : null,
        message: 'success',
      });
    },
  },
  {
    method: 'PUT',
    path: '/settings/frequency-cap',
    handle: async (api, workspaceId, request) => {
      const cap = parseFrequencyCapBody(request.body);
      await serviceOf(api).setFrequencyCap(workspaceId, cap);
      return json(200, {
        frequency_cap: cap ? { max_messages: cap.maxMessages, window_seconds: cap.windowSeconds } : null,
        message: 'success',
      });
    },
  },
];

/**
 * Event-triggered campaigns and Canvases over HTTP on the local stack: a custom event or a
 * purchase tracked through `POST /users/track` → the campaigns work queue → an entry → the
 * sends queue → the sender → a real webhook receiver on loopback. The event's properties in
 * Liquid, an event of another name, a replayed /users/track call, a user outside the segment,
 * exit on an event before a delayed message, a purchase trigger, a Canvas, and the rejections of
 * malformed definitions in the `{message, errors}` shape.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import type { SqsHandler } from '../../local/sqs-poller.js';
import type { ReceivedWebhook } from '../../local/webhook-receiver.js';
import { eventually, startTestStack } from '../support/stack.js';
import { applyCohortChanges, partnerClient, restCall, workspaceClient } from '../support/client.js';
import { deliveredTwice } from '../support/events.js';

let stack: LocalStack;
let offsetMs = 0;
const clock = () => new Date(Date.now() + offsetMs);
const HOUR = 3600_000;
/** Every batch is delivered twice (SQS's at-least-once), to the campaigns function and the sender: nothing may be sent twice. */
const twice = (handler: SqsHandler): SqsHandler => deliveredTwice(handler, () => true);

const api = (path: string, init: { method?: string; body?: unknown } = {}) => restCall(stack, path, init);
const hook = (path: string) => `${stack.campaigns.receiver.url}${path}`;
const received = (prefix: string): ReceivedWebhook[] =>
  stack.campaigns.receiver.received.filter((webhook) => webhook.path.startsWith(prefix));
const bodies = (prefix: string) =>
  received(prefix)
    .map((webhook) => JSON.parse(webhook.body) as Record<string, unknown>)
    .sort((a, b) => String(a.user).localeCompare(String(b.user)));
const settle = () => stack.settled();
let segmentId: string;

const launched = async (kind: 'campaigns' | 'canvases', definition: Record<string, unknown>) => {
  const created = await api(`/${kind}`, { body: { segment_ids: [segmentId], ...definition } });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const id = (created.body.campaign?.campaign_id ?? created.body.canvas?.canvas_id) as string;
  expect((await api(`/${kind}/${id}/launch`, { method: 'POST' })).status).toBe(200);
  return id;
};
const eventCampaign = (path: string, body: string, delivery: Record<string, unknown>, more = {}) =>
  launched('campaigns', {
    name: `on ${path}`,
    message: { url: hook(path), headers: { 'content-type': 'application/json' }, body },
    delivery: { type: 'action_based', ...delivery },
    ...more,
  });
const view = async (kind: 'campaigns' | 'canvases', id: string) => {
  const { body } = await api(`/${kind}/${id}`);
  return body.campaign ?? body.canvas;
};
const track = async (body: Record<string, unknown>) => {
  const answer = await api('/users/track', { body });
  expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  return answer.body;
};
const event = (externalId: string, name: string, time: string, properties?: Record<string, unknown>) => ({
  external_id: externalId,
  name,
  time,
  ...(properties ? { properties } : {}),
});
const entryOf = async (campaignId: string, externalId: string) => {
  const user = await stack.stores.users.find(stack.workspace.workspaceId, { type: 'external_id', externalId });
  return stack.campaigns.store.getEntry(stack.workspace.workspaceId, campaignId, user!.brazeId);
};
/** Ticks, as the minute tick would again and again, until `check` holds (timers are released by ticks). */
const whileTicking = <T>(check: () => Promise<T | undefined>, what = 'the ticks') =>
  eventually(
    async () => {
      await stack.campaigns.tick();
      return check();
    },
    20_000,
    what,
  );

beforeAll(async () => {
  stack = await startTestStack({
    campaigns: {
      clock,
      horizonMs: 0,
      cacheTtlMs: 0,
      leaseMs: 10_000,
      tickEveryMs: 0,
      retry: { baseSeconds: 0, capSeconds: 0, maxAttempts: 3 },
      wrapSenderHandler: twice,
      wrapCampaignsHandler: twice,
    },
  });
  // Prepare: ada and bob in the Trial cohort; carl exists outside it.
  await workspaceClient(stack).track([
    { external_id: 'ada', first_name: 'Ada' },
    { external_id: 'bob', first_name: 'Bob' },
    { external_id: 'carl', first_name: 'Carl' },
  ]);
  await partnerClient(stack).nameCohort('trial', 'Trial');
  await eventually(async () =>
    (await workspaceClient(stack).cohort('heap', 'trial')).status === 200 ? true : undefined,
  );
  await applyCohortChanges(stack, 'trial', [{ user_ids: ['ada', 'bob'] }]);
  await eventually(async () =>
    ((await workspaceClient(stack).cohort('heap', 'trial')).body.cohort?.member_count ?? 0) === 2 ? true : undefined,
  );
  const created = await workspaceClient(stack).createSegment({
    name: 'Trial',
    filter: { cohort: { partner: 'heap', cohort_id: 'trial', includes: true } },
  });
  segmentId = (created.body as { segment: { segment_id: string } }).segment.segment_id;
});
afterAll(() => stack?.stop());

const LIQUID =
  // biome-ignore lint/suspicious/noTemplateCurlyInString: Braze's Liquid syntax for a property, not a JS template
  '{"user":"{{ external_id }}","plan":"{{event_properties.${plan}}}","seats":"{{ event_properties.seats }}"}';

describe('custom event trigger', () => {
  it('sends on the event with its properties in Liquid, once for a replayed call, and not for another event name', async () => {
    // Prepare
    const campaignId = await eventCampaign('/started/', LIQUID, {
      trigger: { type: 'custom_event', name: 'Started Trial' },
    });
    const started = event('ada', 'Started Trial', '2026-03-01T10:00:00Z', { plan: 'pro', seats: 5 });

    // Act: the event, the same call again (a client that retried), and another event of bob's
    const first = await track({ events: [started] });
    await track({ events: [started] });
    await track({ events: [event('bob', 'Started Checkout', '2026-03-01T10:00:00Z', { plan: 'x' })] });
    await eventually(async () => (received('/started/').length >= 1 ? true : undefined), 20_000, 'the message');
    await settle();

    // Assess
    expect(first).toMatchObject({ message: 'success', events_processed: 1 });
    expect(bodies('/started/')).toEqual([{ user: 'ada', plan: 'pro', seats: '5' }]);
    const campaign = await view('campaigns', campaignId);
    expect(campaign.delivery).toEqual({
      type: 'action_based',
      trigger: { type: 'custom_event', name: 'Started Trial' },
      delay_seconds: 0,
      reeligible_after_days: null,
      reeligible_after: null,
    });
    expect(campaign.figures).toMatchObject({ targeted: 1, sent: 1, delivered: 1, failed: 0 });
  });

  it('enters again on a later event once the journey is over (its last step plus an hour) and re-eligible', async () => {
    const campaignId = await eventCampaign('/again/', LIQUID, {
      trigger: { type: 'custom_event', name: 'Upgraded' },
      reeligible_after_days: 0,
    });

    await track({ events: [event('bob', 'Upgraded', '2026-03-01T10:00:00Z', { plan: 'pro' })] });
    await eventually(async () => (received('/again/').length >= 1 ? true : undefined), 20_000, 'the first');
    await settle();
    // Within the journey (one at a time, as every action-based entry): not entered
    await track({ events: [event('bob', 'Upgraded', '2026-03-01T10:30:00Z', { plan: 'solo' })] });
    await settle();
    expect((await view('campaigns', campaignId)).figures).toMatchObject({ targeted: 1 });
    offsetMs += HOUR + 60_000;
    await track({ events: [event('bob', 'Upgraded', '2026-03-02T10:00:00Z', { plan: 'team' })] });
    await eventually(async () => (received('/again/').length >= 2 ? true : undefined), 20_000, 'the second');
    await settle();

    expect(bodies('/again/').map((body) => body.plan)).toEqual(['pro', 'team']);
    expect((await view('campaigns', campaignId)).figures).toMatchObject({ targeted: 2, delivered: 2 });
  });

  it('does not send to a user outside the target segment (counted left_segment)', async () => {
    const campaignId = await eventCampaign('/outside/', LIQUID, { trigger: { type: 'custom_event', name: 'Opened' } });

    await track({ events: [event('carl', 'Opened', '2026-03-01T10:00:00Z')] });
    await eventually(async () =>
      (await view('campaigns', campaignId)).figures.skipped.left_segment === 1 ? true : undefined,
    );
    await settle();

    expect(received('/outside/')).toEqual([]);
    expect((await view('campaigns', campaignId)).figures).toMatchObject({ targeted: 1, sent: 0 });
  });

  it('sends nothing more to a user who performs an exit event before a delayed message', async () => {
    // Prepare: a message an hour after the event, unless the user converts first
    const campaignId = await eventCampaign(
      '/nudge/',
      LIQUID,
      { trigger: { type: 'custom_event', name: 'Abandoned Cart' }, delay_seconds: 3600 },
      { exit_on_events: ['Converted'] },
    );
    await track({
      events: [
        event('ada', 'Abandoned Cart', '2026-03-01T10:00:00Z', { plan: 'a' }),
        event('bob', 'Abandoned Cart', '2026-03-01T10:00:00Z', { plan: 'b' }),
      ],
    });
    await eventually(async () => ((await entryOf(campaignId, 'bob'))?.state === 'active' ? true : undefined));
    await eventually(async () => ((await entryOf(campaignId, 'ada'))?.state === 'active' ? true : undefined));

    // Act: ada converts within the hour; an exit event older than bob's entry ends nothing
    await track({
      events: [event('ada', 'Converted', '2026-03-01T10:20:00Z'), event('bob', 'Converted', '2026-03-01T09:00:00Z')],
    });
    await eventually(async () => ((await entryOf(campaignId, 'ada'))?.state === 'exited' ? true : undefined));
    await settle();
    offsetMs += HOUR + 60_000;

    // Assess
    const figures = await whileTicking(async () => {
      const { figures } = await view('campaigns', campaignId);
      return figures.delivered + figures.skipped.exit_event === 2 ? figures : undefined;
    });
    expect(figures).toMatchObject({ targeted: 2, delivered: 1, skipped: { exit_event: 1 } });
    expect(bodies('/nudge/')).toEqual([{ user: 'bob', plan: 'b', seats: '' }]);
    expect((await view('campaigns', campaignId)).exit_on_events).toEqual(['Converted']);
  });
});

describe('purchase trigger', () => {
  it('sends on a purchase of the product (not of another) with the purchase properties', async () => {
    const campaignId = await eventCampaign(
      '/bought/',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Braze's Liquid syntax for a property, not a JS template
      '{"user":"{{ external_id }}","size":"{{event_properties.${size}}}"}',
      { trigger: { type: 'purchase', product_id: 'seats-pack' } },
    );

    await track({
      purchases: [
        { external_id: 'bob', product_id: 'sticker', currency: 'USD', price: 1, time: '2026-03-01T10:00:00Z' },
        {
          external_id: 'bob',
          product_id: 'seats-pack',
          currency: 'USD',
          price: 99,
          time: '2026-03-01T10:05:00Z',
          properties: { size: 10 },
        },
      ],
    });
    await eventually(async () => (received('/bought/').length >= 1 ? true : undefined), 20_000, 'the message');
    await settle();

    expect(bodies('/bought/')).toEqual([{ user: 'bob', size: '10' }]);
    const campaign = await view('campaigns', campaignId);
    expect(campaign.delivery.trigger).toEqual({ type: 'purchase', product_id: 'seats-pack' });
    expect(campaign.figures).toMatchObject({ targeted: 1, delivered: 1 });
  });
});

describe('event-triggered Canvas', () => {
  it('enters on the event, with its properties as canvas_entry_properties and event_properties', async () => {
    const canvasId = await launched('canvases', {
      name: 'Onboarding',
      delivery: { type: 'action_based', trigger: { type: 'custom_event', name: 'Signed Up' } },
      steps: [
        {
          name: 'Welcome',
          delay_seconds: 0,
          message: {
            url: hook('/welcome/'),
            // biome-ignore lint/suspicious/noTemplateCurlyInString: Braze's Liquid syntax for a property, not a JS template
            body: '{"user":"{{ external_id }}","via":"{{canvas_entry_properties.${via}}}/{{event_properties.via}}"}',
          },
        },
      ],
    });

    await track({ events: [event('ada', 'Signed Up', '2026-03-01T10:00:00Z', { via: 'ad' })] });
    await eventually(async () => (received('/welcome/').length >= 1 ? true : undefined), 20_000, 'the message');
    await settle();

    expect(bodies('/welcome/')).toEqual([{ user: 'ada', via: 'ad/ad' }]);
    const canvas = await view('canvases', canvasId);
    expect(canvas.delivery).toEqual({ type: 'action_based', trigger: { type: 'custom_event', name: 'Signed Up' } });
  });
});

describe('malformed definitions', () => {
  const message = () => ({ url: hook('/never/') });
  it.each([
    ['a custom event without a name', { delivery: { type: 'action_based', trigger: { type: 'custom_event' } } }],
    ['an unknown trigger', { delivery: { type: 'action_based', trigger: { type: 'page_view', name: 'x' } } }],
    ['an empty event name', { delivery: { type: 'action_based', trigger: { type: 'custom_event', name: ' ' } } }],
    ['a trigger on an API-triggered campaign', { delivery: { type: 'api_triggered', trigger: { type: 'purchase' } } }],
    ['exit events that are not a list', { delivery: { type: 'action_based' }, exit_on_events: 'Converted' }],
    ['an exit event named twice', { delivery: { type: 'action_based' }, exit_on_events: ['Converted', 'Converted'] }],
    ['exit events on a scheduled campaign', { delivery: { type: 'scheduled' }, exit_on_events: ['Converted'] }],
    [
      'exit events on an API-triggered campaign',
      { delivery: { type: 'api_triggered' }, exit_on_events: ['Converted'] },
    ],
    [
      'the trigger among the exit events',
      {
        delivery: { type: 'action_based', trigger: { type: 'custom_event', name: 'Converted' } },
        exit_on_events: ['Converted'],
      },
    ],
  ])('refuses %s with a 400', async (_what, definition) => {
    const answer = await api('/campaigns', {
      body: { name: 'bad', segment_ids: [segmentId], message: message(), ...definition },
    });

    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ message: expect.stringMatching(/^Invalid campaign/), errors: expect.any(Array) });
  });
});

/**
 * API-triggered campaigns and Canvases over HTTP on the local stack (Braze's
 * `POST /campaigns/trigger/send` and `POST /canvas/trigger/send`): the trigger call → the
 * sends queue → the sender → a real webhook receiver on loopback. Recipients by external id
 * and alias, trigger properties in Liquid, broadcast, a recipient outside the segment, a
 * replayed call sent once, re-eligibility, the frequency cap's opt-out, and every rejection
 * in the `{message, errors}` shape.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import type { SqsHandler } from '../../local/sqs-poller.js';
import type { ReceivedWebhook } from '../../local/webhook-receiver.js';
import { eventually, startTestStack } from '../support/stack.js';
import { applyCohortChanges, partnerClient, request, restCall, workspaceClient } from '../support/client.js';
import { deliveredTwice } from '../support/events.js';

let stack: LocalStack;
let offsetMs = 0;
const clock = () => new Date(Date.now() + offsetMs);
/** Every sender batch is delivered twice (SQS's at-least-once): nothing may be sent twice for it. */
const twice = (handler: SqsHandler): SqsHandler => deliveredTwice(handler, () => true);

const api = (path: string, init: { method?: string; body?: unknown } = {}) => restCall(stack, path, init);
const trigger = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  // biome-ignore lint/suspicious/noExplicitAny: answers of several shapes, each asserted
  request<Record<string, any>>(`${stack.url}${path}`, {
    body,
    headers: { authorization: `Bearer ${stack.workspace.restApiKey}`, ...headers },
  });
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
const apiCampaign = (path: string, body: string, delivery: Record<string, unknown> = {}) =>
  launched('campaigns', {
    name: `api ${path}`,
    message: { url: hook(path), headers: { 'content-type': 'application/json' }, body },
    delivery: { type: 'api_triggered', ...delivery },
  });
const figures = async (kind: 'campaigns' | 'canvases', id: string) => {
  const { body } = await api(`/${kind}/${id}`);
  return body.campaign ?? body.canvas;
};
const waitFor = (prefix: string, count: number) =>
  eventually(async () => (received(prefix).length >= count ? true : undefined), 20_000, `${count} at ${prefix}`);

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
    },
  });
  // Prepare: ada, bob and an alias-only lead in the VIP cohort; carl exists outside it.
  await workspaceClient(stack).track([
    { external_id: 'ada', first_name: 'Ada' },
    { external_id: 'bob', first_name: 'Bob' },
    { external_id: 'carl', first_name: 'Carl' },
    { user_alias: { alias_name: 'lead-7', alias_label: 'crm' } },
  ]);
  await partnerClient(stack).nameCohort('vip', 'VIP');
  await eventually(async () =>
    (await workspaceClient(stack).cohort('heap', 'vip')).status === 200 ? true : undefined,
  );
  await applyCohortChanges(stack, 'vip', [
    { user_ids: ['ada', 'bob'] },
    { aliases: [{ alias_name: 'lead-7', alias_label: 'crm' }] },
  ]);
  await eventually(async () =>
    ((await workspaceClient(stack).cohort('heap', 'vip')).body.cohort?.member_count ?? 0) === 3 ? true : undefined,
  );
  const created = await workspaceClient(stack).createSegment({
    name: 'VIP',
    filter: { cohort: { partner: 'heap', cohort_id: 'vip', includes: true } },
  });
  segmentId = (created.body as { segment: { segment_id: string } }).segment.segment_id;
});
afterAll(() => stack?.stop());
afterEach(() => {
  if (stack) stack.campaigns.receiver.answer = () => 200;
});

const LIQUID =
  // biome-ignore lint/suspicious/noTemplateCurlyInString: Braze's Liquid syntax for a property, not a JS template
  '{"user":"{{ external_id }}{{ aliases[0].alias_name }}","order":"{{api_trigger_properties.${order_id}}}","shop":"{{ api_trigger_properties.shop }}"}';

describe('POST /campaigns/trigger/send', () => {
  it('sends to recipients by external id and alias, once each, with their trigger properties in Liquid', async () => {
    const campaignId = await apiCampaign('/receipt/', LIQUID);

    const answer = await trigger('/campaigns/trigger/send', {
      campaign_id: campaignId,
      trigger_properties: { shop: 'Lisbon', order_id: 'top' },
      recipients: [
        { external_user_id: 'ada', trigger_properties: { order_id: 'A-1' } },
        { user_alias: { alias_name: 'lead-7', alias_label: 'crm' }, trigger_properties: { order_id: 'L-7' } },
        // The same user named twice in one call: one message, the first naming's properties.
        { external_user_id: 'ada', trigger_properties: { order_id: 'A-2' } },
      ],
    });
    expect(answer.status).toBe(201);
    expect(answer.body).toEqual({ dispatch_id: expect.any(String), message: 'success' });
    await waitFor('/receipt/', 2);
    await settle();

    expect(bodies('/receipt/')).toEqual([
      { user: 'ada', order: 'A-1', shop: 'Lisbon' },
      { user: 'lead-7', order: 'L-7', shop: 'Lisbon' },
    ]);
    const view = await figures('campaigns', campaignId);
    expect(view.delivery).toEqual({
      type: 'api_triggered',
      reeligible_after_days: null,
      reeligible_after: null,
      ignore_frequency_cap: false,
    });
    expect(view.figures).toMatchObject({ targeted: 2, sent: 2, delivered: 2, failed: 0 });
  });

  it('does not send to a recipient outside the target segment (counted left_segment), nor to an unknown user', async () => {
    const campaignId = await apiCampaign('/outside/', LIQUID);

    const answer = await trigger('/campaigns/trigger/send', {
      campaign_id: campaignId,
      recipients: [{ external_user_id: 'bob' }, { external_user_id: 'carl' }, { external_user_id: 'nobody' }],
    });
    expect(answer.status).toBe(201);
    await waitFor('/outside/', 1);
    await eventually(async () =>
      (await figures('campaigns', campaignId)).figures.skipped.left_segment === 1 ? true : undefined,
    );
    await settle();

    expect(bodies('/outside/').map((body) => body.user)).toEqual(['bob']);
    expect((await figures('campaigns', campaignId)).figures).toMatchObject({
      targeted: 2,
      sent: 1,
      delivered: 1,
      skipped: { left_segment: 1 },
    });
  });

  it('sends a replayed call (the same Idempotency-Key and body) once, and refuses the key with another body', async () => {
    const campaignId = await apiCampaign('/replay/', LIQUID, { reeligible_after_days: 0 });
    const body = { campaign_id: campaignId, recipients: [{ external_user_id: 'ada' }, { external_user_id: 'bob' }] };
    // The receiver fails ada's first attempt: the sender retries it (its own retries, not the replay).
    let failedOnce = false;
    stack.campaigns.receiver.answer = (webhook) => {
      if (!failedOnce && webhook.body.includes('"ada"')) {
        failedOnce = true;
        return 500;
      }
      return 200;
    };

    // Act: the call, the same call at once (a client that timed out), and again after it was sent.
    const [first, concurrent] = await Promise.all([
      trigger('/campaigns/trigger/send', body, { 'Idempotency-Key': 'order-1' }),
      trigger('/campaigns/trigger/send', body, { 'Idempotency-Key': 'order-1' }),
    ]);
    await waitFor('/replay/', 3);
    await settle();
    const later = await trigger('/campaigns/trigger/send', body, { 'idempotency-key': 'order-1' });
    await settle();
    const reused = await trigger(
      '/campaigns/trigger/send',
      { ...body, recipients: [{ external_user_id: 'bob' }] },
      { 'Idempotency-Key': 'order-1' },
    );

    // Assess: one dispatch; ada POSTed twice (a 500, then the retry), bob once; one delivery each.
    expect([first.status, concurrent.status, later.status]).toEqual([201, 201, 201]);
    expect(new Set([first.body.dispatch_id, concurrent.body.dispatch_id, later.body.dispatch_id]).size).toBe(1);
    expect(reused.status).toBe(409);
    expect(reused.body).toEqual({ message: expect.stringContaining('Idempotency-Key'), errors: expect.any(Array) });
    expect(bodies('/replay/').map((webhook) => webhook.user)).toEqual(['ada', 'ada', 'bob']);
    expect(new Set(received('/replay/').map((webhook) => webhook.headers['idempotency-key'])).size).toBe(2);
    expect((await figures('campaigns', campaignId)).figures).toMatchObject({ targeted: 2, sent: 2, delivered: 2 });

    // A new call without the key is a new dispatch: re-eligible at once (reeligible_after_days: 0).
    const again = await trigger('/campaigns/trigger/send', {
      campaign_id: campaignId,
      recipients: [{ external_user_id: 'bob' }],
    });
    expect(again.status).toBe(201);
    expect(again.body.dispatch_id).not.toBe(first.body.dispatch_id);
    await waitFor('/replay/', 4);
    await settle();
    expect(bodies('/replay/').map((webhook) => webhook.user)).toEqual(['ada', 'ada', 'bob', 'bob']);
  });

  it('holds re-eligibility (never by default) and the frequency cap, which a campaign may ignore', async () => {
    const once = await apiCampaign('/once/', LIQUID);
    const capped = await apiCampaign('/capped/', LIQUID, { reeligible_after_days: 0 });
    const transactional = await apiCampaign('/transactional/', LIQUID, {
      reeligible_after_days: 0,
      ignore_frequency_cap: true,
    });
    expect(
      (
        await api('/settings/frequency-cap', {
          method: 'PUT',
          body: { frequency_cap: { max_messages: 1, window_seconds: 3600 } },
        })
      ).status,
    ).toBe(200);
    try {
      for (const id of [once, capped, transactional])
        for (let call = 0; call < 2; call += 1) {
          const answer = await trigger('/campaigns/trigger/send', {
            campaign_id: id,
            recipients: [{ external_user_id: 'bob' }],
          });
          expect(answer.status).toBe(201);
          await settle();
        }
      await settle();
    } finally {
      await api('/settings/frequency-cap', { method: 'PUT', body: { frequency_cap: null } });
    }

    // once: never re-eligible, one send. capped: two entries, the cap (1 an hour, which the first
    // campaign's send already took) holds both back. transactional: both sent, uncapped.
    expect(received('/once/')).toHaveLength(1);
    expect(received('/capped/')).toHaveLength(0);
    expect((await figures('campaigns', capped)).figures).toMatchObject({ targeted: 2, skipped: { frequency_cap: 2 } });
    expect(received('/transactional/')).toHaveLength(2);
    expect((await figures('campaigns', once)).figures).toMatchObject({ targeted: 1, sent: 1 });
  });

  it('broadcasts to the whole target segment with the top-level trigger properties', async () => {
    const campaignId = await apiCampaign('/broadcast/', LIQUID);

    const answer = await trigger('/campaigns/trigger/send', {
      campaign_id: campaignId,
      broadcast: true,
      trigger_properties: { order_id: 'all', shop: 'Porto' },
    });
    expect(answer.status).toBe(201);
    await waitFor('/broadcast/', 3);
    await settle();

    expect(bodies('/broadcast/')).toEqual([
      { user: 'ada', order: 'all', shop: 'Porto' },
      { user: 'bob', order: 'all', shop: 'Porto' },
      { user: 'lead-7', order: 'all', shop: 'Porto' },
    ]);
    expect((await figures('campaigns', campaignId)).figures).toMatchObject({ targeted: 3, sent: 3, delivered: 3 });
  });
});

describe('POST /canvas/trigger/send', () => {
  it('enters recipients into an API-triggered Canvas with canvas_entry_properties in every step', async () => {
    const step = (path: string) => ({
      url: hook(path),
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Braze's Liquid syntax for a property, not a JS template
      body: '{"user":"{{ external_id }}","plan":"{{ canvas_entry_properties.${plan} }}","step":"{{ step.name }}"}',
    });
    const canvasId = await launched('canvases', {
      name: 'api trial',
      delivery: { type: 'api_triggered' },
      steps: [
        { name: 'welcome', delay_seconds: 0, message: step('/canvas/') },
        { name: 'follow-up', delay_seconds: 3600, message: step('/canvas/') },
      ],
    });

    const answer = await trigger('/canvas/trigger/send', {
      canvas_id: canvasId,
      canvas_entry_properties: { plan: 'trial' },
      recipients: [{ external_user_id: 'ada', canvas_entry_properties: { plan: 'pro' } }, { external_user_id: 'carl' }],
    });
    expect(answer.status).toBe(201);
    await waitFor('/canvas/', 1);
    await settle();
    offsetMs += 3_600_000 + 60_000;
    await eventually(async () => {
      await stack.campaigns.tick();
      return received('/canvas/').length >= 2 ? true : undefined;
    });
    await settle();

    expect(bodies('/canvas/')).toEqual([
      { user: 'ada', plan: 'pro', step: 'welcome' },
      { user: 'ada', plan: 'pro', step: 'follow-up' },
    ]);
    const view = await figures('canvases', canvasId);
    expect(view.delivery).toEqual({ type: 'api_triggered', ignore_frequency_cap: false });
    expect(view.steps.map((one: { figures: { sent: number } }) => one.figures.sent)).toEqual([1, 1]);
  });
});

describe('rejections, each a 4xx in the {message, errors} shape', () => {
  it('refuses what cannot be triggered and every malformed call', async () => {
    const campaignId = await apiCampaign('/never/', LIQUID);
    const action = await launched('campaigns', {
      name: 'action',
      message: { url: hook('/never/') },
      delivery: { type: 'action_based' },
    });
    const draft = (
      await api('/campaigns', {
        body: {
          name: 'draft',
          segment_ids: [segmentId],
          message: { url: hook('/never/') },
          delivery: { type: 'api_triggered' },
        },
      })
    ).body.campaign.campaign_id as string;
    const canvasId = await launched('canvases', {
      name: 'api canvas',
      delivery: { type: 'api_triggered' },
      steps: [{ name: 'one', delay_seconds: 0, message: { url: hook('/never/') } }],
    });
    const ada = [{ external_user_id: 'ada' }];
    const cases: [string, string, unknown, number, string, Record<string, string>?][] = [
      [
        'unknown campaign',
        '/campaigns/trigger/send',
        { campaign_id: 'nope', recipients: ada },
        404,
        'No campaign nope',
      ],
      [
        'not API-triggered',
        '/campaigns/trigger/send',
        { campaign_id: action, recipients: ada },
        400,
        'not API-triggered',
      ],
      ['a draft', '/campaigns/trigger/send', { campaign_id: draft, recipients: ada }, 409, 'is draft'],
      [
        'a Canvas id on the campaign route',
        '/campaigns/trigger/send',
        { campaign_id: canvasId, recipients: ada },
        404,
        'No campaign',
      ],
      [
        '51 recipients',
        '/campaigns/trigger/send',
        { campaign_id: campaignId, recipients: Array.from({ length: 51 }, () => ada[0]) },
        400,
        'at most 50',
      ],
      ['no recipients', '/campaigns/trigger/send', { campaign_id: campaignId, recipients: [] }, 400, 'at least one'],
      [
        'neither recipients nor broadcast',
        '/campaigns/trigger/send',
        { campaign_id: campaignId },
        400,
        'required unless',
      ],
      [
        'broadcast with recipients',
        '/campaigns/trigger/send',
        { campaign_id: campaignId, broadcast: true, recipients: ada },
        400,
        'must be absent',
      ],
      [
        'an unknown field',
        '/campaigns/trigger/send',
        { campaign_id: campaignId, recipients: ada, audience: {} },
        400,
        'audience',
      ],
      [
        'an unknown recipient field',
        '/campaigns/trigger/send',
        { campaign_id: campaignId, recipients: [{ external_user_id: 'ada', attributes: {} }] },
        400,
        'attributes',
      ],
      [
        'both ids',
        '/campaigns/trigger/send',
        {
          campaign_id: campaignId,
          recipients: [{ external_user_id: 'ada', user_alias: { alias_name: 'a', alias_label: 'b' } }],
        },
        400,
        'exactly one',
      ],
      [
        'properties not an object',
        '/campaigns/trigger/send',
        { campaign_id: campaignId, recipients: ada, trigger_properties: ['x'] },
        400,
        'trigger_properties',
      ],
      [
        'properties too large',
        '/campaigns/trigger/send',
        {
          campaign_id: campaignId,
          recipients: [{ external_user_id: 'ada', trigger_properties: { big: 'x'.repeat(20_001) } }],
        },
        400,
        '20,000 bytes',
      ],
      [
        'merged properties too large',
        '/campaigns/trigger/send',
        {
          campaign_id: campaignId,
          trigger_properties: { a: 'x'.repeat(12_000) },
          recipients: [{ external_user_id: 'ada', trigger_properties: { b: 'x'.repeat(12_000) } }],
        },
        400,
        'with the top-level ones',
      ],
      [
        'send_to_existing_only false',
        '/campaigns/trigger/send',
        { campaign_id: campaignId, recipients: [{ external_user_id: 'ada', send_to_existing_only: false }] },
        400,
        'never creates users',
      ],
      [
        'canvas_entry_properties on a campaign',
        '/campaigns/trigger/send',
        { campaign_id: campaignId, recipients: ada, canvas_entry_properties: {} },
        400,
        'canvas_entry_properties',
      ],
      [
        'trigger_properties on a Canvas',
        '/canvas/trigger/send',
        { canvas_id: canvasId, recipients: ada, trigger_properties: {} },
        400,
        'trigger_properties',
      ],
      ['a Canvas broadcast', '/canvas/trigger/send', { canvas_id: canvasId, broadcast: true }, 400, 'not supported'],
      ['a body that is not an object', '/campaigns/trigger/send', [campaignId], 400, 'JSON object'],
      [
        'a malformed Idempotency-Key',
        '/campaigns/trigger/send',
        { campaign_id: campaignId, recipients: ada },
        400,
        'Idempotency-Key',
        { 'Idempotency-Key': 'x'.repeat(256) },
      ],
    ];
    for (const [what, path, body, status, says, headers] of cases) {
      const answer = await trigger(path, body, headers);
      expect({ what, status: answer.status }).toEqual({ what, status });
      expect(answer.body, what).toEqual({ message: expect.any(String), errors: expect.any(Array) });
      expect(`${answer.body.message} ${JSON.stringify(answer.body.errors)}`, what).toContain(says);
    }
    await settle();
    expect(received('/never/')).toHaveLength(0);
  });
});

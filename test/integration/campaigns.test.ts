/**
 * Campaigns and Canvases end to end on the local stack: partner cohort changes → the sync →
 * membership events → the campaigns function → the sends queue → the sender → a real
 * webhook receiver on loopback. Time is the campaigns' clock, moved by the tests (a day's
 * delay takes no real time); the minute tick is called, not waited for.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SQSEvent } from 'aws-lambda';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoCampaignStore } from '../../lib/dynamodb/campaign-store.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/constants.js';
import type { LocalStack } from '../../local/stack.js';
import type { SqsHandler } from '../../local/sqs-poller.js';
import type { ReceivedWebhook } from '../../local/webhook-receiver.js';
import type { CampaignKind } from '../../lib/campaigns/model.js';
import type { MembershipEvent } from '../../lib/cohorts/events.js';
import { eventually, startTestStack } from '../support/stack.js';
import { applyCohortChanges, partnerClient, workspaceClient } from '../support/client.js';
import { deliveredTwice } from '../support/events.js';

let stack: LocalStack;
let offsetMs = 0;
const clock = () => new Date(Date.now() + offsetMs);
const advance = (ms: number) => {
  offsetMs += ms;
};
const HOUR = 3600_000;
const DAY = 24 * HOUR;
/** Deliver every batch twice (redelivery), to the campaigns function and to the sender. */
let duplicateDeliveries = false;
/** Every membership event the campaigns function was handed, to publish some again. */
const seenEvents: MembershipEvent[] = [];
const twice = (handler: SqsHandler, seen?: (event: SQSEvent) => void): SqsHandler =>
  deliveredTwice(handler, () => duplicateDeliveries, { seen });

const ws = () => stack.workspace.workspaceId;
const service = () => stack.campaigns.service;
const received = (prefix: string): ReceivedWebhook[] =>
  stack.campaigns.receiver.received.filter((webhook) => webhook.path.startsWith(prefix));
const hook = (path: string) => `${stack.campaigns.receiver.url}${path}`;

/** Applies changes and waits until the sync has reported them. */
const cohortChanges = (cohortId: string, changes: unknown[]) => applyCohortChanges(stack, cohortId, changes);
const segmentOn = async (cohortId: string, members: string[]): Promise<string> => {
  await partnerClient(stack).nameCohort(cohortId, `Cohort ${cohortId}`);
  // Named by the sync, asynchronously: a segment on a cohort not known yet is a 400.
  await eventually(
    async () => ((await workspaceClient(stack).cohort('heap', cohortId)).status === 200 ? true : undefined),
    30_000,
    `cohort ${cohortId}`,
  );
  if (members.length > 0) await cohortChanges(cohortId, [{ user_ids: members }]);
  const created = await workspaceClient(stack).createSegment({
    name: `on ${cohortId}`,
    filter: { cohort: { partner: 'heap', cohort_id: cohortId, includes: true } },
  });
  return (created.body as { segment: { segment_id: string } }).segment.segment_id;
};
const userIds = new Map<string, string>();
const brazeIdOf = async (externalId: string) => {
  const found = await stack.stores.users.find(ws(), { type: 'external_id', externalId });
  userIds.set(externalId, found!.brazeId);
  return found!.brazeId;
};
const entryOf = async (campaignId: string, externalId: string) =>
  stack.campaigns.store.getEntry(ws(), campaignId, await brazeIdOf(externalId));
const figures = async (kind: CampaignKind, campaignId: string) =>
  (await service().report(ws(), kind, campaignId)).stats;
/**
 * Ticks, as the minute tick would again and again, until `check` holds: a timer written
 * just after one tick (the entry's steps follow the entry) is released by a later one.
 */
const whileTicking = <T>(check: () => Promise<T | undefined>, what = 'the ticks') =>
  eventually(
    async () => {
      await stack.campaigns.tick();
      return check();
    },
    20_000,
    what,
  );
/**
 * Waits until nothing more will happen (every poller idle, every queue empty): what the
 * tests wait for before asserting that something was not sent. Not a sleep: a slower
 * machine only takes longer to get there.
 */
const settle = () => stack.settled();

const message = (path: string, body = '{"user":"{{ external_id }}","plan":"{{ custom_attributes.plan }}"}') => ({
  url: hook(path),
  method: 'POST',
  headers: { 'content-type': 'application/json', 'X-Campaign': '{{ campaign.name }}' },
  body,
});
const actionCampaign = async (
  segmentId: string,
  path: string,
  delivery: {
    delay_seconds?: number;
    reeligible_after_days?: number | null;
    reeligible_after?: { value: number; unit: string } | null;
  } = {},
  body?: string,
) => {
  const campaign = await service().create(ws(), 'campaign', {
    name: `action ${path}`,
    segment_ids: [segmentId],
    message: message(path, body),
    delivery: { type: 'action_based', ...delivery },
  });
  await service().launch(ws(), 'campaign', campaign.campaignId);
  return campaign.campaignId;
};

beforeAll(async () => {
  stack = await startTestStack({
    eventsRetryDelayMs: 50,
    campaigns: {
      clock,
      horizonMs: 0,
      cacheTtlMs: 0,
      // A copy of a message another delivery holds comes back after the lease: settle() waits for it.
      leaseMs: 10_000,
      tickEveryMs: 0,
      retry: { baseSeconds: 0, capSeconds: 0, maxAttempts: 3 },
      wrapCampaignsHandler: (handler) =>
        twice(handler, (event) => {
          for (const record of event.Records) {
            const body = JSON.parse(record.body) as MembershipEvent;
            if (body.event_id) seenEvents.push(body);
          }
        }),
      wrapSenderHandler: (handler) => twice(handler),
      // The test's own guard: only the loopback receiver is ever connected to, whatever the client decides.
      wrapWebhooks: (client) => ({
        destination: (url: string) => client.destination(url),
        send: async (request) => {
          const where = await client.destination(request.url);
          if (!('refused' in where) && where.address !== '127.0.0.1')
            throw new Error(`test guard: would have connected to ${where.address}`);
          return client.send(request);
        },
      }),
    },
  });
  await workspaceClient(stack).track(
    Array.from({ length: 12 }, (_, index) => ({ external_id: `u${index}`, plan: index % 2 ? 'pro' : 'free' })),
  );
});
afterAll(() => stack?.stop());
// A test that fails midway leaves no doubled deliveries or failing receiver to the next.
afterEach(() => {
  duplicateDeliveries = false;
  if (stack) stack.campaigns.receiver.answer = () => 200;
});

describe('action-based campaigns', () => {
  it('sends on entry after a delay, rendered, with an idempotency key; nothing before the time', async () => {
    // Prepare
    const segmentId = await segmentOn('abandoned', []);
    const campaignId = await actionCampaign(segmentId, '/delay/', { delay_seconds: 86_400 });

    // Act: u1 enters
    await cohortChanges('abandoned', [{ user_ids: ['u1'] }]);
    await eventually(() => entryOf(campaignId, 'u1'), 20_000, 'the entry');
    await stack.campaigns.tick();
    await settle();
    const early = received('/delay/').length;
    advance(DAY + 60_000);
    const [webhook] = await whileTicking(async () =>
      received('/delay/').length > 0 ? received('/delay/') : undefined,
    );

    // Assess
    expect(early).toBe(0);
    expect(JSON.parse(webhook!.body)).toEqual({ user: 'u1', plan: 'pro' });
    expect(webhook!.headers['x-campaign']).toBe('action /delay/');
    expect(webhook!.headers['idempotency-key']).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const [stats] = await eventually(async () => {
      const current = await figures('campaign', campaignId);
      return current[0]!.delivered === 1 ? current : undefined;
    });
    expect(stats).toMatchObject({ targeted: 1, sent: 1, delivered: 1, failed: 0 });
  });

  it('does not send to a user who left the segment before the send', async () => {
    // Prepare
    const segmentId = await segmentOn('trial', []);
    const campaignId = await actionCampaign(segmentId, '/exit/', { delay_seconds: 3600 });
    await cohortChanges('trial', [{ user_ids: ['u2', 'u3'] }]);
    await eventually(() => entryOf(campaignId, 'u3'), 20_000, 'the entries');
    await settle();

    // Act: u2 converts (leaves) within the hour
    await cohortChanges('trial', [{ user_ids: ['u2'], should_remove: true }]);
    await eventually(async () => ((await entryOf(campaignId, 'u2'))?.state === 'exited' ? true : undefined));
    advance(HOUR + 60_000);

    // Assess
    const stats = await whileTicking(async () => {
      const [current] = await figures('campaign', campaignId);
      return current!.delivered + current!.skipped.left_segment === 2 ? current : undefined;
    });
    expect(stats).toMatchObject({ targeted: 2, delivered: 1, skipped: { left_segment: 1 } });
    expect(received('/exit/').map((webhook) => JSON.parse(webhook.body).user)).toEqual(['u3']);
  });

  it('re-enters a user only when re-eligible: never, after N days, or after N hours', async () => {
    // Prepare
    const segmentId = await segmentOn('reeligible', []);
    const never = await actionCampaign(segmentId, '/never/', { reeligible_after_days: null });
    const daily = await actionCampaign(segmentId, '/after-1-day/', { reeligible_after_days: 1 });
    const hourly = await actionCampaign(segmentId, '/after-2-hours/', {
      reeligible_after: { value: 2, unit: 'hours' },
    });
    const enterAndLeave = async () => {
      await cohortChanges('reeligible', [{ user_ids: ['u4'] }]);
      await settle();
      await cohortChanges('reeligible', [{ user_ids: ['u4'], should_remove: true }]);
    };
    const counts = () => [
      received('/never/').length,
      received('/after-1-day/').length,
      received('/after-2-hours/').length,
    ];

    // Act: in, out, in again at once (none re-eligible), then 2 hours later (the hourly one
    // only), then a day later (the daily one, and the hourly one again)
    await enterAndLeave();
    await eventually(async () => (counts()[1] === 1 && counts()[2] === 1 ? true : undefined));
    await enterAndLeave();
    await settle();
    const sameDay = counts();
    advance(2 * 3_600_000 + 60_000);
    await enterAndLeave();
    await eventually(async () => (counts()[2] === 2 ? true : undefined));
    await settle();
    const twoHoursLater = counts();
    advance(DAY);
    await enterAndLeave();
    await eventually(async () => (counts()[1] === 2 && counts()[2] === 3 ? true : undefined));
    await settle();

    // Assess
    expect(sameDay).toEqual([1, 1, 1]);
    expect(twoHoursLater).toEqual([1, 1, 2]);
    expect(counts()).toEqual([1, 2, 3]);
    expect(received('/never/')).toHaveLength(1);
    expect(received('/after-1-day/')).toHaveLength(2);
    expect((await figures('campaign', hourly))[0]!.targeted).toBe(3);
    expect((await figures('campaign', never))[0]!.targeted).toBe(1);
    expect((await figures('campaign', daily))[0]!.targeted).toBe(2);
  });

  it('enters nobody who was in the segment at launch when their old events come again (a stream read from its start)', async () => {
    // Prepare: u8 and u9 join before the campaign exists; their events are seen (and ignored: no campaign).
    const segmentId = await segmentOn('before-launch', ['u8', 'u9']);
    await settle();
    const old = seenEvents.filter((seen) => seen.cohort_id === 'before-launch');
    expect(old).toHaveLength(2);
    const campaignId = await actionCampaign(segmentId, '/before-launch/');

    // Act: the old events come again after the launch (npm start after a restart, a redriven
    // dead letter), and u10 joins after it.
    for (const event of old)
      await stack.clients.sqs.send(
        new SendMessageCommand({
          QueueUrl: stack.campaigns.queues.events.queueUrl,
          MessageBody: JSON.stringify(event),
        }),
      );
    await cohortChanges('before-launch', [{ user_ids: ['u10'] }]);
    await eventually(async () => (received('/before-launch/').length >= 1 ? true : undefined));
    await settle();

    // Assess: only u10 entered.
    expect(received('/before-launch/').map((webhook) => JSON.parse(webhook.body).user)).toEqual(['u10']);
    expect((await figures('campaign', campaignId))[0]).toMatchObject({ targeted: 1, delivered: 1 });
  });

  it('sends one message per user for duplicate membership events and redelivered queue messages', async () => {
    // Prepare: every batch of both functions handled twice from here on
    const segmentId = await segmentOn('duplicates', []);
    const campaignId = await actionCampaign(segmentId, '/dup/');
    duplicateDeliveries = true;

    // Act: three users enter; then their events are published again
    await cohortChanges('duplicates', [{ user_ids: ['u5', 'u6', 'u7'] }]);
    await eventually(async () => (received('/dup/').length >= 3 ? true : undefined));
    for (const event of seenEvents.filter((seen) => seen.cohort_id === 'duplicates'))
      await stack.clients.sqs.send(
        new SendMessageCommand({
          QueueUrl: stack.campaigns.queues.events.queueUrl,
          MessageBody: JSON.stringify(event),
        }),
      );
    await settle();
    duplicateDeliveries = false;

    // Assess
    const webhooks = received('/dup/');
    expect(webhooks.map((webhook) => JSON.parse(webhook.body).user).sort()).toEqual(['u5', 'u6', 'u7']);
    expect(new Set(webhooks.map((webhook) => webhook.headers['idempotency-key'])).size).toBe(3);
    expect((await figures('campaign', campaignId))[0]).toMatchObject({ targeted: 3, sent: 3, delivered: 3 });
  });

  it('retries 5XX until delivered and never retries another 4XX', async () => {
    // Prepare: the receiver fails the first two attempts of u8 with 503, and answers u9 with 404
    const segmentId = await segmentOn('flaky', []);
    let failures = 2;
    stack.campaigns.receiver.answer = (webhook) => {
      if (webhook.path === '/flaky/u8' && failures > 0) {
        failures -= 1;
        return 503;
      }
      return webhook.path === '/flaky/u9' ? 404 : 200;
    };
    const campaign = await service().create(ws(), 'campaign', {
      name: 'flaky',
      segment_ids: [segmentId],
      message: { ...message('/flaky/'), url: `${hook('/flaky/')}{{ external_id }}` },
      delivery: { type: 'action_based' },
    });
    await service().launch(ws(), 'campaign', campaign.campaignId);

    // Act
    await cohortChanges('flaky', [{ user_ids: ['u8', 'u9'] }]);

    // Assess
    const [stats] = await eventually(async () => {
      const current = await figures('campaign', campaign.campaignId);
      return current[0]!.delivered + current[0]!.failed === 2 ? current : undefined;
    });
    stack.campaigns.receiver.answer = () => 200;
    expect(received('/flaky/u8')).toHaveLength(3);
    expect(received('/flaky/u9')).toHaveLength(1);
    expect(stats).toMatchObject({ sent: 2, delivered: 1, failed: 1, lastError: { status: 404 } });
    expect(stats!.lastError!.reason).toBe('receiver answered 404');
  });

  it('skips a user whose template fails to render, counted, and sends the rest', async () => {
    // Prepare: u10 has an attribute that makes the body grow past the bound
    await workspaceClient(stack).track([{ external_id: 'u10', repeat: 200_000 }]);
    const segmentId = await segmentOn('templated', []);
    const campaignId = await actionCampaign(
      segmentId,
      '/tpl/',
      {},
      '{"u":"{{ external_id }}","pad":"{% for i in (1..custom_attributes.repeat) %}xx{% endfor %}"}',
    );

    // Act
    await cohortChanges('templated', [{ user_ids: ['u10', 'u11'] }]);

    // Assess
    const [stats] = await eventually(async () => {
      const current = await figures('campaign', campaignId);
      return current[0]!.delivered + current[0]!.skipped.template_error === 2 ? current : undefined;
    });
    expect(stats).toMatchObject({ delivered: 1, skipped: { template_error: 1 } });
    expect(stats!.lastError!.reason).toMatch(/^template error: /);
    expect(received('/tpl/').map((webhook) => JSON.parse(webhook.body).u)).toEqual(['u11']);
  });

  it('holds every user to the frequency cap, across campaigns, exactly', async () => {
    // Prepare: at most one message per user per day; two campaigns on the same cohort
    await service().setFrequencyCap(ws(), { maxMessages: 1, windowSeconds: 86_400 });
    const segmentId = await segmentOn('capped', []);
    const first = await actionCampaign(segmentId, '/cap-a/');
    const second = await actionCampaign(segmentId, '/cap-b/');

    // Act
    await cohortChanges('capped', [{ user_ids: ['u0', 'u2', 'u4'] }]);

    // Assess
    const totals = await eventually(async () => {
      const [a, b] = [(await figures('campaign', first))[0]!, (await figures('campaign', second))[0]!];
      return a.delivered + a.skipped.frequency_cap + b.delivered + b.skipped.frequency_cap === 6 ? [a, b] : undefined;
    });
    await service().setFrequencyCap(ws(), null);
    expect(totals[0]!.delivered + totals[1]!.delivered).toBe(3);
    expect(totals[0]!.skipped.frequency_cap + totals[1]!.skipped.frequency_cap).toBe(3);
    const users = [...received('/cap-a/'), ...received('/cap-b/')].map((webhook) => JSON.parse(webhook.body).user);
    expect(users.sort()).toEqual(['u0', 'u2', 'u4']);
  });
});

describe('Canvases', () => {
  it('sends step 1 after a day and nothing of step 2 once the user left after step 1', async () => {
    // Prepare
    const segmentId = await segmentOn('trial-canvas', []);
    const canvas = await service().create(ws(), 'canvas', {
      name: 'Trial reminders',
      segment_ids: [segmentId],
      steps: [
        { name: 'Day 1', delay_seconds: 86_400, message: message('/canvas/1', '{"step":"{{ step.name }}"}') },
        { name: 'Day 3', delay_seconds: 2 * 86_400, message: message('/canvas/2', '{"step":"{{ step.name }}"}') },
      ],
    });
    await service().launch(ws(), 'canvas', canvas.campaignId);
    await cohortChanges('trial-canvas', [{ user_ids: ['u1', 'u3'] }]);
    // Both entered before the clock moves (they are handled in parallel: one may still be reading).
    await eventually(
      async () =>
        (await entryOf(canvas.campaignId, 'u1')) && (await entryOf(canvas.campaignId, 'u3')) ? true : undefined,
      20_000,
      'the entries of u1 and u3',
    );
    await settle();

    // Act: a day later step 1 goes to both; u1 activates (leaves); two days later step 2
    advance(DAY + 60_000);
    await whileTicking(async () => (received('/canvas/1').length === 2 ? true : undefined));
    await cohortChanges('trial-canvas', [{ user_ids: ['u1'], should_remove: true }]);
    await eventually(async () => ((await entryOf(canvas.campaignId, 'u1'))?.state === 'exited' ? true : undefined));
    advance(2 * DAY + 60_000);

    // Assess
    const stats = await whileTicking(async () => {
      const current = await figures('canvas', canvas.campaignId);
      return current[1]!.delivered + current[1]!.skipped.left_segment === 2 ? current : undefined;
    });
    expect(JSON.parse(received('/canvas/1')[0]!.body)).toEqual({ step: 'Day 1' });
    expect(received('/canvas/2')).toHaveLength(1);
    expect(JSON.parse(received('/canvas/2')[0]!.body)).toEqual({ step: 'Day 3' });
    expect(stats[0]).toMatchObject({ targeted: 2, delivered: 2 });
    expect(stats[1]).toMatchObject({ targeted: 2, delivered: 1, skipped: { left_segment: 1 } });
  });
});

describe('scheduled campaigns', () => {
  it('sends to the audience at send time, not at launch', async () => {
    // Prepare: u0, u1 in the segment at launch
    const segmentId = await segmentOn('promo', ['u0', 'u1']);
    const campaign = await service().create(ws(), 'campaign', {
      name: 'Promo',
      segment_ids: [segmentId],
      message: message('/promo/'),
      delivery: { type: 'scheduled', at: new Date(clock().getTime() + HOUR).toISOString() },
    });
    await service().launch(ws(), 'campaign', campaign.campaignId);

    // Act: before the send, u1 leaves and u2 joins
    await cohortChanges('promo', [{ user_ids: ['u1'], should_remove: true }, { user_ids: ['u2'] }]);
    await stack.campaigns.tick();
    await settle();
    const early = received('/promo/').length;
    advance(HOUR + 60_000);
    await stack.campaigns.tick();

    // Assess
    await eventually(async () => (received('/promo/').length === 2 ? true : undefined));
    await settle();
    expect(early).toBe(0);
    expect(
      received('/promo/')
        .map((webhook) => JSON.parse(webhook.body).user)
        .sort(),
    ).toEqual(['u0', 'u2']);
    expect((await figures('campaign', campaign.campaignId))[0]).toMatchObject({ targeted: 2, delivered: 2 });
  });

  it('refuses to launch a draft whose time passed since it was saved, and sends nothing', async () => {
    // Prepare: saved for an hour from now, launched two hours later
    const segmentId = await segmentOn('stale', ['u3']);
    const campaign = await service().create(ws(), 'campaign', {
      name: 'Stale',
      segment_ids: [segmentId],
      message: message('/stale/'),
      delivery: { type: 'scheduled', at: new Date(clock().getTime() + HOUR).toISOString() },
    });
    advance(2 * HOUR);

    // Act
    const launch = service().launch(ws(), 'campaign', campaign.campaignId);

    // Assess
    await expect(launch).rejects.toThrow(/`delivery.at` is in the past .*change the draft, then launch it/);
    await stack.campaigns.tick();
    await settle();
    expect(received('/stale/')).toEqual([]);
    expect((await service().get(ws(), 'campaign', campaign.campaignId)).status).toBe('draft');
  });

  it('sends a recurring campaign once per occurrence', async () => {
    // Prepare: daily, at the next whole hour (UTC)
    const segmentId = await segmentOn('weekly-digest', ['u5', 'u6']);
    const at = new Date(clock().getTime() + HOUR);
    const time = `${String(at.getUTCHours()).padStart(2, '0')}:00`;
    const campaign = await service().create(ws(), 'campaign', {
      name: 'Digest',
      segment_ids: [segmentId],
      message: message('/digest/'),
      delivery: { type: 'scheduled', recurring: { frequency: 'daily', time, timezone: 'UTC' } },
    });
    const launched = await service().launch(ws(), 'campaign', campaign.campaignId);

    // Act: the first occurrence, then the next day's
    advance(Date.parse(launched.nextRunAt!) - clock().getTime() + 60_000);
    await stack.campaigns.tick();
    await eventually(async () => (received('/digest/').length === 2 ? true : undefined));
    advance(DAY);
    await stack.campaigns.tick();
    await eventually(async () => (received('/digest/').length === 4 ? true : undefined));
    await settle();
    await service().stop(ws(), 'campaign', campaign.campaignId);

    // Assess
    const users = received('/digest/').map((webhook) => JSON.parse(webhook.body).user);
    expect(users.sort()).toEqual(['u5', 'u5', 'u6', 'u6']);
    expect(new Set(received('/digest/').map((webhook) => webhook.headers['idempotency-key'])).size).toBe(4);
    expect((await figures('campaign', campaign.campaignId))[0]).toMatchObject({ targeted: 4, delivered: 4 });
  });
});

describe('the send-rate limit', () => {
  it('sends a paced run to each user once, never ahead of its slot (60 a minute: a second apart)', async () => {
    // Prepare: five users, a campaign limited to 60 messages a minute.
    const users = ['u0', 'u1', 'u2', 'u3', 'u4'];
    const segmentId = await segmentOn('paced', users);
    const campaign = await service().create(ws(), 'campaign', {
      name: 'Paced',
      segment_ids: [segmentId],
      rate_limit_per_minute: 60,
      message: message('/paced/'),
      delivery: { type: 'scheduled' },
    });
    const launchedAt = clock().getTime();
    await service().launch(ws(), 'campaign', campaign.campaignId);

    // Act: the minute tick, again and again, as it would run.
    await whileTicking(async () => (received('/paced/').length === users.length ? true : undefined), 'paced sends');
    await settle();

    // Assess: a lower bound only (a slower machine sends later, never earlier): the k-th
    // arrival, on the campaigns' clock, is at least k seconds after the launch.
    const arrivals = received('/paced/')
      .map((webhook) => webhook.at + offsetMs)
      .sort((a, b) => a - b);
    for (const [index, at] of arrivals.entries()) expect(at).toBeGreaterThanOrEqual(launchedAt + index * 1000);
    expect(
      received('/paced/')
        .map((webhook) => JSON.parse(webhook.body).user)
        .sort(),
    ).toEqual(users);
    expect((await figures('campaign', campaign.campaignId))[0]).toMatchObject({ targeted: 5, delivered: 5 });
    expect((await service().get(ws(), 'campaign', campaign.campaignId)).rateLimitPerMinute).toBe(60);
  });
});

describe('safe destinations', () => {
  it('refuses private, metadata and loopback destinations and redirects to them, with the reason in the figures', async () => {
    // Prepare
    const segmentId = await segmentOn('unsafe', ['u7']);
    stack.campaigns.receiver.answer = (webhook) =>
      webhook.path === '/redirect'
        ? { status: 302, headers: { location: 'http://169.254.169.254/latest/meta-data/' } }
        : 200;
    const targets = {
      private: 'https://10.0.0.1/hook',
      metadata: 'http://169.254.169.254/latest/meta-data/',
      loopback: 'http://127.0.0.1:1/hook',
      // A name, resolved by the system (/etc/hosts) at send time.
      name: 'http://localhost:1/hook',
      redirect: hook('/redirect'),
    };

    // Act
    const ids: Record<string, string> = {};
    for (const [name, url] of Object.entries(targets)) {
      const campaign = await service().create(ws(), 'campaign', {
        name,
        segment_ids: [segmentId],
        message: { url, method: 'POST', headers: {}, body: '{}' },
        delivery: { type: 'scheduled' },
      });
      await service().launch(ws(), 'campaign', campaign.campaignId);
      ids[name] = campaign.campaignId;
    }
    await stack.campaigns.tick();

    // Assess
    const reasons: Record<string, string> = {};
    for (const [name, campaignId] of Object.entries(ids)) {
      const [stats] = await eventually(async () => {
        const current = await figures('campaign', campaignId);
        return current[0]!.failed === 1 ? current : undefined;
      });
      expect(stats!.delivered).toBe(0);
      reasons[name] = stats!.lastError!.reason;
    }
    stack.campaigns.receiver.answer = () => 200;
    expect(reasons).toEqual({
      private: 'destination refused: 10.0.0.1: private address',
      metadata: 'destination refused: 169.254.169.254: metadata address',
      loopback: 'destination refused: 127.0.0.1: loopback address',
      name: expect.stringMatching(/^destination refused: localhost resolves to (127\.0\.0\.1|::1): loopback address$/),
      redirect: 'redirect (302) to a refused destination not followed: 169.254.169.254: metadata address',
    });
    expect(received('/redirect')).toHaveLength(1);
  });
});

describe('the sender, at most once', () => {
  const sendMessage = async (campaignId: string, entry: string) => ({
    v: 1 as const,
    workspaceId: ws(),
    campaignId,
    step: 0,
    brazeId: await brazeIdOf('u9'),
    entry,
    kind: 'run' as const,
    dueAt: clock().toISOString(),
    profile: { external_id: 'u9', user_aliases: [], device_ids: [], custom_attributes: {} },
  });

  it('hands back a message another delivery holds, and never resends one whose sender died mid-request', async () => {
    // Prepare: an active campaign; two messages claimed by a "sender" that then died
    const segmentId = await segmentOn('once', ['u9']);
    const campaign = await service().create(ws(), 'campaign', {
      name: 'once',
      segment_ids: [segmentId],
      message: message('/once/'),
      delivery: { type: 'scheduled', at: new Date(clock().getTime() + 365 * DAY).toISOString() },
    });
    await service().launch(ws(), 'campaign', campaign.campaignId);
    const held = await sendMessage(campaign.campaignId, 'held');
    const died = await sendMessage(campaign.campaignId, 'died');
    await stack.campaigns.store.claimSend(held, clock(), 120_000);
    await stack.campaigns.store.claimSend(died, new Date(clock().getTime() - 300_000), 120_000);

    // Act
    const busy = await stack.campaigns.sender.send(held);
    const abandoned = await stack.campaigns.sender.send(died);
    const again = await stack.campaigns.sender.send(died);

    // Assess
    expect(busy).toMatchObject({ kind: 'retry', reason: 'another delivery holds it' });
    expect(abandoned).toMatchObject({ kind: 'done', outcome: { kind: 'failed', sent: false } });
    expect(again).toEqual({ kind: 'done' });
    expect(received('/once/')).toHaveLength(0);
    const [stats] = await figures('campaign', campaign.campaignId);
    expect(stats).toMatchObject({ sent: 0, failed: 1 });
    expect(stats!.lastError!.reason).toMatch(/not sent again \(at most once\)/);
  });
  it('claims a batch at once: copies, and records already done, held, lapsed or retrying, each settled as if alone', async () => {
    // Prepare: an active campaign; records in every state a claim can meet
    const segmentId = await segmentOn('batch', ['u9']);
    const campaign = await service().create(ws(), 'campaign', {
      name: 'batch',
      segment_ids: [segmentId],
      message: message('/batch/'),
      delivery: { type: 'scheduled', at: new Date(clock().getTime() + 365 * DAY).toISOString() },
    });
    await service().launch(ws(), 'campaign', campaign.campaignId);
    const [done, held, lapsed, retrying, fresh, other] = await Promise.all(
      ['done', 'held', 'lapsed', 'retrying', 'fresh', 'other'].map((entry) => sendMessage(campaign.campaignId, entry)),
    );
    const store = stack.campaigns.store;
    await store.claimSend(done!, clock(), 120_000);
    await store.finishSend(done!, 1, { kind: 'delivered', status: 200 }, clock());
    await store.claimSend(held!, clock(), 120_000);
    await store.claimSend(lapsed!, new Date(clock().getTime() - 300_000), 120_000);
    await store.claimSend(retrying!, clock(), 120_000);
    await store.markRetrying(retrying!, 1, 'receiver answered 503', clock());

    // Act: one batch, with `fresh` twice (a duplicate event queued the same step again)
    const results = await stack.campaigns.sender.sendBatch([done!, held!, lapsed!, retrying!, fresh!, fresh!, other!]);

    // Assess
    const delivered = { kind: 'done', outcome: { kind: 'delivered', status: 200 } };
    expect(results).toEqual([
      { kind: 'done' },
      { kind: 'retry', delaySeconds: expect.any(Number), reason: 'another delivery holds it' },
      { kind: 'done', outcome: expect.objectContaining({ kind: 'failed', sent: false }) },
      delivered,
      delivered,
      { kind: 'done' },
      delivered,
    ]);
    expect(received('/batch/')).toHaveLength(3);
    expect(new Set(received('/batch/').map((webhook) => webhook.headers['idempotency-key'])).size).toBe(3);
    const [stats] = await figures('campaign', campaign.campaignId);
    expect(stats).toMatchObject({ sent: 4, delivered: 4, failed: 1 });
    const record = await stack.clients.documents.send(
      new GetCommand({
        TableName: stack.campaigns.table,
        Key: { pk: `${ws()}#${campaign.campaignId}#S#${retrying!.brazeId}`, sk: '0#retrying' },
      }),
    );
    expect(record.Item).toMatchObject({ state: 'done', attempt: 2 });
  });

  it('gives back unsent the messages it has no time left to send, and sends them as the same attempt later', async () => {
    // Prepare
    const segmentId = await segmentOn('late', ['u9']);
    const campaign = await service().create(ws(), 'campaign', {
      name: 'late',
      segment_ids: [segmentId],
      message: message('/late/'),
      delivery: { type: 'scheduled', at: new Date(clock().getTime() + 365 * DAY).toISOString() },
    });
    await service().launch(ws(), 'campaign', campaign.campaignId);
    const late = await sendMessage(campaign.campaignId, 'late');

    // Act: 5 s left of the function's time, then a later delivery with time
    const [first] = await stack.campaigns.sender.sendBatch([late], { remainingMs: () => 5_000 });
    const sentBefore = received('/late/').length;
    const [second] = await stack.campaigns.sender.sendBatch([late], { remainingMs: () => 30_000 });

    // Assess
    expect(first).toEqual({ kind: 'retry', delaySeconds: 0, reason: 'out of time before the function timeout' });
    expect(sentBefore).toBe(0);
    expect(second).toEqual({ kind: 'done', outcome: { kind: 'delivered', status: 200 } });
    expect(received('/late/')).toHaveLength(1);
    const record = await stack.clients.documents.send(
      new GetCommand({
        TableName: stack.campaigns.table,
        Key: { pk: `${ws()}#${campaign.campaignId}#S#${late.brazeId}`, sk: '0#late' },
      }),
    );
    expect(record.Item).toMatchObject({ state: 'done', attempt: 1 });
  });

  it('retries claim and outcome transactions cancelled for load, and leaves out a record another delivery finished, counting exactly', async () => {
    // Prepare: a store whose next transactions are cancelled as AWS cancels them under load
    const cancellations: string[] = [];
    let cancelled = 0;
    const client = new DynamoDBClient({
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      endpoint: stack.dynamoDbEndpoint,
    });
    client.middlewareStack.add(
      (next) => async (args) => {
        const items = (args.input as { TransactItems?: unknown[] }).TransactItems;
        const code = items ? cancellations.shift() : undefined;
        if (!items || !code) return next(args);
        cancelled += 1;
        throw new TransactionCanceledException({
          $metadata: { httpStatusCode: 400 },
          message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${code}]`,
          CancellationReasons: items.map((_, position) => ({ Code: position === items.length - 1 ? code : 'None' })),
        });
      },
      { step: 'initialize', name: 'cancelForLoad' },
    );
    const store = new DynamoCampaignStore(
      DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } }),
      stack.campaigns.table,
    );
    const campaignId = `load-${Date.now()}`;
    const messages = await Promise.all(['a', 'b', 'c'].map((entry) => sendMessage(campaignId, entry)));
    const delivered = { kind: 'delivered' as const, status: 200 };

    // Act: the claims meet a conflict and throttling; then another delivery finishes `a`
    // before the batch's outcomes, whose first transaction meets a conflict too
    cancellations.push('TransactionConflict', 'ThrottlingError');
    const claims = await store.claimSends(messages, clock(), 120_000);
    await store.finishSend(messages[0]!, 1, delivered, clock());
    cancellations.push('TransactionConflict');
    const recorded = await store.finishSends(
      messages.map((message) => ({ message, attempt: 1, outcome: delivered })),
      clock(),
    );

    // Assess
    expect(cancelled).toBe(3);
    expect(claims).toEqual([1, 2, 3].map(() => ({ state: 'claimed', attempt: 1 })));
    expect(recorded).toEqual([false, true, true]);
    const [stats] = await store.stats(ws(), campaignId, 1);
    expect(stats).toMatchObject({ sent: 3, delivered: 3, failed: 0 });
    client.destroy();
  });
});

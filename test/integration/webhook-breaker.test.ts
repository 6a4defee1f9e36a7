/**
 * The destination breaker end to end on the local stack (docs/campaigns.md, "Destination
 * breaker"): partner cohort changes → action-based campaigns → the sends queue → the sender
 * → real webhook receivers on loopback. The campaigns' clock stands still unless a test moves
 * it, so the breaker's cooldowns pass only when the test says; claims' leases run on the
 * wall clock. One sender invocation at a time, one webhook in flight, so "K failures" is K
 * requests; a paused destination's messages come back after 1 s (not 30 s to 15 min) so that
 * the queue's receive counts, not the test's patience, bound a deferral.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { LocalStack } from '../../local/stack.js';
import { queueDepth } from '../../local/settle.js';
import { startWebhookReceiver, type WebhookReceiver } from '../../local/webhook-receiver.js';
import { eventually, startTestStack } from '../support/stack.js';
import { applyCohortChanges, partnerClient, workspaceClient } from '../support/client.js';

/** Failures in a row that pause a destination, here. */
const K = 3;
const COOLDOWN_MS = 30_000;

let stack: LocalStack;
/** A receiver of its own, on another origin: it never recovers. */
let deadReceiver: WebhookReceiver;
let nowMs = Date.now();
const clock = () => new Date(nowMs);
const advance = (ms: number) => {
  nowMs += ms;
};

const ws = () => stack.workspace.workspaceId;
const mainOrigin = () => stack.campaigns.receiver.url;

/** Applies changes and waits until the sync has reported them. */
const cohortChanges = (cohortId: string, changes: unknown[]) => applyCohortChanges(stack, cohortId, changes);
const segmentOn = async (cohortId: string): Promise<string> => {
  await partnerClient(stack).nameCohort(cohortId, `Cohort ${cohortId}`);
  await eventually(
    async () => ((await workspaceClient(stack).cohort('heap', cohortId)).status === 200 ? true : undefined),
    30_000,
    `cohort ${cohortId}`,
  );
  const created = await workspaceClient(stack).createSegment({
    name: `on ${cohortId}`,
    filter: { cohort: { partner: 'heap', cohort_id: cohortId, includes: true } },
  });
  return (created.body as { segment: { segment_id: string } }).segment.segment_id;
};
/** An action-based campaign POSTing to `{base}{path}{external_id}` as users enter the segment. */
const campaignTo = async (segmentId: string, base: string, path: string) => {
  const campaign = await stack.campaigns.service.create(ws(), 'campaign', {
    name: `breaker ${path}`,
    segment_ids: [segmentId],
    message: {
      url: `${base}${path}{{ external_id }}`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"user":"{{ external_id }}"}',
    },
    delivery: { type: 'action_based' },
  });
  await stack.campaigns.service.launch(ws(), 'campaign', campaign.campaignId);
  return campaign.campaignId;
};
const figures = async (campaignId: string) =>
  (await stack.campaigns.service.report(ws(), 'campaign', campaignId)).stats[0]!;
/** The campaign's send records: attempt numbers by user. */
const attemptsOf = async (campaignId: string, externalIds: readonly string[]) =>
  Promise.all(
    externalIds.map(async (externalId) => {
      const user = await stack.stores.users.find(ws(), { type: 'external_id', externalId });
      const { Items = [] } = await stack.clients.documents.send(
        new QueryCommand({
          TableName: stack.campaigns.table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': `${ws()}#${campaignId}#S#${user!.brazeId}` },
        }),
      );
      return Items.map((item) => ({ state: item.state as string, attempt: item.attempt as number }));
    }),
  );

beforeAll(async () => {
  deadReceiver = await startWebhookReceiver();
  deadReceiver.answer = () => 503;
  stack = await startTestStack({
    eventsRetryDelayMs: 50,
    campaigns: {
      clock,
      leaseClock: () => new Date(),
      allowList: [`127.0.0.1:${deadReceiver.port}`],
      horizonMs: 0,
      cacheTtlMs: 0,
      leaseMs: 10_000,
      tickEveryMs: 0,
      retry: { baseSeconds: 0, capSeconds: 0, maxAttempts: 8 },
      breaker: {
        failures: K,
        cooldownMs: COOLDOWN_MS,
        maxCooldownMs: 600_000,
        deferBaseSeconds: 0,
        deferCapSeconds: 1,
      },
      senderConcurrency: 1,
      webhooksInFlight: 1,
    },
  });
  await workspaceClient(stack).track(
    ['b0', 'b1', 'b2', 'b3', 'b4', 'd0', 'd1', 'd2', 'd3'].map((externalId) => ({ external_id: externalId })),
  );
});
afterAll(async () => {
  await stack?.stop();
  await deadReceiver?.stop();
});

describe('a receiver that is down for a while', () => {
  it('gets K requests, then one probe per cooldown, then exactly one delivered message per user, with the figures right', async () => {
    // Prepare: the main receiver answers 503 on /down/ until it recovers
    const users = ['b0', 'b1', 'b2', 'b3', 'b4'];
    let down = true;
    stack.campaigns.receiver.answer = (webhook) => (webhook.path.startsWith('/down/') && down ? 503 : 200);
    const received = () => stack.campaigns.receiver.received.filter((webhook) => webhook.path.startsWith('/down/'));
    const breaker = () => stack.campaigns.sender.destinationState(mainOrigin());
    const campaignId = await campaignTo(await segmentOn('down'), mainOrigin(), '/down/');

    // Act 1: five users enter; the receiver fails K requests, and the destination is paused
    await cohortChanges('down', [{ user_ids: users }]);
    const paused = await eventually(
      async () => {
        const state = breaker();
        return state.state === 'open' && state.deferred >= users.length ? state : undefined;
      },
      30_000,
      'the destination paused and its messages deferred',
    );
    const afterPause = received().length;

    // Act 2: the cooldown passes; the probe meets the receiver still down
    advance(COOLDOWN_MS);
    await eventually(
      async () => {
        const state = breaker();
        return state.state === 'open' && state.cooldownMs === 2 * COOLDOWN_MS ? true : undefined;
      },
      30_000,
      'the failed probe',
    );
    const afterProbe = received().length;

    // Act 3: half the doubled cooldown: the messages keep coming back, and none goes out
    advance(COOLDOWN_MS);
    const deferredBefore = (breaker() as { deferred: number }).deferred;
    await eventually(
      async () => ((breaker() as { deferred: number }).deferred >= deferredBefore + users.length ? true : undefined),
      30_000,
      'the messages deferred again',
    );
    const midCooldown = received().length;

    // Act 4: the receiver recovers; at the probe's time its 2XX resumes the destination
    down = false;
    advance(COOLDOWN_MS);
    await eventually(
      async () => ((await figures(campaignId)).delivered === users.length ? true : undefined),
      30_000,
      'every message delivered',
    );
    await stack.settled();

    // Assess: K failures, one failed probe, then one delivery per user
    expect(paused).toMatchObject({ state: 'open', cooldownMs: COOLDOWN_MS });
    expect(afterPause).toBe(K);
    expect(afterProbe).toBe(K + 1);
    expect(midCooldown).toBe(K + 1);
    expect(received()).toHaveLength(K + 1 + users.length);
    const delivered = received().slice(-users.length);
    expect(delivered.map((webhook) => webhook.path).sort()).toEqual(users.map((user) => `/down/${user}`));
    expect(breaker()).toEqual({ state: 'closed', failures: 0 });
    expect(await figures(campaignId)).toMatchObject({ targeted: 5, sent: 5, delivered: 5, failed: 0 });
    // Deferrals used no attempt: a record's attempts are the requests made for it.
    const records = await attemptsOf(campaignId, users);
    const requestsPerUser = users.map(
      (user) => received().filter((webhook) => webhook.path === `/down/${user}`).length,
    );
    expect(records).toEqual(requestsPerUser.map((attempt) => [{ state: 'done', attempt }]));
    expect(await queueDepth(stack.clients.sqs, stack.campaigns.queues.sends.deadLetterQueueUrl)).toBe(0);
  });
});

describe('a receiver that stays down', () => {
  it('ends every message as a counted failure with the reason, none in the DLQ, and holds back no other destination', async () => {
    // Prepare: two campaigns on one segment: one to the dead receiver, one to the main receiver
    const users = ['d0', 'd1', 'd2', 'd3'];
    stack.campaigns.receiver.answer = () => 200;
    const segmentId = await segmentOn('dead');
    const deadCampaign = await campaignTo(segmentId, deadReceiver.url, '/dead/');
    const liveCampaign = await campaignTo(segmentId, mainOrigin(), '/alive/');

    // Act: four users enter; the campaigns' clock stands still, so the dead receiver is never probed
    await cohortChanges('dead', [{ user_ids: users }]);
    const dead = await eventually(
      async () => {
        const stats = await figures(deadCampaign);
        return stats.failed === users.length ? stats : undefined;
      },
      120_000,
      'every message to the dead receiver failed',
    );
    await stack.settled();

    // Assess
    const keys = new Set(deadReceiver.received.map((webhook) => webhook.headers['idempotency-key']));
    expect(deadReceiver.received).toHaveLength(K);
    expect(dead).toMatchObject({ targeted: 4, sent: keys.size, delivered: 0, failed: 4 });
    expect(dead.lastError?.reason).toMatch(
      /^destination paused after repeated failures \(breaker open since \d{4}-\d\d-\d\dT[\d:.]+Z\): given up after 16 receives$/,
    );
    expect(await figures(liveCampaign)).toMatchObject({ targeted: 4, sent: 4, delivered: 4, failed: 0 });
    expect(await queueDepth(stack.clients.sqs, stack.campaigns.queues.sends.deadLetterQueueUrl)).toBe(0);
  });
});

/**
 * The sender with its destination breaker (lib/campaigns/sender.ts), on in-memory ports and a
 * clock the tests move: a paused destination's messages are handed back unsent, their claim
 * released (no attempt used) and no frequency-cap slot taken; a message skipped for another
 * reason is still skipped; after the cooldown one probe goes out; on the receive limit a
 * paused message is failed with its reason. The handler passes each record's receive count
 * and counts deferrals apart from retries.
 */
import { describe, expect, it, vi } from 'vitest';
import type { Context, SQSEvent } from 'aws-lambda';
import type { Campaign, WebhookMessage } from '../../lib/campaigns/model.js';
import type { FinishedSend, FrequencyCap } from '../../lib/campaigns/ports.js';
import type { SendMessage } from '../../lib/campaigns/messages.js';
import { createSender, type SenderPorts, type SendResult } from '../../lib/campaigns/sender.js';
import { createSenderHandler, reportDestinationChange } from '../../functions/sender/app.js';
import { lambdaContext } from '../../local/lambda-context.js';
import { createObservability } from '../../lib/observability.js';
import type { BreakerChange } from '../../lib/webhooks/breaker.js';
import type { WebhookRequest, WebhookResult } from '../../lib/webhooks/safe-http.js';

const START = Date.UTC(2031, 0, 1);
const DOWN = 'https://down.example.com';
const UP = 'https://up.example.com';

const campaignTo = (campaignId: string, url: string, status: Campaign['status'] = 'active'): Campaign => ({
  workspaceId: 'w',
  campaignId,
  kind: 'campaign',
  name: campaignId,
  status,
  segmentIds: ['s'],
  filter: { cohort: { partner: 'heap', cohort_id: 'c', includes: true } },
  delivery: { type: 'scheduled' },
  steps: [
    {
      name: 'only',
      delaySeconds: 0,
      message: { url: `${url}/hook/{{ braze_id }}`, method: 'POST', headers: {}, body: '{}' } as WebhookMessage,
    },
  ],
  createdAt: new Date(START).toISOString(),
  updatedAt: new Date(START).toISOString(),
});

const messageFor = (campaignId: string, user: string): SendMessage => ({
  v: 1,
  workspaceId: 'w',
  campaignId,
  step: 0,
  brazeId: user,
  entry: 'run-1',
  kind: 'run',
  dueAt: new Date(START).toISOString(),
  profile: { user_aliases: [], device_ids: [], custom_attributes: {} },
});

/** The send records, claims and cap as the DynamoDB store keeps them, in memory. */
const senderWith = (options: { answer: (request: WebhookRequest) => number; cap?: FrequencyCap }) => {
  let now = START;
  const campaigns = new Map<string, Campaign>([
    ['to-down', campaignTo('to-down', DOWN)],
    ['to-up', campaignTo('to-up', UP)],
    ['also-down', campaignTo('also-down', DOWN)],
    ['stopped', campaignTo('stopped', DOWN, 'stopped')],
  ]);
  const records = new Map<string, { state: 'sending' | 'retrying' | 'done'; attempt: number }>();
  const keyOf = (message: SendMessage) => `${message.campaignId}/${message.brazeId}`;
  const requests: WebhookRequest[] = [];
  const admitted: string[] = [];
  const finished: FinishedSend[] = [];
  const released: string[] = [];
  const changes: BreakerChange[] = [];
  const ports: SenderPorts = {
    campaigns: {
      get: async (_workspaceId, campaignId) => campaigns.get(campaignId),
      reserveSlots: async () => {
        throw new Error('no campaign here has a send-rate limit');
      },
      claimSends: async (messages) =>
        messages.map((message) => {
          const record = records.get(keyOf(message));
          if (record?.state === 'done') return { state: 'done' };
          const attempt = (record?.attempt ?? 0) + 1;
          records.set(keyOf(message), { state: 'sending', attempt });
          return { state: 'claimed', attempt };
        }),
      markRetrying: async (message, attempt) => {
        records.set(keyOf(message), { state: 'retrying', attempt });
      },
      releaseSend: async (message, attempt) => {
        released.push(keyOf(message));
        records.set(keyOf(message), { state: 'retrying', attempt: attempt - 1 });
      },
      finishSends: async (sends) => {
        for (const send of sends) records.set(keyOf(send.message), { state: 'done', attempt: send.attempt });
        finished.push(...sends);
        return sends.map(() => true);
      },
      getEntry: async () => undefined,
      exit: async () => true,
      getFrequencyCap: async () => options.cap,
      admit: async (_workspaceId, brazeId) => {
        admitted.push(brazeId);
        return admitted.filter((user) => user === brazeId).length <= (options.cap?.maxMessages ?? Infinity);
      },
    },
    memberships: { memberOf: async () => new Set() },
    users: { getProfile: async () => undefined },
    webhooks: {
      send: async (request): Promise<WebhookResult> => {
        requests.push(request);
        return { kind: 'response', status: options.answer(request), headers: {} } as unknown as WebhookResult;
      },
    },
    clock: () => new Date(now),
    random: () => 0,
    retry: { baseSeconds: 0, capSeconds: 0 },
    cacheTtlMs: 0,
    // One at a time, so that "the 3rd failure" is one request, not whichever of 10 in flight answered third.
    concurrency: 1,
    breaker: { failures: 3, cooldownMs: 30_000, maxCooldownMs: 600_000 },
    onDestinationChange: (change) => changes.push(change),
  };
  return {
    sender: createSender(ports),
    requests,
    admitted,
    finished,
    released,
    changes,
    records,
    advance: (ms: number) => {
      now += ms;
    },
  };
};

const users = (campaignId: string, count: number, from = 0) =>
  Array.from({ length: count }, (_, index) => messageFor(campaignId, `u${from + index}`));

describe('the sender with a destination breaker', () => {
  it('sends K messages to a failing destination, then hands the rest back unsent: no attempt used, no cap slot taken', async () => {
    // Prepare: DOWN answers 503; a cap of 5 per user (so admissions are visible)
    const world = senderWith({
      answer: (request) => (request.url.startsWith(DOWN) ? 503 : 200),
      cap: { maxMessages: 5, windowSeconds: 86_400 },
    });

    // Act: 6 users to DOWN, and 2 to UP in the same batch
    const results = await world.sender.sendBatch([...users('to-down', 6), ...users('to-up', 2, 6)]);

    // Assess
    const downRequests = world.requests.filter((request) => request.url.startsWith(DOWN));
    expect(downRequests).toHaveLength(3);
    // The retry whose failure paused DOWN comes back no sooner than the probe (30 s), the earlier ones at once.
    expect(results.slice(0, 3)).toEqual(
      [0, 0, 30].map((delaySeconds) => ({ kind: 'retry', reason: 'receiver answered 503', delaySeconds })),
    );
    const paused = `destination paused after repeated failures (breaker open since ${new Date(START).toISOString()})`;
    expect(results.slice(3, 6)).toEqual(
      // Until the probe, 30 s (the delay's jitter is 0 here).
      [1, 2, 3].map(() => ({ kind: 'retry', reason: paused, delaySeconds: 30, deferred: true })),
    );
    expect(results.slice(6)).toEqual([1, 2].map(() => ({ kind: 'done', outcome: { kind: 'delivered', status: 200 } })));
    expect(world.released).toEqual(['to-down/u3', 'to-down/u4', 'to-down/u5']);
    // Released back to attempt 0: the next claim is attempt 1 again.
    expect(world.records.get('to-down/u4')).toEqual({ state: 'retrying', attempt: 0 });
    expect(world.admitted).toEqual(['u0', 'u1', 'u2', 'u6', 'u7']);
    expect(world.changes).toEqual([
      { kind: 'opened', destination: DOWN, atMs: START, openSinceMs: START, cooldownMs: 30_000, probeFailed: false },
    ]);
    expect(world.sender.destinationState(DOWN)).toMatchObject({ state: 'open', deferred: 3 });
  });

  it('still skips a message for a stopped campaign while its destination is paused', async () => {
    // Prepare: DOWN paused
    const world = senderWith({ answer: () => 503 });
    await world.sender.sendBatch(users('to-down', 3));

    // Act
    const [stopped] = await world.sender.sendBatch([messageFor('stopped', 'u9')]);

    // Assess
    expect(stopped).toEqual({ kind: 'done', outcome: { kind: 'skipped', reason: 'campaign_stopped' } });
  });

  it('lets one probe out after the cooldown; its 2XX resumes the destination for the rest', async () => {
    // Prepare: DOWN paused by 3 failures; then it recovers
    let down = true;
    const world = senderWith({ answer: () => (down ? 503 : 200) });
    await world.sender.sendBatch(users('to-down', 3));
    down = false;
    world.advance(30_000);

    // Act: 3 messages after the cooldown, with 10 in flight allowed by the batch
    const results = await world.sender.sendBatch(users('to-down', 3, 10));
    const again = await world.sender.sendBatch(users('to-down', 2, 10));

    // Assess: the first was the probe; the next two came after its answer, so were sent too
    expect(world.requests).toHaveLength(3 + 3);
    expect(results.every((result) => result.kind === 'done')).toBe(true);
    expect(again).toEqual([{ kind: 'done' }, { kind: 'done' }]);
    expect(world.changes.map((change) => change.kind)).toEqual(['opened', 'closed']);
    expect(world.sender.destinationState(DOWN)).toEqual({ state: 'closed', failures: 0 });
  });

  it('lets the next message probe when the first one after the cooldown is capped (never sent)', async () => {
    // Prepare: DOWN paused by u0..u2, each of whom used the cap of 1; then DOWN recovers
    let down = true;
    const world = senderWith({ answer: () => (down ? 503 : 200), cap: { maxMessages: 1, windowSeconds: 86_400 } });
    await world.sender.sendBatch(users('to-down', 3));
    down = false;
    world.advance(30_000);

    // Act: another campaign's message for u0 (capped), then u5's
    const results = await world.sender.sendBatch([messageFor('also-down', 'u0'), messageFor('to-down', 'u5')]);

    // Assess: u0's was the probe's turn but never went out; u5's was the probe and resumed DOWN
    expect(results).toEqual([
      { kind: 'done', outcome: { kind: 'skipped', reason: 'frequency_cap' } },
      { kind: 'done', outcome: { kind: 'delivered', status: 200 } },
    ]);
    expect(world.requests).toHaveLength(4);
    expect(world.changes.map((change) => change.kind)).toEqual(['opened', 'closed']);
  });

  it('fails a paused message on the receive limit, with the reason, and says whether it had gone out before', async () => {
    // Prepare: DOWN paused by u0..u2's first attempts
    const world = senderWith({ answer: () => 503 });
    await world.sender.sendBatch(users('to-down', 4));

    // Act: on receive 16 (the limit): u0 had one attempt, u3 none
    const results = await world.sender.sendBatch([messageFor('to-down', 'u0'), messageFor('to-down', 'u3')], {
      receiveCounts: [16, 16],
    });
    const before = await world.sender.sendBatch([messageFor('to-down', 'u4')], { receiveCounts: [15] });

    // Assess
    const reason = `destination paused after repeated failures (breaker open since ${new Date(START).toISOString()}): given up after 16 receives`;
    expect(results).toEqual([
      { kind: 'done', outcome: { kind: 'failed', status: 0, sent: true, reason } },
      { kind: 'done', outcome: { kind: 'failed', status: 0, sent: false, reason } },
    ]);
    expect(before[0]).toMatchObject({ kind: 'retry', deferred: true });
    expect(world.requests).toHaveLength(3);
  });
});

describe('the sender handler', () => {
  it('passes each record’s receive count to the sender and counts a deferral as webhookDeferred, not a retry', async () => {
    // Prepare: a sender that defers everything; metrics recorded
    const seen: (number | undefined)[][] = [];
    const metrics: string[] = [];
    const later: number[] = [];
    const sender = {
      send: async () => ({ kind: 'done' }) as SendResult,
      sendBatch: async (
        messages: readonly SendMessage[],
        options: { receiveCounts?: readonly (number | undefined)[] },
      ) => {
        seen.push([...(options.receiveCounts ?? [])]);
        return messages.map(
          (): SendResult => ({ kind: 'retry', delaySeconds: 42, reason: 'destination paused', deferred: true }),
        );
      },
      destinationState: () => ({ state: 'closed' as const, failures: 0 }),
    };
    const observability = await createObservability('sender');
    vi.spyOn(observability.metrics, 'addMetric').mockImplementation((name) => {
      metrics.push(name);
      return observability.metrics;
    });
    const handler = createSenderHandler({
      sender: sender as unknown as ReturnType<typeof createSender>,
      retryLater: async (_receiptHandle, seconds) => void later.push(seconds),
      observability,
    });
    const body = JSON.stringify(messageFor('to-down', 'u1'));
    const record = (receives: string) => ({
      messageId: `m${receives}`,
      receiptHandle: `r${receives}`,
      body,
      attributes: {
        ApproximateReceiveCount: receives,
        SentTimestamp: '0',
        SenderId: 'x',
        ApproximateFirstReceiveTimestamp: '0',
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:sends',
      awsRegion: 'us-east-1',
    });

    // Act
    const response = await handler(
      { Records: [record('1'), record('7')] } as SQSEvent,
      lambdaContext('sender', 30_000) as Context,
    );

    // Assess
    expect(seen).toEqual([[1, 7]]);
    expect(later).toEqual([42, 42]);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm1' }, { itemIdentifier: 'm7' }]);
    expect(metrics).toEqual(['webhookDeferred', 'webhookDeferred']);
  });

  it('logs and counts a destination paused and resumed with its origin and times only', async () => {
    // Prepare
    const observability = await createObservability('sender');
    const metrics: string[] = [];
    const logged: unknown[][] = [];
    vi.spyOn(observability.metrics, 'addMetric').mockImplementation((name) => {
      metrics.push(name);
      return observability.metrics;
    });
    vi.spyOn(observability.logger, 'warn').mockImplementation((...args: unknown[]) => void logged.push(args));
    // Both at WARN (npm start shows WARN and above): the resume is seen wherever the pause was.
    const report = reportDestinationChange(observability);

    // Act
    report({
      kind: 'opened',
      destination: DOWN,
      atMs: START,
      openSinceMs: START,
      cooldownMs: 30_000,
      probeFailed: false,
    });
    report({ kind: 'closed', destination: DOWN, atMs: START + 90_000, openSinceMs: START, deferred: 12 });

    // Assess
    expect(metrics).toEqual(['webhookDestinationPaused', 'webhookDestinationResumed']);
    expect(logged).toEqual([
      [
        'webhook destination paused after repeated failures',
        { destination: DOWN, openSince: new Date(START).toISOString(), cooldownSeconds: 30, probeFailed: false },
      ],
      ['webhook destination resumed: its probe was delivered', { destination: DOWN, pausedSeconds: 90, deferred: 12 }],
    ]);
  });
});

/**
 * The send-rate limit held at send time (lib/campaigns/sender.ts, `holdRateLimits`): a paced
 * message that comes more than LATE_TOLERANCE_MS after its slot (a destination paused and
 * resumed, a retry, a restart, a sender that fell behind) takes a new slot and is queued again
 * for it, instead of going out with the backlog; one that comes early waits for its slot. Over
 * in-memory ports and a pacer that follows the pure rule (lib/campaigns/pacing.ts).
 */
import { describe, expect, it } from 'vitest';
import type { Campaign, WebhookMessage } from '../../lib/campaigns/model.js';
import type { SendMessage } from '../../lib/campaigns/messages.js';
import { assignSlots } from '../../lib/campaigns/pacing.js';
import { createSender, LATE_TOLERANCE_MS, type SenderPorts } from '../../lib/campaigns/sender.js';
import type { WebhookResult } from '../../lib/webhooks/requests.js';

const NOW = Date.UTC(2031, 0, 1, 12);

const campaign: Campaign = {
  workspaceId: 'w',
  campaignId: 'paced',
  kind: 'campaign',
  name: 'paced',
  status: 'active',
  segmentIds: ['s'],
  filter: { cohort: { partner: 'heap', cohort_id: 'c', includes: true } },
  delivery: { type: 'scheduled' },
  rateLimitPerMinute: 60,
  steps: [
    {
      name: 'only',
      delaySeconds: 0,
      message: { url: 'https://up.example.com/hook', method: 'POST', headers: {}, body: '{}' } as WebhookMessage,
    },
  ],
  createdAt: new Date(NOW).toISOString(),
  updatedAt: new Date(NOW).toISOString(),
};

const message = (user: string, dueAt: number): SendMessage => ({
  v: 1,
  workspaceId: 'w',
  campaignId: 'paced',
  step: 0,
  brazeId: user,
  entry: 'run-1',
  kind: 'run',
  dueAt: new Date(dueAt).toISOString(),
  paced: true,
  profile: { user_aliases: [], device_ids: [], custom_attributes: {} },
});

const world = (pacerNext?: number) => {
  let pacer = pacerNext;
  const posted: string[] = [];
  const released: string[] = [];
  const queued: { message: SendMessage; delaySeconds?: number }[] = [];
  const reservations: number[] = [];
  const ports: SenderPorts = {
    campaigns: {
      get: async () => campaign,
      reserveSlots: async (_w, _c, dues, perMinute) => {
        reservations.push(dues.length);
        const reserved = assignSlots(pacer, dues, perMinute);
        pacer = reserved.next;
        return reserved.slots;
      },
      claimSends: async (messages) => messages.map(() => ({ state: 'claimed', attempt: 1 }) as const),
      markRetrying: async () => undefined,
      releaseSend: async (sent) => void released.push(sent.brazeId),
      finishSends: async (sends) => sends.map(() => true),
      getEntry: async () => undefined,
      exit: async () => true,
      getFrequencyCap: async () => undefined,
      admit: async () => true,
    },
    sends: { send: async (messages) => void queued.push(...messages) },
    memberships: { memberOf: async () => new Set() },
    users: { getProfile: async () => undefined },
    webhooks: {
      send: async (request): Promise<WebhookResult> => {
        posted.push(request.url);
        return { kind: 'response', status: 200, body: '' };
      },
    },
    clock: () => new Date(NOW),
    cacheTtlMs: 0,
    breaker: false,
  };
  return { sender: createSender(ports), posted, released, queued, reservations };
};

describe('the send-rate limit at send time', () => {
  it("spreads a backlog that comes at once (a paused destination's, a restart's): one goes now, the rest get new slots a second apart", async () => {
    // Prepare: ten messages whose slots were a minute ago, one a second (60 a minute); the pacer idle since.
    const { sender, posted, released, queued, reservations } = world(NOW - 50_000);
    const backlog = Array.from({ length: 10 }, (_, index) => message(`u${index}`, NOW - 60_000 + index * 1_000));

    // Act
    const results = await sender.sendBatch(backlog);

    // Assess: one reservation for the batch; u0 takes the slot that is now, the others go
    // again 1…9 s from now, unsent and unclaimed (their claims given back), each once.
    expect(reservations).toEqual([10]);
    expect(posted).toHaveLength(1);
    expect(results[0]).toMatchObject({ kind: 'done', outcome: { kind: 'delivered' } });
    expect(released).toEqual(backlog.slice(1).map((sent) => sent.brazeId));
    expect(queued.map(({ message: sent, delaySeconds }) => [sent.brazeId, sent.dueAt, delaySeconds])).toEqual(
      backlog
        .slice(1)
        .map((sent, index) => [sent.brazeId, new Date(NOW + (index + 1) * 1_000).toISOString(), index + 1]),
    );
    for (const result of results.slice(1))
      expect(result).toMatchObject({ kind: 'done', repacedTo: expect.any(String) });
  });

  it('waits behind slots other messages hold: a late message goes after them', async () => {
    // Prepare: the pacer's next free slot is 30 s ahead (a run's messages hold the ones before).
    const { sender, posted, queued } = world(NOW + 30_000);

    // Act
    await sender.sendBatch([message('late', NOW - 10_000)]);

    // Assess
    expect(posted).toEqual([]);
    expect(queued).toMatchObject([
      { message: { brazeId: 'late', dueAt: new Date(NOW + 30_000).toISOString() }, delaySeconds: 30 },
    ]);
  });

  it('sends a message on time (up to the tolerance late) without reserving, and hands one back that came before its slot', async () => {
    const { sender, posted, queued, reservations } = world(NOW + 3_600_000);

    const results = await sender.sendBatch([
      message('on-time', NOW - LATE_TOLERANCE_MS + 1),
      message('early', NOW + 20 * 60_000),
    ]);

    expect(reservations).toEqual([]);
    expect(posted).toHaveLength(1);
    expect(results[1]).toMatchObject({ kind: 'retry', delaySeconds: 1_200, deferred: true });
    expect(queued).toEqual([]);
  });

  it('leaves messages of a campaign without a limit, or not paced, as they are', async () => {
    const { sender, posted, reservations } = world(NOW + 3_600_000);
    const { paced: _paced, ...unpaced } = message('unpaced', NOW - 600_000);

    await sender.sendBatch([unpaced]);

    expect(reservations).toEqual([]);
    expect(posted).toHaveLength(1);
  });
});

/**
 * The send-rate limit's rule (lib/campaigns/pacing.ts) and how the journeys apply it
 * (lib/campaigns/journeys.ts): slots an interval apart, none before its message is due or
 * before now, a paced message never paced again, and a run's audience read no faster than
 * the limit sends it.
 */
import { describe, expect, it } from 'vitest';
import { assignSlots, pacedChunkUsers, secondsToLastMessage, slotIntervalMs } from '../../lib/campaigns/pacing.js';
import { createJourneys, type JourneyPorts } from '../../lib/campaigns/journeys.js';
import type { SendMessage, WorkMessage } from '../../lib/campaigns/messages.js';
import type { Campaign } from '../../lib/campaigns/model.js';
import type { Timer } from '../../lib/campaigns/ports.js';

const T0 = Date.UTC(2031, 0, 1);

describe('assignSlots', () => {
  it('spreads messages due together one interval apart, from the first free instant', () => {
    // 600 a minute: one every 100 ms.
    expect(slotIntervalMs(600)).toBe(100);
    const { slots, next } = assignSlots(undefined, [T0, T0, T0], 600);
    expect(slots).toEqual([T0, T0 + 100, T0 + 200]);
    expect(next).toBe(T0 + 300);

    // A later reservation starts where the last one ended.
    expect(assignSlots(next, [T0], 600)).toEqual({ slots: [T0 + 300], next: T0 + 400 });
  });

  it('never gives a slot before its message is due; a pacer idle since then adds no delay', () => {
    expect(assignSlots(T0, [T0 + 5_000], 600)).toEqual({ slots: [T0 + 5_000], next: T0 + 5_100 });
  });

  it('takes messages in due order and answers in input order', () => {
    const { slots } = assignSlots(undefined, [T0 + 50, T0, T0 + 50], 600);
    expect(slots).toEqual([T0 + 100, T0, T0 + 200]);
  });

  it('keeps any window of a minute at or under the limit, whatever the dues', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (const perMinute of [10, 77, 600, 500_000]) {
      let next: number | undefined;
      const all: number[] = [];
      for (let batch = 0; batch < 20; batch += 1) {
        const dues = Array.from({ length: 1 + Math.floor(random() * 50) }, () => T0 + Math.floor(random() * 120_000));
        const reserved = assignSlots(next, dues, perMinute);
        next = reserved.next;
        for (const [index, slot] of reserved.slots.entries()) expect(slot).toBeGreaterThanOrEqual(dues[index]!);
        all.push(...reserved.slots);
      }
      all.sort((a, b) => a - b);
      // Any perMinute + 1 consecutive slots span at least a minute (to within float rounding: slots are
      // fractional ms since the epoch, ≈ 2e12, so sums carry ≈ 1e-4 ms of error; sends are whole seconds).
      for (let index = perMinute; index < all.length; index += 1)
        expect(all[index]! - all[index - perMinute]!).toBeGreaterThanOrEqual(60_000 - 0.01);
      for (let index = 1; index < all.length; index += 1)
        expect(all[index]! - all[index - 1]!).toBeGreaterThanOrEqual(slotIntervalMs(perMinute) - 0.01);
    }
  });

  it('leaves an unused pacer as it was', () => {
    expect(assignSlots(undefined, [], 10)).toEqual({ slots: [], next: undefined });
    expect(assignSlots(T0, [], 10)).toEqual({ slots: [], next: T0 });
  });
});

describe('pacedChunkUsers', () => {
  it('reads about what the limit sends within the horizon, 1 to the chunk size', () => {
    expect(pacedChunkUsers(10, 300_000, 5_000)).toBe(50);
    expect(pacedChunkUsers(500_000, 300_000, 5_000)).toBe(5_000);
    expect(pacedChunkUsers(10, 1_000, 5_000)).toBe(1);
  });
});

describe('secondsToLastMessage', () => {
  it("is the limit's pace, or the sending path's when that is slower", () => {
    // 1M users at 1,000 a minute: the last slot is 999,999 intervals of 60 ms after the first.
    expect(secondsToLastMessage(1_000_000, 1_000, 5_000)).toBeCloseTo(59_999.94, 2);
    // At 500,000 a minute (8,333/s) a path of 2,000/s binds: 500 s.
    expect(secondsToLastMessage(1_000_000, 500_000, 2_000)).toBe(500);
    expect(secondsToLastMessage(1_000_000, undefined, 2_000)).toBe(500);
  });
});

/** Journeys over in-memory ports: a campaign with a limit, a pacer, a sends queue, timers and a work queue. */
const world = (campaign: Partial<Campaign>, options: { pacerNext?: number } = {}) => {
  let now = T0;
  let pacer = options.pacerNext;
  const sent: { message: SendMessage; delaySeconds?: number }[] = [];
  const timers: Timer[] = [];
  const work: { messages: WorkMessage[]; delaySeconds?: number }[] = [];
  const definition = {
    workspaceId: 'w',
    campaignId: 'c',
    kind: 'campaign',
    status: 'active',
    filter: { all: [] },
    delivery: { type: 'scheduled' },
    steps: [{ name: 's', delaySeconds: 0, message: { url: 'https://x.test', method: 'POST', headers: {}, body: '' } }],
    ...campaign,
  } as unknown as Campaign;
  const ports = {
    clock: () => new Date(now),
    cacheTtlMs: 0,
    campaigns: {
      get: async () => definition,
      pacerNext: async () => pacer,
      reserveSlots: async (_w: string, _c: string, dues: number[], perMinute: number) => {
        const reserved = assignSlots(pacer, dues, perMinute);
        pacer = reserved.next;
        return reserved.slots;
      },
      putTimers: async (added: Timer[]) => void timers.push(...added),
      dueTimers: async (_shard: number, until: Date, limit: number) =>
        timers.filter((timer) => Date.parse(timer.dueAt) <= until.getTime()).slice(0, limit),
      deleteTimers: async (done: Timer[]) => {
        for (const timer of done) timers.splice(timers.indexOf(timer), 1);
      },
      getRange: async () => ({ range: 0, chunks: 0, targeted: 0, done: false }),
      advanceRange: async () => true,
    },
    sends: { send: async (messages: typeof sent) => void sent.push(...messages) },
    work: {
      send: async (messages: WorkMessage[], delaySeconds?: number) =>
        void work.push({ messages, ...(delaySeconds !== undefined ? { delaySeconds } : {}) }),
    },
    segmentSources: {
      memberships: {},
      users: {
        getProfiles: async (_w: string, ids: string[]) =>
          ids.map((brazeId) => ({ brazeId, aliases: [], deviceIds: [], customAttributes: {} })),
      },
    },
  } as unknown as JourneyPorts;
  return {
    journeys: createJourneys(ports),
    sent,
    timers,
    work,
    advance: (ms: number) => {
      now += ms;
    },
  };
};

const stepMessage = (brazeId: string, dueAt: number, extra: Partial<SendMessage> = {}): SendMessage => ({
  v: 1,
  workspaceId: 'w',
  campaignId: 'c',
  step: 1,
  brazeId,
  entry: 'e',
  kind: 'entry',
  dueAt: new Date(dueAt).toISOString(),
  ...extra,
});

describe('journeys under a send-rate limit', () => {
  it('paces a drained timer once, at its slot, and keeps a slot past the horizon as a timer', async () => {
    // Prepare: 60 a minute (one a second); four step messages due now, kept as timers.
    const { journeys, sent, timers } = world({ kind: 'canvas', rateLimitPerMinute: 60 });
    timers.push(
      ...['a', 'b', 'c', 'd'].map((id) => ({
        timerId: id,
        dueAt: new Date(T0).toISOString(),
        message: stepMessage(id, T0),
      })),
    );

    // Act
    await journeys.drainTimers(0, () => false);

    // Assess: one second apart, each marked paced; nothing left as a timer within the horizon.
    expect(
      sent.map(({ message, delaySeconds }) => [message.brazeId, message.dueAt, message.paced, delaySeconds]),
    ).toEqual(['a', 'b', 'c', 'd'].map((id, index) => [id, new Date(T0 + index * 1000).toISOString(), true, index]));
    expect(timers).toEqual([]);
  });

  it('does not pace a paced message again', async () => {
    const { journeys, sent, timers } = world({ rateLimitPerMinute: 10 }, { pacerNext: T0 + 3_600_000 });
    const paced = stepMessage('a', T0 + 1_000, { paced: true });
    timers.push({ timerId: 'a', dueAt: paced.dueAt, message: paced });
    await journeys.drainTimers(0, () => false);
    expect(sent).toEqual([{ message: paced, delaySeconds: 1 }]);
  });

  it('gives no slot before now to messages drained late (no burst after a pause)', async () => {
    const { journeys, sent, timers, advance } = world({ rateLimitPerMinute: 600 });
    timers.push(
      ...['a', 'b'].map((id) => ({ timerId: id, dueAt: new Date(T0).toISOString(), message: stepMessage(id, T0) })),
    );
    advance(60_000);
    await journeys.drainTimers(0, () => false);
    expect(sent.map(({ message }) => Date.parse(message.dueAt))).toEqual([T0 + 60_000, T0 + 60_100]);
  });

  it('waits with a run chunk while the pacer is more than the horizon ahead', async () => {
    const takeAll = {
      v: 1,
      type: 'campaign.audience',
      workspaceId: 'w',
      campaignId: 'c',
      runId: 'R1',
      range: 0,
      chunk: 0,
    } as const;
    // The pacer is 20 minutes ahead: the chunk reads nobody and comes back in 15 (the horizon is 5).
    const ahead = world({ rateLimitPerMinute: 10 }, { pacerNext: T0 + 20 * 60_000 });
    const result = await ahead.journeys.runAudienceChunk(takeAll, () => false);
    expect(result).toEqual({ users: 0, done: false });
    expect(ahead.work).toEqual([{ messages: [takeAll], delaySeconds: 15 * 60 }]);
    expect(ahead.sent).toEqual([]);
  });
});

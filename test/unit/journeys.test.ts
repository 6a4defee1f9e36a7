/**
 * A run's audience chunks (lib/campaigns/journeys.ts): a range whose worker died between
 * advancing it and queueing the next chunk is not stranded. The next copy of an older chunk
 * (SQS redelivers the message that died) queues the chunk where the range stands.
 */
import { describe, expect, it } from 'vitest';
import { createJourneys, type JourneyPorts } from '../../lib/campaigns/journeys.js';
import type { RunRange, WorkQueue } from '../../lib/campaigns/ports.js';

const unused = () => {
  throw new Error('not used by this test');
};

const portsWith = (range: RunRange | undefined, queued: unknown[]): JourneyPorts =>
  ({
    campaigns: { getRange: async () => range },
    work: { send: async (messages: unknown[]) => void queued.push(...messages) } as unknown as WorkQueue,
    sends: { send: unused },
    memberships: { memberOf: unused },
    segmentSources: {},
    clock: () => new Date(Date.UTC(2031, 0, 1)),
  }) as unknown as JourneyPorts;

const chunkMessage = (chunk: number) =>
  ({ v: 1, type: 'campaign.audience', workspaceId: 'w', campaignId: 'c', runId: 'R1', range: 3, chunk }) as const;

describe('a run audience chunk', () => {
  it('queues the chunk where its range stands when an older chunk comes again (the next one was never queued)', async () => {
    // Prepare: the range advanced to chunk 2; the message for chunk 2 was lost with its worker.
    const queued: unknown[] = [];
    const journeys = createJourneys(portsWith({ range: 3, chunks: 2, targeted: 10, done: false }, queued));

    // Act: SQS redelivers the message of chunk 1.
    const result = await journeys.runAudienceChunk(chunkMessage(1), () => false);

    // Assess
    expect(result).toBeUndefined();
    expect(queued).toEqual([chunkMessage(2)]);
  });

  it('queues nothing for a finished range, a range not begun, or a chunk ahead of its range', async () => {
    for (const range of [
      { range: 3, chunks: 2, targeted: 10, done: true },
      undefined,
      { range: 3, chunks: 0, targeted: 0, done: false },
    ]) {
      const queued: unknown[] = [];
      expect(
        await createJourneys(portsWith(range, queued)).runAudienceChunk(chunkMessage(1), () => false),
      ).toBeUndefined();
      expect(queued).toEqual([]);
    }
  });
});

/**
 * One minute of the campaign soak (test/support/campaign-soak.ts; `npm run soak --
 * --campaigns --minutes N` runs it longer): random cohort churn, campaigns and Canvases
 * launched and stopped (some raced), API triggers (recipients in and out of the segment, replays
 * with an Idempotency-Key, broadcasts), custom events through /users/track (entries, replayed calls,
 * exit events), re-eligibility, frequency-cap changes, receivers that
 * fail, time out or outlive their sender, DynamoDB throttling on the campaigns functions,
 * redelivered messages and events, partner switches and key rotations, the campaigns' clock
 * moved between settled rounds; every webhook held to the serial oracle. Seeded: `SOAK_SEED=S npx vitest run test/integration/campaign-soak.test.ts`
 * (or `npm run soak -- --campaigns --minutes 1 --seed S`) replays the soak's choices round by round.
 */
import { randomInt } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { formatCampaignSummary, runCampaignSoak } from '../support/campaign-soak.js';

const seed = process.env.SOAK_SEED ? Number(process.env.SOAK_SEED) : randomInt(1_000_000);
/** Above the soak's own bound on each settle, so that a stall ends with what was still queued. */
const TIMEOUT_MS = 20 * 60_000;

describe('the campaign soak', () => {
  it(
    'sends every message the oracle expects, once, never early, never after exit or stop, with exact figures',
    async () => {
      // Prepare
      const replay = `seed ${seed}; replay: SOAK_SEED=${seed} npx vitest run test/integration/campaign-soak.test.ts`;
      console.log(`[campaign soak] ${replay}`);

      // Act
      const summary = await runCampaignSoak({
        minutes: 1,
        minRounds: 20,
        seed,
        log: (line) => console.log(`[campaign soak] ${line}`),
        sqsEndpoint: inject('sqsEndpoint'),
        dynamoDbEndpoint: inject('dynamoDbEndpoint'),
      });
      console.log(formatCampaignSummary(summary));

      // Assess: exact, and the soak really did what it is about.
      expect(summary.mismatches, replay).toEqual([]);
      expect(summary.mismatchCount, replay).toBe(0);
      expect(summary.webhooksChecked, replay).toBeGreaterThan(0);
      // Each forced fault and kind happened: a Canvas, each kind of campaign, and every first answer
      // (a sender dying during the request, a timeout, 429, 500, 400).
      expect(summary.owed, replay).toEqual([]);
      expect(summary.counts['frequency cap changed'], replay).toBeGreaterThanOrEqual(2);
      expect(summary.counts['keys refused after their grace'], replay).toBeGreaterThanOrEqual(1);
      expect(summary.counts['API triggers'], replay).toBeGreaterThanOrEqual(1);
      expect(summary.counts['event entries'], replay).toBeGreaterThanOrEqual(1);
    },
    TIMEOUT_MS,
  );
});

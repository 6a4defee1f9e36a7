/**
 * One minute of the chaos soak (test/support/soak.ts; `npm run soak -- --minutes N` runs
 * it longer): partners, REST clients and injected faults at once against one local stack,
 * then the store against the serial oracle, every flip against its event, every answer
 * against what was expected.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { inject } from 'vitest';
import { runSoak } from '../support/soak.js';

describe('the chaos soak', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it(
    'ends in the serial oracle state with every flip published, no 5XX but the injected 503s, and an empty DLQ',
    async () => {
      // Prepare: the local pollers print each failed batch; here every one of them is injected.
      const printError = console.error;
      vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
        if (typeof args[0] === 'string' && /^\[(sync|events|export|currents)\] /.test(args[0])) return;
        printError(...args);
      });

      // Act
      const summary = await runSoak({
        minutes: 1,
        sqsEndpoint: inject('sqsEndpoint'),
        dynamoDbEndpoint: inject('dynamoDbEndpoint'),
      });

      // Assess: exact, and the chaos really happened.
      expect(summary.mismatches, summary.diagnostics.join('\n')).toEqual([]);
      expect(summary.mismatchCount).toBe(0);
      expect(summary.deadLettersAtEnd).toBe(0);
      const injected = (kind: RegExp) =>
        Object.entries(summary.faults).reduce((sum, [name, count]) => sum + (kind.test(name) ? count : 0), 0);
      expect(injected(/^sync died/)).toBeGreaterThan(0);
      expect(injected(/^ingest queue refused/)).toBeGreaterThan(0);
      expect(injected(/^duplicate deliveries/)).toBeGreaterThan(0);
      // One storm in three is severe, at random: a minute holds a few, all severe now and then.
      expect(injected(/^(severe )?throttling storms/)).toBeGreaterThan(0);
      expect(injected(/^DynamoDB throttled/)).toBeGreaterThan(0);
      expect(injected(/^cohort store outages/)).toBe(1);
      expect(injected(/^dead letters redriven/)).toBeGreaterThan(0);
      expect(summary.requests['partner cohort deltas']).toBeGreaterThan(100);
    },
    10 * 60_000,
  );
});

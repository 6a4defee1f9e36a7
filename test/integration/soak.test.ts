/**
 * One minute of the chaos soak (test/support/soak.ts; `npm run soak -- --minutes N` runs
 * it longer): partners, REST clients and injected faults at once against one local stack,
 * then the store against the serial oracle, every flip against its event, every answer
 * against what was expected.
 *
 * Seeded: the seed is printed when the soak starts and in every failure; `SOAK_SEED=S npm
 * test -- test/integration/soak.test.ts` (or `npm run soak -- --minutes 1 --seed S`) runs the
 * same random choices again. The faults asserted below are forced to fire at least once
 * (test/support/soak.ts, `owed` and the storms), not left to the dice, and the chaos lasts
 * until the partners' share of work is done, so a slower machine soaks as much, for longer.
 */
import { randomInt } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { inject } from 'vitest';
import { startDynamoDbEmulator, type Emulator } from '../../local/emulators.js';
import { runSoak } from '../support/soak.js';

const seed = process.env.SOAK_SEED ? Number(process.env.SOAK_SEED) : randomInt(1_000_000);
/** Above the sum of the soak's own bounds (setup 3 min, the chaos its minute + 5, everything after it 15), so that a stall ends in its message. */
const TIMEOUT_MS = 40 * 60_000;

/**
 * A DynamoDB Local of its own. The suite's shared one serves every statement through one
 * SQLite thread and holds, by the time the soak runs, the tables of every earlier test
 * file (160 in CI): there a GetItem took 2.6 s and a 100-key BatchGetItem 16 s, the sync
 * drained 0.6 requests/s and the soak ran into its timeout (stop 23), where on an emulator
 * of its own the same soak drains in seconds. The soak measures the service, not the
 * emulator's history.
 */
let dynamodb: Emulator;
beforeAll(async () => {
  dynamodb = await startDynamoDbEmulator();
});
afterAll(async () => {
  await dynamodb?.stop();
});

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
      const replay = `seed ${seed}; replay: SOAK_SEED=${seed} npx vitest run test/integration/soak.test.ts`;
      console.log(`[soak] ${replay}`);

      // Act
      const summary = await runSoak({
        minutes: 1,
        minPartnerDeltas: 200,
        seed,
        // Progress (setup, the outage, the drain) in the test's output: where a slow run spent its time.
        log: (line) => console.log(`[soak] ${line}`),
        sqsEndpoint: inject('sqsEndpoint'),
        dynamoDbEndpoint: dynamodb.endpoint,
      });

      // Assess: exact, and the chaos really happened.
      expect(summary.mismatches, `${replay}\n${summary.diagnostics.join('\n')}`).toEqual([]);
      expect(summary.mismatchCount, replay).toBe(0);
      expect(summary.deadLettersAtEnd, replay).toBe(0);
      const injected = (kind: RegExp) =>
        Object.entries(summary.faults).reduce((sum, [name, count]) => sum + (kind.test(name) ? count : 0), 0);
      for (const [kind, atLeast] of [
        [/^sync died mid-batch/, 1],
        [/^sync died after its batch/, 1],
        [/^ingest queue refused/, 1],
        [/^duplicate deliveries/, 1],
        [/^(severe )?throttling storms/, 1],
        [/^DynamoDB throttled/, 1],
        [/^BatchGetItem keys left unprocessed/, 1],
        [/^transaction conflicts/, 1],
        [/^dead letters redriven/, 1],
      ] as const)
        expect(injected(kind), `${kind} (${replay})`).toBeGreaterThanOrEqual(atLeast);
      expect(injected(/^cohort store outages/), replay).toBe(1);
    },
    TIMEOUT_MS,
  );
});

import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../local/stack.js';

/** A stack of its own (tables, queues, workspace) on the shared emulators. */
export const startTestStack = (options: LocalStackOptions = {}): Promise<LocalStack> =>
  startLocalStack({
    sqsEndpoint: inject('sqsEndpoint'),
    dynamoDbEndpoint: inject('dynamoDbEndpoint'),
    prefix: `t${randomBytes(5).toString('hex')}`,
    visibilityTimeoutSeconds: 1,
    pollerConcurrency: 2,
    // Tests revoke and rotate keys and expect it to take effect at once; those of the cache set it.
    credentialCacheTtlMs: 0,
    requeueDelayBaseSeconds: 0,
    // The suite's DynamoDB Local is shared: a test file leaves none of its tables to slow the next.
    dropTablesOnStop: true,
    ...options,
  });

/** Polls until `check` returns a value other than undefined, or fails after `timeoutMs`. */
export const eventually = async <T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<T> => {
  const started = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error: unknown) {
      last = error;
    }
    if (Date.now() - started > timeoutMs)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

/** A clock that moves only when told: tests step through grace periods, TTLs and hourly windows instead of sleeping. */
export const manualClock = (start: Date) => {
  let nowMs = start.getTime();
  return {
    now: () => new Date(nowMs),
    advance: (ms: number) => {
      nowMs += ms;
    },
  };
};

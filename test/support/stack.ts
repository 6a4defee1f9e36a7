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

/**
 * Polls until `check` returns a value other than undefined, or fails after `timeoutMs`.
 *
 * With `progress` (what the awaited work has done so far, e.g. reports written and members
 * stored), `timeoutMs` counts from the last time it moved, so a loaded machine that is slow
 * but moving is waited for; `capMs` still bounds the whole wait.
 */
export const eventually = async <T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 20_000,
  what = 'condition',
  watch?: { progress: () => Promise<unknown>; capMs: number },
): Promise<T> => {
  const started = Date.now();
  let movedAt = started;
  let seen: string | undefined;
  let lastLook = 0;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error: unknown) {
      last = error;
    }
    if (watch && Date.now() - lastLook >= 1_000) {
      lastLook = Date.now();
      const now = JSON.stringify(await watch.progress().catch(() => seen));
      if (now !== seen) [seen, movedAt] = [now, Date.now()];
    }
    const stalled = Date.now() - movedAt > timeoutMs;
    if (stalled || (watch && Date.now() - started > watch.capMs))
      throw new Error(
        `timed out waiting for ${what}${watch ? ` (${stalled ? `no progress for ${timeoutMs} ms` : `${watch.capMs} ms in all`}; last progress ${seen})` : ''}${last ? `: ${String(last)}` : ''}`,
      );
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

/**
 * The one backoff formula every retry here uses: exponential, capped and jittered, as AWS's
 * Architecture Blog sets it out ("Exponential Backoff And Jitter", 2015). With
 * d = min(cap, base × 2^retry), full jitter waits uniformly in [0, d] (the least contention
 * when many clients retry at once), equal jitter in [d/2, d] (never much less than d: for a
 * requeue that should wait). Units are the caller's (ms or s). Each caller keeps its own base
 * and cap, named where it is used: DynamoDB retries in ms (lib/dynamodb/batch.ts), webhook
 * and Currents retries and sync requeues in seconds.
 */
export interface BackoffPolicy {
  base: number;
  cap: number;
  /** `full` (default): uniform in [0, d]; `equal`: uniform in [d/2, d]. */
  jitter?: 'full' | 'equal';
}

/** The wait before retry `retry` (0 for the first), from `random` in [0, 1). */
export const backoffDelay = (retry: number, policy: BackoffPolicy, random: () => number = Math.random): number => {
  const ceiling = Math.min(policy.cap, policy.base * 2 ** Math.max(0, retry));
  return policy.jitter === 'equal' ? ceiling * (0.5 + random() / 2) : random() * ceiling;
};

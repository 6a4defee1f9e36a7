/** Maps with at most `limit` calls in flight; results keep the input's order. */
export const mapLimit = async <T, R>(
  items: readonly T[],
  limit: number,
  map: (item: T, index: number) => Promise<R>,
): Promise<R[]> => {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await map(items[index]!, index);
      }
    }),
  );
  return results;
};

export interface AdaptiveLimitOptions {
  /** Calls in flight at first. */
  initial: number;
  /** Never fewer than this in flight (at least 1: work must go on to learn that load has passed). */
  min: number;
  /** Never more than this in flight. */
  max: number;
  /** What an overload multiplies the limit by (default 0.5). */
  decrease?: number;
}

export interface AdaptiveLimitStats {
  /** The limit now (calls in flight allowed). */
  limit: number;
  /** The lowest the limit has been. */
  lowest: number;
  calls: number;
  /** Calls that ended in an overload signal (throttling). */
  overloads: number;
  /** Times the limit was cut: at most once per round of calls in flight. */
  decreases: number;
}

/**
 * Calls in flight kept to what the service absorbs, by additive increase and multiplicative
 * decrease (AIMD, as TCP's congestion control): until the first overload the limit grows by
 * one per call that succeeds (doubling every round, "slow start"), then by one per round
 * (1/limit per success); an overload multiplies it by `decrease`. A burst of overloads from
 * calls that were in flight together is one signal: a call started before the last cut
 * cannot cut again, so one hot second halves the limit once, not to the floor.
 *
 * No clock: rounds are counted in calls, so the behaviour is the same on any machine
 * (test/unit/adaptive-limit.test.ts). One instance per process is shared by every caller that
 * loads the same service (a Lambda container's records, and its later invocations).
 */
export class AdaptiveLimit {
  private current: number;
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private started = 0;
  /** Calls with a ticket below this started before the last cut. */
  private cutAt = 0;
  private congested = false;
  private readonly counters = { calls: 0, overloads: 0, decreases: 0, lowest: 0 };

  constructor(private readonly options: AdaptiveLimitOptions) {
    if (!(options.min >= 1 && options.min <= options.initial && options.initial <= options.max))
      throw new RangeError('an adaptive limit needs 1 ≤ min ≤ initial ≤ max');
    this.current = options.initial;
    this.counters.lowest = options.initial;
  }

  get limit(): number {
    return Math.floor(this.current);
  }

  stats(): AdaptiveLimitStats {
    return { limit: this.limit, ...this.counters };
  }

  /**
   * Runs `work` when a place is free; `isOverload` says which failures mean "too much load".
   * A caller that gives up (its `signal` aborts) while waiting leaves the queue at once: work
   * nobody waits for any more never takes a place from work somebody does.
   */
  async run<T>(work: () => Promise<T>, isOverload: (error: unknown) => boolean, signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted();
    // A place is taken here, or handed over by `wake` (which counts it before the waiter runs).
    if (this.inFlight < this.limit && this.waiting.length === 0) this.inFlight += 1;
    else await this.queue(signal);
    const ticket = this.started++;
    try {
      // Given up between being handed a place and running: the place is given back below.
      signal?.throwIfAborted();
      this.counters.calls += 1;
      const result = await work();
      this.succeeded();
      return result;
    } catch (error: unknown) {
      if (isOverload(error)) this.overloaded(ticket);
      throw error;
    } finally {
      this.inFlight -= 1;
      this.wake();
    }
  }

  private queue(signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter = () => {
        signal?.removeEventListener('abort', leave);
        resolve();
      };
      const leave = () => {
        const index = this.waiting.indexOf(waiter);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', leave, { once: true });
      this.waiting.push(waiter);
    });
  }

  private succeeded() {
    this.current = Math.min(this.options.max, this.current + (this.congested ? 1 / this.current : 1));
  }

  private overloaded(ticket: number) {
    this.counters.overloads += 1;
    if (ticket < this.cutAt) return;
    this.congested = true;
    this.current = Math.max(this.options.min, this.current * (this.options.decrease ?? 0.5));
    this.cutAt = this.started;
    this.counters.decreases += 1;
    this.counters.lowest = Math.min(this.counters.lowest, this.limit);
  }

  private wake() {
    while (this.waiting.length > 0 && this.inFlight < this.limit) {
      this.inFlight += 1;
      this.waiting.shift()!();
    }
  }
}

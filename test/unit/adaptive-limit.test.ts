/**
 * The sync's adaptive limit on calls in flight (lib/concurrency.ts), against a simulated
 * service that absorbs `capacity` calls at once and refuses the rest (as a table refuses
 * what its partitions cannot take). No clock and no randomness: a call takes a few turns of
 * the event loop, so every run is the same on any machine.
 */
import { setImmediate as turn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { AdaptiveLimit } from '../../lib/concurrency.js';

class Overload extends Error {}
const isOverload = (error: unknown) => error instanceof Overload;

/** A service that takes `capacity` calls at once; a call beyond it is refused when it ends. */
const service = (capacity: number, turns = 3) => {
  const seen = { inService: 0, most: 0, attempts: 0, refused: 0 };
  const call = async () => {
    seen.attempts += 1;
    seen.inService += 1;
    seen.most = Math.max(seen.most, seen.inService);
    const over = seen.inService > capacity;
    for (let index = 0; index < turns; index += 1) await turn();
    seen.inService -= 1;
    if (over) {
      seen.refused += 1;
      throw new Overload('throttled');
    }
  };
  return { seen, call };
};

/**
 * `callers` workers draining `jobs` jobs, each retried until it goes through, or until
 * `attempts` attempts in all (a service kept past its capacity may never finish). Returns
 * the jobs done.
 */
const drain = async (jobs: number, callers: number, attempt: () => Promise<void>, attempts = Infinity) => {
  let next = 0;
  let done = 0;
  let tried = 0;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (next < jobs) {
        next += 1;
        while (tried < attempts) {
          tried += 1;
          try {
            await attempt();
            done += 1;
            break;
          } catch (error: unknown) {
            if (!isOverload(error)) throw error;
            await turn();
          }
        }
      }
    }),
  );
  return done;
};

describe('the adaptive limit (AIMD)', () => {
  it('keeps calls in flight near what the service absorbs: few refusals, where fixed concurrency is mostly refused', async () => {
    // Control: 40 callers straight at a service that absorbs 10, retrying at once. It collapses:
    // with every caller in service, every attempt is past capacity (stopped at 10,000 attempts).
    const unlimited = service(10);
    const doneUnlimited = await drain(2_000, 40, unlimited.call, 10_000);
    expect(unlimited.seen.refused / unlimited.seen.attempts).toBeGreaterThan(0.5);
    expect(doneUnlimited).toBeLessThan(2_000);

    // The same 40 callers through the limit: every job done, few attempts refused (those that
    // probe past capacity before the refusal comes back, a call's length later).
    const limited = service(10);
    const limit = new AdaptiveLimit({ initial: 4, min: 1, max: 40 });
    expect(await drain(2_000, 40, () => limit.run(limited.call, isOverload), 10_000)).toBe(2_000);

    const stats = limit.stats();
    expect(stats.calls).toBe(limited.seen.attempts);
    expect(stats.overloads).toBe(limited.seen.refused);
    expect(limited.seen.refused / limited.seen.attempts).toBeLessThan(0.25);
    // It found the service's size: cut below it, and never pinned to the floor.
    expect(stats.decreases).toBeGreaterThan(0);
    expect(stats.limit).toBeGreaterThanOrEqual(5);
    expect(stats.limit).toBeLessThanOrEqual(11);
    expect(stats.lowest).toBeGreaterThanOrEqual(4);
  });

  it('counts a burst of overloads from calls in flight together as one cut', async () => {
    const limit = new AdaptiveLimit({ initial: 8, min: 1, max: 40 });
    const all = service(0);
    // 8 calls in flight at once, all refused.
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => limit.run(all.call, isOverload)));

    expect(results.every((result) => result.status === 'rejected')).toBe(true);
    expect(limit.stats()).toMatchObject({ limit: 4, overloads: 8, decreases: 1 });

    // A call started after the cut that is refused cuts again.
    await expect(limit.run(all.call, isOverload)).rejects.toBeInstanceOf(Overload);
    expect(limit.stats()).toMatchObject({ limit: 2, decreases: 2 });
  });

  it('grows by one per success until the first overload, then by one per round, between min and max', async () => {
    const limit = new AdaptiveLimit({ initial: 2, min: 2, max: 12 });
    const ok = service(1_000);
    for (let index = 0; index < 6; index += 1) await limit.run(ok.call, isOverload);
    expect(limit.limit).toBe(8);
    for (let index = 0; index < 20; index += 1) await limit.run(ok.call, isOverload);
    expect(limit.limit).toBe(12);

    const none = service(0);
    for (let index = 0; index < 5; index += 1) await limit.run(none.call, isOverload).catch(() => undefined);
    expect(limit.limit).toBe(2);

    // Congestion avoidance: 1/limit a success (2 → 2.5 → 2.9 → 3.2), about one per round.
    for (let index = 0; index < 3; index += 1) await limit.run(ok.call, isOverload);
    expect(limit.limit).toBe(3);
    for (let index = 0; index < 3; index += 1) await limit.run(ok.call, isOverload);
    expect(limit.limit).toBe(4);
  });

  it('never lets more calls in flight than the limit, and failures that are not overloads change nothing', async () => {
    const limit = new AdaptiveLimit({ initial: 3, min: 1, max: 3 });
    let inFlight = 0;
    let most = 0;
    const work = async (fail: boolean) => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      await turn();
      await turn();
      inFlight -= 1;
      if (fail) throw new Error('a defect, not load');
    };
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, index) => limit.run(() => work(index % 7 === 0), isOverload)),
    );

    expect(most).toBe(3);
    expect(results.filter((result) => result.status === 'rejected')).toHaveLength(8);
    expect(limit.stats()).toMatchObject({ limit: 3, calls: 50, overloads: 0, decreases: 0 });
  });

  it('lets a caller that gives up leave the queue, and hands its place to the next one', async () => {
    const limit = new AdaptiveLimit({ initial: 1, min: 1, max: 1 });
    let release: () => void = () => undefined;
    const first = limit.run(() => new Promise<string>((resolve) => (release = () => resolve('first'))), isOverload);
    const givenUp = new AbortController();
    const ran: string[] = [];
    const second = limit.run(async () => ran.push('second'), isOverload, givenUp.signal);
    const third = limit.run(async () => ran.push('third'), isOverload);

    givenUp.abort(new Error('given up'));
    await expect(second).rejects.toThrow('given up');
    release();

    expect(await first).toBe('first');
    await third;
    expect(ran).toEqual(['third']);
    // Given up before it asked: refused at once, nothing run.
    await expect(limit.run(async () => ran.push('late'), isOverload, givenUp.signal)).rejects.toThrow('given up');
    expect(ran).toEqual(['third']);
    expect(limit.stats()).toMatchObject({ calls: 2, overloads: 0 });
  });

  it('refuses a limit that could stop all work', () => {
    expect(() => new AdaptiveLimit({ initial: 0, min: 0, max: 4 })).toThrow(RangeError);
    expect(() => new AdaptiveLimit({ initial: 8, min: 1, max: 4 })).toThrow(RangeError);
  });
});

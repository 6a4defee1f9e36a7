import { describe, expect, it } from 'vitest';
import { ttlCache } from '../../lib/campaigns/audience.js';

const clock = () => {
  let now = 1_000_000;
  return { now: () => now, advance: (ms: number) => (now += ms) };
};

describe('the campaign definitions cache (ttlCache)', () => {
  it('loads a key once within its TTL, again after it, and each key apart', async () => {
    // Prepare
    const time = clock();
    const loads: string[] = [];
    const cached = ttlCache<string>(5_000, time.now);
    const load = (key: string) => () => {
      loads.push(key);
      return Promise.resolve(`${key}@${time.now()}`);
    };

    // Act
    const first = await cached('a', load('a'));
    time.advance(5_000);
    const same = await cached('a', load('a'));
    await cached('b', load('b'));
    time.advance(1);
    const fresh = await cached('a', load('a'));

    // Assess
    expect(same).toBe(first);
    expect(fresh).toBe('a@1005001');
    expect(loads).toEqual(['a', 'b', 'a']);
  });

  it('forgets a load that failed, so the next read tries again', async () => {
    // Prepare
    const cached = ttlCache<string>(60_000, clock().now);

    // Act
    const failed = await cached('a', () => Promise.reject(new Error('throttled'))).catch(
      (error: Error) => error.message,
    );
    const retried = await cached('a', () => Promise.resolve('loaded'));

    // Assess
    expect(failed).toBe('throttled');
    expect(retried).toBe('loaded');
  });

  it('keeps at most its bound, dropping the least recently used', async () => {
    // Prepare
    const cached = ttlCache<string>(60_000, clock().now, 2);
    const loads: string[] = [];
    const load = (key: string) => () => {
      loads.push(key);
      return Promise.resolve(key);
    };

    // Act
    await cached('a', load('a'));
    await cached('b', load('b'));
    await cached('a', load('a'));
    await cached('c', load('c'));
    await cached('a', load('a'));
    await cached('b', load('b'));

    // Assess: 'a' was used after 'b', so 'c' pushed 'b' out, not 'a'.
    expect(loads).toEqual(['a', 'b', 'c', 'b']);
  });

  it('keeps nothing with a TTL of 0', async () => {
    // Prepare
    const cached = ttlCache<number>(0, clock().now);
    let loads = 0;

    // Act
    await cached('a', async () => ++loads);
    await cached('a', async () => ++loads);

    // Assess
    expect(loads).toBe(2);
  });
});

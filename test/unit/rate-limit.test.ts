import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  blockSize,
  MAX_BLOCK,
  RateLimitedError,
  RateLimiter,
  type ClaimResult,
  type RequestCounter,
} from '../../lib/workspaces/rate-limit.js';

/** The shared counter as DynamoDB keeps it (one conditional update per claim), in memory. */
class MemoryCounter implements RequestCounter {
  readonly counts = new Map<string, number>();
  claims = 0;

  async claimRequests(key: string, windowStart: number, block: number, limit: number): Promise<ClaimResult> {
    this.claims += 1;
    // A round trip: other instances' claims may land meanwhile.
    await new Promise((resolve) => setImmediate(resolve));
    const window = `${key}#${windowStart}`;
    const count = this.counts.get(window) ?? 0;
    if (count + block > limit) return { claimed: false, count };
    this.counts.set(window, count + block);
    return { claimed: true, count: count + block };
  }
}

const HOUR = 3_600_000;
const windowStartMs = Date.UTC(2026, 0, 1, 10);
const at = (offsetMs: number) => new Date(windowStartMs + offsetMs);
const request = (now = at(1_000)) => ({ partner: 'heap', workspaceId: 'A', now });

/** Admits a request, answering its status and headers as the ingest would. */
const attempt = async (limiter: RateLimiter, now?: Date) => {
  try {
    return { status: 201, headers: await limiter.admit(request(now)) };
  } catch (error: unknown) {
    if (error instanceof RateLimitedError) return { status: 429, headers: error.headers };
    throw error;
  }
};

describe('block size', () => {
  it('is at most 100, a 64th of what is unclaimed, and 1 near the limit', () => {
    expect(blockSize(250_000)).toBe(MAX_BLOCK);
    expect(blockSize(3_200)).toBe(50);
    expect(blockSize(100)).toBe(1);
    expect(blockSize(3)).toBe(1);
    expect(blockSize(1)).toBe(1);
  });
});

describe('rate limiter', () => {
  it('admits the limit and then answers 429 with the headers, exact with one instance', async () => {
    // Prepare
    const limiter = new RateLimiter(new MemoryCounter(), 3);

    // Act
    const answers = [];
    for (let index = 0; index < 4; index += 1) answers.push(await attempt(limiter));

    // Assess
    expect(answers.map((answer) => answer.status)).toEqual([201, 201, 201, 429]);
    expect(answers.map((answer) => answer.headers['X-RateLimit-Remaining'])).toEqual(['2', '1', '0', '0']);
    const reset = (windowStartMs + HOUR) / 1000;
    expect(answers[3]!.headers).toMatchObject({
      'X-RateLimit-Limit': '3',
      'X-RateLimit-Reset': String(reset),
      'Retry-After': String(reset - (windowStartMs + 1_000) / 1000),
    });
  });

  it('makes one round trip per block, not per request', async () => {
    // Prepare
    const counter = new MemoryCounter();
    const limiter = new RateLimiter(counter, 250_000);

    // Act
    for (let index = 0; index < 1_000; index += 1) await limiter.admit(request());

    // Assess
    expect(counter.claims).toBe(10);
    expect(counter.counts.get(`heap#A#${windowStartMs / 1000}`)).toBe(1_000);
  });

  it('claims once for concurrent requests of one instance', async () => {
    // Prepare
    const counter = new MemoryCounter();
    const limiter = new RateLimiter(counter, 250_000);

    // Act
    const headers = await Promise.all(Array.from({ length: 50 }, () => limiter.admit(request())));

    // Assess
    expect(counter.claims).toBe(1);
    expect(new Set(headers.map((header) => header['X-RateLimit-Remaining'])).size).toBe(50);
  });

  it('never admits more than the limit across instances, and answers 429 once the window is spent', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 1_000 }),
        async (limit, instanceCount, arrivals) => {
          // Prepare: several instances on one counter; requests arrive at random instances, in bursts.
          const counter = new MemoryCounter();
          const instances = Array.from({ length: instanceCount }, () => new RateLimiter(counter, limit));

          // Act
          const answers = await Promise.all(arrivals.map((instance) => attempt(instances[instance % instanceCount]!)));

          // Assess
          const admitted = answers.filter((answer) => answer.status === 201).length;
          const claimed = counter.counts.get(`heap#A#${windowStartMs / 1000}`) ?? 0;
          // Every admitted request was claimed first, and claims never pass the limit.
          expect(admitted).toBeLessThanOrEqual(claimed);
          expect(claimed).toBeLessThanOrEqual(limit);
          // Whatever was claimed and not admitted is held by an instance, at most one block each.
          expect(claimed - admitted).toBeLessThanOrEqual(instanceCount * Math.max(1, Math.floor(limit / 64)));
          // A 429 only once the whole window is claimed; one instance admits exactly up to the limit.
          if (answers.some((answer) => answer.status === 429)) expect(claimed).toBe(limit);
          if (instanceCount === 1) expect(admitted).toBe(Math.min(limit, arrivals.length));
          for (const answer of answers) {
            expect(Number(answer.headers['X-RateLimit-Remaining'])).toBeGreaterThanOrEqual(0);
            if (answer.status === 429) expect(answer.headers['Retry-After']).toBeDefined();
          }
          // Once the counter is full every instance answers 429, each after at most one more claim.
          if (claimed === limit) {
            for (const instance of instances) {
              while ((await attempt(instance)).status === 201);
              const claims = counter.claims;
              expect((await attempt(instance)).status).toBe(429);
              expect(counter.claims).toBe(claims);
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('starts afresh in the next window', async () => {
    // Prepare
    const counter = new MemoryCounter();
    const limiter = new RateLimiter(counter, 2);
    await limiter.admit(request(at(0)));
    await limiter.admit(request(at(0)));
    expect((await attempt(limiter, at(HOUR - 1))).status).toBe(429);

    // Act
    const next = await attempt(limiter, at(HOUR));

    // Assess
    expect(next.status).toBe(201);
    expect(next.headers['X-RateLimit-Remaining']).toBe('1');
    expect(next.headers['X-RateLimit-Reset']).toBe(String((windowStartMs + 2 * HOUR) / 1000));
  });

  it('counts each partner and workspace apart', async () => {
    // Prepare
    const limiter = new RateLimiter(new MemoryCounter(), 1);
    await limiter.admit(request());

    // Act & Assess
    await expect(limiter.admit({ ...request(), workspaceId: 'B' })).resolves.toMatchObject({
      'X-RateLimit-Remaining': '0',
    });
    await expect(limiter.admit({ ...request(), partner: 'segment' })).resolves.toMatchObject({
      'X-RateLimit-Remaining': '0',
    });
    await expect(limiter.admit(request())).rejects.toBeInstanceOf(RateLimitedError);
  });
});

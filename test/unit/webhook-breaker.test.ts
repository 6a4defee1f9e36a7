/**
 * The destination breaker (lib/webhooks/breaker.ts) on a clock the tests move: K retryable
 * failures in a row pause a destination, a 4XX neither counts nor resets, a 2XX resets;
 * after the cooldown exactly one probe goes out, a 2XX closes and a failure doubles the
 * pause up to its cap. No sleeping: time is a number the test sets.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import {
  type Admission,
  type BreakerChange,
  type BreakerPass,
  createBreaker,
  DEFER_BASE_SECONDS,
  DEFER_CAP_SECONDS,
  DEFER_RECEIVE_LIMIT,
  deferDelaySeconds,
  destinationOf,
} from '../../lib/webhooks/breaker.js';
import { MAX_ATTEMPTS } from '../../lib/webhooks/policy.js';

const A = 'https://hooks.example.com';
const B = 'https://other.example.com:8443';
const START = Date.UTC(2031, 0, 1);

const breakerOn = (settings = {}) => {
  let now = START;
  const changes: BreakerChange[] = [];
  const breaker = createBreaker({
    clock: () => now,
    settings: { failures: 3, cooldownMs: 30_000, maxCooldownMs: 120_000, probeTimeoutMs: 20_000, ...settings },
    onChange: (change) => changes.push(change),
  });
  return {
    breaker,
    changes,
    advance: (ms: number) => {
      now += ms;
    },
    now: () => now,
  };
};

const passOf = (admission: Admission): BreakerPass => {
  if (admission.kind !== 'send') throw new Error(`expected a send, got ${JSON.stringify(admission)}`);
  return admission.pass;
};
/** Sends one message to `destination` and reports `outcome`. */
const sendTo = (
  breaker: ReturnType<typeof createBreaker>,
  destination: string,
  outcome: 'success' | 'failure' | 'neutral',
) => breaker.report(passOf(breaker.admit(destination)), outcome);

describe('the destination breaker', () => {
  it('pauses a destination after K retryable failures in a row; a 4XX neither counts nor resets, a 2XX resets', () => {
    // Prepare
    const { breaker, changes } = breakerOn();

    // Act: 2 failures, a 2XX (reset), 2 failures, a 4XX (neither), 1 failure: the 3rd in a row
    sendTo(breaker, A, 'failure');
    sendTo(breaker, A, 'failure');
    sendTo(breaker, A, 'success');
    sendTo(breaker, A, 'failure');
    sendTo(breaker, A, 'failure');
    sendTo(breaker, A, 'neutral');
    const beforeThird = breaker.state(A);
    sendTo(breaker, A, 'failure');

    // Assess
    expect(beforeThird).toEqual({ state: 'closed', failures: 2 });
    expect(breaker.state(A)).toEqual({
      state: 'open',
      openSinceMs: START,
      cooldownMs: 30_000,
      probeAtMs: START + 30_000,
      deferred: 0,
    });
    expect(changes).toEqual([
      { kind: 'opened', destination: A, atMs: START, openSinceMs: START, cooldownMs: 30_000, probeFailed: false },
    ]);
    expect(breaker.admit(A)).toEqual({ kind: 'wait', untilMs: START + 30_000, openSinceMs: START });
    expect(breaker.admit(B).kind).toBe('send');
  });

  it('lets exactly one probe out after the cooldown; a 2XX closes the destination', () => {
    // Prepare: paused, 2 messages told to wait
    const { breaker, changes, advance } = breakerOn();
    for (let failure = 0; failure < 3; failure += 1) sendTo(breaker, A, 'failure');
    breaker.admit(A);
    advance(29_999);
    const stillWaiting = breaker.admit(A);

    // Act
    advance(1);
    const probe = breaker.admit(A);
    const whileProbing = [breaker.admit(A), breaker.admit(A)];
    breaker.report(passOf(probe), 'success');
    const after = breaker.admit(A);

    // Assess
    expect(stillWaiting).toEqual({ kind: 'wait', untilMs: START + 30_000, openSinceMs: START });
    expect(probe).toMatchObject({ kind: 'send', pass: { probe: expect.any(Number) } });
    // While the probe is out, the others wait for its answer (at most the probe's timeout).
    expect(whileProbing).toEqual([1, 2].map(() => ({ kind: 'wait', untilMs: START + 50_000, openSinceMs: START })));
    expect(after).toEqual({ kind: 'send', pass: { destination: A, generation: 0 } });
    expect(breaker.state(A)).toEqual({ state: 'closed', failures: 0 });
    expect(changes.at(-1)).toEqual({
      kind: 'closed',
      destination: A,
      atMs: START + 30_000,
      openSinceMs: START,
      deferred: 4,
    });
  });

  it('pauses again for twice as long after each failed probe, up to the cap, keeping when the outage began', () => {
    // Prepare
    const { breaker, changes, advance, now } = breakerOn();
    for (let failure = 0; failure < 3; failure += 1) sendTo(breaker, A, 'failure');

    // Act: four failed probes, each at its time
    const cooldowns: number[] = [];
    for (let probe = 0; probe < 4; probe += 1) {
      const { probeAtMs } = breaker.state(A) as { probeAtMs: number };
      advance(probeAtMs - now());
      sendTo(breaker, A, 'failure');
      cooldowns.push((breaker.state(A) as { cooldownMs: number }).cooldownMs);
    }

    // Assess: 30 s → 60 → 120 (the cap here) → 120
    expect(cooldowns).toEqual([60_000, 120_000, 120_000, 120_000]);
    expect(changes.map((change) => change.kind === 'opened' && change.probeFailed)).toEqual([
      false,
      true,
      true,
      true,
      true,
    ]);
    expect(changes.every((change) => change.openSinceMs === START)).toBe(true);
    expect(breaker.admit(A)).toMatchObject({ kind: 'wait', untilMs: now() + 120_000 });
  });

  it('lets the next message probe when the probe proved nothing (a 4XX, or not sent after all)', () => {
    // Prepare
    const { breaker, advance } = breakerOn();
    for (let failure = 0; failure < 3; failure += 1) sendTo(breaker, A, 'failure');
    advance(30_000);

    // Act
    breaker.report(passOf(breaker.admit(A)), 'neutral');
    const second = breaker.admit(A);
    breaker.report(passOf(second), 'unused');
    const third = breaker.admit(A);

    // Assess
    expect(second.kind).toBe('send');
    expect(third.kind).toBe('send');
    expect(breaker.state(A)).toMatchObject({ state: 'half-open', cooldownMs: 30_000 });
  });

  it('takes a probe unreported past its timeout as lost: another goes out, and the late answer is ignored', () => {
    // Prepare
    const { breaker, advance } = breakerOn();
    for (let failure = 0; failure < 3; failure += 1) sendTo(breaker, A, 'failure');
    advance(30_000);
    const lost = passOf(breaker.admit(A));

    // Act
    advance(20_000);
    const next = passOf(breaker.admit(A));
    breaker.report(lost, 'success');
    const afterLate = breaker.state(A);
    breaker.report(next, 'failure');

    // Assess
    expect(next.probe).not.toBe(lost.probe);
    expect(afterLate.state).toBe('half-open');
    expect(breaker.state(A)).toMatchObject({ state: 'open', cooldownMs: 60_000 });
  });

  it('ignores answers to requests made before the pause: they neither close it nor count', () => {
    // Prepare: 5 requests out at once while closed; 3 fail and pause the destination
    const { breaker, changes } = breakerOn();
    const inFlight = Array.from({ length: 5 }, () => passOf(breaker.admit(A)));
    for (const pass of inFlight.slice(0, 3)) breaker.report(pass, 'failure');

    // Act
    breaker.report(inFlight[3]!, 'success');
    breaker.report(inFlight[4]!, 'failure');

    // Assess
    expect(breaker.state(A)).toMatchObject({ state: 'open', cooldownMs: 30_000 });
    expect(changes).toHaveLength(1);
  });

  it('forgets the oldest closed destination first when it tracks too many', () => {
    // Prepare: room for 2; A with one failure (closed), B paused
    const breaker = createBreaker({ clock: () => START, settings: { failures: 3 }, maxDestinations: 2 });
    sendTo(breaker, A, 'failure');
    for (let failure = 0; failure < 3; failure += 1) sendTo(breaker, B, 'failure');

    // Act: a third destination fails
    const c = 'https://third.example.com';
    sendTo(breaker, c, 'failure');

    // Assess: A's one failure is forgotten, B stays paused
    expect(breaker.state(A)).toEqual({ state: 'closed', failures: 0 });
    expect(breaker.state(B).state).toBe('open');
    expect(breaker.state(c)).toEqual({ state: 'closed', failures: 1 });
  });

  it('never has two probes out at once and never probes before the cooldown (property)', () => {
    // Failures weighted up, so that runs reach the pause, its probes and the probes' failures.
    const step = fc.oneof(
      { arbitrary: fc.record({ kind: fc.constant('admit' as const) }), weight: 3 },
      {
        arbitrary: fc.record({
          kind: fc.constant('report' as const),
          which: fc.nat(),
          outcome: fc.constantFrom('failure', 'failure', 'failure', 'success', 'neutral', 'unused') as fc.Arbitrary<
            'success' | 'failure' | 'neutral' | 'unused'
          >,
        }),
        weight: 3,
      },
      {
        arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 70_000 }) }),
        weight: 1,
      },
    );
    fc.assert(
      fc.property(fc.array(step, { minLength: 20, maxLength: 150, size: 'max' }), (steps) => {
        const { breaker, advance, now } = breakerOn();
        const outstanding: { pass: BreakerPass; atMs: number }[] = [];
        for (const action of steps) {
          if (action.kind === 'advance') advance(action.ms);
          else if (action.kind === 'report' && outstanding.length > 0) {
            const [taken] = outstanding.splice(action.which % outstanding.length, 1);
            breaker.report(taken!.pass, action.outcome);
          } else if (action.kind === 'admit') {
            const before = breaker.state(A);
            const admission = breaker.admit(A);
            if (admission.kind !== 'send') continue;
            if (admission.pass.probe !== undefined) {
              // Paused before: only at or after the probe's time, and no other live probe out.
              expect(before.state).not.toBe('closed');
              expect(now()).toBeGreaterThanOrEqual((before as { probeAtMs: number }).probeAtMs);
              const live = outstanding.filter(
                ({ pass, atMs }) =>
                  pass.probe !== undefined && now() - atMs < 20_000 && pass.generation === admission.pass.generation,
              );
              expect(live).toEqual([]);
            } else expect(before.state).toBe('closed');
            outstanding.push({ pass: admission.pass, atMs: now() });
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('a paused destination’s messages', () => {
  it('wait until the probe, and longer the more often they came; a quarter more at random; at most the cap', () => {
    expect(deferDelaySeconds(30_000, 1, () => 0)).toBe(30);
    expect(deferDelaySeconds(4_500, 1, () => 0)).toBe(DEFER_BASE_SECONDS);
    expect(deferDelaySeconds(0, 3, () => 0)).toBe(120);
    expect(deferDelaySeconds(200_000, 3, () => 0)).toBe(200);
    expect(deferDelaySeconds(0, 3, () => 0.999)).toBe(150);
    expect(deferDelaySeconds(0, 12, () => 0.5)).toBe(DEFER_CAP_SECONDS);
    expect(deferDelaySeconds(30_000, 1, () => 0.5, { baseSeconds: 0, capSeconds: 1 })).toBe(1);
  });

  it('are handed back for at least two hours before the receive limit, whatever attempts they used first', () => {
    for (let attempts = 0; attempts < MAX_ATTEMPTS; attempts += 1) {
      // Receives 1..attempts were attempts; each later one up to the limit a hand-back, at its shortest.
      let waitedSeconds = 0;
      for (let receive = attempts + 1; receive < DEFER_RECEIVE_LIMIT; receive += 1)
        waitedSeconds += deferDelaySeconds(0, receive, () => 0);
      expect(waitedSeconds, `after ${attempts} attempts`).toBeGreaterThanOrEqual(2 * 3600);
    }
  });

  it('are failed on a receive that leaves room under the sends queue’s maxReceiveCount, after every attempt could be used', () => {
    // The queue as deployed (infra/campaigns.yml): a paused message must end counted, not in its DLQ.
    const template = parse(readFileSync(new URL('../../infra/campaigns.yml', import.meta.url), 'utf8')) as {
      Resources: Record<string, { Properties: { RedrivePolicy?: { maxReceiveCount: number } } }>;
    };
    const maxReceiveCount = template.Resources.WebhookSendQueue!.Properties.RedrivePolicy!.maxReceiveCount;
    expect(DEFER_RECEIVE_LIMIT).toBeLessThanOrEqual(maxReceiveCount - 4);
    expect(DEFER_RECEIVE_LIMIT).toBeGreaterThan(MAX_ATTEMPTS);
  });
});

describe('a destination', () => {
  it('is the rendered URL’s origin; what is no http(s) URL has none', () => {
    expect(destinationOf('https://Hooks.Example.com/a/b?user=1')).toBe('https://hooks.example.com');
    expect(destinationOf('https://hooks.example.com:443/x')).toBe('https://hooks.example.com');
    expect(destinationOf('http://127.0.0.1:4010/x')).toBe('http://127.0.0.1:4010');
    expect(destinationOf('ftp://hooks.example.com/x')).toBeUndefined();
    expect(destinationOf('not a url')).toBeUndefined();
  });
});

/**
 * A circuit breaker per webhook destination (docs/campaigns.md, "Destination breaker"),
 * pure, on a clock port: a destination (the rendered URL's origin) that answers with K
 * retryable failures in a row (5XX, 429, a timeout, a connection error: `judge`'s `retry`)
 * is paused. While paused its messages are not sent; after a cooldown exactly one message
 * goes out as a probe: a 2XX closes the breaker, another retryable failure pauses it again
 * for twice as long (up to a cap). A 4XX, 3XX or refused destination is the receiver (or the
 * client) refusing one message, not the receiver being down: it neither counts nor resets.
 *
 * State is kept per sender instance, in memory, as opossum and cockatiel keep theirs per
 * process: a shared breaker would cost a DynamoDB write per send, and N instances each
 * opening after their own K failures send at most N × K requests to a dead receiver, which
 * is what the pause is for. A cold start begins closed.
 *
 * Also here: what the sender does with a paused destination's message (deferDelaySeconds,
 * DEFER_RECEIVE_LIMIT): each hand-back is an SQS receive, and the sends queue moves a
 * message to its DLQ after 20 (infra/campaigns.yml).
 */

/** Retryable failures in a row that pause a destination. */
export const BREAKER_FAILURES = 5;
/** The first pause: long enough for a restarting receiver, short enough that a blip costs little. */
export const BREAKER_COOLDOWN_MS = 30_000;
/** Each failed probe doubles the pause, up to this (30 s, 1, 2, 4, 8 min, then 10 min). */
export const BREAKER_MAX_COOLDOWN_MS = 600_000;
/**
 * A probe whose outcome was not reported by then counts as lost and another may go out: twice
 * a request's 10 s bound (lib/webhooks/safe-http.ts). Only a bug or a dead invocation loses one.
 */
export const BREAKER_PROBE_TIMEOUT_MS = 20_000;
/** Destinations tracked at most per instance (a closed one with no failure is not tracked). */
export const BREAKER_MAX_DESTINATIONS = 10_000;

/** A deferred message waits at least this long (the first cooldown), doubling with its receives… */
export const DEFER_BASE_SECONDS = 30;
/** …up to 15 minutes, the retries' cap (lib/webhooks/policy.ts): how late a message may come after a receiver recovers. */
export const DEFER_CAP_SECONDS = 900;
/**
 * A message still paused on this receive is recorded failed instead of handed back: the
 * sends queue's maxReceiveCount is 20, and the 4 receives left are for a recording that
 * fails or a claim another delivery holds, so that a paused message ends as a counted
 * failure with its reason, never silently in the DLQ. With the delays above, a message
 * handed back on receives 1 to 15 waits at least 2.7 hours (30 s + 1 + 2 + 4 + 8 min, then
 * 10 × 15 min), or 2 hours if its first 7 receives were attempts (8 × 15 min): a receiver
 * down for an hour still gets every message.
 */
export const DEFER_RECEIVE_LIMIT = 16;

export interface BreakerSettings {
  /** Retryable failures in a row that pause a destination (default 5). */
  failures: number;
  /** The first pause (default 30 s). */
  cooldownMs: number;
  /** The longest pause (default 10 min). */
  maxCooldownMs: number;
  /** How long a probe may stay unreported (default 20 s). */
  probeTimeoutMs: number;
}

/** What one message may do now: be sent (as a probe, when the destination was paused), or wait. */
export type Admission =
  | { kind: 'send'; pass: BreakerPass }
  | {
      kind: 'wait';
      /** When a probe may go out (now, or soon, when one is in flight). */
      untilMs: number;
      /** When the destination was paused (the first pause of this outage). */
      openSinceMs: number;
    };

/** A send's permission, to report with its outcome (or as `unused` when nothing went out). */
export interface BreakerPass {
  readonly destination: string;
  /** The pause this pass was given under (0: closed), so that an answer from before the pause does not count. */
  readonly generation: number;
  /** The probe's number when this is the one probe of a paused destination. */
  readonly probe?: number;
}

/**
 * What a send came to, for its destination: `success` (2XX), `failure` (`judge`'s retry:
 * 5XX, 429, timeout, connection error), `neutral` (4XX, 3XX, refused: this message, not the
 * receiver) or `unused` (not sent after all: capped, a read failed, the sender failed).
 */
export type BreakerReport = 'success' | 'failure' | 'neutral' | 'unused';

/** A destination paused or resumed: ids and times only, for logs and metrics. */
export type BreakerChange =
  | {
      kind: 'opened';
      destination: string;
      atMs: number;
      openSinceMs: number;
      cooldownMs: number;
      /** True when a probe failed (the pause was extended), false when K failures in a row paused it. */
      probeFailed: boolean;
    }
  | { kind: 'closed'; destination: string; atMs: number; openSinceMs: number; deferred: number };

/** A destination's state, as `state()` shows it (tests, logs). */
export type BreakerSnapshot =
  | { state: 'closed'; failures: number }
  | {
      state: 'open' | 'half-open';
      openSinceMs: number;
      cooldownMs: number;
      probeAtMs: number;
      /** Messages told to wait since the destination was paused. */
      deferred: number;
    };

type DestinationState =
  | { kind: 'closed'; failures: number }
  | {
      kind: 'open';
      generation: number;
      openSinceMs: number;
      cooldownMs: number;
      probeAtMs: number;
      /** The probe in flight, if any: its number and when it counts as lost. */
      probe?: { id: number; deadlineMs: number };
      deferred: number;
    };

export interface Breaker {
  /** May a message to `destination` go out now? A `send` must be reported, once. */
  admit(destination: string): Admission;
  report(pass: BreakerPass, outcome: BreakerReport): void;
  state(destination: string): BreakerSnapshot;
}

export const DEFAULT_BREAKER_SETTINGS: Readonly<BreakerSettings> = Object.freeze({
  failures: BREAKER_FAILURES,
  cooldownMs: BREAKER_COOLDOWN_MS,
  maxCooldownMs: BREAKER_MAX_COOLDOWN_MS,
  probeTimeoutMs: BREAKER_PROBE_TIMEOUT_MS,
});

/**
 * A webhook URL's destination: its origin (scheme://host[:port], the default port left out),
 * or undefined for what is no http(s) URL (the client refuses it; nothing to pause).
 */
export const destinationOf = (url: string): string | undefined => {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.origin : undefined;
  } catch {
    return undefined;
  }
};

export const createBreaker = (options: {
  /** Milliseconds since the epoch: the sender's clock, so that tests move it instead of waiting. */
  clock: () => number;
  settings?: Partial<BreakerSettings>;
  onChange?: (change: BreakerChange) => void;
  maxDestinations?: number;
}): Breaker => {
  const settings = { ...DEFAULT_BREAKER_SETTINGS, ...options.settings };
  const maxDestinations = options.maxDestinations ?? BREAKER_MAX_DESTINATIONS;
  const destinations = new Map<string, DestinationState>();
  let generations = 0;
  let probes = 0;

  const track = (destination: string, state: DestinationState) => {
    if (!destinations.has(destination) && destinations.size >= maxDestinations) {
      // Forget a closed one first (the oldest tracked): at worst it needs K failures again.
      let forgotten = false;
      for (const [known, was] of destinations)
        if (was.kind === 'closed') {
          destinations.delete(known);
          forgotten = true;
          break;
        }
      if (!forgotten) destinations.delete(destinations.keys().next().value!);
    }
    destinations.set(destination, state);
  };

  const open = (
    destination: string,
    now: number,
    since: { openSinceMs: number; deferred: number },
    cooldownMs: number,
    probeFailed: boolean,
  ) => {
    generations += 1;
    const { openSinceMs, deferred } = since;
    track(destination, {
      kind: 'open',
      generation: generations,
      openSinceMs,
      cooldownMs,
      probeAtMs: now + cooldownMs,
      deferred,
    });
    options.onChange?.({ kind: 'opened', destination, atMs: now, openSinceMs, cooldownMs, probeFailed });
  };

  return {
    admit: (destination) => {
      const state = destinations.get(destination);
      if (!state || state.kind === 'closed') return { kind: 'send', pass: { destination, generation: 0 } };
      const now = options.clock();
      const probeInFlight = state.probe && state.probe.deadlineMs > now;
      if (now >= state.probeAtMs && !probeInFlight) {
        probes += 1;
        state.probe = { id: probes, deadlineMs: now + settings.probeTimeoutMs };
        return { kind: 'send', pass: { destination, generation: state.generation, probe: probes } };
      }
      state.deferred += 1;
      return {
        kind: 'wait',
        untilMs: probeInFlight ? state.probe!.deadlineMs : state.probeAtMs,
        openSinceMs: state.openSinceMs,
      };
    },

    report: (pass, outcome) => {
      const state = destinations.get(pass.destination);
      const now = options.clock();
      if (pass.probe === undefined) {
        // An answer to a request made before a pause says nothing the probe will not say better.
        if (pass.generation !== 0 || (state && state.kind !== 'closed')) return;
        if (outcome === 'success') destinations.delete(pass.destination);
        else if (outcome === 'failure') {
          const failures = (state?.failures ?? 0) + 1;
          if (failures >= settings.failures)
            open(pass.destination, now, { openSinceMs: now, deferred: 0 }, settings.cooldownMs, false);
          else track(pass.destination, { kind: 'closed', failures });
        }
        return;
      }
      // A probe given up as lost, or of an earlier pause: the current one decides.
      if (state?.kind !== 'open' || state.generation !== pass.generation || state.probe?.id !== pass.probe) return;
      if (outcome === 'success') {
        destinations.delete(pass.destination);
        options.onChange?.({
          kind: 'closed',
          destination: pass.destination,
          atMs: now,
          openSinceMs: state.openSinceMs,
          deferred: state.deferred,
        });
      } else if (outcome === 'failure')
        open(pass.destination, now, state, Math.min(settings.maxCooldownMs, state.cooldownMs * 2), true);
      // Neutral or unused: this probe proved nothing; the next message is the probe.
      else state.probe = undefined;
    },

    state: (destination) => {
      const state = destinations.get(destination);
      if (!state) return { state: 'closed', failures: 0 };
      if (state.kind === 'closed') return { state: 'closed', failures: state.failures };
      return {
        state: options.clock() >= state.probeAtMs ? 'half-open' : 'open',
        openSinceMs: state.openSinceMs,
        cooldownMs: state.cooldownMs,
        probeAtMs: state.probeAtMs,
        deferred: state.deferred,
      };
    },
  };
};

/**
 * Seconds a paused destination's message waits before it comes again, handed back on its
 * `receiveCount`th receive: at least until the next probe, and at least `base × 2^(receives − 1)`
 * so that a long outage costs a message few receives; a quarter more at random, so that the
 * messages of one outage do not all come back together; at most `cap`.
 */
export const deferDelaySeconds = (
  waitMs: number,
  receiveCount: number,
  random: () => number,
  options: { baseSeconds?: number; capSeconds?: number } = {},
): number => {
  const base = options.baseSeconds ?? DEFER_BASE_SECONDS;
  const cap = options.capSeconds ?? DEFER_CAP_SECONDS;
  const floor = Math.max(Math.ceil(Math.max(0, waitMs) / 1000), base * 2 ** Math.max(0, receiveCount - 1));
  return Math.min(cap, Math.ceil(floor * (1 + random() / 4)));
};
